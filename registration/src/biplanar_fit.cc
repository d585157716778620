#include "ssmx/registration/biplanar_fit.h"

#include <ceres/ceres.h>
#include <ceres/cubic_interpolation.h>
#include <ceres/manifold.h>
#include <ceres/rotation.h>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/Geometry>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "ssmx/core/error.h"
#include "ssmx/drr/mesh_projection.h"
#include "ssmx/registration/rigid_registration.h"
#include "ssmx/ssm/alignment.h"

namespace ssmx::registration {
namespace {

using json = nlohmann::json;
constexpr double kPi = 3.14159265358979323846;
constexpr int kPoseSize = 4 + 3 + 1;  // quaternion (w, x, y, z), translation, log scale

// ---------------------------------------------------------------------------
// Mesh topology: the edges shared by exactly two faces.

struct MeshEdges {
  std::vector<std::array<int, 2>> vertices;
  std::vector<std::array<int, 2>> faces;
};

MeshEdges BuildEdges(const MatrixX3iR& faces) {
  std::map<std::pair<int, int>, std::vector<int>> by_edge;
  for (int f = 0; f < faces.rows(); ++f) {
    for (int k = 0; k < 3; ++k) {
      const int a = faces(f, k), b = faces(f, (k + 1) % 3);
      by_edge[{std::min(a, b), std::max(a, b)}].push_back(f);
    }
  }
  MeshEdges edges;
  for (const auto& [key, adjacent] : by_edge) {
    if (adjacent.size() != 2) continue;
    edges.vertices.push_back({key.first, key.second});
    edges.faces.push_back({adjacent[0], adjacent[1]});
  }
  return edges;
}

// ---------------------------------------------------------------------------
// The parameters and the posed instance.

struct Parameters {
  double q[4] = {1, 0, 0, 0};  // unit quaternion, w first (Ceres' convention)
  double t[3] = {0, 0, 0};
  double log_scale = 0;
  std::vector<double> a;  // standardised shape coefficients
};

Pose ToPose(const Parameters& p, const Eigen::Vector3d& center) {
  Pose pose;
  const Eigen::Quaterniond q(p.q[0], p.q[1], p.q[2], p.q[3]);
  const Eigen::AngleAxisd aa(q.normalized());
  pose.rotation = aa.axis() * aa.angle();
  pose.translation = Eigen::Vector3d(p.t[0], p.t[1], p.t[2]);
  pose.scale = std::exp(p.log_scale);
  pose.center = center;
  return pose;
}

void FromPose(const Pose& pose, Parameters* p) {
  const Eigen::Quaterniond q(pose.RotationMatrix());
  p->q[0] = q.w();
  p->q[1] = q.x();
  p->q[2] = q.y();
  p->q[3] = q.z();
  for (int i = 0; i < 3; ++i) p->t[i] = pose.translation[i];
  p->log_scale = std::log(pose.scale);
}

// The model: mean and scaled basis W (3V x K, a ~ N(0, I)).
struct ModelData {
  Eigen::VectorXd mean;
  Eigen::MatrixXd w;  // fitted modes
  MatrixX3iR faces;
  Eigen::Vector3d center;
  Eigen::VectorXd rest_variance;  // per vertex: trace of the unfitted modes + 3 noise
  MeshEdges edges;
};

MatrixX3dR Instance(const ModelData& m, const std::vector<double>& a) {
  Eigen::VectorXd x = m.mean;
  if (!a.empty()) x += m.w * Eigen::Map<const Eigen::VectorXd>(a.data(), a.size());
  return Eigen::Map<const MatrixX3dR>(x.data(), x.size() / 3, 3);
}

MatrixX3dR Posed(const MatrixX3dR& x, const Pose& pose) { return pose.Apply(Eigen::MatrixX3d(x)); }

// World point of a model point X under the pose, in any scalar type.
template <typename T>
void PosePoint(const T* q, const T* t, const T* log_scale, const T* x, const Eigen::Vector3d& c,
               T* world) {
  const T y[3] = {x[0] - c.x(), x[1] - c.y(), x[2] - c.z()};
  T r[3];
  ceres::UnitQuaternionRotatePoint(q, y, r);
  const T s = exp(log_scale[0]);
  for (int i = 0; i < 3; ++i) world[i] = s * r[i] + c[i] + t[i];
}

// The projection of one view at one pyramid level.
struct ViewLevel {
  const double* p = nullptr;  // 3x4 row-major
  double factor = 1;
  template <typename T>
  void Project(const T* world, T* ul, T* vl) const {
    const T h0 = p[0] * world[0] + p[1] * world[1] + p[2] * world[2] + p[3];
    const T h1 = p[4] * world[0] + p[5] * world[1] + p[6] * world[2] + p[7];
    const T h2 = p[8] * world[0] + p[9] * world[1] + p[10] * world[2] + p[11];
    const double offset = (factor - 1) / 2;
    *ul = (h0 / h2 - offset) / factor;
    *vl = (h1 / h2 - offset) / factor;
  }
};

using Grid = ceres::Grid2D<float, 1>;
using Interpolator = ceres::BiCubicInterpolator<Grid>;

// One image residual of a model point X = m + W_rows a (interpolated between
// two vertices): either the distance map at its projection (kDistance, one
// residual) or its offset from a fixed image edge point (kToEdge, two).
// Derivatives: forward-mode automatic differentiation (ceres::Jet) of the
// pose, projection and bicubic distance map with respect to the pose and X,
// then the chain rule through the linear shape model for a.
class ImageCost final : public ceres::CostFunction {
 public:
  enum Kind { kDistance, kToEdge };
  ImageCost(Kind kind, const Eigen::Vector3d& mean, Eigen::Matrix<double, 3, Eigen::Dynamic> w,
            const ViewLevel& view, const Interpolator* interpolator, const Eigen::Vector3d& center,
            double inverse_sigma, Eigen::Vector2d edge = Eigen::Vector2d::Zero())
      : kind_(kind),
        mean_(mean),
        w_(std::move(w)),
        view_(view),
        interpolator_(interpolator),
        center_(center),
        inverse_sigma_(inverse_sigma),
        edge_(edge) {
    set_num_residuals(kind == kDistance ? 1 : 2);
    mutable_parameter_block_sizes()->assign({4, 3, 1, static_cast<int>(w_.cols())});
  }

  // Residuals and their derivatives with respect to (q, t, log_scale, X).
  template <typename T>
  void Residuals(const T* q, const T* t, const T* ls, const T* x, T* r) const {
    T world[3];
    PosePoint(q, t, ls, x, center_, world);
    T ul, vl;
    view_.Project(world, &ul, &vl);
    if (kind_ == kDistance) {
      T d;
      interpolator_->Evaluate(vl, ul, &d);
      r[0] = d * inverse_sigma_;
    } else {
      r[0] = (ul - edge_.x()) * inverse_sigma_;
      r[1] = (vl - edge_.y()) * inverse_sigma_;
    }
  }

  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    const int k = static_cast<int>(w_.cols());
    Eigen::Vector3d x = mean_;
    if (k > 0) x += w_ * Eigen::Map<const Eigen::VectorXd>(parameters[3], k);
    if (!jacobians) {
      Residuals(parameters[0], parameters[1], parameters[2], x.data(), residuals);
      return true;
    }
    using J = ceres::Jet<double, 11>;
    J q[4], t[3], ls[1], xj[3];
    for (int i = 0; i < 4; ++i) q[i] = J(parameters[0][i], i);
    for (int i = 0; i < 3; ++i) t[i] = J(parameters[1][i], 4 + i);
    ls[0] = J(parameters[2][0], 7);
    for (int i = 0; i < 3; ++i) xj[i] = J(x[i], 8 + i);
    J r[2];
    Residuals(q, t, ls, xj, r);
    const int n = num_residuals();
    for (int i = 0; i < n; ++i) {
      residuals[i] = r[i].a;
      if (jacobians[0])
        for (int j = 0; j < 4; ++j) jacobians[0][i * 4 + j] = r[i].v[j];
      if (jacobians[1])
        for (int j = 0; j < 3; ++j) jacobians[1][i * 3 + j] = r[i].v[4 + j];
      if (jacobians[2]) jacobians[2][i] = r[i].v[7];
      if (jacobians[3] && k > 0) {
        Eigen::Map<Eigen::RowVectorXd>(jacobians[3] + i * k, k) =
            r[i].v.segment<3>(8).transpose() * w_;
      }
    }
    return true;
  }

