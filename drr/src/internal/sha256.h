#ifndef SSMX_DRR_INTERNAL_SHA256_H_
#define SSMX_DRR_INTERNAL_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ssmx::drr::internal {

// SHA-256 (FIPS 180-4), for the file digests of the training-pair manifest.
class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(const std::string& bytes) { Update(bytes.data(), bytes.size()); }
  // The digest as 64 lower-case hex digits. Call once.
  std::string HexDigest();

 private:
  void Block(const uint8_t* block);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0;
};

std::string Sha256Hex(const std::string& bytes);
// The digest of a file's bytes; throws IoError naming the file when it cannot be read.
std::string Sha256OfFile(const std::string& path);

}  // namespace ssmx::drr::internal

#endif  // SSMX_DRR_INTERNAL_SHA256_H_
