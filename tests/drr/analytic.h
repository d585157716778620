// Analytic truth for projector tests, computed without ssmx's projectors:
// chord lengths through boxes and ellipsoids, and partial-volume voxelisation.
#ifndef SSMX_TESTS_DRR_ANALYTIC_H_
#define SSMX_TESTS_DRR_ANALYTIC_H_

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "ssmx/core/volume.h"

namespace ssmx::testing {

// Length of the segment a -> b inside the axis-aligned box [lo, hi] (slab method).
inline double BoxChord(const Eigen::Vector3d& a, const Eigen::Vector3d& b,
                       const Eigen::Vector3d& lo, const Eigen::Vector3d& hi, double* t_in = nullptr,
                       double* t_out = nullptr) {
  const Eigen::Vector3d d = b - a;
  double t0 = 0, t1 = 1;
  for (int i = 0; i < 3; ++i) {
    if (d[i] == 0) {
      if (a[i] < lo[i] || a[i] > hi[i]) return 0;
      continue;
    }
    double ta = (lo[i] - a[i]) / d[i], tb = (hi[i] - a[i]) / d[i];
    if (ta > tb) std::swap(ta, tb);
    t0 = std::max(t0, ta);
    t1 = std::min(t1, tb);
  }
  if (t_in) *t_in = t0;
  if (t_out) *t_out = t1;
  return t1 > t0 ? (t1 - t0) * d.norm() : 0.0;
}

// Shortest distance between the segments p0-p1 and q0-q1 (minimised over both
// parameters in [0, 1]: the interior critical point when it is inside, else
// the best of the four edges of the parameter square).
inline double SegmentDistance(const Eigen::Vector3d& p0, const Eigen::Vector3d& p1,
                              const Eigen::Vector3d& q0, const Eigen::Vector3d& q1) {
  const Eigen::Vector3d d1 = p1 - p0, d2 = q1 - q0, r = p0 - q0;
  const auto point_segment = [](const Eigen::Vector3d& x, const Eigen::Vector3d& a,
                                const Eigen::Vector3d& b) {
    const Eigen::Vector3d d = b - a;
    const double t = std::clamp(d.dot(x - a) / d.squaredNorm(), 0.0, 1.0);
    return (a + t * d - x).norm();
  };
  double best = std::min({point_segment(p0, q0, q1), point_segment(p1, q0, q1),
                          point_segment(q0, p0, p1), point_segment(q1, p0, p1)});
  const double a = d1.dot(d1), b = d1.dot(d2), c = d2.dot(d2), d = d1.dot(r), e = d2.dot(r);
  const double denom = a * c - b * b;
  if (denom > 1e-12 * a * c) {
    const double s = (b * e - c * d) / denom, t = (a * e - b * d) / denom;
    if (s >= 0 && s <= 1 && t >= 0 && t <= 1)
      best = std::min(best, (p0 + s * d1 - q0 - t * d2).norm());
  }
  return best;
}

struct Ellipsoid {
  Eigen::Vector3d center = Eigen::Vector3d::Zero();
  Eigen::Vector3d radii = Eigen::Vector3d::Ones();
  Eigen::Matrix3d axes = Eigen::Matrix3d::Identity();  // columns: the principal axes

  // Coordinates in which the ellipsoid is the unit ball.
  Eigen::Vector3d Normalized(const Eigen::Vector3d& p) const {
    return (axes.transpose() * (p - center)).cwiseQuotient(radii);
  }
  bool Contains(const Eigen::Vector3d& p) const { return Normalized(p).squaredNorm() <= 1.0; }

  // Length of the line through a and b inside the ellipsoid (whole line).
  double Chord(const Eigen::Vector3d& a, const Eigen::Vector3d& b) const {
    const Eigen::Vector3d u = (b - a).normalized();
    const Eigen::Vector3d y = Normalized(a);
    const Eigen::Vector3d w = (axes.transpose() * u).cwiseQuotient(radii);
    const double qa = w.squaredNorm(), qb = 2 * y.dot(w), qc = y.squaredNorm() - 1;
    const double disc = qb * qb - 4 * qa * qc;
    return disc > 0 ? std::sqrt(disc) / qa : 0.0;
  }
};

// Adds `value` times the fraction of each voxel inside the ellipsoid, the
// fraction estimated from n^3 sub-samples (voxels far from the surface are
// classified from their centre: a point at normalised radius rho lies at least
// |rho - 1| * min(radii) from the surface).
inline void AddEllipsoid(Volume* volume, const Ellipsoid& e, float value, int n = 6) {
  const VolumeGeometry& g = volume->geometry();
  const double half_diagonal = 0.5 * g.spacing_mm.norm();
  const double r_min = e.radii.minCoeff();
  const Eigen::Matrix3d step = g.direction * g.spacing_mm.asDiagonal();
  for (int k = 0; k < g.size.z(); ++k) {
    for (int j = 0; j < g.size.y(); ++j) {
      for (int i = 0; i < g.size.x(); ++i) {
        const Eigen::Vector3d c = g.IndexToWorld(Eigen::Vector3d(i, j, k));
        const double rho = e.Normalized(c).norm();
        double fraction;
        if ((rho - 1) * r_min > half_diagonal) {
          continue;
        } else if ((1 - rho) * r_min > half_diagonal) {
          fraction = 1.0;
        } else {
          int inside = 0;
          for (int c2 = 0; c2 < n; ++c2) {
            for (int b = 0; b < n; ++b) {
              for (int a = 0; a < n; ++a) {
                const Eigen::Vector3d offset((a + 0.5) / n - 0.5, (b + 0.5) / n - 0.5,
                                             (c2 + 0.5) / n - 0.5);
                inside += e.Contains(c + step * offset);
              }
            }
          }
          fraction = static_cast<double>(inside) / (n * n * n);
        }
        volume->Set(i, j, k, volume->At(i, j, k) + static_cast<float>(value * fraction));
      }
    }
  }
}

// PSNR in dB of `test` against `truth` (peak = max of truth).
template <typename V>
double Psnr(const V& truth, const V& test) {
  double peak = 0, se = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    peak = std::max(peak, static_cast<double>(truth[i]));
    const double e = static_cast<double>(test[i]) - truth[i];
    se += e * e;
  }
  const double mse = se / truth.size();
  return 10 * std::log10(peak * peak / mse);
}

}  // namespace ssmx::testing

#endif  // SSMX_TESTS_DRR_ANALYTIC_H_