 private:
  Kind kind_;
  Eigen::Vector3d mean_;
  Eigen::Matrix<double, 3, Eigen::Dynamic> w_;
  ViewLevel view_;
  const Interpolator* interpolator_;
  Eigen::Vector3d center_;
  double inverse_sigma_;
  Eigen::Vector2d edge_;
};

// The shape prior: residual a_k for every fitted mode (the N(0, 1) prior of
// standardised coefficients), Jacobian the identity.
class PriorCost final : public ceres::CostFunction {
 public:
  explicit PriorCost(int k) {
    set_num_residuals(k);
    mutable_parameter_block_sizes()->assign({k});
  }
  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    const int k = num_residuals();
    for (int i = 0; i < k; ++i) residuals[i] = parameters[0][i];
    if (jacobians && jacobians[0]) {
      Eigen::Map<Eigen::MatrixXd>(jacobians[0], k, k).setIdentity();
    }
    return true;
  }
};

// ---------------------------------------------------------------------------
// Silhouettes.

struct ContourPoint {
  int a = 0, b = 0;    // the mesh edge; the point is its midpoint
  Eigen::Vector2d uv;  // projection, level pixels
  int bin = -1;        // expected edge gradient direction bin (0..7), -1: any
};

struct Silhouette {
  std::vector<ContourPoint> points;
  cv::Mat boundary_distance;  // level pixels from the projected outline (CV_32F)
};

// The occluding contour of the posed mesh seen from the view's source, kept
// where it lies on the outline of the projected mesh (the outer silhouette;
// inner fold contours are dropped).
// `polarity`: +1 when the gradient points into the bone (bone bright), -1
// out of it, 0 when any direction will do.
Silhouette ComputeSilhouette(const MatrixX3dR& world, const ModelData& model,
                             const drr::ProjectionGeometry& geometry, const EdgeLevel& level,
                             int polarity = 0) {
  const Eigen::Vector3d source = geometry.SourcePosition();
  const int64_t nv = world.rows();
  std::vector<Eigen::Vector2d> uv(nv);
  for (int64_t v = 0; v < nv; ++v) {
    const Eigen::Vector2d full = geometry.Project(world.row(v).transpose());
    uv[v] = Eigen::Vector2d(level.ToLevel(full.x()), level.ToLevel(full.y()));
  }
  const int64_t nf = model.faces.rows();
  std::vector<uint8_t> front(nf);
  std::vector<Eigen::Vector3d> face_normal(nf);
  cv::Mat mask = cv::Mat::zeros(level.rows, level.cols, CV_8U);
  constexpr int kShift = 4;
  for (int64_t f = 0; f < nf; ++f) {
    const Eigen::Vector3d p0 = world.row(model.faces(f, 0)).transpose();
    const Eigen::Vector3d p1 = world.row(model.faces(f, 1)).transpose();
    const Eigen::Vector3d p2 = world.row(model.faces(f, 2)).transpose();
    const Eigen::Vector3d normal = (p1 - p0).cross(p2 - p0);
    front[f] = normal.dot((p0 + p1 + p2) / 3 - source) < 0;
    face_normal[f] = normal.normalized();
    cv::Point corners[3];
    for (int k = 0; k < 3; ++k) {
      const Eigen::Vector2d& q = uv[model.faces(f, k)];
      // Pixel centres are at integer level coordinates.
      corners[k] = cv::Point(static_cast<int>(std::lround(q.x() * (1 << kShift))),
                             static_cast<int>(std::lround(q.y() * (1 << kShift))));
    }
    cv::fillConvexPoly(mask, corners, 3, cv::Scalar(255), cv::LINE_8, kShift);
  }
  cv::Mat eroded, boundary;
  cv::erode(mask, eroded, cv::Mat());
  cv::subtract(mask, eroded, boundary);
  Silhouette out;
  cv::distanceTransform(boundary == 0, out.boundary_distance, cv::DIST_L2, cv::DIST_MASK_PRECISE,
                        CV_32F);
  if (cv::countNonZero(boundary) == 0) {
    out.boundary_distance.setTo(cv::Scalar(1e6));
    return out;
  }
  for (size_t e = 0; e < model.edges.vertices.size(); ++e) {
    const auto [fa, fb] = model.edges.faces[e];
    if (front[fa] == front[fb]) continue;
    const auto [a, b] = model.edges.vertices[e];
    const Eigen::Vector2d mid = (uv[a] + uv[b]) / 2;
    const int u = static_cast<int>(std::lround(mid.x()));
    const int v = static_cast<int>(std::lround(mid.y()));
    if (u < 1 || v < 1 || u >= level.cols - 1 || v >= level.rows - 1) continue;
    if (out.boundary_distance.at<float>(v, u) > 1.5f) continue;
    int bin = -1;
    if (polarity != 0) {
      // The outline's outward direction in the image: the projection of the
      // mean normal of the two faces.
      const Eigen::Vector3d x = (world.row(a) + world.row(b)).transpose() / 2;
      const Eigen::Vector3d n = (face_normal[fa] + face_normal[fb]).normalized();
      const Eigen::Vector2d outward = geometry.Project(x + n) - geometry.Project(x);
      const Eigen::Vector2d gradient = -polarity * outward;
      const double angle = std::atan2(gradient.y(), gradient.x());
      bin = ((static_cast<int>(std::lround(angle / (kPi / 4))) % 8) + 8) % 8;
    }
    out.points.push_back({a, b, mid, bin});
  }
  return out;
}

// ---------------------------------------------------------------------------
// Statistics and helpers.

// The size of one detector pixel (along u) at the isocentre, mm.
double PixelAtIsocenterMm(const drr::ProjectionGeometry& g) {
  return g.pixel_spacing_u_mm() * g.source_to_isocenter_mm() / g.source_to_detector_mm();
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  const size_t k = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + k, values.end());
  return values[k];
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double position = q * (values.size() - 1);
  const size_t i = static_cast<size_t>(position);
  const double f = position - i;
  return i + 1 < values.size() ? values[i] * (1 - f) + values[i + 1] * f : values[i];
}

double CauchyRho(double s, double scale) { return scale * scale * std::log1p(s / (scale * scale)); }

// sqrt of the chi-square quantile (Wilson-Hilferty) for k degrees of freedom
// at z standard deviations (z = 2.326: 99 %).
double ChiQuantileSqrt(int k, double z) {
  const double h = 2.0 / (9.0 * k);
  return std::sqrt(k * std::pow(1 - h + z * std::sqrt(h), 3));
}

Eigen::Vector3d ClosestPointToRays(const std::vector<Eigen::Vector3d>& origins,
                                   const std::vector<Eigen::Vector3d>& directions,
                                   const std::string& what) {
  Eigen::Matrix3d a = Eigen::Matrix3d::Zero();
  Eigen::Vector3d b = Eigen::Vector3d::Zero();
  for (size_t i = 0; i < origins.size(); ++i) {
    const Eigen::Vector3d d = directions[i].normalized();
    const Eigen::Matrix3d m = Eigen::Matrix3d::Identity() - d * d.transpose();
    a += m;
    b += m * origins[i];
  }
  const Eigen::JacobiSVD<Eigen::Matrix3d> svd(a, Eigen::ComputeFullU | Eigen::ComputeFullV);
  if (origins.size() < 2 || svd.singularValues()(2) < 1e-6 * svd.singularValues()(0)) {
    throw InvalidInput(what +
                       ": needs rays from at least two views at an angle (they are "
                       "missing or parallel)");
  }
  return svd.solve(b);
}

