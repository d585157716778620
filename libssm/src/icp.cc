#include "ssmx/ssm/icp.h"

#include <Eigen/Cholesky>
#include <Eigen/Geometry>
#include <Eigen/SVD>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "internal/closest_points.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/surface_distance.h"

namespace ssmx::ssm {
namespace {

// The rows of `mesh.vertices` (and their areas) that ICP uses: every k-th
// vertex so that at most max_points remain.
void Subsample(const TriangleMesh& mesh, int max_points, MatrixX3dR* points,
               Eigen::VectorXd* weights) {
  const Eigen::VectorXd areas = VertexAreas(mesh);
  const int64_t n = mesh.num_vertices();
  const int64_t stride = (max_points > 0 && n > max_points) ? (n + max_points - 1) / max_points : 1;
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < n; i += stride) {
    if (areas(i) > 0) rows.push_back(i);
  }
  points->resize(static_cast<Eigen::Index>(rows.size()), 3);
  weights->resize(static_cast<Eigen::Index>(rows.size()));
  for (size_t k = 0; k < rows.size(); ++k) {
    points->row(static_cast<Eigen::Index>(k)) = mesh.vertices.row(rows[k]);
    (*weights)(static_cast<Eigen::Index>(k)) = areas(rows[k]);
  }
}

// The distance below which (1 - trim) of the pairs lie (by count).
double TrimThreshold(const Eigen::VectorXd& distances, double trim) {
  if (trim <= 0) return std::numeric_limits<double>::infinity();
  std::vector<double> d(distances.data(), distances.data() + distances.size());
  const size_t keep = std::max<size_t>(
      3, static_cast<size_t>(std::ceil((1.0 - trim) * static_cast<double>(d.size()))));
  if (keep >= d.size()) return std::numeric_limits<double>::infinity();
  std::nth_element(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(keep - 1), d.end());
  return d[keep - 1];
}

}  // namespace

bool IcpOptions::IsValid(std::string* error) const {
  std::string e;
  if (kind != AlignmentKind::kRigid && kind != AlignmentKind::kSimilarity) {
    e = "kind must be rigid or similarity";
  } else if (max_iterations < 1) {
    e = "max_iterations must be >= 1";
  } else if (!(trim_fraction >= 0 && trim_fraction < 1)) {
    e = "trim_fraction must be in [0, 1)";
  } else if (!(tolerance_mm >= 0)) {
    e = "tolerance_mm must be >= 0";
  } else if (max_points < 0 || (max_points > 0 && max_points < 3)) {
    e = "max_points must be 0 (all) or >= 3";
  } else if (!(point_to_point_weight >= 0 && std::isfinite(point_to_point_weight))) {
    e = "point_to_point_weight must be >= 0";
  }
  if (error) *error = e;
  return e.empty();
}

std::string IcpSummary::BriefReport() const {
  std::ostringstream os;
  os << "ICP: " << (converged ? "converged" : "not converged") << " after " << iterations
     << " iterations, scale " << target_from_source.scale << ", kept " << pairs_kept << "/"
     << points << " pairs, RMS (kept) " << rms_kept_mm << " mm, mean (all) " << mean_mm << " mm, "
     << seconds << " s";
  return os.str();
}

SimilarityTransform CentroidAlignment(const TriangleMesh& source, const TriangleMesh& target,
                                      AlignmentKind kind) {
  ValidateMesh(source, "ICP source");
  ValidateMesh(target, "ICP target");
  const Eigen::VectorXd as = VertexAreas(source), at = VertexAreas(target);
  if (!(as.sum() > 0) || !(at.sum() > 0)) {
    throw InvalidInput("CentroidAlignment: a mesh has zero surface area");
  }
  const Eigen::Vector3d cs = internal::WeightedCentroid(source.vertices, as);
  const Eigen::Vector3d ct = internal::WeightedCentroid(target.vertices, at);
  SimilarityTransform t;
  if (kind == AlignmentKind::kSimilarity) {
    const double rs = std::sqrt(
        ((source.vertices.rowwise() - cs.transpose()).rowwise().squaredNorm().transpose() * as)(0) /
        as.sum());
    const double rt = std::sqrt(
        ((target.vertices.rowwise() - ct.transpose()).rowwise().squaredNorm().transpose() * at)(0) /
        at.sum());
    if (rs > 0) t.scale = rt / rs;
  }
  t.translation = ct - t.scale * cs;
  return t;
}

