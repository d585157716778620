#ifndef SSMX_CORE_VOLUME_H_
#define SSMX_CORE_VOLUME_H_

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

namespace ssmx {

// Where the voxels of a volume lie in the world (patient LPS, millimetres),
// exactly as ITK and DICOM define it:
//
//   p_lps = origin + direction * diag(spacing) * ijk
//
// ijk are continuous indices: (0,0,0) is the centre of the first stored voxel,
// i runs fastest in memory, k slowest. `direction` holds the unit direction
// cosines of the i, j and k axes as its columns.
struct VolumeGeometry {
  Eigen::Vector3i size = Eigen::Vector3i::Zero();          // voxels along i, j, k
  Eigen::Vector3d spacing_mm = Eigen::Vector3d::Ones();    // > 0
  Eigen::Vector3d origin_mm = Eigen::Vector3d::Zero();     // centre of voxel (0,0,0)
  Eigen::Matrix3d direction = Eigen::Matrix3d::Identity(); // orthonormal columns

  // The affine map from continuous index to LPS mm (4x4, last row 0 0 0 1).
  Eigen::Matrix4d WorldFromIndex() const;
  Eigen::Matrix4d IndexFromWorld() const;

  Eigen::Vector3d IndexToWorld(const Eigen::Vector3d& ijk) const;
  Eigen::Vector3d WorldToIndex(const Eigen::Vector3d& p_lps) const;

  int64_t NumVoxels() const;
  // Physical centre of the voxel grid (midpoint of the first and last voxel centres).
  Eigen::Vector3d Center() const;

  // Empty string when valid; otherwise what is wrong (non-positive size or
  // spacing, non-finite values, a direction that is not orthonormal to 1e-4).
  std::string Validate() const;
};

enum class VoxelType { kInt16, kFloat32 };
const char* VoxelTypeName(VoxelType type);

// A 3D scalar image: a voxel buffer and its geometry. CT in Hounsfield units is
// stored as int16 when every value is an integer in range, otherwise as float.
// Memory layout is ITK's: index = i + size_i * (j + size_j * k), so a numpy view
// has shape (k, j, i). Plain value type: copies are deep.
class Volume {
 public:
  Volume() = default;
  // A zero-filled volume. Throws InvalidInput for an invalid geometry.
  Volume(const VolumeGeometry& geometry, VoxelType type);

  const VolumeGeometry& geometry() const { return geometry_; }
  VoxelType voxel_type() const { return type_; }
  int64_t num_voxels() const { return geometry_.NumVoxels(); }
  bool empty() const { return num_voxels() == 0; }

  // Typed access to the buffer; throws InvalidInput when T does not match
  // voxel_type(). The pointer addresses num_voxels() values owned by the volume.
  template <typename T>
  T* data();
  template <typename T>
  const T* data() const;

  // Linear index of voxel (i, j, k); no bounds check.
  int64_t LinearIndex(int i, int j, int k) const {
    return i + static_cast<int64_t>(geometry_.size.x()) *
                   (j + static_cast<int64_t>(geometry_.size.y()) * k);
  }
  // Value of voxel (i, j, k) as float, whatever the voxel type. Bounds checked.
  float At(int i, int j, int k) const;
  void Set(int i, int j, int k, float value);

  // Minimum and maximum voxel value; (0, 0) for an empty volume.
  std::pair<float, float> Range() const;

  // The same voxels as float (a copy when the volume is int16).
  Volume ToFloat() const;

 private:
  VolumeGeometry geometry_;
  VoxelType type_ = VoxelType::kFloat32;
  std::vector<int16_t> int16_;
  std::vector<float> float32_;
};

}  // namespace ssmx

#endif  // SSMX_CORE_VOLUME_H_
