#include "internal/itk_image_io.h"

#include <itkImage.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkImageIOBase.h>
#include <itkImageIOFactory.h>
#include <itkMetaImageIOFactory.h>
#include <itkNiftiImageIOFactory.h>
#include <itkNrrdImageIOFactory.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ssmx/core/error.h"

namespace ssmx::internal {
namespace {

using FloatImage = itk::Image<float, 3>;

// Registers exactly the IO factories ssmx uses. Debian's ITK is linked without
// the static factory registration that ITK's CMake machinery generates for
// executables, so do it explicitly, once.
void RegisterItkFactories() {
  static std::once_flag once;
  std::call_once(once, [] {
    itk::NiftiImageIOFactory::RegisterOneFactory();
    itk::MetaImageIOFactory::RegisterOneFactory();
    itk::NrrdImageIOFactory::RegisterOneFactory();
  });
}

// ITK messages read "file:line:\nitk::ERROR: Class(0x..): reason"; keep the reason.
std::string Reason(const itk::ExceptionObject& e) {
  std::string text = e.GetDescription();
  const size_t pos = text.find("): ");
  if (text.find("itk::ERROR") != std::string::npos && pos != std::string::npos) text = text.substr(pos + 3);
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && (text.back() == ' ' || text.back() == '.')) text.pop_back();
  return text;
}

// ITK's NIfTI reader fills a file that is shorter than its header declares
// with whatever it finds (and allocates whatever the header asks for), so the
// declared data size is checked against the file first: the file size for
// .nii, the gzip trailer (uncompressed size modulo 2^32) for .nii.gz.
void CheckNiftiSize(const std::string& path, uint64_t data_bytes) {
  unsigned char header[348];
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw InvalidInput(path + ": cannot open the NIfTI file");
  const int got = gzread(f, header, sizeof(header));
  gzclose(f);
  if (got != static_cast<int>(sizeof(header))) {
    throw InvalidInput(path + ": NIfTI header is truncated (" + std::to_string(got < 0 ? 0 : got) +
                       " of 348 bytes)");
  }
  float vox_offset = 0;
  std::memcpy(&vox_offset, header + 108, 4);
  const uint64_t needed = static_cast<uint64_t>(std::max(352.0f, vox_offset)) + data_bytes;
  std::error_code ec;
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  uint64_t available = file_size;
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (gz) {
    if (needed >= (uint64_t{1} << 32)) return;  // the trailer cannot tell; ITK's zlib read checks
    std::ifstream in(path, std::ios::binary);
    uint32_t isize = 0;
    in.seekg(-4, std::ios::end);
    in.read(reinterpret_cast<char*>(&isize), 4);
    available = in ? isize : 0;
  }
  if (available < needed) {
    throw InvalidInput(path + ": the NIfTI header declares " + std::to_string(needed) +
                       " bytes of header and voxels but the file holds " + std::to_string(available) +
                       (gz ? " (uncompressed)" : "") + "; it is truncated or its header is wrong");
  }
}

// MetaIO (ITK's MetaImage reader) prints its parse errors straight to
// std::cerr; ssmx turns them into one exception instead. The guard holds a
// mutex because std::cerr is process-wide: ITK reads are serialised.
class CerrSilencer {
 public:
  CerrSilencer() : lock_(Mutex()), saved_(std::cerr.rdbuf(sink_.rdbuf())) {}
  ~CerrSilencer() { std::cerr.rdbuf(saved_); }

 private:
  static std::mutex& Mutex() {
    static std::mutex mutex;
    return mutex;
  }
  std::lock_guard<std::mutex> lock_;
  std::ostringstream sink_;
  std::streambuf* saved_;
};

}  // namespace

namespace {

// Opens `path`, reads its header and refuses what ssmx cannot use.
itk::ImageIOBase::Pointer OpenChecked(const std::string& path, const std::string& format) {
  RegisterItkFactories();
  itk::ImageIOBase::Pointer io =
      itk::ImageIOFactory::CreateImageIO(path.c_str(), itk::ImageIOFactory::IOFileModeEnum::ReadMode);
  if (!io) throw InvalidInput(path + ": not a readable " + format + " file");
  try {
    io->SetFileName(path);
    io->ReadImageInformation();
  } catch (const itk::ExceptionObject& e) {
    throw InvalidInput(path + ": cannot read the " + format + " header (" + Reason(e) + ")");
  }
  const unsigned dims = io->GetNumberOfDimensions();
  if (io->GetNumberOfComponents() != 1) {
    throw InvalidInput(path + ": " + std::to_string(io->GetNumberOfComponents()) +
                       " components per voxel; a CT or label volume has one");
  }
  if (dims < 2 || dims > 4 || (dims == 4 && io->GetDimensions(3) != 1)) {
    throw InvalidInput(path + ": " + std::to_string(dims) +
                       "-dimensional image; ssmx reads 3D volumes (or 2D, or 4D with one time point)");
  }
  for (unsigned d = 0; d < dims; ++d) {
    if (io->GetDimensions(d) == 0) throw InvalidInput(path + ": header declares an empty image");
  }

  if (format == "NIfTI") {
    uint64_t data_bytes = io->GetComponentSize();
    for (unsigned d = 0; d < dims; ++d) data_bytes *= io->GetDimensions(d);
    CheckNiftiSize(path, data_bytes);
  }

  return io;
}

void FillHeader(const FloatImage* image, const itk::ImageIOBase* io, ItkVolume* out) {
  const auto region = image->GetLargestPossibleRegion();
  for (int d = 0; d < 3; ++d) {
    out->size[d] = static_cast<int>(region.GetSize()[d]);
    out->spacing[d] = image->GetSpacing()[d];
    out->origin[d] = image->GetOrigin()[d];
    for (int e = 0; e < 3; ++e) out->direction[3 * d + e] = image->GetDirection()(d, e);
  }
  out->component_type = itk::ImageIOBase::GetComponentTypeAsString(io->GetComponentType());
}

[[noreturn]] void RethrowDataError(const std::string& path, const std::exception& e) {
  if (auto* itk_error = dynamic_cast<const itk::ExceptionObject*>(&e)) {
    throw InvalidInput(path + ": cannot read the voxel data (" + Reason(*itk_error) +
                       "); the file may be truncated or its header may not match its data");
  }
  throw InvalidInput(path + ": cannot read the voxel data (" + std::string(e.what()) + ")");
}

}  // namespace

