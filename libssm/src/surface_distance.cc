// Surface-to-surface distances, enclosed volumes and Dice by voxelisation.
#include "ssmx/ssm/surface_distance.h"

#include <Eigen/Geometry>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <sstream>

#include "internal/column_intervals.h"
#include "internal/parallel.h"
#include "ssmx/core/error.h"

namespace ssmx::ssm {
namespace {

// Area-weighted statistics of |distances| (see DirectedDistance).
DirectedDistance Directed(const Eigen::VectorXd& distances, const Eigen::VectorXd& weights) {
  DirectedDistance out;
  const Eigen::Index n = distances.size();
  std::vector<Eigen::Index> order;
  order.reserve(static_cast<size_t>(n));
  double total = 0, sum = 0, sum_squares = 0;
  for (Eigen::Index v = 0; v < n; ++v) {
    if (!(weights[v] > 0)) continue;  // vertices no face uses
    const double d = std::abs(distances[v]);
    order.push_back(v);
    total += weights[v];
    sum += weights[v] * d;
    sum_squares += weights[v] * d * d;
    out.max_mm = std::max(out.max_mm, d);
  }
  if (total <= 0) return out;
  out.mean_mm = sum / total;
  out.rms_mm = std::sqrt(sum_squares / total);
  // The weighted 95th percentile: the smallest distance at which the weight
  // of the samples at or below it reaches 95 % of the total.
  std::sort(order.begin(), order.end(), [&](Eigen::Index x, Eigen::Index y) {
    return std::abs(distances[x]) < std::abs(distances[y]);
  });
  double cumulative = 0;
  out.p95_mm = out.max_mm;
  for (Eigen::Index v : order) {
    cumulative += weights[v];
    if (cumulative >= 0.95 * total) {
      out.p95_mm = std::abs(distances[v]);
      break;
    }
  }
  return out;
}

double EnclosedVolume(const TriangleMesh& mesh) {
  double volume = 0;
  for (int64_t f = 0; f < mesh.num_faces(); ++f) {
    const Eigen::Vector3d a = mesh.vertices.row(mesh.faces(f, 0)),
                          b = mesh.vertices.row(mesh.faces(f, 1)),
                          c = mesh.vertices.row(mesh.faces(f, 2));
    volume += a.dot(b.cross(c));
  }
  return volume / 6.0;
}

// Dice of the voxel centres inside a and inside b on the lattice spacing * Z^3.
// Rays run along the axis where the meshes are longest, so there are as few
// columns as possible; each column's inside spans are intersected exactly.
double VoxelDice(const TriangleMesh& a, const TriangleMesh& b, double spacing) {
  const Bounds3d ba = ComputeBounds(a), bb = ComputeBounds(b);
  const Eigen::Vector3d lo = ba.min.cwiseMin(bb.min), hi = ba.max.cwiseMax(bb.max);
  int ray_axis = 0;
  (hi - lo).maxCoeff(&ray_axis);
  const int u_axis = (ray_axis + 1) % 3, v_axis = (ray_axis + 2) % 3;
  const double u0 = std::floor(lo[u_axis] / spacing), v0 = std::floor(lo[v_axis] / spacing);
  const double nu = std::ceil(hi[u_axis] / spacing) - u0 + 1,
               nv = std::ceil(hi[v_axis] / spacing) - v0 + 1;
  if (nu * nv > 2147483647.0) {
    std::ostringstream msg;
    msg << "Dice: a grid of spacing " << spacing << " mm over the meshes needs " << nu * nv
        << " rays (more than 2^31); use a larger --dice-spacing";
    throw InvalidInput(msg.str());
  }
  const auto to_grid = [&](const TriangleMesh& mesh) {
    MatrixX3dR g(mesh.num_vertices(), 3);
    g.col(0) =
        mesh.vertices.col(u_axis) / spacing - Eigen::VectorXd::Constant(mesh.num_vertices(), u0);
    g.col(1) =
        mesh.vertices.col(v_axis) / spacing - Eigen::VectorXd::Constant(mesh.num_vertices(), v0);
    g.col(2) = mesh.vertices.col(ray_axis) / spacing;
    return g;
  };
  const int ni = static_cast<int>(nu), nj = static_cast<int>(nv);
  const internal::ColumnIntervals ca =
      internal::ComputeColumnIntervals(to_grid(a), a.faces, ni, nj);
  const internal::ColumnIntervals cb =
      internal::ComputeColumnIntervals(to_grid(b), b.faces, ni, nj);
  int64_t count_a = 0, count_b = 0, count_both = 0;
  for (int64_t c = 0; c + 1 < static_cast<int64_t>(ca.offset.size()); ++c) {
    int64_t x = ca.offset[c], y = cb.offset[c];
    const int64_t x_end = ca.offset[c + 1], y_end = cb.offset[c + 1];
    for (int64_t s = x; s < x_end; ++s)
      count_a += internal::LatticePointsIn(ca.spans[s].first, ca.spans[s].second);
    for (int64_t s = y; s < y_end; ++s)
      count_b += internal::LatticePointsIn(cb.spans[s].first, cb.spans[s].second);
    while (x < x_end && y < y_end) {
      const auto& sa = ca.spans[x];
      const auto& sb = cb.spans[y];
      count_both +=
          internal::LatticePointsIn(std::max(sa.first, sb.first), std::min(sa.second, sb.second));
      if (sa.second < sb.second)
        ++x;
      else
        ++y;
    }
  }
  if (count_a + count_b == 0) return std::numeric_limits<double>::quiet_NaN();
  return 2.0 * static_cast<double>(count_both) / static_cast<double>(count_a + count_b);
}

std::string Fmt(double value, int precision) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(precision);
  out << value;
  return out.str();
}

}  // namespace

