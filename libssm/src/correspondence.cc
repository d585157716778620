#include "ssmx/ssm/correspondence.h"

#include <Eigen/Geometry>
#include <Eigen/QR>
#include <Eigen/SparseCholesky>
#include <Eigen/SparseCore>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <sstream>
#include <utility>

#include "internal/closest_points.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/surface.h"
#include "ssmx/ssm/surface_distance.h"

namespace ssmx::ssm {
namespace {

using SparseMatrix = Eigen::SparseMatrix<double>;
using Triplet = Eigen::Triplet<double>;

constexpr int kProjectionRounds = 8;

// Unique undirected edges (i < j) of the faces.
std::vector<std::pair<int, int>> Edges(const MatrixX3iR& faces) {
  std::vector<std::pair<int, int>> edges;
  edges.reserve(static_cast<size_t>(faces.rows()) * 3);
  for (Eigen::Index f = 0; f < faces.rows(); ++f) {
    for (int k = 0; k < 3; ++k) {
      const int a = faces(f, k), b = faces(f, (k + 1) % 3);
      edges.emplace_back(std::min(a, b), std::max(a, b));
    }
  }
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  return edges;
}

// Stiffness weight of every edge of `edges` (sorted, as Edges returns them):
// the cotangent weight (cot a + cot b) / 2 of the two angles opposite the edge,
// divided by its value on an equilateral mesh (cot 60 deg) and kept at or
// above kMinEdgeWeight (obtuse angles make it small or negative). On an
// irregular mesh this is the consistent discretisation of the membrane energy
// sum |grad X|^2; with equal weights, long thin triangles (the decimated
// shaft) would make the stiffness along them differ from the stiffness across.
std::vector<double> CotangentEdgeWeights(const MatrixX3dR& vertices, const MatrixX3iR& faces,
                                         const std::vector<std::pair<int, int>>& edges) {
  constexpr double kMinEdgeWeight = 0.05;
  const double equilateral = 1.0 / std::sqrt(3.0);
  std::vector<double> weight(edges.size(), 0.0);
  for (Eigen::Index f = 0; f < faces.rows(); ++f) {
    for (int k = 0; k < 3; ++k) {
      const int a = faces(f, (k + 1) % 3), b = faces(f, (k + 2) % 3), c = faces(f, k);
      const Eigen::Vector3d u = vertices.row(a) - vertices.row(c),
                            v = vertices.row(b) - vertices.row(c);
      const double sine = u.cross(v).norm();
      const double cot = sine > 0 ? u.dot(v) / sine : 0.0;
      const auto edge = std::make_pair(std::min(a, b), std::max(a, b));
      const auto e = std::lower_bound(edges.begin(), edges.end(), edge) - edges.begin();
      weight[static_cast<size_t>(e)] += 0.5 * cot / equilateral;
    }
  }
  for (double& w : weight) w = std::max(w, kMinEdgeWeight);
  return weight;
}

// Is face f of `vertices` turned by >= 90 degrees against reference_normals.row(f)?
bool Flipped(const Eigen::Ref<const MatrixX3dR>& vertices, const MatrixX3iR& faces,
             const MatrixX3dR& reference_normals, Eigen::Index f) {
  const Eigen::Vector3d a = vertices.row(faces(f, 0)), b = vertices.row(faces(f, 1)),
                        c = vertices.row(faces(f, 2));
  return (b - a).cross(c - a).dot(reference_normals.row(f).transpose()) <= 0;
}

// Moves every vertex from `from` to `to`, except that the moves of the
// vertices of faces that would flip (and were not flipped in `from`) are
// halved, up to kHalvings times, and then cancelled, until no such face is
// left. Terminates: each round shortens at least one move, and a face whose
// vertices all stay at `from` is unflipped. Returns the result; adds the
// vertices whose move was shortened to *limited (a #V mask).
MatrixX3dR LimitStepsAgainstFolding(const MatrixX3dR& from, const MatrixX3dR& to,
                                    const MatrixX3iR& faces, const MatrixX3dR& reference_normals,
                                    std::vector<char>* limited) {
  constexpr int kHalvings = 6;
  std::vector<char> checkable(static_cast<size_t>(faces.rows()));
  for (Eigen::Index f = 0; f < faces.rows(); ++f) {
    checkable[static_cast<size_t>(f)] =
        reference_normals.row(f).squaredNorm() > 0 && !Flipped(from, faces, reference_normals, f);
  }
  std::vector<double> step(static_cast<size_t>(from.rows()), 1.0);
  MatrixX3dR result = to;
  for (int round = 0;; ++round) {
    std::vector<int> shorten;
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
      if (!checkable[static_cast<size_t>(f)] || !Flipped(result, faces, reference_normals, f)) {
        continue;
      }
      for (int k = 0; k < 3; ++k) shorten.push_back(faces(f, k));
    }
    if (shorten.empty()) break;
    std::sort(shorten.begin(), shorten.end());
    shorten.erase(std::unique(shorten.begin(), shorten.end()), shorten.end());
    for (int v : shorten) {
      double& t = step[static_cast<size_t>(v)];
      t = round < kHalvings ? 0.5 * t : 0.0;
      result.row(v) = from.row(v) + t * (to.row(v) - from.row(v));
      (*limited)[static_cast<size_t>(v)] = 1;
    }
  }
  return result;
}

// A landmark as a barycentric combination of reference vertices.
struct BarycentricPoint {
  std::array<int, 3> vertex{};
  Eigen::Vector3d weight = Eigen::Vector3d::Zero();
};

BarycentricPoint Barycentric(const MatrixX3dR& vertices, const MatrixX3iR& faces,
                             const SurfaceLocator& locator, const Eigen::Vector3d& p) {
  const ClosestPointResult r = locator.ClosestPoint(p);
  BarycentricPoint b;
  for (int k = 0; k < 3; ++k) b.vertex[static_cast<size_t>(k)] = faces(r.face, k);
  const Eigen::Vector3d a = vertices.row(b.vertex[0]), v1 = vertices.row(b.vertex[1]),
                        v2 = vertices.row(b.vertex[2]);
  // Solve r.point = a + s (v1 - a) + t (v2 - a) in the least-squares sense.
  Eigen::Matrix<double, 3, 2> m;
  m << v1 - a, v2 - a;
  const Eigen::Vector2d st = m.colPivHouseholderQr().solve(r.point - a);
  b.weight = Eigen::Vector3d(1.0 - st(0) - st(1), st(0), st(1));
  return b;
}

Eigen::Vector3d Evaluate(const BarycentricPoint& b, const MatrixX3dR& vertices) {
  Eigen::Vector3d p = Eigen::Vector3d::Zero();
  for (int k = 0; k < 3; ++k)
    p += b.weight(k) * vertices.row(b.vertex[static_cast<size_t>(k)]).transpose();
  return p;
}

double WeightedRms(const MatrixX3dR& a, const MatrixX3dR& b, const Eigen::VectorXd& w) {
  return std::sqrt(((a - b).rowwise().squaredNorm().transpose() * w)(0) / w.sum());
}

// The normalised frame of the energy: centred at the area-weighted centroid of
// the aligned reference and scaled by its RMS radius about it.
struct Frame {
  Eigen::Vector3d centre = Eigen::Vector3d::Zero();
  double radius = 1;
  // #P by 4: [(p - centre) / radius, 1].
  Eigen::MatrixXd Homogeneous(const MatrixX3dR& points) const {
    Eigen::MatrixXd h(points.rows(), 4);
    h.leftCols<3>() = (points.rowwise() - centre.transpose()) / radius;
    h.col(3).setOnes();
    return h;
  }
  // Row i: X_i^T h_i back in mm, with X the 4#P by 3 stacked transforms.
  MatrixX3dR Apply(const Eigen::MatrixXd& h, const Eigen::MatrixXd& x) const {
    MatrixX3dR out(h.rows(), 3);
    for (Eigen::Index i = 0; i < h.rows(); ++i) {
      out.row(i) = centre.transpose() + radius * (h.row(i) * x.middleRows<4>(4 * i));
    }
    return out;
  }
};

// The normal equations of the point-to-plane data term,
//   A = M - (1 - eps) sum_i w_i (h_i h_i^T) (x) P_i,
// with M the factorised point-to-point system (the same with P_i = 0) and P_i
// the tangential projector at vertex i's closest point, solved for the 4#V by
// 3 transforms by conjugate gradients preconditioned with M (M - A is positive
// semi-definite, so M^-1 A has its eigenvalues in [eps, 1]), starting at `x`.
Eigen::MatrixXd SolvePointToPlane(const SparseMatrix& m,
                                  const Eigen::SimplicialLDLT<SparseMatrix>& m_solver,
                                  const Eigen::MatrixXd& vh, const Eigen::VectorXd& w,
                                  const MatrixX3dR& normals, double eps, const Eigen::MatrixXd& b,
                                  Eigen::MatrixXd x, int iterations) {
  const auto apply = [&](const Eigen::MatrixXd& p) {
    Eigen::MatrixXd ap = m * p;
    for (Eigen::Index i = 0; i < vh.rows(); ++i) {
      if (w(i) == 0) continue;
      const Eigen::RowVector3d y = vh.row(i) * p.middleRows<4>(4 * i);
      const Eigen::RowVector3d n = normals.row(i);
      ap.middleRows<4>(4 * i) -= ((1.0 - eps) * w(i)) * vh.row(i).transpose() * (y - y.dot(n) * n);
    }
    return ap;
  };
  Eigen::MatrixXd r = b - apply(x);
  Eigen::MatrixXd z = m_solver.solve(r);
  Eigen::MatrixXd p = z;
  double rz = (r.array() * z.array()).sum();
  const double rz0 = rz;
  for (int k = 0; k < iterations && rz > 1e-24 * rz0 && rz > 0; ++k) {
    const Eigen::MatrixXd ap = apply(p);
    const double step = rz / (p.array() * ap.array()).sum();
    x += step * p;
    r -= step * ap;
    z = m_solver.solve(r);
    const double rz_next = (r.array() * z.array()).sum();
    p = z + (rz_next / rz) * p;
    rz = rz_next;
  }
  return x;
}

// eps of the data term at stiffness alpha: options.tangential_weight, growing
// as (sliding_stiffness / alpha)^2 below sliding_stiffness (at most 1).
double TangentialWeight(const CorrespondenceOptions& options, double alpha) {
  double eps = options.tangential_weight;
  if (alpha < options.sliding_stiffness) {
    eps *= (options.sliding_stiffness / alpha) * (options.sliding_stiffness / alpha);
  }
  return std::min(1.0, eps);
}

struct Deformation {
  Eigen::MatrixXd x;    // 4#V by 3, the affine transform of every vertex (normalised frame)
  MatrixX3dR vertices;  // #V by 3, mm, after the folding guard
  int stages = 0;
  int iterations = 0;
};

// The stages of optimal-step non-rigid ICP on `aligned` (the reference after
// the rigid/similarity start), see RegisterTemplate. `limited` (#V) marks the
// vertices whose step the folding guard shortened.
Deformation NonRigidIcp(const MatrixX3dR& aligned, const MatrixX3iR& faces, const Frame& frame,
                        const internal::TargetSurface& surface,
                        const std::vector<BarycentricPoint>& lm_points,
                        const std::vector<Eigen::Vector3d>& lm_targets_mm,
                        const CorrespondenceOptions& options, double progress_share,
                        std::vector<char>* limited) {
  const int64_t n = aligned.rows();
  const Eigen::Index unknowns = 4 * n;
  TriangleMesh aligned_mesh;
  aligned_mesh.vertices = aligned;
  aligned_mesh.faces = faces;
  const Eigen::VectorXd area = VertexAreas(aligned_mesh);
  const Eigen::VectorXd data_weight = area / area.sum();
  const Eigen::MatrixXd vh = frame.Homogeneous(aligned);
  const MatrixX3dR reference_normals = internal::FaceNormals(aligned, faces);

  // Constant parts of the normal equations: the stiffness L (x) G^2 and the
  // landmark blocks sum_l D_l^T D_l with their right-hand side.
  const std::vector<std::pair<int, int>> edges = Edges(faces);
  const double gamma2 = options.translation_weight * options.translation_weight;
  std::vector<Triplet> trip;
  trip.reserve(edges.size() * 16);
  const std::vector<double> edge_weight = CotangentEdgeWeights(aligned, faces, edges);
  for (size_t e = 0; e < edges.size(); ++e) {
    const int i = edges[e].first, j = edges[e].second;
    for (int k = 0; k < 4; ++k) {
      const double g = (k == 3 ? gamma2 : 1.0) * edge_weight[e];
      trip.emplace_back(4 * i + k, 4 * i + k, g);
      trip.emplace_back(4 * j + k, 4 * j + k, g);
      trip.emplace_back(4 * i + k, 4 * j + k, -g);
      trip.emplace_back(4 * j + k, 4 * i + k, -g);
    }
  }
  SparseMatrix stiffness(unknowns, unknowns);
  stiffness.setFromTriplets(trip.begin(), trip.end());
  SparseMatrix landmark_matrix(unknowns, unknowns);
  Eigen::MatrixXd landmark_rhs = Eigen::MatrixXd::Zero(unknowns, 3);
  trip.clear();
  for (size_t l = 0; l < lm_points.size(); ++l) {
    const BarycentricPoint& b = lm_points[l];
    const Eigen::RowVector3d t = (lm_targets_mm[l] - frame.centre).transpose() / frame.radius;
    for (int j = 0; j < 3; ++j) {
      const int vj = b.vertex[static_cast<size_t>(j)];
      const Eigen::Vector4d dj = b.weight(j) * vh.row(vj).transpose();
      landmark_rhs.middleRows<4>(4 * vj) += dj * t;
      for (int k = 0; k < 3; ++k) {
        const int vk = b.vertex[static_cast<size_t>(k)];
        const Eigen::Vector4d dk = b.weight(k) * vh.row(vk).transpose();
        for (int r = 0; r < 4; ++r) {
          for (int c = 0; c < 4; ++c) trip.emplace_back(4 * vj + r, 4 * vk + c, dj(r) * dk(c));
        }
      }
    }
  }
  landmark_matrix.setFromTriplets(trip.begin(), trip.end());

  const double cos_max = std::cos(options.max_normal_angle);
  Deformation out;
  out.vertices = aligned;
  Eigen::SimplicialLDLT<SparseMatrix> solver;
  SparseMatrix normal(unknowns, unknowns);
  bool analysed = false;
  Eigen::Index analysed_nonzeros = 0;
  const double total_steps =
      static_cast<double>(options.stiffness.size() * options.max_iterations_per_stage);
  int step_count = 0;
  for (size_t stage = 0; stage < options.stiffness.size(); ++stage) {
    const double alpha = options.stiffness[stage];
    const double beta = options.landmark_weight * alpha / options.stiffness.front();
    // The pairs rejected by the normal test are chosen once per stage, so the
    // matrix is factorised once per stage and the further iterations of the
    // stage only solve with new closest points.
    Eigen::VectorXd w = data_weight;
    for (int it = 0; it < options.max_iterations_per_stage; ++it) {
      ReportProgress(options.progress, progress_share * (step_count++) / total_steps,
                     "non-rigid ICP");
      const internal::ClosestPoints cp = surface.Query(out.vertices);
      if (it == 0) {
        const MatrixX3dR vertex_normals = internal::VertexNormals(out.vertices, faces);
        trip.clear();
        trip.reserve(static_cast<size_t>(n) * 16);
        for (int64_t i = 0; i < n; ++i) {
          if (vertex_normals.row(i).dot(cp.normals.row(i)) < cos_max) w(i) = 0;
          const Eigen::Vector4d v = vh.row(i).transpose();
          const Eigen::Matrix4d block = w(i) * v * v.transpose();
          for (int r = 0; r < 4; ++r) {
            for (int c = 0; c < 4; ++c) trip.emplace_back(4 * i + r, 4 * i + c, block(r, c));
          }
        }
        normal.setFromTriplets(trip.begin(), trip.end());
        normal += (alpha * alpha) * stiffness;
        if (!lm_points.empty()) normal += (beta * beta) * landmark_matrix;
        normal.makeCompressed();
        if (!analysed || normal.nonZeros() != analysed_nonzeros) {
          solver.analyzePattern(normal);
          analysed = true;
          analysed_nonzeros = normal.nonZeros();
        }
        solver.factorize(normal);
        if (solver.info() != Eigen::Success) {
          throw NotConverged("non-rigid ICP: the linear system is singular (stage " +
                             std::to_string(stage + 1) +
                             "); is the target far from the reference?");
        }
      }
      Eigen::MatrixXd rhs = (beta * beta) * landmark_rhs;
      // The data term w_i (|n_i . (y_i - u_i)|^2 + eps |P_i (y_i - u_i)|^2)
      // with n_i the target normal at u_i and P_i = I - n_i n_i^T: its
      // right-hand side has (n n^T + eps P) u_i in place of u_i.
      const double eps = TangentialWeight(options, alpha);
      for (int64_t i = 0; i < n; ++i) {
        const Eigen::RowVector3d u = (cp.points.row(i) - frame.centre.transpose()) / frame.radius;
        const Eigen::RowVector3d normal_i = cp.normals.row(i);
        const Eigen::RowVector3d g = eps * u + (1.0 - eps) * u.dot(normal_i) * normal_i;
        rhs.middleRows<4>(4 * i) += w(i) * vh.row(i).transpose() * g;
      }
      out.x = eps >= 1.0 || out.x.size() == 0 ? Eigen::MatrixXd(solver.solve(rhs)) : out.x;
      if (eps < 1.0) {
        out.x = SolvePointToPlane(normal, solver, vh, w, cp.normals, eps, rhs, out.x,
                                  options.cg_iterations);
      }
      MatrixX3dR next = frame.Apply(vh, out.x);
      if (!next.allFinite()) {
        throw NotConverged("non-rigid ICP: the solve gave non-finite vertices (stage " +
                           std::to_string(stage + 1) + ")");
      }
      next = LimitStepsAgainstFolding(out.vertices, next, faces, reference_normals, limited);
      const double change = WeightedRms(next, out.vertices, area);
      out.vertices = std::move(next);
      ++out.iterations;
      if (change < options.tolerance_mm) break;
    }
    ++out.stages;
  }
  return out;
}
}  // namespace