ItkVolume ItkReadVolume(const std::string& path, const std::string& format) {
  RegisterItkFactories();
  CerrSilencer silence;
  itk::ImageIOBase::Pointer io = OpenChecked(path, format);
  auto reader = itk::ImageFileReader<FloatImage>::New();
  reader->SetFileName(path);
  reader->SetImageIO(io);
  try {
    reader->Update();
  } catch (const std::exception& e) {
    RethrowDataError(path, e);
  }
  FloatImage::Pointer image = reader->GetOutput();
  ItkVolume out;
  FillHeader(image, io, &out);
  const size_t n = static_cast<size_t>(out.size[0]) * out.size[1] * out.size[2];
  out.voxels.assign(image->GetBufferPointer(), image->GetBufferPointer() + n);
  return out;
}

void ItkReadVolumeSlabs(const std::string& path, const std::string& format, int slices_per_slab,
                        const SlabConsumer& consume) {
  RegisterItkFactories();
  CerrSilencer silence;
  itk::ImageIOBase::Pointer io = OpenChecked(path, format);
  auto reader = itk::ImageFileReader<FloatImage>::New();
  reader->SetFileName(path);
  reader->SetImageIO(io);
  ItkVolume header;
  try {
    reader->UpdateOutputInformation();
    FloatImage* image = reader->GetOutput();
    FillHeader(image, io, &header);
    const int nz = header.size[2];
    // Formats that cannot stream (compressed files) are read whole, once.
    const int step = io->CanStreamRead() ? std::max(1, slices_per_slab) : nz;
    const size_t plane = static_cast<size_t>(header.size[0]) * header.size[1];
    for (int k0 = 0; k0 < nz; k0 += step) {
      const int count = std::min(step, nz - k0);
      FloatImage::RegionType region = image->GetLargestPossibleRegion();
      region.SetIndex(2, region.GetIndex(2) + k0);
      region.SetSize(2, count);
      image->SetRequestedRegion(region);
      reader->Update();
      // The reader may buffer more than was asked for: find slice k0 in it.
      const FloatImage::RegionType buffered = image->GetBufferedRegion();
      if (buffered.GetSize(0) != static_cast<size_t>(header.size[0]) ||
          buffered.GetSize(1) != static_cast<size_t>(header.size[1]) ||
          buffered.GetIndex(2) > region.GetIndex(2) ||
          buffered.GetIndex(2) + static_cast<long>(buffered.GetSize(2)) < region.GetIndex(2) + count) {
        throw InvalidInput(path + ": the reader returned an unexpected region");
      }
      const float* first = image->GetBufferPointer() + plane * (region.GetIndex(2) - buffered.GetIndex(2));
      consume(header, first, k0, count);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    RethrowDataError(path, e);
  }
}

void ItkWriteVolume(const ItkVolume& g, const int16_t* int16_voxels, const float* float_voxels,
                    const std::string& file_path, const std::string& display_path) {
  RegisterItkFactories();
  auto write = [&](const auto* pixels) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(pixels)>>;
    using ImageType = itk::Image<T, 3>;
    auto image = ImageType::New();
    typename ImageType::RegionType region;
    typename ImageType::SpacingType spacing;
    typename ImageType::PointType origin;
    typename ImageType::DirectionType direction;
    for (int d = 0; d < 3; ++d) {
      region.SetSize(d, g.size[d]);
      spacing[d] = g.spacing[d];
      origin[d] = g.origin[d];
      for (int e = 0; e < 3; ++e) direction(d, e) = g.direction[3 * d + e];
    }
    image->SetRegions(region);
    image->SetSpacing(spacing);
    image->SetOrigin(origin);
    image->SetDirection(direction);
    image->Allocate();
    const size_t n = static_cast<size_t>(g.size[0]) * g.size[1] * g.size[2];
    std::copy(pixels, pixels + n, image->GetBufferPointer());
    auto writer = itk::ImageFileWriter<ImageType>::New();
    writer->SetFileName(file_path);
    writer->SetInput(image);
    writer->SetUseCompression(true);
    try {
      writer->Update();
    } catch (const itk::ExceptionObject& e) {
      throw IoError(display_path + ": cannot write (" + Reason(e) + ")");
    }
  };
  if (int16_voxels) write(int16_voxels);
  else write(float_voxels);
}

}  // namespace ssmx::internal