Eigen::VectorXd VertexAreas(const TriangleMesh& mesh) {
  Eigen::VectorXd areas = Eigen::VectorXd::Zero(mesh.num_vertices());
  for (int64_t f = 0; f < mesh.num_faces(); ++f) {
    const Eigen::Vector3d a = mesh.vertices.row(mesh.faces(f, 0)),
                          b = mesh.vertices.row(mesh.faces(f, 1)),
                          c = mesh.vertices.row(mesh.faces(f, 2));
    const double third = (b - a).cross(c - a).norm() / 6.0;
    for (int k = 0; k < 3; ++k) areas[mesh.faces(f, k)] += third;
  }
  return areas;
}

bool SurfaceDistanceOptions::IsValid(std::string* error) const {
  std::string message;
  if (compute_dice && !(dice_spacing_mm > 0 && std::isfinite(dice_spacing_mm))) {
    message =
        "dice_spacing_mm must be a positive number of mm, got " + std::to_string(dice_spacing_mm);
  }
  if (error) *error = message;
  return message.empty();
}

SurfaceDistanceSummary ComputeSurfaceDistance(const TriangleMesh& a, const TriangleMesh& b,
                                              const SurfaceDistanceOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  if (!options.IsValid(&error)) throw InvalidInput("surface distance: " + error);
  ValidateMesh(a, "mesh A");
  ValidateMesh(b, "mesh B");
  ReportProgress(options.progress, 0.0, "indexing the surfaces");
  // The two hierarchies are independent: build them side by side.
  std::unique_ptr<SurfaceLocator> locators[2];
  internal::ParallelFor(2, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      locators[i] = std::make_unique<SurfaceLocator>(i == 0 ? a : b);
  });
  const SurfaceLocator& locator_a = *locators[0];
  const SurfaceLocator& locator_b = *locators[1];
  ReportProgress(options.progress, 0.1, "distances from A to B");
  SurfaceDistanceSummary out;
  out.signed_distance_a_mm = locator_b.SignedDistances(a.vertices);
  ReportProgress(options.progress, 0.4, "distances from B to A");
  out.signed_distance_b_mm = locator_a.SignedDistances(b.vertices);

  const Eigen::VectorXd weights_a = VertexAreas(a), weights_b = VertexAreas(b);
  out.a_to_b = Directed(out.signed_distance_a_mm, weights_a);
  out.b_to_a = Directed(out.signed_distance_b_mm, weights_b);
  out.area_a_mm2 = weights_a.sum();
  out.area_b_mm2 = weights_b.sum();
  const double total = out.area_a_mm2 + out.area_b_mm2;
  if (total > 0) {
    out.mean_mm =
        (out.a_to_b.mean_mm * out.area_a_mm2 + out.b_to_a.mean_mm * out.area_b_mm2) / total;
    out.rms_mm = std::sqrt((out.a_to_b.rms_mm * out.a_to_b.rms_mm * out.area_a_mm2 +
                            out.b_to_a.rms_mm * out.b_to_a.rms_mm * out.area_b_mm2) /
                           total);
  }
  out.p95_mm = std::max(out.a_to_b.p95_mm, out.b_to_a.p95_mm);
  out.hausdorff_mm = std::max(out.a_to_b.max_mm, out.b_to_a.max_mm);
  out.volume_a_mm3 = EnclosedVolume(a);
  out.volume_b_mm3 = EnclosedVolume(b);
  out.dice = std::numeric_limits<double>::quiet_NaN();
  if (options.compute_dice) {
    ReportProgress(options.progress, 0.7, "Dice by voxelisation");
    out.dice_spacing_mm = options.dice_spacing_mm;
    out.dice = VoxelDice(a, b, options.dice_spacing_mm);
  }
  ReportProgress(options.progress, 1.0, "distances done");
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