bool CorrespondenceOptions::IsValid(std::string* error) const {
  std::string e, icp_error;
  IcpOptions i = icp;
  i.kind = alignment;
  if (alignment != AlignmentKind::kRigid && alignment != AlignmentKind::kSimilarity) {
    e = "alignment must be rigid or similarity";
  } else if (!i.IsValid(&icp_error)) {
    e = "icp: " + icp_error;
  } else if (stiffness.empty()) {
    e = "stiffness needs at least one stage";
  } else if (max_iterations_per_stage < 1) {
    e = "max_iterations_per_stage must be >= 1";
  } else if (max_solve_vertices < 0 || (max_solve_vertices > 0 && max_solve_vertices < 100)) {
    e = "max_solve_vertices must be 0 (no limit) or >= 100";
  } else if (!(tolerance_mm >= 0)) {
    e = "tolerance_mm must be >= 0";
  } else if (!(translation_weight > 0 && std::isfinite(translation_weight))) {
    e = "translation_weight must be > 0";
  } else if (!(tangential_weight > 0 && tangential_weight <= 1)) {
    e = "tangential_weight must be in (0, 1]";
  } else if (!(sliding_stiffness >= 0 && std::isfinite(sliding_stiffness))) {
    e = "sliding_stiffness must be >= 0";
  } else if (cg_iterations < 1) {
    e = "cg_iterations must be >= 1";
  } else if (!(landmark_weight >= 0 && std::isfinite(landmark_weight))) {
    e = "landmark_weight must be >= 0";
  } else if (!(max_normal_angle > 0 && max_normal_angle <= 3.14159265358979323846)) {
    e = "max_normal_angle must be in (0, pi]";
  }
  for (size_t k = 0; e.empty() && k < stiffness.size(); ++k) {
    if (!(stiffness[k] > 0 && std::isfinite(stiffness[k]))) {
      e = "stiffness values must be finite and > 0";
    }
  }
  if (error) *error = e;
  return e.empty();
}

