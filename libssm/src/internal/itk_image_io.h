#ifndef SSMX_SSM_INTERNAL_ITK_IMAGE_IO_H_
#define SSMX_SSM_INTERNAL_ITK_IMAGE_IO_H_

// The ITK side of volume IO. Deliberately free of Eigen and ssmx types: ITK
// ships its own copy of Eigen, which must never meet the system Eigen in one
// translation unit.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ssmx::internal {

struct ItkVolume {
  int size[3] = {0, 0, 0};
  double spacing[3] = {1, 1, 1};
  double origin[3] = {0, 0, 0};
  double direction[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};  // row-major
  std::vector<float> voxels;      // read: always float
  std::string component_type;     // as stored in the file
};

// Reads a NIfTI / MetaImage / NRRD file into LPS. Throws InvalidInput naming
// `path` for malformed files.
ItkVolume ItkReadVolume(const std::string& path, const std::string& format);

// Reads the file in slabs of at most `slices_per_slab` slices along k, in
// order, calling consume(header, voxels of the slab, k_begin, slice count);
// `header` has no voxels. Formats that ITK cannot stream (compressed files)
// come as one slab. Memory stays at one slab plus what the format needs.
using SlabConsumer =
    std::function<void(const ItkVolume& header, const float* voxels, int k_begin, int slices)>;
void ItkReadVolumeSlabs(const std::string& path, const std::string& format, int slices_per_slab,
                        const SlabConsumer& consume);

// Writes `geometry` with the voxels at `int16_voxels` or `float_voxels`
// (exactly one non-null) to `file_path`, choosing the format by extension.
// `display_path` names the file in error messages.
void ItkWriteVolume(const ItkVolume& geometry, const int16_t* int16_voxels, const float* float_voxels,
                    const std::string& file_path, const std::string& display_path);

}  // namespace ssmx::internal

#endif  // SSMX_SSM_INTERNAL_ITK_IMAGE_IO_H_