std::string SurfaceDistanceSummary::BriefReport() const {
  std::ostringstream out;
  out << "            mean     rms     p95     max  (mm)\n";
  const auto row = [&](const char* name, double mean, double rms, double p95, double max) {
    out << name << " " << std::string(7 - std::min<size_t>(7, Fmt(mean, 3).size()), ' ')
        << Fmt(mean, 3) << " " << std::string(7 - std::min<size_t>(7, Fmt(rms, 3).size()), ' ')
        << Fmt(rms, 3) << " " << std::string(7 - std::min<size_t>(7, Fmt(p95, 3).size()), ' ')
        << Fmt(p95, 3) << " " << std::string(7 - std::min<size_t>(7, Fmt(max, 3).size()), ' ')
        << Fmt(max, 3) << "\n";
  };
  row("A -> B    ", a_to_b.mean_mm, a_to_b.rms_mm, a_to_b.p95_mm, a_to_b.max_mm);
  row("B -> A    ", b_to_a.mean_mm, b_to_a.rms_mm, b_to_a.p95_mm, b_to_a.max_mm);
  row("symmetric ", mean_mm, rms_mm, p95_mm, hausdorff_mm);
  out << "volume A " << Fmt(volume_a_mm3, 1) << " mm^3, volume B " << Fmt(volume_b_mm3, 1)
      << " mm^3";
  if (std::isfinite(dice))
    out << ", Dice " << Fmt(dice, 4) << " (voxels of " << dice_spacing_mm << " mm)";
  out << "\n";
  return out.str();
}

void AddDivergingColors(const Eigen::VectorXd& values, double range_mm, TriangleMesh* mesh) {
  if (values.size() != mesh->num_vertices()) {
    throw InvalidInput("colours: " + std::to_string(values.size()) + " values for " +
                       std::to_string(mesh->num_vertices()) + " vertices");
  }
  if (!(range_mm > 0) || !std::isfinite(range_mm)) {
    throw InvalidInput("colours: the range must be a positive number of mm, got " +
                       std::to_string(range_mm));
  }
  // ColorBrewer RdBu end points and a near-white centre.
  const Eigen::Vector3d blue(33, 102, 172), white(247, 247, 247), red(178, 24, 43);
  Eigen::VectorXd r(values.size()), g(values.size()), b(values.size());
  for (Eigen::Index v = 0; v < values.size(); ++v) {
    const double t = std::isfinite(values[v]) ? std::clamp(values[v] / range_mm, -1.0, 1.0) : 0.0;
    const Eigen::Vector3d c = t < 0 ? white + (-t) * (blue - white) : white + t * (red - white);
    r[v] = std::round(c.x());
    g[v] = std::round(c.y());
    b[v] = std::round(c.z());
  }
  mesh->scalars["red"] = r;
  mesh->scalars["green"] = g;
  mesh->scalars["blue"] = b;
}

}  // namespace ssmx::ssm