std::string CorrespondenceSummary::BriefReport() const {
  std::ostringstream os;
  os << "start: " << (initial_from_landmarks ? "landmarks + " : "centroids + ") << icp.BriefReport()
     << "\nnon-rigid ICP: " << stages << " stages, " << iterations << " solves; surface distance"
     << " mean " << mean_distance_mm << " mm, RMS " << rms_distance_mm << " mm, Hausdorff "
     << hausdorff_mm << " mm; flipped faces " << flipped_faces
     << ", vertices with a shortened step " << limited_vertices << ", off the surface "
     << unprojected_vertices << "; " << seconds << " s\n";
  return os.str();
}

int64_t CountFlippedFaces(const TriangleMesh& reference, const TriangleMesh& mesh,
                          const Eigen::Matrix3d& rotation) {
  if (reference.faces.rows() != mesh.faces.rows() || reference.faces != mesh.faces ||
      reference.num_vertices() != mesh.num_vertices()) {
    throw InvalidInput(
        "CountFlippedFaces: the mesh must have the reference's vertex count and faces");
  }
  const MatrixX3dR normals =
      internal::FaceNormals(reference.vertices, reference.faces) * rotation.transpose();
  int64_t flipped = 0;
  for (Eigen::Index f = 0; f < mesh.faces.rows(); ++f) {
    if (normals.row(f).squaredNorm() > 0 && Flipped(mesh.vertices, mesh.faces, normals, f)) {
      ++flipped;
    }
  }
  return flipped;
}

