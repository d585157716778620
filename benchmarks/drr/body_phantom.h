// The benchmark CT: a pelvis-like body phantom on a 512 x 512 x 256 grid of
// 1 mm voxels (docs/drr.md, "Benchmarks and peer comparison"). The same
// phantom is written by benchmarks/drr/compare_plastimatch.py (numpy); keep the
// two definitions in step.
#ifndef SSMX_BENCHMARKS_DRR_BODY_PHANTOM_H_
#define SSMX_BENCHMARKS_DRR_BODY_PHANTOM_H_

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ssmx/core/volume.h"

namespace ssmx::benchmarks {

// HU at an LPS point (mm) of the phantom centred on the origin: air, an
// elliptic body (fat rim, soft tissue), and bones with a cortex (1400 HU) around
// cancellous bone (250 HU): femoral shafts and heads, iliac wings, sacrum and
// pubic rami.
inline float BodyPhantomHu(double x, double y, double z) {
  const auto ellipse = [](double a, double b, double ra, double rb) {
    return (a / ra) * (a / ra) + (b / rb) * (b / rb);
  };
  if (ellipse(x, y, 170, 115) > 1) return -1000.0f;
  float hu = ellipse(x, y, 160, 105) > 1 ? -90.0f : 40.0f;
  // Depth (mm) of the point inside each bone, negative outside.
  double depth = -1, cortex = 2;
  const auto bone = [&](double d, double cortex_mm) {
    if (d > depth) {
      depth = d;
      cortex = cortex_mm;
    }
  };
  for (double side : {-1.0, 1.0}) {
    const double xs = side * x;                               // mirror the left half onto the right
    if (z <= -30) bone(14 - std::hypot(xs - 95, y - 10), 4);  // femoral shaft
    bone(24 - Eigen::Vector3d(xs - 88, y - 10, z + 10).norm(), 2);  // femoral head
    if (z >= 0) {  // iliac wing: an ellipsoid, approximate depth
      const Eigen::Vector3d q((xs - 80) / 50, (y - 30) / 20, (z - 55) / 55);
      bone((1 - q.norm()) * 20, 3);
    }
  }
  if (z >= -20) bone(22 - std::hypot(x, y - 70), 2);               // sacrum
  if (std::abs(x) <= 75) bone(9 - std::hypot(y + 55, z + 25), 2);  // pubic rami
  if (depth >= 0) hu = depth < cortex ? 1400.0f : 250.0f;
  return hu;
}

// The phantom on an n_i x n_j x n_k grid of `spacing_mm` voxels centred on the
// origin (identity direction), int16 HU.
inline Volume MakeBodyPhantom(int n_i = 512, int n_j = 512, int n_k = 256,
                              double spacing_mm = 1.0) {
  VolumeGeometry g;
  g.size = Eigen::Vector3i(n_i, n_j, n_k);
  g.spacing_mm = Eigen::Vector3d::Constant(spacing_mm);
  g.origin_mm = -0.5 * spacing_mm * Eigen::Vector3d(n_i - 1, n_j - 1, n_k - 1);
  Volume ct(g, VoxelType::kInt16);
  int16_t* hu = ct.data<int16_t>();
  for (int k = 0; k < n_k; ++k) {
    for (int j = 0; j < n_j; ++j) {
      for (int i = 0; i < n_i; ++i) {
        const Eigen::Vector3d p = g.IndexToWorld(Eigen::Vector3d(i, j, k));
        hu[ct.LinearIndex(i, j, k)] = static_cast<int16_t>(BodyPhantomHu(p.x(), p.y(), p.z()));
      }
    }
  }
  return ct;
}

}  // namespace ssmx::benchmarks

#endif  // SSMX_BENCHMARKS_DRR_BODY_PHANTOM_H_
