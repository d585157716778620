#ifndef SSMX_DRR_PROJECTOR_H_
#define SSMX_DRR_PROJECTOR_H_

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ssmx/core/image2d.h"
#include "ssmx/core/volume.h"
#include "ssmx/drr/projection_geometry.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::drr {

// Linear attenuation coefficient of water at an effective energy of about
// 60 keV: 0.2059 cm^2/g (NIST XCOM) * 1 g/cm^3 = 0.02059 /mm (docs/geometry.md).
constexpr double kDefaultMuWaterPerMm = 0.02059;

// HU -> mu (1/mm): mu_water * max(0, 1 + HU/1000), evaluated in float as
// max(0, mu_water + (mu_water / 1000) * HU) so that converting a volume
// vectorises (it differs from the formula in double by at most 4 float ulps of
// mu_water, 8e-9 /mm at the default, measured for HU -1100..4000).
inline float AttenuationFromHounsfield(float hu, double mu_water_per_mm) {
  const float mu =
      static_cast<float>(mu_water_per_mm) + static_cast<float>(mu_water_per_mm * 1e-3) * hu;
  return mu > 0.0f ? mu : 0.0f;
}

// The attenuation volume (float mu in 1/mm, ITK memory order) prepared once and
// projected for any number of views. Preparing finds the bounding box of the
// non-zero voxels, to which every ray is clipped. Immutable once built, so
// Project() may run concurrently on one PreparedVolume from many threads.
class PreparedVolume {
 public:
  PreparedVolume() = default;

  // A CT in Hounsfield units, converted by AttenuationFromHounsfield.
  static PreparedVolume FromHounsfield(const Volume& ct,
                                       double mu_water_per_mm = kDefaultMuWaterPerMm);
  // The CT restricted to the voxels where `mask` is non-zero (a bone-only DRR);
  // the mask must have the CT's grid.
  static PreparedVolume FromHounsfieldMasked(const Volume& ct, const Volume& mask,
                                             double mu_water_per_mm = kDefaultMuWaterPerMm);
  // Values taken as they are, in 1/mm. A 0/1 mask gives path lengths in mm.
  // Throws InvalidInput for negative or non-finite values.
  static PreparedVolume FromAttenuation(const Volume& mu);
  // A 0/1 volume from `labels`: 1 where the value is non-zero. Its line
  // integrals are path lengths (mm) through the structure.
  static PreparedVolume FromMask(const Volume& labels);

  // Reads a CT file or DICOM folder in Hounsfield units slab by slab
  // (ssm::ReadVolumeInSlabs), so that the CT and its float attenuation volume
  // are never both in memory: the peak is the float volume plus one slab.
  static PreparedVolume ReadHounsfield(const std::string& path,
                                       double mu_water_per_mm = kDefaultMuWaterPerMm,
                                       const ssm::VolumeReadOptions& options = {});

  // Builds the volume slab by slab (for streaming readers, so that the CT and
  // the float volume need not be in memory together). Call Add for every slab
  // of k, in any order, then Finish.
  class Builder {
   public:
    Builder(const VolumeGeometry& geometry, double mu_water_per_mm = kDefaultMuWaterPerMm);
    // `slab_hu`: size_i x size_j x n slices of HU, the slices k_begin .. k_begin+n-1.
    void AddHounsfieldSlab(const Volume& slab_hu, int k_begin);
    PreparedVolume Finish();

   private:
    std::unique_ptr<PreparedVolume> volume_;
    double mu_water_per_mm_;
    std::vector<bool> filled_;
  };

  const VolumeGeometry& geometry() const { return geometry_; }
  bool empty() const { return mu_.empty(); }
  const float* data() const { return mu_.data(); }
  size_t size_bytes() const { return mu_.size() * sizeof(float); }
  // The voxel-index box holding every non-zero voxel (inclusive); empty
  // (min > max) when all voxels are zero.
  Eigen::Vector3i nonzero_min() const { return nonzero_min_; }
  Eigen::Vector3i nonzero_max() const { return nonzero_max_; }

  // Empty-space map for the projectors: the volume cut into blocks of
  // kBlockSize^3 voxels (the last ones along an axis may be smaller), 1 for a
  // block holding a non-zero voxel, 0 otherwise; block (bi, bj, bk) is entry
  // bi + nb_i * (bj + nb_j * bk) with nb = block_counts().
  static constexpr int kBlockSize = 8;
  const std::vector<uint8_t>& nonzero_blocks() const { return nonzero_blocks_; }
  Eigen::Vector3i block_counts() const;

 private:
  void FindNonzeroBox();
  // `in` converted voxel by voxel (defined and used in projector.cc only).
  template <typename Convert>
  static PreparedVolume Converted(const Volume& in, const char* what, const Convert& convert);

  VolumeGeometry geometry_;
  std::vector<float> mu_;
  Eigen::Vector3i nonzero_min_ = Eigen::Vector3i::Zero();
  Eigen::Vector3i nonzero_max_ = Eigen::Vector3i::Constant(-1);
  std::vector<uint8_t> nonzero_blocks_;
};

enum class ProjectorKind {
  // Exact voxel traversal (Siddon 1985, incremental form of Jacobs et al. 1998):
  // the sum over the voxels a ray crosses of mu times the length inside the voxel.
  kExact,
  // Trilinear interpolation of mu sampled at equal steps (midpoint rule).
  kTrilinear,
};
const char* ProjectorKindName(ProjectorKind kind);  // "exact", "trilinear"
ProjectorKind ParseProjectorKind(const std::string& name);

struct ProjectionOptions {
  ProjectorKind projector = ProjectorKind::kExact;
  // Trilinear sampling step as a fraction of the smallest voxel spacing.
  double step_voxels = 0.5;
  // Worker threads; 0 means every core (std::thread::hardware_concurrency()).
  int threads = 0;

  bool IsValid(std::string* error) const;
};

// The line integral image (quantity kLineIntegral): for each pixel, the integral
// of mu along the segment from the source to the pixel centre on the detector.
// The volume's direction cosines are honoured. Thread-safe.
Image2D Project(const PreparedVolume& volume, const ProjectionGeometry& geometry,
                const ProjectionOptions& options = {});

// The integral of mu along one segment between two LPS points (mm), with the
// same kernels as Project.
double IntegrateSegment(const PreparedVolume& volume, const Eigen::Vector3d& from_mm,
                        const Eigen::Vector3d& to_mm, const ProjectionOptions& options = {});

}  // namespace ssmx::drr

#endif  // SSMX_DRR_PROJECTOR_H_