CorrespondenceSummary RegisterTemplate(const TriangleMesh& reference, const TriangleMesh& target,
                                       const std::vector<CorrespondenceLandmark>& landmarks,
                                       const CorrespondenceOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  if (!options.IsValid(&error)) throw InvalidInput("correspondence options: " + error);
  ValidateMesh(reference, "reference");
  ValidateMesh(target, "target");
  if (reference.num_faces() < 1 || target.num_faces() < 1) {
    throw InvalidInput("correspondence: the reference and the target need faces");
  }
  for (const CorrespondenceLandmark& l : landmarks) {
    if (!l.reference_mm.allFinite() || !l.target_mm.allFinite()) {
      throw InvalidInput("landmark " + l.name + ": coordinates must be finite");
    }
  }
  ReportProgress(options.progress, 0.0, "aligning");
  CorrespondenceSummary summary;

  // 1. Rigid / similarity start: Umeyama on >= 3 landmarks or the centroids,
  // refined by ICP.
  IcpOptions icp = options.icp;
  icp.kind = options.alignment;
  SimilarityTransform start_transform;
  if (landmarks.size() >= 3) {
    MatrixX3dR a(static_cast<Eigen::Index>(landmarks.size()), 3), b(a.rows(), 3);
    for (size_t k = 0; k < landmarks.size(); ++k) {
      a.row(static_cast<Eigen::Index>(k)) = landmarks[k].reference_mm.transpose();
      b.row(static_cast<Eigen::Index>(k)) = landmarks[k].target_mm.transpose();
    }
    start_transform = Umeyama(a, b, options.alignment == AlignmentKind::kSimilarity);
    summary.initial_from_landmarks = true;
  } else {
    start_transform = CentroidAlignment(reference, target, options.alignment);
  }
  summary.icp = IterativeClosestPoint(reference, target, start_transform, icp);
  summary.initial = summary.icp.target_from_source;

  TriangleMesh aligned;
  aligned.vertices = summary.initial.Apply(reference.vertices);
  aligned.faces = reference.faces;
  const Eigen::VectorXd area = VertexAreas(aligned);
  if (!(area.sum() > 0)) throw InvalidInput("reference: the surface has zero area");
  Frame frame;
  frame.centre = internal::WeightedCentroid(aligned.vertices, area);
  frame.radius = std::sqrt(
      ((aligned.vertices.rowwise() - frame.centre.transpose()).rowwise().squaredNorm().transpose() *
       area)(0) /
      area.sum());

  // 2. The level the linear systems are solved on: the reference itself, or
  // for a large reference a decimated copy whose transforms are carried over.
  const bool coarse =
      options.max_solve_vertices > 0 && aligned.num_vertices() > options.max_solve_vertices;
  const TriangleMesh level =
      coarse ? DecimateSurface(aligned, 2 * static_cast<int64_t>(options.max_solve_vertices))
             : aligned;
  summary.solve_vertices = level.num_vertices();
  std::vector<BarycentricPoint> lm_points;
  std::vector<Eigen::Vector3d> lm_targets;
  if (!landmarks.empty()) {
    const SurfaceLocator locator(level);
    for (const CorrespondenceLandmark& l : landmarks) {
      lm_points.push_back(
          Barycentric(level.vertices, level.faces, locator,
                      summary.initial.Apply(l.reference_mm.transpose()).transpose()));
      lm_targets.push_back(l.target_mm);
    }
  }
  const internal::TargetSurface surface(target);
  std::vector<char> level_limited(static_cast<size_t>(level.num_vertices()), 0);
  const Deformation d = NonRigidIcp(level.vertices, level.faces, frame, surface, lm_points,
                                    lm_targets, options, coarse ? 0.8 : 0.9, &level_limited);
  summary.stages = d.stages;
  summary.iterations = d.iterations;

  const int64_t n = aligned.num_vertices();
  const MatrixX3iR& faces = reference.faces;
  const MatrixX3dR reference_normals = internal::FaceNormals(aligned.vertices, faces);
  std::vector<char> limited(static_cast<size_t>(n), 0);
  MatrixX3dR current;
  if (coarse) {
    // Every reference vertex takes the barycentric blend of the transforms of
    // the decimated face closest to it, applied to its own coordinates.
    ReportProgress(options.progress, 0.8, "carrying the deformation over");
    const SurfaceLocator locator(level);
    const Eigen::MatrixXd vh = frame.Homogeneous(aligned.vertices);
    MatrixX3dR moved(n, 3);
    for (int64_t i = 0; i < n; ++i) {
      const BarycentricPoint b =
          Barycentric(level.vertices, level.faces, locator, aligned.vertices.row(i).transpose());
      Eigen::Matrix<double, 4, 3> x = Eigen::Matrix<double, 4, 3>::Zero();
      for (int k = 0; k < 3; ++k) {
        x += b.weight(k) * d.x.middleRows<4>(4 * b.vertex[static_cast<size_t>(k)]);
      }
      moved.row(i) = frame.centre.transpose() + frame.radius * (vh.row(i) * x);
    }
    current = LimitStepsAgainstFolding(aligned.vertices, moved, faces, reference_normals, &limited);
  } else {
    current = d.vertices;
    limited = level_limited;
  }

  // 3. Projection onto the target.
  if (options.project_to_surface) {
    ReportProgress(options.progress, 0.9, "projecting");
    // A vertex held back because its projection would flip a face may go
    // once its neighbours are on the surface: a few rounds, each guarded, in
    // which the held vertices first relax to the mean of their neighbours
    // (untangling the crowded patch) and are then projected again.
    std::vector<std::vector<int>> neighbours(static_cast<size_t>(n));
    for (const auto& [i, j] : Edges(faces)) {
      neighbours[static_cast<size_t>(i)].push_back(j);
      neighbours[static_cast<size_t>(j)].push_back(i);
    }
    std::vector<char> held(static_cast<size_t>(n), 0);
    for (int round = 0; round < kProjectionRounds; ++round) {
      if (round > 0) {
        MatrixX3dR relaxed = current;
        for (int64_t i = 0; i < n; ++i) {
          const auto& ring = neighbours[static_cast<size_t>(i)];
          if (!held[static_cast<size_t>(i)] || ring.empty()) continue;
          Eigen::RowVector3d mean = Eigen::RowVector3d::Zero();
          for (int j : ring) mean += current.row(j);
          relaxed.row(i) = mean / static_cast<double>(ring.size());
        }
        std::vector<char> ignored(static_cast<size_t>(n), 0);
        current = LimitStepsAgainstFolding(current, relaxed, faces, reference_normals, &ignored);
      }
      const internal::ClosestPoints cp = surface.Query(current);
      held.assign(static_cast<size_t>(n), 0);
      current = LimitStepsAgainstFolding(current, cp.points, faces, reference_normals, &held);
      if (std::find(held.begin(), held.end(), 1) == held.end()) break;
    }
    for (int64_t i = 0; i < n; ++i) {
      if (held[static_cast<size_t>(i)]) {
        limited[static_cast<size_t>(i)] = 1;
        ++summary.unprojected_vertices;
      }
    }
  }

  summary.mesh.vertices = current;
  summary.mesh.faces = faces;
  summary.limited_vertices = std::count(limited.begin(), limited.end(), 1);
  summary.flipped_faces = CountFlippedFaces(reference, summary.mesh, summary.initial.rotation);
  summary.max_vertex_distance_mm = surface.Query(current).distances.maxCoeff();
  SurfaceDistanceOptions distance_options;
  distance_options.compute_dice = false;
  const SurfaceDistanceSummary dist =
      ComputeSurfaceDistance(summary.mesh, target, distance_options);
  summary.mean_distance_mm = dist.mean_mm;
  summary.rms_distance_mm = dist.rms_mm;
  summary.hausdorff_mm = dist.hausdorff_mm;
  if (!landmarks.empty()) {
    // The reference landmarks as barycentric points of the output mesh.
    const SurfaceLocator locator(aligned);
    double sum = 0;
    for (const CorrespondenceLandmark& l : landmarks) {
      const BarycentricPoint b =
          Barycentric(aligned.vertices, faces, locator,
                      summary.initial.Apply(l.reference_mm.transpose()).transpose());
      sum += (Evaluate(b, current) - l.target_mm).norm();
    }
    summary.landmark_mean_error_mm = sum / static_cast<double>(landmarks.size());
  }
  ReportProgress(options.progress, 1.0, "done");
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace ssmx::ssm