// The fit state for one pyramid level of every view.
struct LevelState {
  std::vector<std::unique_ptr<Grid>> grids;
  std::vector<std::unique_ptr<Interpolator>> interpolators;
  std::vector<ViewLevel> projections;
};

}  // namespace

// ---------------------------------------------------------------------------
// Public helpers.

const char* EdgePolarityName(EdgePolarity polarity) {
  switch (polarity) {
    case EdgePolarity::kAuto: return "auto";
    case EdgePolarity::kBoneBright: return "bright";
    case EdgePolarity::kBoneDark: return "dark";
    case EdgePolarity::kAny: return "any";
  }
  return "?";
}

EdgePolarity ParseEdgePolarity(const std::string& name) {
  for (const EdgePolarity p : {EdgePolarity::kAuto, EdgePolarity::kBoneBright,
                               EdgePolarity::kBoneDark, EdgePolarity::kAny}) {
    if (name == EdgePolarityName(p)) return p;
  }
  throw InvalidInput("polarity must be auto, bright, dark or any, got \"" + name + "\"");
}

const char* FitStartName(FitStart start) {
  switch (start) {
    case FitStart::kGivenPose: return "given_pose";
    case FitStart::kLandmarks: return "landmarks";
    case FitStart::kSearch: return "search";
  }
  return "?";
}

std::string FitOptions::IsValid() const {
  if (modes < 0) return "modes must be >= 0";
  if (const std::string e = edges.IsValid(); !e.empty()) return e;
  if (outer_iterations < 1) return "outer_iterations must be >= 1";
  if (solver_iterations < 1) return "solver_iterations must be >= 1";
  if (!(edge_noise_px > 0)) return "edge_noise_px must be > 0";
  if (!(robust_scale > 0)) return "robust_scale must be > 0";
  if (!(capture_factor >= 1)) return "capture_factor must be >= 1";
  if (capture_modes < 0) return "capture_modes must be >= 0";
  if (!(intensity_roi_mm >= 0)) return "intensity_roi_mm must be >= 0";
  if (!(symmetric_weight >= 0)) return "symmetric_weight must be >= 0";
  if (!(landmark_sd_px >= 0)) return "landmark_sd_px must be >= 0";
  if (!(symmetric_band_px > 0)) return "symmetric_band_px must be > 0";
  if (!(roi_margin_mm >= 0)) return "roi_margin_mm must be >= 0";
  if (!(search_translation_mm >= 0) || !(search_rotation_deg >= 0))
    return "search ranges must be >= 0";
  return "";
}

bool FitResult::AnyFlagRaised() const {
  return std::any_of(flags.begin(), flags.end(), [](const QualityFlag& f) { return f.raised; });
}

Eigen::Vector3d TriangulateLandmark(const std::vector<drr::ProjectionGeometry>& geometries,
                                    const std::vector<std::optional<Eigen::Vector2d>>& points,
                                    const std::string& name) {
  std::vector<Eigen::Vector3d> origins, directions;
  for (size_t i = 0; i < geometries.size() && i < points.size(); ++i) {
    if (!points[i]) continue;
    origins.push_back(geometries[i].SourcePosition());
    directions.push_back(geometries[i].RayDirection(points[i]->x(), points[i]->y()));
  }
  return ClosestPointToRays(origins, directions, "landmark '" + name + "'");
}

Pose PoseFromLandmarks(const ssm::ShapeModel& model,
                       const std::vector<drr::ProjectionGeometry>& geometries,
                       const std::vector<ViewLandmarks>& landmarks, bool with_scale,
                       std::vector<std::string>* used) {
  if (landmarks.size() != geometries.size()) {
    throw InvalidInput("landmarks: " + std::to_string(landmarks.size()) +
                       " views of landmarks for " + std::to_string(geometries.size()) +
                       " X-ray views");
  }
  std::vector<std::string> names;
  for (const auto& [name, vertex] : model.landmarks()) {
    int seen = 0;
    for (const ViewLandmarks& view : landmarks) seen += view.count(name) > 0;
    if (seen >= 2) names.push_back(name);
  }
  if (names.size() < 3) {
    std::string known;
    for (const auto& [name, vertex] : model.landmarks())
      known += (known.empty() ? "" : ", ") + name;
    throw InvalidInput("landmarks: " + std::to_string(names.size()) +
                       " landmark(s) are marked in two views and named by the model; at least 3 "
                       "are needed (the model names: " +
                       (known.empty() ? std::string("none") : known) + ")");
  }
  const MatrixX3dR mean = model.MeanMesh().vertices;
  MatrixX3dR source(names.size(), 3), target(names.size(), 3);
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<std::optional<Eigen::Vector2d>> points;
    for (const ViewLandmarks& view : landmarks) {
      const auto it = view.find(names[i]);
      points.push_back(it == view.end() ? std::nullopt
                                        : std::optional<Eigen::Vector2d>(it->second));
    }
    target.row(i) = TriangulateLandmark(geometries, points, names[i]).transpose();
    source.row(i) = mean.row(model.landmarks().at(names[i]));
  }
  const ssm::SimilarityTransform transform = ssm::Umeyama(source, target, with_scale);
  if (used) *used = names;
  const Eigen::Vector3d center = mean.colwise().mean().transpose();
  return Pose::FromMatrix(transform.Matrix(), center, "landmark initialisation");
}

