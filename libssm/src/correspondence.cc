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
                        const CorrespondenceOptions& options, const MatrixX3dR& guard_normals,
                        double progress_from, double progress_share,
                        std::vector<char>* limited) {
  const int64_t n = aligned.rows();
  const Eigen::Index unknowns = 4 * n;
  TriangleMesh aligned_mesh;
  aligned_mesh.vertices = aligned;
  aligned_mesh.faces = faces;
  const Eigen::VectorXd area = VertexAreas(aligned_mesh);
  const Eigen::VectorXd data_weight = area / area.sum();
  const Eigen::MatrixXd vh = frame.Homogeneous(aligned);

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
      ReportProgress(options.progress,
                     progress_from + progress_share * (step_count++) / total_steps,
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
      next = LimitStepsAgainstFolding(out.vertices, next, faces, guard_normals, limited);
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
  os << "start: " << (initial_from_landmarks ? "landmarks + " : "centroids + ") << icp.BriefReport();
  if (model_coefficients.size() > 0) {
    os << "\nmodel fit: " << model_coefficients.size() << " modes, " << model_fit_stages
       << " stages, " << model_fit_iterations << " iterations, |a| " << model_mahalanobis
       << ", instance to target " << model_fit_mean_mm << " mm";
  }
  os << "\nnon-rigid ICP: " << stages << " stages, " << iterations << " solves; surface distance"
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

namespace {

void ValidateLandmarks(const std::vector<CorrespondenceLandmark>& landmarks) {
  for (const CorrespondenceLandmark& l : landmarks) {
    if (!l.reference_mm.allFinite() || !l.target_mm.allFinite()) {
      throw InvalidInput("landmark " + l.name + ": coordinates must be finite");
    }
  }
}

// The rigid / similarity start: Umeyama on >= 3 landmarks or the centroids,
// refined by ICP. Fills summary->icp, initial and initial_from_landmarks.
void StartAlignment(const TriangleMesh& reference, const TriangleMesh& target,
                    const std::vector<CorrespondenceLandmark>& landmarks, AlignmentKind kind,
                    IcpOptions icp, CorrespondenceSummary* summary) {
  icp.kind = kind;
  SimilarityTransform start_transform;
  if (landmarks.size() >= 3) {
    MatrixX3dR a(static_cast<Eigen::Index>(landmarks.size()), 3), b(a.rows(), 3);
    for (size_t k = 0; k < landmarks.size(); ++k) {
      a.row(static_cast<Eigen::Index>(k)) = landmarks[k].reference_mm.transpose();
      b.row(static_cast<Eigen::Index>(k)) = landmarks[k].target_mm.transpose();
    }
    start_transform = Umeyama(a, b, kind == AlignmentKind::kSimilarity);
    summary->initial_from_landmarks = true;
  } else {
    start_transform = CentroidAlignment(reference, target, kind);
  }
  summary->icp = IterativeClosestPoint(reference, target, start_transform, icp);
  summary->initial = summary->icp.target_from_source;
}

// The reference landmarks as barycentric points of the reference's faces
// (valid for every mesh with those faces).
std::vector<BarycentricPoint> ReferenceLandmarkPoints(
    const TriangleMesh& reference, const std::vector<CorrespondenceLandmark>& landmarks) {
  std::vector<BarycentricPoint> points;
  if (landmarks.empty()) return points;
  const SurfaceLocator locator(reference);
  for (const CorrespondenceLandmark& l : landmarks) {
    points.push_back(Barycentric(reference.vertices, reference.faces, locator, l.reference_mm));
  }
  return points;
}

std::vector<std::vector<int>> VertexNeighbours(const MatrixX3iR& faces, int64_t n) {
  std::vector<std::vector<int>> neighbours(static_cast<size_t>(n));
  for (const auto& [i, j] : Edges(faces)) {
    neighbours[static_cast<size_t>(i)].push_back(j);
    neighbours[static_cast<size_t>(j)].push_back(i);
  }
  return neighbours;
}

// The vertices marked in `mask` moved to the mean of their neighbours.
MatrixX3dR RelaxTowardsNeighbours(const MatrixX3dR& vertices,
                                  const std::vector<std::vector<int>>& neighbours,
                                  const std::vector<char>& mask) {
  MatrixX3dR relaxed = vertices;
  for (Eigen::Index i = 0; i < vertices.rows(); ++i) {
    const auto& ring = neighbours[static_cast<size_t>(i)];
    if (!mask[static_cast<size_t>(i)] || ring.empty()) continue;
    Eigen::RowVector3d mean = Eigen::RowVector3d::Zero();
    for (int j : ring) mean += vertices.row(j);
    relaxed.row(i) = mean / static_cast<double>(ring.size());
  }
  return relaxed;
}

// Moves `current` onto the target: a few rounds, each guarded against
// folding, in which the vertices held back by the guard (their projection
// would flip a face) first relax to the mean of their neighbours (untangling
// the crowded patch) and are then projected again. Marks the vertices left
// off the surface in *limited and returns their count.
int64_t ProjectOntoTarget(const internal::TargetSurface& surface, const MatrixX3iR& faces,
                          const MatrixX3dR& guard_normals, MatrixX3dR* current,
                          std::vector<char>* limited) {
  const int64_t n = current->rows();
  const std::vector<std::vector<int>> neighbours = VertexNeighbours(faces, n);
  std::vector<char> held(static_cast<size_t>(n), 0);
  for (int round = 0; round < kProjectionRounds; ++round) {
    if (round > 0) {
      std::vector<char> ignored(static_cast<size_t>(n), 0);
      *current = LimitStepsAgainstFolding(*current,
                                          RelaxTowardsNeighbours(*current, neighbours, held),
                                          faces, guard_normals, &ignored);
    }
    const internal::ClosestPoints cp = surface.Query(*current);
    held.assign(static_cast<size_t>(n), 0);
    *current = LimitStepsAgainstFolding(*current, cp.points, faces, guard_normals, &held);
    if (std::find(held.begin(), held.end(), 1) == held.end()) break;
  }
  int64_t unprojected = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (held[static_cast<size_t>(i)]) {
      (*limited)[static_cast<size_t>(i)] = 1;
      ++unprojected;
    }
  }
  return unprojected;
}

// Untangles the faces of `vertices` flipped against `guard_normals` (a model
// instance may fold where the model's mean does not): their vertices relax to
// the mean of their neighbours, for a few rounds. Returns how many vertices
// moved.
int64_t UntangleFlippedFaces(const MatrixX3iR& faces, const MatrixX3dR& guard_normals,
                             MatrixX3dR* vertices) {
  constexpr int kRounds = 20;
  const int64_t n = vertices->rows();
  std::vector<std::vector<int>> neighbours;
  std::vector<char> moved(static_cast<size_t>(n), 0);
  for (int round = 0; round < kRounds; ++round) {
    std::vector<char> mask(static_cast<size_t>(n), 0);
    bool any = false;
    for (Eigen::Index f = 0; f < faces.rows(); ++f) {
      if (guard_normals.row(f).squaredNorm() == 0 ||
          !Flipped(*vertices, faces, guard_normals, f)) {
        continue;
      }
      for (int k = 0; k < 3; ++k) mask[static_cast<size_t>(faces(f, k))] = 1;
      any = true;
    }
    if (!any) break;
    if (neighbours.empty()) neighbours = VertexNeighbours(faces, n);
    for (int64_t i = 0; i < n; ++i) moved[static_cast<size_t>(i)] |= mask[static_cast<size_t>(i)];
    *vertices = RelaxTowardsNeighbours(*vertices, neighbours, mask);
  }
  return std::count(moved.begin(), moved.end(), 1);
}

// Everything after the start: the non-rigid ICP stages on `aligned` (the
// reference posed on the target; skipped when run_stages is false), the
// transfer from a decimated level, the projection and the summary's
// measurements. `reference` is the undeformed reference the flips are
// counted against (rotated by summary->initial.rotation).
void DeformAligned(const TriangleMesh& reference, const TriangleMesh& aligned,
                   const TriangleMesh& target, const internal::TargetSurface& surface,
                   const std::vector<CorrespondenceLandmark>& landmarks,
                   const CorrespondenceOptions& options, bool run_stages, double progress_from,
                   CorrespondenceSummary* summary) {
  const int64_t n = aligned.num_vertices();
  const MatrixX3iR& faces = reference.faces;
  // The folding guard compares every face with the reference's, rotated by
  // the start (for RegisterTemplate the normals of `aligned` itself).
  const MatrixX3dR guard_normals =
      internal::FaceNormals(reference.vertices, faces) * summary->initial.rotation.transpose();
  const std::vector<BarycentricPoint> reference_lm = ReferenceLandmarkPoints(reference, landmarks);
  std::vector<char> limited(static_cast<size_t>(n), 0);
  MatrixX3dR current = aligned.vertices;
  const double share = 0.9 - progress_from;
  if (run_stages) {
    const Eigen::VectorXd area = VertexAreas(aligned);
    if (!(area.sum() > 0)) throw InvalidInput("reference: the surface has zero area");
    Frame frame;
    frame.centre = internal::WeightedCentroid(aligned.vertices, area);
    frame.radius = std::sqrt(((aligned.vertices.rowwise() - frame.centre.transpose())
                                  .rowwise()
                                  .squaredNorm()
                                  .transpose() *
                              area)(0) /
                             area.sum());
    // The level the linear systems are solved on: the reference itself, or
    // for a large reference a decimated copy whose transforms are carried over.
    const bool coarse =
        options.max_solve_vertices > 0 && aligned.num_vertices() > options.max_solve_vertices;
    const TriangleMesh level =
        coarse ? DecimateSurface(aligned, 2 * static_cast<int64_t>(options.max_solve_vertices))
               : aligned;
    summary->solve_vertices = level.num_vertices();
    std::vector<BarycentricPoint> lm_points;
    std::vector<Eigen::Vector3d> lm_targets;
    if (!landmarks.empty()) {
      const SurfaceLocator locator(level);
      for (size_t l = 0; l < landmarks.size(); ++l) {
        lm_points.push_back(Barycentric(level.vertices, level.faces, locator,
                                        Evaluate(reference_lm[l], aligned.vertices)));
        lm_targets.push_back(landmarks[l].target_mm);
      }
    }
    std::vector<char> level_limited(static_cast<size_t>(level.num_vertices()), 0);
    const Deformation d = NonRigidIcp(
        level.vertices, level.faces, frame, surface, lm_points, lm_targets, options,
        coarse ? internal::FaceNormals(level.vertices, level.faces) : guard_normals, progress_from,
                                      coarse ? share - 0.1 : share, &level_limited);
    summary->stages = d.stages;
    summary->iterations = d.iterations;
    if (coarse) {
      // Every reference vertex takes the barycentric blend of the transforms
      // of the decimated face closest to it, applied to its own coordinates.
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
      current =
          LimitStepsAgainstFolding(aligned.vertices, moved, faces, guard_normals, &limited);
    } else {
      current = d.vertices;
      limited = level_limited;
    }
  }

  if (options.project_to_surface) {
    ReportProgress(options.progress, 0.9, "projecting");
    summary->unprojected_vertices =
        ProjectOntoTarget(surface, faces, guard_normals, &current, &limited);
  }

  summary->mesh.vertices = current;
  summary->mesh.faces = faces;
  summary->limited_vertices += std::count(limited.begin(), limited.end(), 1);
  summary->flipped_faces = CountFlippedFaces(reference, summary->mesh, summary->initial.rotation);
  summary->max_vertex_distance_mm = surface.Query(current).distances.maxCoeff();
  SurfaceDistanceOptions distance_options;
  distance_options.compute_dice = false;
  const SurfaceDistanceSummary dist =
      ComputeSurfaceDistance(summary->mesh, target, distance_options);
  summary->mean_distance_mm = dist.mean_mm;
  summary->rms_distance_mm = dist.rms_mm;
  summary->hausdorff_mm = dist.hausdorff_mm;
  if (!landmarks.empty()) {
    double sum = 0;
    for (size_t l = 0; l < landmarks.size(); ++l) {
      sum += (Evaluate(reference_lm[l], current) - landmarks[l].target_mm).norm();
    }
    summary->landmark_mean_error_mm = sum / static_cast<double>(landmarks.size());
  }
  ReportProgress(options.progress, 1.0, "done");
}

void ValidateMeshes(const TriangleMesh& reference, const char* reference_name,
                    const TriangleMesh& target) {
  ValidateMesh(reference, reference_name);
  ValidateMesh(target, "target");
  if (reference.num_faces() < 1 || target.num_faces() < 1) {
    throw InvalidInput(std::string("correspondence: the ") + reference_name +
                       " and the target need faces");
  }
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

CorrespondenceSummary RegisterTemplate(const TriangleMesh& reference, const TriangleMesh& target,
                                       const std::vector<CorrespondenceLandmark>& landmarks,
                                       const CorrespondenceOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  if (!options.IsValid(&error)) throw InvalidInput("correspondence options: " + error);
  ValidateMeshes(reference, "reference", target);
  ValidateLandmarks(landmarks);
  ReportProgress(options.progress, 0.0, "aligning");
  CorrespondenceSummary summary;
  StartAlignment(reference, target, landmarks, options.alignment, options.icp, &summary);
  TriangleMesh aligned;
  aligned.vertices = summary.initial.Apply(reference.vertices);
  aligned.faces = reference.faces;
  const internal::TargetSurface surface(target);
  DeformAligned(reference, aligned, target, surface, landmarks, options, true, 0.0, &summary);
  summary.seconds = SecondsSince(start);
  return summary;
}

AlignmentKind ModelPoseKind(const ShapeModel& model) {
  const auto& builders = model.info().builders;
  for (auto b = builders.rbegin(); b != builders.rend(); ++b) {
    const auto it = b->parameters.find("alignment");
    if (it != b->parameters.end()) {
      return it->second == AlignmentKindName(AlignmentKind::kSimilarity) ? AlignmentKind::kSimilarity
                                                                         : AlignmentKind::kRigid;
    }
  }
  return AlignmentKind::kRigid;
}

CorrespondenceOptions ModelCorrespondenceOptions::DefaultRefinement() {
  CorrespondenceOptions o;
  o.stiffness = {1, 0.3, 0.1, 0.03};
  o.tangential_weight = 1.0;
  o.sliding_stiffness = 0.0;
  o.landmark_weight = 0.0;  // the fit has used them
  return o;
}

bool ModelCorrespondenceOptions::IsValid(std::string* error) const {
  std::string e, sub;
  IcpOptions i = icp;
  i.kind = AlignmentKind::kSimilarity;
  if (pose && *pose != AlignmentKind::kRigid && *pose != AlignmentKind::kSimilarity) {
    e = "pose must be rigid or similarity";
  } else if (!i.IsValid(&sub)) {
    e = "icp: " + sub;
  } else if (noise_mm.empty()) {
    e = "noise_mm needs at least one stage";
  } else if (max_iterations_per_stage < 1) {
    e = "max_iterations_per_stage must be >= 1";
  } else if (!(tolerance_mm >= 0)) {
    e = "tolerance_mm must be >= 0";
  } else if (!(tangential_weight >= 0 && tangential_weight <= 1)) {
    e = "tangential_weight must be in [0, 1]";
  } else if (!(landmark_noise_mm > 0 && std::isfinite(landmark_noise_mm))) {
    e = "landmark_noise_mm must be > 0";
  } else if (!(max_normal_angle > 0 && max_normal_angle <= 3.14159265358979323846)) {
    e = "max_normal_angle must be in (0, pi]";
  } else if (!refine.IsValid(&sub)) {
    e = "refine: " + sub;
  }
  for (size_t k = 0; e.empty() && k < noise_mm.size(); ++k) {
    if (!(noise_mm[k] > 0 && std::isfinite(noise_mm[k]))) e = "noise_mm values must be finite and > 0";
  }
  if (error) *error = e;
  return e.empty();
}

namespace {

struct ModelFit {
  Eigen::VectorXd coefficients;
  SimilarityTransform pose;  // target_from_model
  MatrixX3dR posed;          // pose applied to the instance
  int stages = 0;
  int iterations = 0;
};

// The pieces of the posterior-mean solve of RegisterModel.
class CoefficientSolve {
 public:
  CoefficientSolve(const ShapeModel& model, const std::vector<BarycentricPoint>& lm_points)
      : w_(model.ScaledBasis()), mean_(model.MeanMesh().vertices) {
    for (const BarycentricPoint& b : lm_points) {
      lm_mean_.push_back(Evaluate(b, mean_));
      Eigen::MatrixXd rows = Eigen::MatrixXd::Zero(3, w_.cols());
      for (int c = 0; c < 3; ++c) {
        rows += b.weight(c) * w_.middleRows<3>(3 * b.vertex[static_cast<size_t>(c)]);
      }
      lm_basis_.push_back(rows);
    }
  }
  const MatrixX3dR& mean() const { return mean_; }
  MatrixX3dR Instance(const Eigen::VectorXd& a) const {
    MatrixX3dR x = mean_;
    x.reshaped<Eigen::RowMajor>() += w_ * a;
    return x;
  }
  // argmin_a sum_i weight_i [(1-eps)(n_i . (x_i(a) - y_i))^2 + eps |x_i(a) - y_i|^2]
  //   / noise^2 + sum_l |x_l(a) - y_l|^2 / lm_noise^2 + |a|^2,
  // all in model space; `normals` may be empty when eps is 1.
  Eigen::VectorXd Solve(const MatrixX3dR& y, const MatrixX3dR& normals,
                        const Eigen::VectorXd& weight, double eps, double noise,
                        const std::vector<Eigen::Vector3d>& lm_y, double lm_noise) const {
    const Eigen::Index v = mean_.rows(), k = w_.cols();
    Eigen::VectorXd rhs = Eigen::VectorXd::Zero(k);
    Eigen::MatrixXd a = Eigen::MatrixXd::Zero(k, k);
    if (eps < 1) {
      Eigen::MatrixXd projected(v, k);  // row i: n_i^T W_i
      Eigen::VectorXd along(v);
      for (Eigen::Index i = 0; i < v; ++i) {
        const Eigen::RowVector3d n = normals.row(i);
        projected.row(i) = n * w_.middleRows<3>(3 * i);
        along(i) = weight(i) * n.dot(y.row(i) - mean_.row(i));
      }
      a += (1.0 - eps) * (projected.transpose() * weight.asDiagonal() * projected);
      rhs += (1.0 - eps) * (projected.transpose() * along);
    }
    if (eps > 0) {
      MatrixX3dR residual = (y - mean_).array().colwise() * weight.array();
      const Eigen::VectorXd weight3 = weight.replicate(1, 3).transpose().reshaped();
      a += eps * (w_.transpose() * weight3.asDiagonal() * w_);
      rhs += eps * (w_.transpose() * residual.reshaped<Eigen::RowMajor>());
    }
    const double inv_var = 1.0 / (noise * noise);
    a *= inv_var;
    rhs *= inv_var;
    a.diagonal().array() += 1.0;
    const double lm_inv_var = 1.0 / (lm_noise * lm_noise);
    for (size_t l = 0; l < lm_y.size(); ++l) {
      a += lm_inv_var * lm_basis_[l].transpose() * lm_basis_[l];
      rhs += lm_inv_var * lm_basis_[l].transpose() * (lm_y[l] - lm_mean_[l]);
    }
    const Eigen::LDLT<Eigen::MatrixXd> solver(a);
    if (solver.info() != Eigen::Success) {
      throw NotConverged("model fit: the coefficient system is singular");
    }
    return solver.solve(rhs);
  }

 private:
  Eigen::MatrixXd w_;  // 3V by K, the scaled basis
  MatrixX3dR mean_;
  std::vector<Eigen::Vector3d> lm_mean_;
  std::vector<Eigen::MatrixXd> lm_basis_;  // 3 by K each
};

// pose^-1 applied to the rows of `points`.
MatrixX3dR InverseApply(const SimilarityTransform& pose, const MatrixX3dR& points) {
  return ((points.rowwise() - pose.translation.transpose()) * pose.rotation) / pose.scale;
}

// The posterior-mean fit of RegisterModel (see there), from the similarity
// transform `start` of the model mean onto the target.
ModelFit FitModel(const ShapeModel& model, const internal::TargetSurface& surface,
                  const SimilarityTransform& start, AlignmentKind pose_kind,
                  const std::vector<BarycentricPoint>& lm_points,
                  const std::vector<CorrespondenceLandmark>& landmarks,
                  const ModelCorrespondenceOptions& options) {
  const CoefficientSolve solve(model, lm_points);
  const Eigen::Index v = model.num_vertices();
  const double cos_max = std::cos(options.max_normal_angle);
  ModelFit fit;
  fit.pose = start;
  fit.coefficients = Eigen::VectorXd::Zero(model.num_modes());
  if (pose_kind == AlignmentKind::kRigid) {
    // The start's scale goes into the shape: the coefficients of the mean
    // scaled about its centroid, and a rigid pose that puts that centroid
    // where the start put it.
    const Eigen::RowVector3d c = solve.mean().colwise().mean();
    const MatrixX3dR scaled = (solve.mean().rowwise() - c) * start.scale;
    fit.coefficients = solve.Solve(scaled.rowwise() + c, MatrixX3dR(), Eigen::VectorXd::Ones(v),
                                   1.0, options.noise_mm.back(), {}, 1.0);
    fit.pose.scale = 1.0;
    fit.pose.translation = start.translation + (start.scale - 1.0) * (start.rotation * c.transpose());
  }
  MatrixX3dR shape = solve.Instance(fit.coefficients);
  fit.posed = fit.pose.Apply(shape);
  const double total =
      static_cast<double>(options.noise_mm.size() * options.max_iterations_per_stage);
  for (double noise : options.noise_mm) {
    // Landmarks steer the start and leave the end to the surface: their
    // noise grows as the surface's falls.
    const double lm_noise = options.landmark_noise_mm * options.noise_mm.front() / noise;
    for (int it = 0; it < options.max_iterations_per_stage; ++it) {
      ReportProgress(options.progress, 0.8 * fit.iterations / total, "fitting the model");
      const internal::ClosestPoints cp = surface.Query(fit.posed);
      const MatrixX3dR vertex_normals = internal::VertexNormals(fit.posed, model.faces());
      Eigen::VectorXd weight(v);
      for (Eigen::Index i = 0; i < v; ++i) {
        weight(i) = vertex_normals.row(i).dot(cp.normals.row(i)) >= cos_max ? 1.0 : 0.0;
      }
      std::vector<Eigen::Vector3d> lm_y;
      for (const CorrespondenceLandmark& l : landmarks) {
        lm_y.push_back(InverseApply(fit.pose, l.target_mm.transpose()).row(0).transpose());
      }
      // Observations in model space: y_i = pose^-1(u_i), normals R^T n_i.
      fit.coefficients = solve.Solve(InverseApply(fit.pose, cp.points),
                                     cp.normals * fit.pose.rotation, weight,
                                     options.tangential_weight, noise, lm_y, lm_noise);
      shape = solve.Instance(fit.coefficients);
      // The pose: Umeyama between the instance and its accepted closest points.
      const Eigen::Index accepted = static_cast<Eigen::Index>(weight.sum());
      if (accepted >= 3) {
        MatrixX3dR from(accepted, 3), to(accepted, 3);
        for (Eigen::Index i = 0, j = 0; i < v; ++i) {
          if (weight(i) == 0) continue;
          from.row(j) = shape.row(i);
          to.row(j++) = cp.points.row(i);
        }
        fit.pose = Umeyama(from, to, pose_kind == AlignmentKind::kSimilarity);
      }
      MatrixX3dR next = fit.pose.Apply(shape);
      if (!next.allFinite()) throw NotConverged("model fit: non-finite instance");
      const double change = std::sqrt((next - fit.posed).rowwise().squaredNorm().mean());
      fit.posed = std::move(next);
      ++fit.iterations;
      if (change < options.tolerance_mm) break;
    }
    ++fit.stages;
  }
  return fit;
}

}  // namespace

CorrespondenceSummary RegisterModel(const ShapeModel& model, const TriangleMesh& target,
                                    const std::vector<CorrespondenceLandmark>& landmarks,
                                    const ModelCorrespondenceOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::string error;
  if (!options.IsValid(&error)) throw InvalidInput("model correspondence options: " + error);
  if (model.num_vertices() < 3 || model.faces().rows() < 1) {
    throw InvalidInput("model correspondence: the model needs vertices and faces");
  }
  const TriangleMesh mean = model.MeanMesh();
  ValidateMeshes(mean, "model mean", target);
  ValidateLandmarks(landmarks);
  ReportProgress(options.progress, 0.0, "aligning");
  CorrespondenceSummary summary;
  StartAlignment(mean, target, landmarks, AlignmentKind::kSimilarity, options.icp, &summary);
  const internal::TargetSurface surface(target);
  const ModelFit fit =
      FitModel(model, surface, summary.initial, options.pose ? *options.pose : ModelPoseKind(model),
               ReferenceLandmarkPoints(mean, landmarks), landmarks, options);
  summary.model_coefficients = fit.coefficients;
  summary.model_mahalanobis = fit.coefficients.norm();
  summary.model_fit_stages = fit.stages;
  summary.model_fit_iterations = fit.iterations;
  summary.model_fit_mean_mm = surface.Query(fit.posed).distances.mean();
  summary.initial = fit.pose;

  // The instance, with any face flipped against the posed mean untangled;
  // what does not untangle keeps the guarded step from the posed mean, so no
  // face of the output is flipped.
  TriangleMesh instance;
  instance.faces = mean.faces;
  instance.vertices = fit.posed;
  const MatrixX3dR mean_normals =
      internal::FaceNormals(mean.vertices, mean.faces) * fit.pose.rotation.transpose();
  summary.limited_vertices = UntangleFlippedFaces(mean.faces, mean_normals, &instance.vertices);
  if (CountFlippedFaces(mean, instance, fit.pose.rotation) > 0) {
    std::vector<char> limited(static_cast<size_t>(mean.num_vertices()), 0);
    instance.vertices = LimitStepsAgainstFolding(fit.pose.Apply(mean.vertices), instance.vertices,
                                                 mean.faces, mean_normals, &limited);
    summary.limited_vertices += std::count(limited.begin(), limited.end(), 1);
  }
  CorrespondenceOptions refine = options.refine;
  refine.progress = options.progress;
  DeformAligned(mean, instance, target, surface, landmarks, refine, options.refine_surface, 0.8,
                &summary);
  summary.seconds = SecondsSince(start);
  return summary;
}

}  // namespace ssmx::ssm
