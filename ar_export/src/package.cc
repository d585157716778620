// Zip (PKWARE APPNOTE 6.3, stored entries only) and PNG (ISO/IEC 15948)
// encoders: the two container formats the USDZ and OBJ writers need.
#include "internal/package.h"

#include <zlib.h>

#include "ssmx/core/error.h"

namespace ssmx::ar_export::internal {
namespace {

void Le16(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>((v >> 8) & 0xff));
}
void Le32(std::string* out, uint32_t v) {
  Le16(out, v & 0xffff);
  Le16(out, v >> 16);
}
void Be32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((v >> shift) & 0xff));
}

uint32_t Crc32(const std::string& bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large inputs in pieces.
  for (size_t pos = 0; pos < bytes.size(); pos += 1u << 30) {
    const size_t n = std::min<size_t>(bytes.size() - pos, 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + pos), static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(crc);
}

constexpr uint32_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01
constexpr uint32_t kDosTime = 0;
constexpr uint32_t kPaddingHeaderId = 0x1986;

}  // namespace

std::string StoredZip(const std::vector<std::pair<std::string, std::string>>& files,
                      size_t alignment) {
  std::string out, central;
  for (const auto& [name, data] : files) {
    const uint64_t offset = out.size();
    const uint32_t crc = Crc32(data);
    // Extra field: a 4-byte header (id, size) plus zero bytes, so that the data
    // after the 30-byte local header, the name and the extra field is aligned.
    size_t extra = 0;
    const size_t unpadded = offset + 30 + name.size();
    if (unpadded % alignment) {
      extra = alignment - unpadded % alignment;
      while (extra < 4) extra += alignment;
    }
    if (offset + 30 + name.size() + extra + data.size() > 0xFFFFFFFEull) {
      throw InvalidInput(
          "the USDZ package would exceed 4 GiB; decimate the meshes (--target-faces)");
    }
    const auto header = [&](std::string* s, bool local) {
      Le32(s, local ? 0x04034b50 : 0x02014b50);
      if (!local) Le16(s, 20);  // version made by: 2.0, MS-DOS attributes
      Le16(s, 20);              // version needed to extract
      Le16(s, 0);               // flags: no data descriptor, no encryption
      Le16(s, 0);               // method: stored
      Le16(s, kDosTime);
      Le16(s, kDosDate);
      Le32(s, crc);
      Le32(s, static_cast<uint32_t>(data.size()));  // compressed size
      Le32(s, static_cast<uint32_t>(data.size()));  // uncompressed size
      Le16(s, static_cast<uint32_t>(name.size()));
      Le16(s, static_cast<uint32_t>(local ? extra : 0));
    };
    header(&out, true);
    out += name;
    if (extra > 0) {
      Le16(&out, kPaddingHeaderId);
      Le16(&out, static_cast<uint32_t>(extra - 4));
      out.append(extra - 4, '\0');
    }
    out += data;
    header(&central, false);
    Le16(&central, 0);  // comment length
    Le16(&central, 0);  // disk number
    Le16(&central, 0);  // internal attributes
    Le32(&central, 0);  // external attributes
    Le32(&central, static_cast<uint32_t>(offset));
    central += name;
  }
  const uint64_t central_offset = out.size();
  out += central;
  Le32(&out, 0x06054b50);
  Le16(&out, 0);
  Le16(&out, 0);
  Le16(&out, static_cast<uint32_t>(files.size()));
  Le16(&out, static_cast<uint32_t>(files.size()));
  Le32(&out, static_cast<uint32_t>(central.size()));
  Le32(&out, static_cast<uint32_t>(central_offset));
  Le16(&out, 0);
  return out;
}

std::string RgbPng(const std::string& rgb, int width, int height) {
  if (width <= 0 || height <= 0 || rgb.size() != static_cast<size_t>(width) * height * 3) {
    throw InternalError("RgbPng: pixel buffer does not match the size");
  }
  std::string raw;
  for (int y = 0; y < height; ++y) {
    raw.push_back('\0');  // filter type None
    raw.append(rgb, static_cast<size_t>(y) * width * 3, static_cast<size_t>(width) * 3);
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(&packed[0]), &packed_size,
                reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
                9) != Z_OK) {
    throw InternalError("zlib failed to compress a PNG image");
  }
  packed.resize(packed_size);
  std::string out("\x89PNG\r\n\x1a\n", 8);
  const auto chunk = [&](const char* type, const std::string& body) {
    Be32(&out, static_cast<uint32_t>(body.size()));
    const std::string typed = std::string(type, 4) + body;
    out += typed;
    Be32(&out, Crc32(typed));
  };
  std::string ihdr;
  Be32(&ihdr, static_cast<uint32_t>(width));
  Be32(&ihdr, static_cast<uint32_t>(height));
  ihdr += std::string("\x08\x02\x00\x00\x00",
                      5);  // 8-bit, truecolour, deflate, no filter, no interlace
  chunk("IHDR", ihdr);
  chunk("sRGB", std::string(1, '\0'));  // perceptual rendering intent
  chunk("IDAT", packed);
  chunk("IEND", "");
  return out;
}

}  // namespace ssmx::ar_export::internal