std::vector<ViewLandmarks> ReadLandmarks2d(const std::string& path, int num_views) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open the landmarks file (check the path)");
  json root;
  try {
    in >> root;
  } catch (const json::exception& e) {
    throw InvalidInput(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object() || !root.contains("views") || !root["views"].is_array()) {
    throw InvalidInput(path +
                       ": a landmarks file needs 'views': one object per X-ray view, in the "
                       "order the views are given (docs/biplanar_fit.md)");
  }
  const json& views = root["views"];
  if (static_cast<int>(views.size()) != num_views) {
    throw InvalidInput(path + ": 'views' has " + std::to_string(views.size()) + " entries for " +
                       std::to_string(num_views) +
                       " X-ray views; give one per view (an empty "
                       "'points' object for a view without landmarks)");
  }
  std::vector<ViewLandmarks> out(num_views);
  for (int i = 0; i < num_views; ++i) {
    const json& view = views[i];
    if (!view.is_object() || !view.contains("points") || !view["points"].is_object()) {
      throw InvalidInput(path + ": views[" + std::to_string(i) +
                         "] needs a 'points' object of "
                         "name: [u, v] pixel coordinates");
    }
    for (auto it = view["points"].begin(); it != view["points"].end(); ++it) {
      const json& p = it.value();
      if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number() ||
          !std::isfinite(p[0].get<double>()) || !std::isfinite(p[1].get<double>())) {
        throw InvalidInput(path + ": views[" + std::to_string(i) + "].points['" + it.key() +
                           "'] must be [u, v], two finite pixel coordinates");
      }
      out[i][it.key()] = Eigen::Vector2d(p[0].get<double>(), p[1].get<double>());
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The fit.

namespace {

class Fitter {
 public:
  Fitter(const ssm::ShapeModel& model, const std::vector<FitView>& views, const FitOptions& options)
      : views_(views), options_(options) {
    const int k = std::min(options.modes, model.num_modes());
    const Eigen::MatrixXd w_all = model.ScaledBasis();
    data_.mean = model.mean();
    data_.w = w_all.leftCols(k);
    data_.faces = model.faces();
    const int64_t nv = model.num_vertices();
    data_.center =
        Eigen::Map<const MatrixX3dR>(data_.mean.data(), nv, 3).colwise().mean().transpose();
    data_.rest_variance = Eigen::VectorXd::Constant(nv, 3 * model.noise_variance());
    for (int m = k; m < w_all.cols(); ++m) {
      for (int64_t v = 0; v < nv; ++v)
        data_.rest_variance[v] += w_all.col(m).segment<3>(3 * v).squaredNorm();
    }
    data_.edges = BuildEdges(data_.faces);
    fitted_modes_ = k;
    if (k == 0) {
      // Ceres has no empty parameter blocks: one zero mode, held constant.
      data_.w = Eigen::MatrixXd::Zero(3 * nv, 1);
    }
    params_.a.assign(data_.w.cols(), 0.0);
    landmarks_.assign(views.size(), {});
    for (const FitView& view : views) {
      pyramids_.push_back(ExtractEdges(view.image, options.edges));
      EdgePolarity polarity =
          view.polarity != EdgePolarity::kAuto ? view.polarity : options.polarity;
      if (polarity == EdgePolarity::kAuto) {
        polarity = view.image.quantity == ImageQuantity::kIntensity ? EdgePolarity::kBoneDark
                                                                    : EdgePolarity::kBoneBright;
      }
      polarity_.push_back(polarity == EdgePolarity::kBoneBright ? 1
                          : polarity == EdgePolarity::kBoneDark ? -1
                                                                : 0);
      // Row-major copy of P, kept alive for the ViewLevel pointers.
      Eigen::Matrix<double, 3, 4, Eigen::RowMajor> p = view.geometry.matrix();
      matrices_.emplace_back(p.data(), p.data() + 12);
    }
    levels_.resize(options.edges.levels);
    for (int l = 0; l < options.edges.levels; ++l) {
      for (size_t v = 0; v < views.size(); ++v) {
        const EdgeLevel& level = pyramids_[v].levels[l];
        for (int b = -1; b < 8; ++b) {
          const float* data =
              b < 0 ? level.distance_px.data() : level.oriented_distance_px[b].data();
          levels_[l].grids.push_back(std::make_unique<Grid>(data, 0, level.rows, 0, level.cols));
          levels_[l].interpolators.push_back(
              std::make_unique<Interpolator>(*levels_[l].grids.back()));
        }
        levels_[l].projections.push_back(ViewLevel{matrices_[v].data(), level.factor});
      }
    }
  }

  int modes() const { return fitted_modes_; }

  // Landmarks that stay in the cost: per view, model vertex -> marked pixel.
  void SetLandmarks(const ssm::ShapeModel& model, const std::vector<ViewLandmarks>& landmarks,
                    const std::vector<std::string>& used) {
    landmarks_.assign(views_.size(), {});
    for (size_t v = 0; v < landmarks.size() && v < views_.size(); ++v) {
      for (const std::string& name : used) {
        const auto it = landmarks[v].find(name);
        if (it != landmarks[v].end())
          landmarks_[v].emplace_back(model.landmarks().at(name), it->second);
      }
    }
  }

  // The distance map a contour point reads: the oriented one of its bin.
  const Interpolator* InterpolatorFor(int level, size_t view, const ContourPoint& point) const {
    return levels_[level].interpolators[view * 9 + (point.bin < 0 ? 0 : 1 + point.bin)].get();
  }
  const Eigen::Vector3d& center() const { return data_.center; }
  Parameters& params() { return params_; }
  const ModelData& data() const { return data_; }

  MatrixX3dR World(const Parameters& p) const {
    return Posed(Instance(data_, p.a), ToPose(p, data_.center));
  }

  std::vector<Silhouette> Silhouettes(const Parameters& p, int level) const {
    const MatrixX3dR world = World(p);
    std::vector<Silhouette> out;
    for (size_t v = 0; v < views_.size(); ++v) {
      out.push_back(ComputeSilhouette(world, data_, views_[v].geometry, pyramids_[v].levels[level],
                                      polarity_[v]));
    }
    return out;
  }

  // Mean robust cost of the silhouette points at a level (the search's score).
  double SearchScore(const Parameters& p, int level) const {
    const std::vector<Silhouette> silhouettes = Silhouettes(p, level);
    double total = 0;
    int count = 0;
    for (size_t v = 0; v < views_.size(); ++v) {
      for (const ContourPoint& point : silhouettes[v].points) {
        double d = 0;
        InterpolatorFor(level, v, point)->Evaluate(point.uv.y(), point.uv.x(), &d);
        total += CauchyRho(std::pow(d / options_.edge_noise_px, 2), options_.robust_scale);
        ++count;
      }
      if (silhouettes[v].points.size() < 10) return std::numeric_limits<double>::infinity();
    }
    return total / std::max(count, 1);
  }

  // One Levenberg-Marquardt solve with the contours fixed; returns the
  // summary's final cost.
  ceres::Solver::Summary Solve(int level, int active_modes,
                               std::vector<Silhouette>* silhouettes_out,
                               double robust_factor = 1.0) {
    const std::vector<Silhouette> silhouettes = Silhouettes(params_, level);
    const int k = modes();
    const int block = static_cast<int>(params_.a.size());
    const double inverse_sigma = 1.0 / options_.edge_noise_px;
    ceres::Problem::Options problem_options;
    problem_options.manifold_ownership = ceres::TAKE_OWNERSHIP;
    ceres::Problem problem(problem_options);
    std::vector<double*> blocks = {params_.q, params_.t, &params_.log_scale};
    double* a = params_.a.data();
    const auto add_image = [&](ImageCost* cost, double weight) {
      ceres::LossFunction* loss = new ceres::CauchyLoss(options_.robust_scale * robust_factor);
      if (weight != 1.0) loss = new ceres::ScaledLoss(loss, weight, ceres::TAKE_OWNERSHIP);
      problem.AddResidualBlock(cost, loss, {params_.q, params_.t, &params_.log_scale, a});
    };
    for (size_t v = 0; v < views_.size(); ++v) {
      const ViewLevel& projection = levels_[level].projections[v];
      for (const ContourPoint& point : silhouettes[v].points) {
        add_image(
            new ImageCost(ImageCost::kDistance, PointMean(point), PointBasis(point), projection,
                          InterpolatorFor(level, v, point), data_.center, inverse_sigma),
            1.0);
      }
      if (options_.symmetric_weight > 0 && !silhouettes[v].points.empty()) {
        AddSymmetric(v, level, silhouettes[v], inverse_sigma, add_image);
      }
      if (options_.landmark_sd_px > 0) {
        const double factor = pyramids_[v].levels[level].factor;
        for (const auto& [vertex, uv] : landmarks_[v]) {
          const ContourPoint point{vertex, vertex, {}, -1};
          const Eigen::Vector2d target(pyramids_[v].levels[level].ToLevel(uv.x()),
                                       pyramids_[v].levels[level].ToLevel(uv.y()));
          problem.AddResidualBlock(
              new ImageCost(ImageCost::kToEdge, PointMean(point), PointBasis(point), projection,
                            nullptr, data_.center, factor / options_.landmark_sd_px, target),
              new ceres::HuberLoss(3.0), {params_.q, params_.t, &params_.log_scale, a});
        }
      }
    }
    if (problem.NumResidualBlocks() == 0) {
      // No contour point falls on any image (the instance left the views):
      // nothing to solve; the caller's statistics and flags will say so.
      if (silhouettes_out) *silhouettes_out = silhouettes;
      return ceres::Solver::Summary();
    }
    // Blocks that only the prior uses are added here, so every block exists.
    problem.AddParameterBlock(params_.q, 4);
    problem.AddParameterBlock(params_.t, 3);
    problem.AddParameterBlock(&params_.log_scale, 1);
    problem.SetManifold(params_.q, new ceres::QuaternionManifold);
    if (!options_.fit_scale) problem.SetParameterBlockConstant(&params_.log_scale);
    if (k > 0) {
      problem.AddResidualBlock(new PriorCost(k), nullptr, a);
      if (active_modes <= 0) {
        problem.SetParameterBlockConstant(a);
      } else if (active_modes < k) {
        std::vector<int> fixed;
        for (int m = active_modes; m < k; ++m) fixed.push_back(m);
        problem.SetManifold(a, new ceres::SubsetManifold(block, fixed));
      }
    } else {
      problem.SetParameterBlockConstant(a);
    }
    ceres::Solver::Options solver_options;
    solver_options.linear_solver_type = ceres::DENSE_NORMAL_CHOLESKY;
    solver_options.max_num_iterations = options_.solver_iterations;
    solver_options.logging_type = ceres::SILENT;
    solver_options.num_threads = 1;
    solver_options.function_tolerance = 1e-5;
    solver_options.parameter_tolerance = 1e-6;
    ceres::Solver::Summary summary;
    ceres::Solve(solver_options, &problem, &summary);
    if (silhouettes_out) *silhouettes_out = silhouettes;
    return summary;
  }

  Eigen::Vector3d PointMean(const ContourPoint& p) const {
    return (data_.mean.segment<3>(3 * p.a) + data_.mean.segment<3>(3 * p.b)) / 2;
  }
  Eigen::Matrix<double, 3, Eigen::Dynamic> PointBasis(const ContourPoint& p) const {
    return (data_.w.middleRows<3>(3 * p.a) + data_.w.middleRows<3>(3 * p.b)) / 2;
  }

  template <typename AddImage>
  void AddSymmetric(size_t v, int level, const Silhouette& silhouette, double inverse_sigma,
                    const AddImage& add_image) {
    const EdgeLevel& edges = pyramids_[v].levels[level];
    // Image edges near the projected outline, each paired with its nearest
    // silhouette point (fixed for this solve).
    std::vector<Eigen::Vector2d> near;
    for (int r = 0; r < edges.rows; ++r) {
      for (int c = 0; c < edges.cols; ++c) {
        if (!edges.edges[static_cast<size_t>(r) * edges.cols + c]) continue;
        if (silhouette.boundary_distance.at<float>(r, c) > options_.symmetric_band_px) continue;
        near.emplace_back(c, r);
      }
    }
    const size_t stride = std::max<size_t>(1, near.size() / 2000);
    const double weight = options_.symmetric_weight * stride;
    for (size_t i = 0; i < near.size(); i += stride) {
      size_t best = 0;
      double best_d2 = std::numeric_limits<double>::infinity();
      for (size_t j = 0; j < silhouette.points.size(); ++j) {
        const double d2 = (silhouette.points[j].uv - near[i]).squaredNorm();
        if (d2 < best_d2) {
          best_d2 = d2;
          best = j;
        }
      }
      const ContourPoint& point = silhouette.points[best];
      add_image(new ImageCost(ImageCost::kToEdge, PointMean(point), PointBasis(point),
                              levels_[level].projections[v], nullptr, data_.center, inverse_sigma,
                              near[i]),
                weight);
    }
  }

  // Intensity capture: the pose and the first `modes` coefficients that
  // maximise the gradient correlation between the instance's projected path
  // length and each view (binned by `binning`), by a compass search. Its
  // basin is the whole bone's footprint, not just its outline. Returns the
  // number of evaluations.
  int IntensityCapture(int binning, int modes, double translation_step_mm, double rotation_step_rad,
                       double roi_margin_mm) {
    std::vector<drr::ProjectionGeometry> geometries;
    std::vector<Image2D> images;
    std::vector<std::vector<uint8_t>> rois;
    const auto instance = [&](const Parameters& p) {
      TriangleMesh mesh;
      mesh.vertices = World(p);
      mesh.faces = data_.faces;
      return mesh;
    };
    const TriangleMesh start_mesh = instance(params_);
    for (size_t v = 0; v < views_.size(); ++v) {
      geometries.push_back(BinnedGeometry(views_[v].geometry, binning));
      images.push_back(BinImage(views_[v].image, binning));
      // The region of interest: the start's footprint grown by the margin.
      std::vector<uint8_t> roi;
      if (roi_margin_mm > 0) {
        const drr::ProjectionGeometry& g = geometries[v];
        const Image2D start = drr::ProjectMeshPathLength(start_mesh, g, 1);
        cv::Mat mask(start.rows, start.cols, CV_8U);
        for (int r = 0; r < start.rows; ++r)
          for (int c = 0; c < start.cols; ++c)
            mask.at<uint8_t>(r, c) = start.at(r, c) > 0 ? 255 : 0;
        const int radius = static_cast<int>(std::ceil(roi_margin_mm / PixelAtIsocenterMm(g)));
        cv::dilate(
            mask, mask,
            cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * radius + 1, 2 * radius + 1)));
        roi.assign(mask.datastart, mask.dataend);
      }
      rois.push_back(std::move(roi));
    }
    const auto score = [&](const Parameters& p) {
      const TriangleMesh mesh = instance(p);
      double total = 0;
      for (size_t v = 0; v < views_.size(); ++v) {
        const Image2D path = drr::ProjectMeshPathLength(mesh, geometries[v], 1);
        const double gc =
            ImageSimilarity(path, images[v], Similarity::kGradientCorrelation, rois[v]);
        total += polarity_[v] == 0 ? std::abs(gc) : polarity_[v] * gc;
      }
      return total;
    };
    const int k = std::min(modes, fitted_modes_);
    std::vector<double> steps = {rotation_step_rad,   rotation_step_rad,   rotation_step_rad,
                                 translation_step_mm, translation_step_mm, translation_step_mm};
    for (int m = 0; m < k; ++m) steps.push_back(1.0);  // one SD
    const auto moved = [&](const Parameters& p, size_t i, double delta) {
      Parameters q = p;
      if (i < 3) {
        Eigen::Vector3d axis = Eigen::Vector3d::Zero();
        axis[i] = 1;
        const Eigen::Quaterniond turn(Eigen::AngleAxisd(delta, axis));
        const Eigen::Quaterniond q0(p.q[0], p.q[1], p.q[2], p.q[3]);
        const Eigen::Quaterniond r = (turn * q0).normalized();
        q.q[0] = r.w();
        q.q[1] = r.x();
        q.q[2] = r.y();
        q.q[3] = r.z();
      } else if (i < 6) {
        q.t[i - 3] += delta;
      } else {
        q.a[i - 6] += delta;
      }
      return q;
    };
    double best = score(params_);
    int evaluations = 1;
    for (int halvings = 0; halvings < 4;) {
      bool improved = false;
      for (size_t i = 0; i < steps.size(); ++i) {
        for (const double sign : {1.0, -1.0}) {
          const Parameters trial = moved(params_, i, sign * steps[i]);
          const double value = score(trial);
          ++evaluations;
          if (value > best) {
            best = value;
            params_ = trial;
            improved = true;
            break;
          }
        }
      }
      if (!improved) {
        for (double& step : steps) step /= 2;
        ++halvings;
      }
      if (evaluations > 2000) break;
    }
    return evaluations;
  }

  // Drops the edges farther than the margin from the projected silhouette of
  // the current parameters and recomputes the distance maps (the ROI).
  void RestrictEdgesToStart(double margin_mm) {
    const MatrixX3dR world = World(params_);
    for (size_t v = 0; v < views_.size(); ++v) {
      const drr::ProjectionGeometry& g = views_[v].geometry;
      for (EdgeLevel& level : pyramids_[v].levels) {
        const Silhouette outline = ComputeSilhouette(world, data_, g, level);
        const double margin_px = margin_mm / (PixelAtIsocenterMm(g) * level.factor);
        for (int r = 0; r < level.rows; ++r) {
          for (int c = 0; c < level.cols; ++c) {
            if (outline.boundary_distance.at<float>(r, c) > margin_px) {
              level.edges[static_cast<size_t>(r) * level.cols + c] = 0;
            }
          }
        }
        // The maps are rewritten in place: the interpolators' grids stay valid.
        ComputeDistanceMaps(&level);
      }
    }
  }

  // Per-view distances (full-resolution px) of the silhouette at level 0.
  std::vector<std::vector<double>> Residuals(const std::vector<Silhouette>& silhouettes) const {
    std::vector<std::vector<double>> out(views_.size());
    for (size_t v = 0; v < views_.size(); ++v) {
      for (const ContourPoint& point : silhouettes[v].points) {
        double d = 0;
        InterpolatorFor(0, v, point)->Evaluate(point.uv.y(), point.uv.x(), &d);
        out[v].push_back(std::abs(d));
      }
    }
    return out;
  }

  // Laplace approximation: per-vertex posterior standard deviation (mm).
  Eigen::VectorXd PosteriorStd(const std::vector<Silhouette>& silhouettes, double sigma_px,
                               double misfit_variance_mm2) const {
    const int k = modes();
    const int pose_size = options_.fit_scale ? 7 : 6;
    const int n = pose_size + k;
    Eigen::MatrixXd h = Eigen::MatrixXd::Zero(n, n);
    const Pose pose = ToPose(params_, data_.center);
    const Eigen::Matrix3d sr = pose.scale * pose.RotationMatrix();
    const MatrixX3dR instance = Instance(data_, params_.a);
    const Eigen::MatrixXd w = data_.w.leftCols(k);
    for (size_t v = 0; v < views_.size(); ++v) {
      for (const ContourPoint& point : silhouettes[v].points) {
        const ImageCost cost(ImageCost::kDistance, PointMean(point), PointBasis(point),
                             levels_[0].projections[v], InterpolatorFor(0, v, point), data_.center,
                             1.0 / sigma_px);
        std::vector<double> jt(3), jq(4), js(1), ja(params_.a.size());
        double* jacobians[4] = {jq.data(), jt.data(), js.data(), ja.data()};
        const double* parameters[4] = {params_.q, params_.t, &params_.log_scale, params_.a.data()};
        double r = 0;
        cost.Evaluate(parameters, &r, jacobians);
        // d r / d world = d r / d t; rotation about the centre: d world / d delta = -[y]x.
        const Eigen::Vector3d g(jt[0], jt[1], jt[2]);
        const Eigen::Vector3d x = (instance.row(point.a) + instance.row(point.b)).transpose() / 2;
        const Eigen::Vector3d y = sr * (x - data_.center);
        Eigen::VectorXd row(n);
        row.head<3>() = y.cross(g);
        row.segment<3>(3) = g;
        if (options_.fit_scale) row[6] = g.dot(y);
        for (int m = 0; m < k; ++m) row[pose_size + m] = ja[m];
        // The robust loss's weight at this residual (Cauchy).
        const double c2 = options_.robust_scale * options_.robust_scale;
        const double weight = 1.0 / (1.0 + r * r / c2);
        h += weight * row * row.transpose();
      }
    }
    for (int m = 0; m < k; ++m) h(pose_size + m, pose_size + m) += 1.0;
    h.diagonal().array() += 1e-9;
    const Eigen::MatrixXd covariance = h.ldlt().solve(Eigen::MatrixXd::Identity(n, n));
    const int64_t nv = instance.rows();
    Eigen::VectorXd std_mm(nv);
    Eigen::MatrixXd jv(3, n);
    for (int64_t v = 0; v < nv; ++v) {
      const Eigen::Vector3d y = sr * (instance.row(v).transpose() - data_.center);
      // d world / d delta = -[y]x
      jv.block<3, 3>(0, 0) << 0, y.z(), -y.y(), -y.z(), 0, y.x(), y.y(), -y.x(), 0;
      jv.block<3, 3>(0, 3).setIdentity();
      if (options_.fit_scale) jv.col(6) = y;
      if (k > 0) jv.rightCols(k) = sr * w.middleRows<3>(3 * v);
      const double fitted = (jv * covariance * jv.transpose()).trace();
      std_mm[v] = std::sqrt(std::max(0.0, fitted) +
                            pose.scale * pose.scale * data_.rest_variance[v] + misfit_variance_mm2);
    }
    return std_mm;
  }

  std::vector<Eigen::Vector2d> FullResContour(const Silhouette& silhouette, int level) const {
    std::vector<Eigen::Vector2d> out;
    const EdgeLevel& edges = pyramids_[0].levels[level];
    for (const ContourPoint& p : silhouette.points) {
      out.emplace_back(edges.ToFull(p.uv.x()), edges.ToFull(p.uv.y()));
    }
    return out;
  }

 private:
  const std::vector<FitView>& views_;
  FitOptions options_;
  ModelData data_;
  Parameters params_;
  std::vector<EdgePyramid> pyramids_;
  std::vector<std::vector<double>> matrices_;
  std::vector<LevelState> levels_;
  std::vector<int> polarity_;
  std::vector<std::vector<std::pair<int, Eigen::Vector2d>>> landmarks_;
  int fitted_modes_ = 0;
};

// The coarse search: a translation grid (3^3 offsets of range/2 steps... to
// +-range), then a rotation grid about the centre (3^3 angles), each keeping
// the best score at the coarsest level. Returns true when the best point lies
// on the edge of a grid.
bool CoarseSearch(Fitter* fitter, const FitOptions& options, int level) {
  Parameters& p = fitter->params();
  bool at_edge = false;
  const double step = options.search_translation_mm / 2;
  if (step > 0) {
    Parameters best = p;
    double best_score = fitter->SearchScore(p, level);
    int best_index[3] = {0, 0, 0};
    for (int i = -2; i <= 2; ++i) {
      for (int j = -2; j <= 2; ++j) {
        for (int k = -2; k <= 2; ++k) {
          Parameters trial = p;
          trial.t[0] += i * step;
          trial.t[1] += j * step;
          trial.t[2] += k * step;
          const double score = fitter->SearchScore(trial, level);
          if (score < best_score) {
            best_score = score;
            best = trial;
            best_index[0] = i;
            best_index[1] = j;
            best_index[2] = k;
          }
        }
      }
    }
    p = best;
    at_edge = std::abs(best_index[0]) == 2 || std::abs(best_index[1]) == 2 ||
              std::abs(best_index[2]) == 2;
  }
  const double angle = options.search_rotation_deg * kPi / 180;
  if (angle > 0) {
    Parameters best = p;
    double best_score = fitter->SearchScore(p, level);
    for (int i = -1; i <= 1; ++i) {
      for (int j = -1; j <= 1; ++j) {
        for (int k = -1; k <= 1; ++k) {
          if (i == 0 && j == 0 && k == 0) continue;
          const Eigen::Vector3d rv(i * angle, j * angle, k * angle);
          const Eigen::Quaterniond dq(Eigen::AngleAxisd(rv.norm(), rv.normalized()));
          const Eigen::Quaterniond q0(p.q[0], p.q[1], p.q[2], p.q[3]);
          const Eigen::Quaterniond q = (dq * q0).normalized();
          Parameters trial = p;
          trial.q[0] = q.w();
          trial.q[1] = q.x();
          trial.q[2] = q.y();
          trial.q[3] = q.z();
          const double score = fitter->SearchScore(trial, level);
          if (score < best_score) {
            best_score = score;
            best = trial;
          }
        }
      }
    }
    p = best;
  }
  return at_edge;
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

namespace {

// Runs the fit from the fitter's current parameters (the start, already in
// result->initial_pose) and fills the rest of *result.
void RunFromStart(Fitter& fitter, const ssm::ShapeModel& model, const std::vector<FitView>& views,
                  const FitOptions& options, bool searched_to_edge, FitResult* out) {
  FitResult& result = *out;
  const int coarsest = options.edges.levels - 1;
  if (result.start != FitStart::kLandmarks && options.intensity_capture) {
    ReportProgress(options.progress, 0.03, "intensity capture");
    fitter.IntensityCapture(1 << coarsest, options.capture_modes, 8.0, 4.0 * kPi / 180,
                            options.intensity_roi_mm);
  }
  if (options.roi_margin_mm > 0) fitter.RestrictEdgesToStart(options.roi_margin_mm);

  // Coarse to fine over the pyramid and over the modes.
  const int k = fitter.modes();
  std::vector<Silhouette> silhouettes;
  bool first_solve = true;
  // Capture: without landmarks the start may be far off (centimetres,
  // degrees); the pose alone is first fitted at the coarsest level with a
  // robust scale `capture_factor` times wider, so that distant edges still pull.
  // One solve with the contours recomputed, its bookkeeping, and whether the
  // instance has settled: no vertex moved by more than a tenth of a level
  // pixel at the isocentre (about 0.1 mm x factor for typical detectors).
  const auto solve = [&](int level, int active, double robust_factor) {
    const MatrixX3dR before = fitter.World(fitter.params());
    const ceres::Solver::Summary summary = fitter.Solve(level, active, &silhouettes, robust_factor);
    if (first_solve) {
      result.initial_cost = summary.initial_cost;
      first_solve = false;
    }
    result.final_cost = summary.final_cost;
    result.iterations += static_cast<int>(summary.iterations.size());
    ++result.solves;
    const double moved = (fitter.World(fitter.params()) - before).rowwise().norm().maxCoeff();
    return moved < 0.1 * std::ldexp(1.0, level);
  };
  if (result.start != FitStart::kLandmarks && options.capture_factor > 1) {
    for (int outer = 0; outer < options.outer_iterations; ++outer) {
      if (solve(coarsest, std::min(k, options.capture_modes), options.capture_factor)) break;
    }
  }
  for (int level = coarsest; level >= 0; --level) {
    // The pose alone at the coarsest level, then more and more modes.
    const int active = options.edges.levels == 1
                           ? k
                           : static_cast<int>(std::ceil(k * double(coarsest - level) / coarsest));
    for (int outer = 0; outer < options.outer_iterations; ++outer) {
      ReportProgress(options.progress,
                     0.05 + 0.9 * ((coarsest - level) + double(outer) / options.outer_iterations) /
                                options.edges.levels,
                     "fitting at level " + std::to_string(level));
      if (solve(level, active, 1.0)) break;
    }
  }
  silhouettes = fitter.Silhouettes(fitter.params(), 0);

  // Residual statistics, noise estimate and posterior.
  const std::vector<std::vector<double>> residuals = fitter.Residuals(silhouettes);
  std::vector<double> all;
  for (size_t v = 0; v < views.size(); ++v) {
    ViewResidualStats stats;
    stats.name = views[v].name;
    stats.contour_points = static_cast<int>(residuals[v].size());
    if (!residuals[v].empty()) {
      double sum = 0, sum2 = 0;
      for (double d : residuals[v]) {
        sum += d;
        sum2 += d * d;
      }
      stats.mean_px = sum / residuals[v].size();
      stats.rms_px = std::sqrt(sum2 / residuals[v].size());
      stats.median_px = Median(residuals[v]);
      stats.p95_px = Percentile(residuals[v], 0.95);
    }
    all.insert(all.end(), residuals[v].begin(), residuals[v].end());
    result.views.push_back(stats);
  }
  result.edge_noise_px = std::max(1.4826 * Median(all), 0.25);
  result.pose = ToPose(fitter.params(), fitter.center());
  result.coefficients =
      Eigen::Map<const Eigen::VectorXd>(fitter.params().a.data(), k);  // k <= size
  result.mahalanobis = result.coefficients.norm();
  result.mesh.vertices = fitter.World(fitter.params());
  result.mesh.faces = model.faces();
  // What the model cannot explain: the edge noise estimated from the final
  // residuals, taken to the object (mm at the isocentre), in every direction.
  double pixel_at_object_mm = 0;
  for (const FitView& v : views) {
    pixel_at_object_mm += PixelAtIsocenterMm(v.geometry) / views.size();
  }
  const double misfit_mm = result.edge_noise_px * pixel_at_object_mm;
  result.mesh.scalars["posterior_std_mm"] =
      fitter.PosteriorStd(silhouettes, result.edge_noise_px, 3 * misfit_mm * misfit_mm);
  for (const Silhouette& s : silhouettes)
    result.final_contours.push_back(fitter.FullResContour(s, 0));

  // Quality flags.
  double worst = 0, best = std::numeric_limits<double>::infinity();
  int fewest = std::numeric_limits<int>::max();
  for (const ViewResidualStats& s : result.views) {
    worst = std::max(worst, s.median_px);
    best = std::min(best, s.median_px);
    fewest = std::min(fewest, s.contour_points);
  }
  result.flags.push_back({"residual_too_high", worst > options.max_median_residual_px, worst,
                          options.max_median_residual_px});
  const double max_mahalanobis = options.max_mahalanobis > 0
                                     ? options.max_mahalanobis
                                     : (k > 0 ? ChiQuantileSqrt(k, 2.326) : 0);
  result.flags.push_back({"shape_implausible", k > 0 && result.mahalanobis > max_mahalanobis,
                          result.mahalanobis, max_mahalanobis});
  const double pose_change =
      (result.pose.Apply(fitter.center()) - result.initial_pose.Apply(fitter.center())).norm();
  result.flags.push_back({"pose_at_search_edge",
                          searched_to_edge || pose_change > options.max_pose_change_mm, pose_change,
                          options.max_pose_change_mm});
  const double ratio = views.size() < 2 ? 1.0 : worst / std::max(best, 0.05);
  result.flags.push_back(
      {"views_inconsistent",
       views.size() >= 2 && (ratio > options.max_view_residual_ratio || fewest < 20), ratio,
       options.max_view_residual_ratio});
}

// The start's alternatives when a fit without landmarks fails: moved along
// and turned about the model's long axis (its ends are what fits poorly).
std::vector<Parameters> AlternativeStarts(const Parameters& start, const ModelData& data) {
  const int64_t nv = data.mean.size() / 3;
  const Eigen::Map<const MatrixX3dR> mean(data.mean.data(), nv, 3);
  const Eigen::MatrixX3d centred = mean.rowwise() - data.center.transpose();
  const Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> eig(centred.transpose() * centred);
  const Eigen::Quaterniond q0(start.q[0], start.q[1], start.q[2], start.q[3]);
  const Eigen::Vector3d axis = (q0 * eig.eigenvectors().col(2)).normalized();
  std::vector<Parameters> out;
  for (const double shift : {15.0, -15.0}) {
    Parameters p = start;
    for (int i = 0; i < 3; ++i) p.t[i] += shift * axis[i];
    out.push_back(p);
  }
  for (const double degrees : {10.0, -10.0}) {
    Parameters p = start;
    const Eigen::Quaterniond q =
        (Eigen::Quaterniond(Eigen::AngleAxisd(degrees * kPi / 180, axis)) * q0).normalized();
    p.q[0] = q.w();
    p.q[1] = q.x();
    p.q[2] = q.y();
    p.q[3] = q.z();
    out.push_back(p);
  }
  return out;
}

// Orders results: no raised flag first, then the smaller worst-view median residual.
bool Better(const FitResult& a, const FitResult& b) {
  const auto worst = [](const FitResult& r) {
    double w = 0;
    for (const ViewResidualStats& v : r.views) w = std::max(w, v.median_px);
    return w;
  };
  if (a.AnyFlagRaised() != b.AnyFlagRaised()) return !a.AnyFlagRaised();
  return worst(a) < worst(b);
}

}  // namespace

FitResult FitShapeModel(const ssm::ShapeModel& model, const std::vector<FitView>& views,
                        const FitInitialization& initialization, const FitOptions& options) {
  const auto start_time = std::chrono::steady_clock::now();
  if (const std::string problem = options.IsValid(); !problem.empty()) {
    throw InvalidInput("fit options: " + problem);
  }
  if (model.faces().rows() == 0) {
    throw InvalidInput(
        "the shape model has no faces (a point-set model); fitting contours needs "
        "a surface model");
  }
  if (views.empty()) throw InvalidInput("fit: no X-ray views given");
  for (const FitView& view : views) {
    if (view.image.rows != view.geometry.rows() || view.image.cols != view.geometry.cols()) {
      throw InvalidInput(view.name + ": the image is " + std::to_string(view.image.cols) + "x" +
                         std::to_string(view.image.rows) + " pixels but its geometry says " +
                         std::to_string(view.geometry.cols()) + "x" +
                         std::to_string(view.geometry.rows()));
    }
  }
  if (!initialization.landmarks.empty() && initialization.landmarks.size() != views.size()) {
    throw InvalidInput("fit: landmarks are given for " +
                       std::to_string(initialization.landmarks.size()) + " views but there are " +
                       std::to_string(views.size()));
  }
  Fitter fitter(model, views, options);
  FitResult result;
  const int coarsest = options.edges.levels - 1;

  // The start.
  bool searched_to_edge = false;
  bool has_landmarks = false;
  for (const ViewLandmarks& v : initialization.landmarks) has_landmarks |= !v.empty();
  if (has_landmarks) {
    std::vector<drr::ProjectionGeometry> geometries;
    for (const FitView& v : views) geometries.push_back(v.geometry);
    const Pose pose = PoseFromLandmarks(model, geometries, initialization.landmarks,
                                        options.fit_scale, &result.landmarks_used);
    FromPose(Recentered(pose, fitter.center()), &fitter.params());
    fitter.SetLandmarks(model, initialization.landmarks, result.landmarks_used);
    result.start = FitStart::kLandmarks;
  } else if (initialization.pose) {
    FromPose(Recentered(*initialization.pose, fitter.center()), &fitter.params());
    result.start = FitStart::kGivenPose;
  } else {
    std::vector<Eigen::Vector3d> origins, directions;
    for (const FitView& v : views) {
      const Eigen::Vector2d pp = v.geometry.ToCarm().PrincipalPoint();
      origins.push_back(v.geometry.SourcePosition());
      directions.push_back(v.geometry.RayDirection(pp.x(), pp.y()));
    }
    const Eigen::Vector3d iso =
        views.size() >= 2
            ? ClosestPointToRays(origins, directions, "the default start")
            : Eigen::Vector3d(origins[0] + directions[0].normalized() *
                                               views[0].geometry.source_to_isocenter_mm());
    Pose pose;
    pose.center = fitter.center();
    pose.translation = iso - fitter.center();
    FromPose(pose, &fitter.params());
    result.start = FitStart::kSearch;
  }
  if (result.start == FitStart::kSearch || options.search) {
    ReportProgress(options.progress, 0.02, "coarse search");
    searched_to_edge = CoarseSearch(&fitter, options, coarsest);
  }
  const Parameters start_params = fitter.params();
  result.initial_pose = ToPose(start_params, fitter.center());
  for (const Silhouette& s : fitter.Silhouettes(start_params, 0)) {
    result.initial_contours.push_back(fitter.FullResContour(s, 0));
  }
  RunFromStart(fitter, model, views, options, searched_to_edge, &result);
  // Without landmarks a failed fit is retried from alternative starts; the
  // best result counts (docs/biplanar_fit.md, "Starts without landmarks").
  if (result.start != FitStart::kLandmarks && options.restarts && result.AnyFlagRaised()) {
    for (const Parameters& alternative : AlternativeStarts(start_params, fitter.data())) {
      ReportProgress(options.progress, 0.5, "restart from an alternative start");
      Fitter again(model, views, options);
      again.params() = alternative;
      FitResult trial;
      trial.start = result.start;
      trial.initial_pose = result.initial_pose;
      trial.initial_contours = result.initial_contours;
      RunFromStart(again, model, views, options, false, &trial);
      trial.iterations += result.iterations;
      trial.solves += result.solves;
      trial.restarts = result.restarts + 1;
      const bool better = Better(trial, result);
      if (better) {
        result = std::move(trial);
      } else {
        result.iterations = trial.iterations;
        result.solves = trial.solves;
        result.restarts = trial.restarts;
      }
      if (!result.AnyFlagRaised()) break;
    }
  }
  result.seconds = Seconds(start_time);
  ReportProgress(options.progress, 1.0, "done");
  return result;
}

std::string FitResult::SummaryJson() const {
  json root;
  root["format"] = "ssmx-fit-summary";
  root["version"] = 1;
  root["start"] = FitStartName(start);
  root["landmarks_used"] = landmarks_used;
  root["cost"] = {{"initial", initial_cost}, {"final", final_cost}};
  root["iterations"] = iterations;
  root["solves"] = solves;
  root["restarts"] = restarts;
  root["seconds"] = seconds;
  root["modes"] = coefficients.size();
  root["coefficients"] =
      std::vector<double>(coefficients.data(), coefficients.data() + coefficients.size());
  root["mahalanobis"] = mahalanobis;
  root["edge_noise_px"] = edge_noise_px;
  json pose_json = json::parse(PoseToJson(pose));
  root["pose"] = pose_json;
  root["initial_pose"] = json::parse(PoseToJson(initial_pose));
  json views_json = json::array();
  for (const ViewResidualStats& s : views) {
    views_json.push_back({{"name", s.name},
                          {"contour_points", s.contour_points},
                          {"mean_px", s.mean_px},
                          {"median_px", s.median_px},
                          {"p95_px", s.p95_px},
                          {"rms_px", s.rms_px}});
  }
  root["views"] = views_json;
  json flags_json = json::object();
  for (const QualityFlag& f : flags) {
    flags_json[f.name] = {{"raised", f.raised}, {"value", f.value}, {"threshold", f.threshold}};
  }
  root["quality_flags"] = flags_json;
  root["ok"] = !AnyFlagRaised();
  if (mesh.scalars.count("posterior_std_mm")) {
    const Eigen::VectorXd& sd = mesh.scalars.at("posterior_std_mm");
    std::vector<double> values(sd.data(), sd.data() + sd.size());
    root["posterior_std_mm"] = {{"median", Median(values)},
                                {"p95", Percentile(values, 0.95)},
                                {"max", sd.size() ? sd.maxCoeff() : 0.0}};
  }
  return root.dump(2) + "\n";
}

std::string RenderFitOverlayPng(const FitView& view, const std::vector<Eigen::Vector2d>& initial,
                                const std::vector<Eigen::Vector2d>& fitted) {
  const Image2D normalized = NormalizeXray(view.image);
  cv::Mat grey(normalized.rows, normalized.cols, CV_32F,
               const_cast<float*>(normalized.pixels.data()));
  cv::Mat grey8, picture;
  // For people: a gamma of 2.5 darkens air noise and soft tissue so that the
  // bone stands out.
  cv::Mat display;
  cv::pow(grey, 2.5, display);
  display.convertTo(grey8, CV_8U, 255.0);
  cv::cvtColor(grey8, picture, cv::COLOR_GRAY2BGR);
  const int radius = std::max(1, std::min(picture.rows, picture.cols) / 400);
  const auto draw = [&](const std::vector<Eigen::Vector2d>& points, const cv::Scalar& colour) {
    for (const Eigen::Vector2d& p : points) {
      cv::circle(picture,
                 cv::Point(static_cast<int>(std::lround(p.x() * 16)),
                           static_cast<int>(std::lround(p.y() * 16))),
                 radius * 16, colour, cv::FILLED, cv::LINE_AA, 4);
    }
  };
  draw(initial, cv::Scalar(60, 60, 255));  // BGR red
  draw(fitted, cv::Scalar(80, 255, 80));   // green
  std::vector<uchar> bytes;
  cv::imencode(".png", picture, bytes);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace ssmx::registration
