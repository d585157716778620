// The exact projector against the textbook form of Siddon's algorithm
// (Siddon 1985: every plane crossing of the segment collected, sorted, and each
// piece weighted by the voxel that holds its midpoint), written here without any
// of the projector's code, on volumes built to stress what a fast traversal
// skips or batches: sparse blocks of non-zero voxels among empty ones, sizes
// that are not multiples of the empty-space block, anisotropic and rotated
// grids, segments that start or end inside the volume, axis-aligned and
// diagonal rays.
#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <algorithm>
#include <random>
#include <vector>

#include "ssmx/drr/projector.h"

namespace ssmx::drr {
namespace {

// Uniform in [lo, hi) from the generator's raw bits (std:: distributions differ
// between standard libraries).
double Uniform(std::mt19937_64* rng, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>((*rng)() >> 11) * 0x1.0p-53;
}

// The integral of mu along a -> b (world mm), Siddon's original way.
double ReferenceSiddon(const Volume& mu, const Eigen::Vector3d& a, const Eigen::Vector3d& b) {
  const VolumeGeometry& g = mu.geometry();
  // Shifted index coordinates: voxel n spans [n, n + 1) along each axis.
  const Eigen::Vector3d ia = g.WorldToIndex(a) + Eigen::Vector3d::Constant(0.5);
  const Eigen::Vector3d ib = g.WorldToIndex(b) + Eigen::Vector3d::Constant(0.5);
  std::vector<double> alphas = {0.0, 1.0};
  for (int axis = 0; axis < 3; ++axis) {
    const double d = ib[axis] - ia[axis];
    if (d == 0) continue;
    for (int plane = 0; plane <= g.size[axis]; ++plane) {
      const double alpha = (plane - ia[axis]) / d;
      if (alpha > 0 && alpha < 1) alphas.push_back(alpha);
    }
  }
  std::sort(alphas.begin(), alphas.end());
  const double length = (b - a).norm();
  double sum = 0;
  for (size_t k = 0; k + 1 < alphas.size(); ++k) {
    const double piece = alphas[k + 1] - alphas[k];
    if (piece <= 0) continue;
    const Eigen::Vector3d mid = ia + 0.5 * (alphas[k] + alphas[k + 1]) * (ib - ia);
    const Eigen::Vector3i v = mid.array().floor().cast<int>();
    if ((v.array() < 0).any() || (v.array() >= g.size.array()).any()) continue;
    sum += mu.At(v.x(), v.y(), v.z()) * piece * length;
  }
  return sum;
}

// Mostly empty, with boxes of random mu and a few lone voxels.
Volume SparseVolume(const VolumeGeometry& g, std::mt19937_64* rng) {
  Volume mu(g, VoxelType::kFloat32);
  const auto uniform = [&](double lo, double hi) { return Uniform(rng, lo, hi); };
  for (int box = 0; box < 14; ++box) {
    Eigen::Vector3i lo, hi;
    for (int axis = 0; axis < 3; ++axis) {
      lo[axis] = static_cast<int>(uniform(0, g.size[axis] - 1));
      hi[axis] = std::min(g.size[axis] - 1, lo[axis] + static_cast<int>(uniform(2, 14)));
    }
    const float value = static_cast<float>(uniform(0.005, 0.08));
    for (int k = lo.z(); k <= hi.z(); ++k)
      for (int j = lo.y(); j <= hi.y(); ++j)
        for (int i = lo.x(); i <= hi.x(); ++i) mu.Set(i, j, k, value);
  }
  for (int lone = 0; lone < 60; ++lone) {
    mu.Set(static_cast<int>(uniform(0, g.size.x() - 1)),
           static_cast<int>(uniform(0, g.size.y() - 1)),
           static_cast<int>(uniform(0, g.size.z() - 1)), static_cast<float>(uniform(0.01, 0.2)));
  }
  return mu;
}

void ExpectClose(double ours, double reference, const std::string& what) {
  EXPECT_NEAR(ours, reference, 2e-6 * reference + 1e-9) << what;
}

TEST(ExactTraversal, MatchesTextbookSiddonOnSparseRotatedVolumes) {
  std::mt19937_64 rng(20240917);
  const auto unit = [&](std::mt19937_64& r) { return Uniform(&r, -1.0, 1.0); };
  int compared = 0, nonzero = 0;
  for (int trial = 0; trial < 6; ++trial) {
    VolumeGeometry g;
    g.size = Eigen::Vector3i(37 + 5 * trial, 29 + 3 * trial, 23 + 7 * trial);
    g.spacing_mm = Eigen::Vector3d(0.7 + 0.1 * trial, 1.1, 1.9 - 0.2 * trial);
    g.origin_mm = Eigen::Vector3d(-20.0 + trial, 13.0, -7.5);
    if (trial % 2 == 1) {
      g.direction = Eigen::AngleAxisd(0.4 + trial,
                                      Eigen::Vector3d(unit(rng), unit(rng), unit(rng)).normalized())
                        .toRotationMatrix();
    }
    const Volume mu = SparseVolume(g, &rng);
    const PreparedVolume prepared = PreparedVolume::FromAttenuation(mu);
    const Eigen::Vector3d center = g.Center();
    const double radius = 0.5 * g.spacing_mm.cwiseProduct(g.size.cast<double>()).norm();
    for (int ray = 0; ray < 400; ++ray) {
      // Endpoints outside the volume, or (one in four) inside it.
      const double reach = ray % 4 == 0 ? 0.4 * radius : 1.5 * radius;
      const Eigen::Vector3d a =
          center + reach * Eigen::Vector3d(unit(rng), unit(rng), unit(rng)).normalized();
      const Eigen::Vector3d b =
          center + reach * Eigen::Vector3d(unit(rng), unit(rng), unit(rng)).normalized();
      const double reference = ReferenceSiddon(mu, a, b);
      ExpectClose(IntegrateSegment(prepared, a, b), reference,
                  "trial " + std::to_string(trial) + " ray " + std::to_string(ray));
      ++compared;
      nonzero += reference > 0;
    }
  }
  EXPECT_EQ(compared, 2400);
  EXPECT_GT(nonzero, 400);  // the rays do meet the sparse content
}

TEST(ExactTraversal, MatchesTextbookSiddonOnAxisAlignedAndDiagonalRays) {
  std::mt19937_64 rng(7);
  VolumeGeometry g;
  g.size = Eigen::Vector3i(33, 26, 19);
  g.spacing_mm = Eigen::Vector3d(1.0, 1.0, 1.0);
  const Volume mu = SparseVolume(g, &rng);
  const PreparedVolume prepared = PreparedVolume::FromAttenuation(mu);
  const auto index_point = [&](double i, double j, double k) {
    return g.IndexToWorld(Eigen::Vector3d(i, j, k));
  };
  int compared = 0;
  // Through voxel centres (never on a plane) along each axis, both ways.
  for (int j = 0; j < g.size.y(); j += 3) {
    for (int k = 0; k < g.size.z(); k += 2) {
      for (int sign : {1, -1}) {
        const Eigen::Vector3d a = index_point(sign > 0 ? -3 : 36, j, k);
        const Eigen::Vector3d b = index_point(sign > 0 ? 36 : -3, j, k);
        ExpectClose(IntegrateSegment(prepared, a, b), ReferenceSiddon(mu, a, b), "axis i");
        const Eigen::Vector3d c = index_point(j % 33, -5 * sign, k),
                              d = index_point(j % 33, 30 * sign, k);
        ExpectClose(IntegrateSegment(prepared, c, d), ReferenceSiddon(mu, c, d), "axis j");
        compared += 2;
      }
    }
  }
  // 45-degree diagonals in index space, which cross two planes at once at
  // every voxel corner, and a 3D diagonal that crosses three.
  for (double offset = -10.3; offset < 10; offset += 1.7) {
    const Eigen::Vector3d a = index_point(-2, -2 + offset, 9.2),
                          b = index_point(30, 30 + offset, 9.2);
    ExpectClose(IntegrateSegment(prepared, a, b), ReferenceSiddon(mu, a, b), "ij diagonal");
    const Eigen::Vector3d c = index_point(-1, 3.4 + offset * 0.3, -1 + offset * 0.2),
                          d = index_point(25, 29.4 + offset * 0.3, 25 + offset * 0.2);
    ExpectClose(IntegrateSegment(prepared, c, d), ReferenceSiddon(mu, c, d), "ijk diagonal");
    compared += 2;
  }
  EXPECT_GT(compared, 200);
}

}  // namespace
}  // namespace ssmx::drr
