#include "ssmx/core/volume.h"

#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <sstream>

#include "ssmx/core/error.h"

namespace ssmx {

Eigen::Matrix4d VolumeGeometry::WorldFromIndex() const {
  Eigen::Matrix4d m = Eigen::Matrix4d::Identity();
  m.topLeftCorner<3, 3>() = direction * spacing_mm.asDiagonal();
  m.topRightCorner<3, 1>() = origin_mm;
  return m;
}

Eigen::Matrix4d VolumeGeometry::IndexFromWorld() const {
  Eigen::Matrix4d m = Eigen::Matrix4d::Identity();
  const Eigen::Matrix3d linear = (direction * spacing_mm.asDiagonal()).inverse();
  m.topLeftCorner<3, 3>() = linear;
  m.topRightCorner<3, 1>() = -linear * origin_mm;
  return m;
}

Eigen::Vector3d VolumeGeometry::IndexToWorld(const Eigen::Vector3d& ijk) const {
  return origin_mm + direction * spacing_mm.cwiseProduct(ijk);
}

Eigen::Vector3d VolumeGeometry::WorldToIndex(const Eigen::Vector3d& p_lps) const {
  // direction is orthonormal for a valid geometry, but ITK accepts any
  // invertible direction and so do we: solve instead of transposing.
  return (direction * spacing_mm.asDiagonal()).partialPivLu().solve(p_lps - origin_mm);
}

int64_t VolumeGeometry::NumVoxels() const {
  if ((size.array() <= 0).any()) return 0;
  return static_cast<int64_t>(size.x()) * size.y() * size.z();
}

Eigen::Vector3d VolumeGeometry::Center() const {
  return IndexToWorld(0.5 * (size.cast<double>() - Eigen::Vector3d::Ones()));
}

std::string VolumeGeometry::Validate() const {
  std::ostringstream why;
  if ((size.array() <= 0).any()) {
    why << "size " << size.transpose() << " has a non-positive dimension";
  } else if (!spacing_mm.allFinite() || (spacing_mm.array() <= 0).any()) {
    why << "spacing " << spacing_mm.transpose() << " mm is not positive and finite";
  } else if (!origin_mm.allFinite()) {
    why << "origin is not finite";
  } else if (!direction.allFinite() ||
             !(direction.transpose() * direction).isIdentity(1e-4)) {
    why << "direction cosines are not orthonormal";
  }
  return why.str();
}

const char* VoxelTypeName(VoxelType type) {
  return type == VoxelType::kInt16 ? "int16" : "float32";
}

Volume::Volume(const VolumeGeometry& geometry, VoxelType type) : geometry_(geometry), type_(type) {
  const std::string problem = geometry.Validate();
  if (!problem.empty()) throw InvalidInput("volume geometry: " + problem);
  if (type == VoxelType::kInt16) {
    int16_.assign(static_cast<size_t>(geometry.NumVoxels()), 0);
  } else {
    float32_.assign(static_cast<size_t>(geometry.NumVoxels()), 0.0f);
  }
}

template <>
int16_t* Volume::data<int16_t>() {
  if (type_ != VoxelType::kInt16) throw InvalidInput("volume holds float32 voxels, not int16");
  return int16_.data();
}
template <>
const int16_t* Volume::data<int16_t>() const {
  if (type_ != VoxelType::kInt16) throw InvalidInput("volume holds float32 voxels, not int16");
  return int16_.data();
}
template <>
float* Volume::data<float>() {
  if (type_ != VoxelType::kFloat32) throw InvalidInput("volume holds int16 voxels, not float32");
  return float32_.data();
}
template <>
const float* Volume::data<float>() const {
  if (type_ != VoxelType::kFloat32) throw InvalidInput("volume holds int16 voxels, not float32");
  return float32_.data();
}

namespace {
void CheckIndex(const VolumeGeometry& g, int i, int j, int k) {
  if (i < 0 || j < 0 || k < 0 || i >= g.size.x() || j >= g.size.y() || k >= g.size.z()) {
    std::ostringstream msg;
    msg << "voxel index (" << i << ", " << j << ", " << k << ") is outside the volume of size "
        << g.size.transpose();
    throw InvalidInput(msg.str());
  }
}
}  // namespace

float Volume::At(int i, int j, int k) const {
  CheckIndex(geometry_, i, j, k);
  const int64_t n = LinearIndex(i, j, k);
  return type_ == VoxelType::kInt16 ? int16_[n] : float32_[n];
}

void Volume::Set(int i, int j, int k, float value) {
  CheckIndex(geometry_, i, j, k);
  const int64_t n = LinearIndex(i, j, k);
  if (type_ == VoxelType::kInt16) {
    int16_[n] = static_cast<int16_t>(std::lround(std::clamp(value, -32768.0f, 32767.0f)));
  } else {
    float32_[n] = value;
  }
}

std::pair<float, float> Volume::Range() const {
  if (empty()) return {0.0f, 0.0f};
  if (type_ == VoxelType::kInt16) {
    const auto [lo, hi] = std::minmax_element(int16_.begin(), int16_.end());
    return {static_cast<float>(*lo), static_cast<float>(*hi)};
  }
  const auto [lo, hi] = std::minmax_element(float32_.begin(), float32_.end());
  return {*lo, *hi};
}

Volume Volume::ToFloat() const {
  if (type_ == VoxelType::kFloat32) return *this;
  Volume out;
  out.geometry_ = geometry_;
  out.type_ = VoxelType::kFloat32;
  out.float32_.assign(int16_.begin(), int16_.end());
  return out;
}

}  // namespace ssmx
