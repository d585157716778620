// NIfTI / MetaImage / NRRD through ITK, and the ReadVolume dispatch. ITK
// converts NIfTI's RAS to LPS on reading and back on writing, so every volume
// inside ssmx is LPS.
#include "ssmx/ssm/volume_io.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "internal/atomic_file.h"
#include "internal/dicom_reader.h"
#include "internal/itk_image_io.h"
#include "ssmx/core/error.h"

namespace ssmx::ssm {
namespace fs = std::filesystem;
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Which ITK format an extension selects; "" when none.
std::string FormatOf(const std::string& path) {
  const std::string p = Lower(path);
  if (EndsWith(p, ".nii") || EndsWith(p, ".nii.gz")) return "NIfTI";
  if (EndsWith(p, ".mha") || EndsWith(p, ".mhd")) return "MetaImage";
  if (EndsWith(p, ".nrrd") || EndsWith(p, ".nhdr")) return "NRRD";
  return "";
}

VolumeReadResult ReadWithItk(const std::string& path, const std::string& format) {
  const internal::ItkVolume raw = internal::ItkReadVolume(path, format);
  VolumeGeometry geometry;
  for (int d = 0; d < 3; ++d) {
    geometry.size[d] = raw.size[d];
    geometry.spacing_mm[d] = raw.spacing[d];
    geometry.origin_mm[d] = raw.origin[d];
    for (int e = 0; e < 3; ++e) geometry.direction(d, e) = raw.direction[3 * d + e];
  }
  const std::string problem = geometry.Validate();
  if (!problem.empty()) throw InvalidInput(path + ": invalid geometry in the header: " + problem);
  for (float v : raw.voxels) {
    if (!std::isfinite(v))
      throw InvalidInput(path + ": the volume contains NaN or infinite values");
  }
  VolumeReadResult result;
  result.format = format;
  result.volume = internal::MakeVolume(geometry, raw.voxels);
  result.technical["stored_component_type"] = raw.component_type;
  return result;
}

}  // namespace

bool HasVolumeExtension(const std::string& path) { return !FormatOf(path).empty(); }

VolumeGeometry ReadVolumeInSlabs(const std::string& path, int slices_per_slab,
                                 const SlabConsumer& consume, const VolumeReadOptions& options) {
  std::error_code ec;
  const std::string format = FormatOf(path);
  if (format.empty() || !fs::is_regular_file(path, ec) || fs::file_size(path, ec) == 0) {
    // DICOM, missing or empty files: the whole-volume reader says what is wrong.
    VolumeReadResult whole = ReadVolume(path, options);
    const Volume slab = whole.volume.ToFloat();
    consume(slab.geometry(), slab, 0);
    return slab.geometry();
  }
  VolumeGeometry geometry;
  internal::ItkReadVolumeSlabs(
      path, format, slices_per_slab,
      [&](const internal::ItkVolume& header, const float* voxels, int k_begin, int slices) {
        if (k_begin == 0) {
          for (int d = 0; d < 3; ++d) {
            geometry.size[d] = header.size[d];
            geometry.spacing_mm[d] = header.spacing[d];
            geometry.origin_mm[d] = header.origin[d];
            for (int e = 0; e < 3; ++e) geometry.direction(d, e) = header.direction[3 * d + e];
          }
          const std::string problem = geometry.Validate();
          if (!problem.empty()) {
            throw InvalidInput(path + ": invalid geometry in the header: " + problem);
          }
        }
        VolumeGeometry slab_geometry = geometry;
        slab_geometry.size.z() = slices;
        slab_geometry.origin_mm = geometry.IndexToWorld(Eigen::Vector3d(0, 0, k_begin));
        Volume slab(slab_geometry, VoxelType::kFloat32);
        const int64_t n = slab.num_voxels();
        for (int64_t i = 0; i < n; ++i) {
          if (!std::isfinite(voxels[i])) {
            throw InvalidInput(path + ": the volume contains NaN or infinite values");
          }
        }
        std::copy(voxels, voxels + n, slab.data<float>());
        consume(geometry, slab, k_begin);
      });
  return geometry;
}

VolumeReadResult ReadVolume(const std::string& path, const VolumeReadOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError(path + ": no such file or folder");
  if (fs::is_directory(path, ec)) return internal::ReadDicom(path, options);
  if (fs::file_size(path, ec) == 0) throw InvalidInput(path + ": the file is empty (0 bytes)");
  const std::string format = FormatOf(path);
  if (!format.empty()) return ReadWithItk(path, format);
  if (internal::HasDicomPreamble(path) || Lower(fs::path(path).extension().string()) == ".dcm") {
    return internal::ReadDicom(path, options);
  }
  throw InvalidInput(path +
                     ": unknown volume format; expected a DICOM folder or file, .nii, "
                     ".nii.gz, .mha, .mhd, .nrrd or .nhdr");
}

void WriteVolume(const Volume& volume, const std::string& path) {
  const std::string format = FormatOf(path);
  if (format.empty()) {
    throw InvalidInput(path +
                       ": cannot choose a volume format from the extension; use .mha, "
                       ".nii, .nii.gz or .nrrd");
  }
  if (volume.empty()) throw InvalidInput(path + ": refusing to write an empty volume");
  if (EndsWith(Lower(path), ".mhd") || EndsWith(Lower(path), ".nhdr")) {
    throw InvalidInput(path +
                       ": detached-header formats write two files and cannot be written "
                       "atomically; use .mha or .nrrd");
  }
  const VolumeGeometry& g = volume.geometry();
  internal::ItkVolume raw;
  for (int d = 0; d < 3; ++d) {
    raw.size[d] = g.size[d];
    raw.spacing[d] = g.spacing_mm[d];
    raw.origin[d] = g.origin_mm[d];
    for (int e = 0; e < 3; ++e) raw.direction[3 * d + e] = g.direction(d, e);
  }
  internal::AtomicFile file(path);
  const bool int16 = volume.voxel_type() == VoxelType::kInt16;
  internal::ItkWriteVolume(raw, int16 ? volume.data<int16_t>() : nullptr,
                           int16 ? nullptr : volume.data<float>(), file.temp_path(), path);
  file.Commit();
}

}  // namespace ssmx::ssm