IcpSummary IterativeClosestPoint(const TriangleMesh& source, const TriangleMesh& target,
                                 const SimilarityTransform& initial, const IcpOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  if (!options.IsValid(&error)) throw InvalidInput("ICP options: " + error);
  ValidateMesh(source, "ICP source");
  ValidateMesh(target, "ICP target");
  if (!(initial.scale > 0) || !initial.rotation.allFinite() || !initial.translation.allFinite()) {
    throw InvalidInput("ICP: the initial transform must be finite with a positive scale");
  }
  MatrixX3dR x;
  Eigen::VectorXd area;
  Subsample(source, options.max_points, &x, &area);
  if (x.rows() < 3) throw InvalidInput("ICP source: fewer than 3 vertices with non-zero area");
  const internal::TargetSurface surface(target);
  const bool similarity = options.kind == AlignmentKind::kSimilarity;
  const int dims = similarity ? 7 : 6;
  const double mu = options.point_to_point_weight;

  IcpSummary summary;
  summary.points = x.rows();
  SimilarityTransform t = initial;
  for (int it = 0; it < options.max_iterations; ++it) {
    const MatrixX3dR p = t.Apply(x);
    const internal::ClosestPoints cp = surface.Query(p);
    const double threshold = TrimThreshold(cp.distances, options.trim_fraction);
    Eigen::VectorXd w = area;
    for (Eigen::Index i = 0; i < w.size(); ++i) {
      if (cp.distances(i) > threshold) w(i) = 0;
    }
    const Eigen::Vector3d c = internal::WeightedCentroid(p, w);
    // Unknowns: small rotation omega (3), translation (3), scale change sigma.
    // The moved point is c + (1 + sigma) exp([omega]x) (p - c) + tau, linear:
    // p + omega x d + tau + sigma d with d = p - c.
    Eigen::Matrix<double, 7, 7> lhs = Eigen::Matrix<double, 7, 7>::Zero();
    Eigen::Matrix<double, 7, 1> rhs = Eigen::Matrix<double, 7, 1>::Zero();
    const auto add_row = [&](const Eigen::Vector3d& dir, const Eigen::Vector3d& d, double residual,
                             double weight) {
      Eigen::Matrix<double, 7, 1> j;
      j << d.cross(dir), dir, dir.dot(d);
      lhs.noalias() += weight * j * j.transpose();
      rhs.noalias() += weight * residual * j;
    };
    for (Eigen::Index i = 0; i < p.rows(); ++i) {
      if (w(i) <= 0) continue;
      const Eigen::Vector3d d = p.row(i).transpose() - c;
      const Eigen::Vector3d r = cp.points.row(i).transpose() - p.row(i).transpose();
      const Eigen::Vector3d n = cp.normals.row(i).transpose();
      add_row(n, d, n.dot(r), w(i));
      if (mu > 0) {
        for (int k = 0; k < 3; ++k) add_row(Eigen::Vector3d::Unit(k), d, r(k), mu * w(i));
      }
    }
    Eigen::Matrix<double, 7, 1> delta = Eigen::Matrix<double, 7, 1>::Zero();
    delta.head(dims) = lhs.topLeftCorner(dims, dims).ldlt().solve(rhs.head(dims));
    if (!delta.allFinite()) {
      throw NotConverged("ICP: the normal equations are singular (degenerate overlap)");
    }
    const Eigen::Vector3d omega = delta.head<3>();
    const double angle = omega.norm();
    const Eigen::Matrix3d r_step = angle > 0
                                       ? Eigen::AngleAxisd(angle, omega / angle).toRotationMatrix()
                                       : Eigen::Matrix3d::Identity();
    const double s_step = 1.0 + delta(6);
    if (!(s_step > 0)) throw NotConverged("ICP: the scale update collapsed the source");
    SimilarityTransform next;
    next.scale = s_step * t.scale;
    next.rotation = r_step * t.rotation;
    next.translation =
        s_step * r_step * (t.translation - c) + c + Eigen::Vector3d(delta.segment<3>(3));
    // Orthonormalise against drift.
    Eigen::JacobiSVD<Eigen::Matrix3d> svd(next.rotation, Eigen::ComputeFullU | Eigen::ComputeFullV);
    next.rotation = svd.matrixU() * svd.matrixV().transpose();
    const MatrixX3dR moved = next.Apply(x);
    const double change =
        std::sqrt(((moved - p).rowwise().squaredNorm().transpose() * area)(0) / area.sum());
    t = next;
    summary.iterations = it + 1;
    summary.last_change_mm = change;
    if (change < options.tolerance_mm) {
      summary.converged = true;
      break;
    }
  }
  // Final statistics at the returned transform.
  const MatrixX3dR p = t.Apply(x);
  const internal::ClosestPoints cp = surface.Query(p);
  const double threshold = TrimThreshold(cp.distances, options.trim_fraction);
  double kept_w = 0, kept_sq = 0;
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    if (cp.distances(i) > threshold) continue;
    ++summary.pairs_kept;
    kept_w += area(i);
    kept_sq += area(i) * cp.distances(i) * cp.distances(i);
  }
  summary.rms_kept_mm = kept_w > 0 ? std::sqrt(kept_sq / kept_w) : 0;
  summary.mean_mm = cp.distances.dot(area) / area.sum();
  summary.target_from_source = t;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace ssmx::ssm
