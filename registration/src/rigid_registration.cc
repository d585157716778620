#include "ssmx/registration/rigid_registration.h"

#include <ceres/ceres.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <random>
#include <sstream>

#include "ssmx/core/error.h"
#include "ssmx/core/log.h"
#include "ssmx/drr/detector.h"

namespace ssmx::registration {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Appends `values` (n samples) to `out` as z-scores times `weight`; a block
// without contrast contributes zeros.
void AppendZScores(const std::vector<double>& values, double weight, Eigen::VectorXd* out) {
  const size_t n = values.size();
  const Eigen::Index offset = out->size();
  out->conservativeResize(offset + static_cast<Eigen::Index>(n));
  double mean = 0.0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(std::max<size_t>(n, 1));
  double variance = 0.0;
  for (double v : values) variance += (v - mean) * (v - mean);
  variance /= static_cast<double>(std::max<size_t>(n, 1));
  const double scale = variance > 0.0 ? weight / std::sqrt(variance) : 0.0;
  for (size_t i = 0; i < n; ++i)
    (*out)[offset + static_cast<Eigen::Index>(i)] = (values[i] - mean) * scale;
}

// The feature vector f of an image over the pixels where `roi` (rows * cols,
// empty = every pixel) is non-zero: unit-norm when the image has contrast
// there, so that f_a . f_b is the similarity and (1/2)|f_a - f_b|^2 =
// 1 - similarity.
Eigen::VectorXd Features(const Image2D& image, Similarity similarity,
                         const std::vector<uint8_t>& roi = {}) {
  Eigen::VectorXd f(0);
  const int rows = image.rows;
  const int cols = image.cols;
  const auto inside = [&](int v, int u) {
    return roi.empty() || roi[static_cast<size_t>(v) * cols + u] != 0;
  };
  if (similarity == Similarity::kNcc) {
    std::vector<double> values;
    values.reserve(image.pixels.size());
    for (int v = 0; v < rows; ++v) {
      for (int u = 0; u < cols; ++u) {
        if (inside(v, u)) values.push_back(image.at(v, u));
      }
    }
    AppendZScores(values, 1.0 / std::sqrt(static_cast<double>(std::max<size_t>(values.size(), 1))),
                  &f);
    return f;
  }
  // Gradient correlation: Sobel derivatives on the interior pixels.
  if (rows < 3 || cols < 3) return Eigen::VectorXd::Zero(1);
  std::vector<double> gu, gv;
  gu.reserve(static_cast<size_t>(rows - 2) * (cols - 2));
  gv.reserve(gu.capacity());
  for (int v = 1; v < rows - 1; ++v) {
    for (int u = 1; u < cols - 1; ++u) {
      if (!inside(v, u)) continue;
      const auto p = [&](int dv, int du) { return static_cast<double>(image.at(v + dv, u + du)); };
      gu.push_back((p(-1, 1) + 2 * p(0, 1) + p(1, 1)) - (p(-1, -1) + 2 * p(0, -1) + p(1, -1)));
      gv.push_back((p(1, -1) + 2 * p(1, 0) + p(1, 1)) - (p(-1, -1) + 2 * p(-1, 0) + p(-1, 1)));
    }
  }
  const double weight = 1.0 / std::sqrt(2.0 * static_cast<double>(std::max<size_t>(gu.size(), 1)));
  AppendZScores(gu, weight, &f);
  AppendZScores(gv, weight, &f);
  return f;
}

// The pixels within `radius` (Chebyshev distance) of a non-zero pixel of
// `image`: the volume's footprint grown by a margin.
std::vector<uint8_t> Footprint(const Image2D& image, int radius) {
  const int rows = image.rows, cols = image.cols;
  std::vector<uint8_t> rows_grown(image.pixels.size(), 0), out(image.pixels.size(), 0);
  for (int v = 0; v < rows; ++v) {
    for (int u = 0; u < cols; ++u) {
      if (image.at(v, u) <= 0.0f) continue;
      for (int w = std::max(0, u - radius); w <= std::min(cols - 1, u + radius); ++w) {
        rows_grown[static_cast<size_t>(v) * cols + w] = 1;
      }
    }
  }
  for (int v = 0; v < rows; ++v) {
    for (int u = 0; u < cols; ++u) {
      if (!rows_grown[static_cast<size_t>(v) * cols + u]) continue;
      for (int w = std::max(0, v - radius); w <= std::min(rows - 1, v + radius); ++w) {
        out[static_cast<size_t>(w) * cols + u] = 1;
      }
    }
  }
  return out;
}

// world_from_ct after rotating the moved CT by `x` (radians) about its moved
// centre and translating it by `t` (mm): R' = exp(x) R, t' = t + t0.
Pose Incremented(const Pose& base, const Eigen::Vector3d& rotation, const Eigen::Vector3d& shift) {
  Pose pose = base;
  Eigen::Matrix3d r = base.RotationMatrix();
  const double angle = rotation.norm();
  if (angle > 0.0) r = Eigen::AngleAxisd(angle, rotation / angle).toRotationMatrix() * r;
  const Eigen::AngleAxisd aa(r);
  pose.rotation = aa.axis() * aa.angle();
  pose.translation = base.translation + shift;
  return pose;
}

// A level's data: the (possibly shrunk) volume, the binned views and the
// X-ray features.
struct LevelData {
  const drr::PreparedVolume* volume = nullptr;
  std::vector<drr::ProjectionGeometry> geometries;
  std::vector<Eigen::VectorXd> xray_features;
  std::vector<std::vector<uint8_t>> rois;  // per view; empty = every pixel
  std::vector<Image2D> backgrounds;        // per view; empty = none
  Eigen::Index num_residuals = 0;
};

class DrrEvaluator {
 public:
  DrrEvaluator(const LevelData& level, Similarity similarity,
               const drr::ProjectionOptions& projection, int* drr_count)
      : level_(level), similarity_(similarity), projection_(projection), drr_count_(drr_count) {}

  // Residuals (z_drr - z_xray) of every view for `pose`, and optionally the
  // per-view similarities.
  Eigen::VectorXd Residuals(const Pose& pose, std::vector<double>* scores = nullptr) const {
    Eigen::VectorXd r(level_.num_residuals);
    Eigen::Index offset = 0;
    if (scores) scores->clear();
    for (size_t v = 0; v < level_.geometries.size(); ++v) {
      Image2D drr = ProjectPosed(*level_.volume, pose, level_.geometries[v], projection_);
      ++*drr_count_;
      if (!level_.backgrounds[v].empty()) {
        const std::vector<float>& b = level_.backgrounds[v].pixels;
        for (size_t i = 0; i < b.size(); ++i) drr.pixels[i] += b[i];
      }
      const Eigen::VectorXd f = Features(drr, similarity_, level_.rois[v]);
      const Eigen::VectorXd& x = level_.xray_features[v];
      r.segment(offset, f.size()) = f - x;
      offset += f.size();
      if (scores) scores->push_back(f.dot(x));
    }
    return r;
  }

 private:
  const LevelData& level_;
  Similarity similarity_;
  drr::ProjectionOptions projection_;
  int* drr_count_;
};

// The 6 parameters are a rotation increment times the lever arm (mm) and a
// translation increment (mm) about the level's start pose; the Jacobian is a
// finite difference of whole DRRs with a step in mm (see step_pixels).
class DrrCostFunction : public ceres::CostFunction {
 public:
  DrrCostFunction(const DrrEvaluator& evaluator, const Pose& base, Eigen::Index num_residuals,
                  double lever_mm, double step_mm, bool central)
      : evaluator_(evaluator),
        base_(base),
        lever_mm_(lever_mm),
        step_mm_(step_mm),
        central_(central) {
    set_num_residuals(static_cast<int>(num_residuals));
    mutable_parameter_block_sizes()->push_back(6);
  }

  Pose PoseAt(const double* x) const {
    return Incremented(base_, Eigen::Vector3d(x[0], x[1], x[2]) / lever_mm_,
                       Eigen::Vector3d(x[3], x[4], x[5]));
  }

  bool Evaluate(double const* const* parameters, double* residuals,
                double** jacobians) const override {
    const double* x = parameters[0];
    Eigen::Map<Eigen::VectorXd> r(residuals, num_residuals());
    const Eigen::Matrix<double, 6, 1> xv = Eigen::Map<const Eigen::Matrix<double, 6, 1>>(x);
    if (has_cache_ && xv == cached_x_) {
      r = cached_r_;
    } else {
      r = evaluator_.Residuals(PoseAt(x));
      cached_x_ = xv;
      cached_r_ = r;
      has_cache_ = true;
    }
    if (!r.allFinite()) return false;
    if (jacobians && jacobians[0]) {
      Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, 6, Eigen::RowMajor>> jac(jacobians[0],
                                                                                num_residuals(), 6);
      for (int j = 0; j < 6; ++j) {
        Eigen::Matrix<double, 6, 1> plus = xv;
        plus[j] += step_mm_;
        const Eigen::VectorXd r_plus = evaluator_.Residuals(PoseAt(plus.data()));
        if (central_) {
          Eigen::Matrix<double, 6, 1> minus = xv;
          minus[j] -= step_mm_;
          const Eigen::VectorXd r_minus = evaluator_.Residuals(PoseAt(minus.data()));
          jac.col(j) = (r_plus - r_minus) / (2.0 * step_mm_);
        } else {
          jac.col(j) = (r_plus - r) / step_mm_;
        }
      }
    }
    return true;
  }

 private:
  const DrrEvaluator& evaluator_;
  Pose base_;
  double lever_mm_;
  double step_mm_;
  bool central_;
  // Ceres evaluates the residuals of an accepted step again with the Jacobian.
  mutable bool has_cache_ = false;
  mutable Eigen::Matrix<double, 6, 1> cached_x_;
  mutable Eigen::VectorXd cached_r_;
};

// Reports progress and ends a level once an accepted step moves the CT by
// less than `tolerance_mm` (Ceres' own parameter tolerance is relative to |x|,
// which here is the distance from the level's start, not a scale).
class LevelCallback : public ceres::IterationCallback {
 public:
  LevelCallback(const ProgressCallback& progress, double begin, double end, int max_iterations,
                double tolerance_mm)
      : progress_(progress),
        begin_(begin),
        end_(end),
        max_iterations_(max_iterations),
        tolerance_mm_(tolerance_mm) {}
  ceres::CallbackReturnType operator()(const ceres::IterationSummary& summary) override {
    const double t = std::min(1.0, static_cast<double>(summary.iteration) / max_iterations_);
    // A cancellation (ssmx::Cancelled) must not unwind through Ceres: keep it
    // and abort the solve; RegisterRigid rethrows it.
    try {
      ReportProgress(progress_, begin_ + (end_ - begin_) * t, "rigid registration");
    } catch (...) {
      error_ = std::current_exception();
      return ceres::SOLVER_ABORT;
    }
    if (summary.iteration > 0 && summary.step_is_successful && summary.step_norm < tolerance_mm_) {
      return ceres::SOLVER_TERMINATE_SUCCESSFULLY;
    }
    return ceres::SOLVER_CONTINUE;
  }

 private:
  const ProgressCallback& progress_;
  double begin_, end_;
  int max_iterations_;
  double tolerance_mm_;

 public:
  std::exception_ptr error_;
};

// RMS distance of the non-zero box's points from its centre: the lever arm
// that turns rotations into millimetres.
double LeverArm(const drr::PreparedVolume& volume) {
  const VolumeGeometry& g = volume.geometry();
  const Eigen::Vector3d extent =
      ((volume.nonzero_max() - volume.nonzero_min()).cast<double>().array() + 1.0) *
      g.spacing_mm.array();
  return std::max(1.0, std::sqrt(extent.squaredNorm() / 12.0));
}

void CheckVolume(const drr::PreparedVolume& volume) {
  if (volume.empty() || (volume.nonzero_min().array() > volume.nonzero_max().array()).any()) {
    throw InvalidInput(
        "rigid registration: the volume has no non-zero voxel (an empty label or an all-air CT); "
        "check the label name and the CT");
  }
}

// "ap.png" when the view has a name, else "rigid registration: view 2".
std::string ViewName(const std::vector<RegistrationView>& views, size_t v) {
  if (!views[v].name.empty()) return views[v].name;
  return "rigid registration: view " + std::to_string(v + 1);
}

std::string NumberText(double value) {
  std::ostringstream s;
  s << value;
  return s.str();
}

}  // namespace

const char* SimilarityName(Similarity similarity) {
  return similarity == Similarity::kNcc ? "ncc" : "gc";
}

Similarity ParseSimilarity(const std::string& name) {
  if (name == "ncc" || name == "NCC") return Similarity::kNcc;
  if (name == "gc" || name == "GC" || name == "gradient-correlation") {
    return Similarity::kGradientCorrelation;
  }
  throw InvalidInput("similarity '" + name + "': expected ncc or gc");
}

bool RigidRegistrationOptions::IsValid(std::string* error) const {
  const auto fail = [&](const std::string& message) {
    if (error) *error = message;
    return false;
  };
  if (levels.empty()) return fail("levels: at least one level is needed");
  for (const RigidRegistrationLevel& level : levels) {
    if (level.detector_binning < 1 || level.detector_binning > 64) {
      return fail("detector_binning " + std::to_string(level.detector_binning) +
                  ": expected 1..64");
    }
    if (level.volume_shrink < 1 || level.volume_shrink > 16) {
      return fail("volume_shrink " + std::to_string(level.volume_shrink) + ": expected 1..16");
    }
  }
  if (max_iterations_per_level < 1 || max_iterations_per_level > 10000) {
    return fail("max_iterations_per_level " + std::to_string(max_iterations_per_level) +
                ": expected 1..10000");
  }
  if (!(function_tolerance >= 0.0) || !std::isfinite(function_tolerance)) {
    return fail("function_tolerance " + NumberText(function_tolerance) +
                ": expected a finite number >= 0");
  }
  if (!std::isfinite(roi_margin_mm)) return fail("roi_margin_mm must be finite");
  if (!(step_tolerance_pixels >= 0.0) || !std::isfinite(step_tolerance_pixels)) {
    return fail("step_tolerance_pixels " + NumberText(step_tolerance_pixels) +
                ": expected a finite number >= 0");
  }
  if (!(step_pixels > 0.0) || !(step_pixels <= 10.0)) {
    return fail("step_pixels " + NumberText(step_pixels) + ": expected a number in (0, 10]");
  }
  return projection.IsValid(error);
}

RegistrationView PrepareView(const drr::XrayImage& xray, const std::string& what) {
  const Image2D& image = xray.image;
  const drr::ProjectionGeometry& geometry = xray.sidecar.geometry;
  if (image.empty()) throw InvalidInput(what + ": the image is empty");
  if (image.rows != geometry.rows() || image.cols != geometry.cols()) {
    throw InvalidInput(what + ": the image is " + std::to_string(image.cols) + "x" +
                       std::to_string(image.rows) + " pixels but its geometry says " +
                       std::to_string(geometry.cols()) + "x" + std::to_string(geometry.rows()) +
                       "; use the sidecar written with this image");
  }
  if (image.pixels.size() != static_cast<size_t>(image.rows) * image.cols) {
    throw InvalidInput(what + ": the pixel buffer does not hold rows x cols values");
  }
  for (float p : image.pixels) {
    if (!std::isfinite(p)) throw InvalidInput(what + ": the image has non-finite pixels");
  }
  RegistrationView view;
  view.geometry = geometry;
  view.name = what;
  switch (image.quantity) {
    case ImageQuantity::kMask:
      throw InvalidInput(what +
                         ": a 0/1 mask cannot be registered by intensity; give an X-ray "
                         "(intensity or line-integral image)");
    case ImageQuantity::kIntensity: {
      float max_value = 0.0f;
      for (float p : image.pixels) {
        if (p < 0.0f) throw InvalidInput(what + ": an intensity image has negative pixels");
        max_value = std::max(max_value, p);
      }
      if (!(max_value > 0.0f)) throw InvalidInput(what + ": the intensity image is all zero");
      // NCC and GC are invariant to the offset log(I0), so any I0 will do.
      const double i0 = xray.sidecar.i0.value_or(max_value);
      view.line_integral = drr::LineIntegralFromIntensity(image, i0);
      break;
    }
    case ImageQuantity::kLineIntegral:
    case ImageQuantity::kPathLength:
      view.line_integral = image;
      view.line_integral.quantity = ImageQuantity::kLineIntegral;
      break;
  }
  const auto [lo, hi] =
      std::minmax_element(view.line_integral.pixels.begin(), view.line_integral.pixels.end());
  if (!(*hi > *lo)) {
    throw InvalidInput(what + ": the image has no contrast (every pixel is " + NumberText(*lo) +
                       "); nothing to register to");
  }
  return view;
}

drr::ProjectionGeometry BinnedGeometry(const drr::ProjectionGeometry& geometry, int binning) {
  if (binning < 1) throw InvalidInput("binning " + std::to_string(binning) + ": expected >= 1");
  if (binning == 1) return geometry;
  const int rows = geometry.rows() / binning;
  const int cols = geometry.cols() / binning;
  if (rows < 1 || cols < 1) {
    throw InvalidInput("binning " + std::to_string(binning) + " is larger than the " +
                       std::to_string(geometry.cols()) + "x" + std::to_string(geometry.rows()) +
                       " detector");
  }
  const double b = binning;
  Eigen::Matrix3d s;
  s << 1.0 / b, 0.0, -(b - 1.0) / (2.0 * b), 0.0, 1.0 / b, -(b - 1.0) / (2.0 * b), 0.0, 0.0, 1.0;
  return drr::ProjectionGeometry::FromMatrix(
      s * geometry.matrix(), rows, cols, geometry.pixel_spacing_u_mm() * b,
      geometry.pixel_spacing_v_mm() * b, geometry.source_to_isocenter_mm());
}

Image2D BinImage(const Image2D& image, int binning) {
  if (binning < 1) throw InvalidInput("binning " + std::to_string(binning) + ": expected >= 1");
  if (binning == 1) return image;
  const int rows = image.rows / binning;
  const int cols = image.cols / binning;
  if (rows < 1 || cols < 1) {
    throw InvalidInput("binning " + std::to_string(binning) + " is larger than the " +
                       std::to_string(image.cols) + "x" + std::to_string(image.rows) + " image");
  }
  Image2D out(rows, cols);
  out.quantity = image.quantity;
  out.pixel_spacing_u_mm = image.pixel_spacing_u_mm * binning;
  out.pixel_spacing_v_mm = image.pixel_spacing_v_mm * binning;
  const double inverse = 1.0 / (static_cast<double>(binning) * binning);
  for (int v = 0; v < rows; ++v) {
    for (int u = 0; u < cols; ++u) {
      double sum = 0.0;
      for (int dv = 0; dv < binning; ++dv) {
        for (int du = 0; du < binning; ++du) sum += image.at(v * binning + dv, u * binning + du);
      }
      out.at(v, u) = static_cast<float>(sum * inverse);
    }
  }
  return out;
}

Image2D ProjectPosed(const drr::PreparedVolume& volume, const Pose& pose,
                     const drr::ProjectionGeometry& geometry,
                     const drr::ProjectionOptions& options) {
  // pixel = P * world = P * world_from_ct * x: the unmoved CT seen through P * M.
  const drr::Matrix34d moved = geometry.matrix() * pose.Matrix();
  const drr::ProjectionGeometry posed = drr::ProjectionGeometry::FromMatrix(
      moved, geometry.rows(), geometry.cols(), geometry.pixel_spacing_u_mm(),
      geometry.pixel_spacing_v_mm(), geometry.source_to_isocenter_mm());
  return drr::Project(volume, posed, options);
}

double ImageSimilarity(const Image2D& a, const Image2D& b, Similarity similarity) {
  return ImageSimilarity(a, b, similarity, std::vector<uint8_t>{});
}

double ImageSimilarity(const Image2D& a, const Image2D& b, Similarity similarity,
                       const std::vector<uint8_t>& roi) {
  if (a.rows != b.rows || a.cols != b.cols) {
    throw InvalidInput("image similarity: the images differ in size (" + std::to_string(a.cols) +
                       "x" + std::to_string(a.rows) + " and " + std::to_string(b.cols) + "x" +
                       std::to_string(b.rows) + ")");
  }
  if (!roi.empty() && roi.size() != a.pixels.size()) {
    throw InvalidInput("image similarity: the region of interest has " +
                       std::to_string(roi.size()) + " pixels, the images " +
                       std::to_string(a.pixels.size()));
  }
  return Features(a, similarity, roi).dot(Features(b, similarity, roi));
}

Volume MoveVolume(const Volume& volume, const Pose& pose) {
  if (std::abs(pose.scale - 1.0) > 1e-12) {
    throw InvalidInput("move volume: the pose has scale " + NumberText(pose.scale) +
                       "; only a rigid pose (scale 1) keeps the voxel grid");
  }
  VolumeGeometry g = volume.geometry();
  g.origin_mm = pose.Apply(g.origin_mm);
  g.direction = pose.RotationMatrix() * g.direction;
  Volume out(g, volume.voxel_type());
  const size_t n = static_cast<size_t>(volume.num_voxels());
  if (volume.voxel_type() == VoxelType::kInt16) {
    std::memcpy(out.data<int16_t>(), volume.data<int16_t>(), n * sizeof(int16_t));
  } else {
    std::memcpy(out.data<float>(), volume.data<float>(), n * sizeof(float));
  }
  return out;
}

drr::PreparedVolume ShrinkVolume(const drr::PreparedVolume& volume, int shrink) {
  if (shrink < 1 || shrink > 16) {
    throw InvalidInput("shrink volume: factor " + std::to_string(shrink) + ": expected 1..16");
  }
  CheckVolume(volume);
  const VolumeGeometry& g = volume.geometry();
  VolumeGeometry out_geometry = g;
  for (int a = 0; a < 3; ++a) out_geometry.size[a] = (g.size[a] + shrink - 1) / shrink;
  out_geometry.spacing_mm = g.spacing_mm * shrink;
  out_geometry.origin_mm = g.origin_mm + g.direction *
                                             (g.spacing_mm * (0.5 * (shrink - 1))).asDiagonal() *
                                             Eigen::Vector3d::Ones();
  Volume out(out_geometry, VoxelType::kFloat32);
  float* o = out.data<float>();
  const float* in = volume.data();
  const double inverse = 1.0 / (static_cast<double>(shrink) * shrink * shrink);
  const Eigen::Vector3i n = g.size;
  const Eigen::Vector3i m = out_geometry.size;
  std::vector<double> sums(static_cast<size_t>(m.x()) * m.y() * m.z(), 0.0);
  for (int k = 0; k < n.z(); ++k) {
    for (int j = 0; j < n.y(); ++j) {
      const float* row = in + static_cast<size_t>(n.x()) * (j + static_cast<size_t>(n.y()) * k);
      double* out_row = sums.data() + static_cast<size_t>(m.x()) *
                                          (j / shrink + static_cast<size_t>(m.y()) * (k / shrink));
      for (int i = 0; i < n.x(); ++i) out_row[i / shrink] += row[i];
    }
  }
  for (size_t i = 0; i < sums.size(); ++i) o[i] = static_cast<float>(sums[i] * inverse);
  return drr::PreparedVolume::FromAttenuation(out);
}

drr::PreparedVolume VolumeOutsideMask(const Volume& ct, const Volume& mask,
                                      double mu_water_per_mm) {
  Volume outside(mask.geometry(), VoxelType::kFloat32);
  float* o = outside.data<float>();
  const Volume mask_float = mask.ToFloat();
  const float* m = mask_float.data<float>();
  for (int64_t i = 0; i < mask.num_voxels(); ++i) o[i] = m[i] != 0.0f ? 0.0f : 1.0f;
  return drr::PreparedVolume::FromHounsfieldMasked(ct, outside, mu_water_per_mm);
}

Eigen::Vector3d VolumeCenter(const drr::PreparedVolume& volume) {
  CheckVolume(volume);
  const Eigen::Vector3d ijk =
      0.5 * (volume.nonzero_min().cast<double>() + volume.nonzero_max().cast<double>());
  return volume.geometry().IndexToWorld(ijk);
}

Eigen::MatrixX3d TargetPoints(const drr::PreparedVolume& volume, float min_mu_per_mm,
                              int max_points) {
  if (max_points < 1) {
    throw InvalidInput("target points: max_points " + std::to_string(max_points) +
                       ": expected >= 1");
  }
  CheckVolume(volume);
  const VolumeGeometry& g = volume.geometry();
  const float* mu = volume.data();
  const int64_t n = g.NumVoxels();
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += mu[i] >= min_mu_per_mm && mu[i] > 0.0f;
  if (count == 0) {
    throw InvalidInput("target points: no voxel has an attenuation of at least " +
                       NumberText(min_mu_per_mm) + " /mm");
  }
  const int64_t stride = (count + max_points - 1) / max_points;
  Eigen::MatrixX3d points((count + stride - 1) / stride, 3);
  int64_t seen = 0;
  Eigen::Index row = 0;
  const int64_t nx = g.size.x(), ny = g.size.y();
  for (int64_t i = 0; i < n; ++i) {
    if (!(mu[i] >= min_mu_per_mm && mu[i] > 0.0f)) continue;
    if (seen++ % stride != 0) continue;
    const Eigen::Vector3d ijk(static_cast<double>(i % nx), static_cast<double>((i / nx) % ny),
                              static_cast<double>(i / (nx * ny)));
    points.row(row++) = g.IndexToWorld(ijk).transpose();
  }
  return points;
}

Pose PerturbPose(const Pose& pose, double translation_mm, double rotation_rad, uint64_t seed) {
  if (!std::isfinite(translation_mm) || !std::isfinite(rotation_rad)) {
    throw InvalidInput("perturb pose: the step sizes must be finite");
  }
  std::mt19937_64 engine(seed);
  constexpr double kTwoPi = 6.283185307179586476925;
  // Uniform in (0, 1] from the top 53 bits, then Box-Muller normals: a
  // normalised 3D normal vector is a uniform direction.
  const auto uniform = [&] { return ((engine() >> 11) + 1.0) * 0x1.0p-53; };
  const auto direction = [&] {
    Eigen::Vector3d d;
    do {
      for (int a = 0; a < 3; ++a) {
        d[a] = std::sqrt(-2.0 * std::log(uniform())) * std::cos(kTwoPi * uniform());
      }
    } while (d.norm() < 1e-9);
    return Eigen::Vector3d(d.normalized());
  };
  const Eigen::Vector3d axis = direction();
  const Eigen::Vector3d shift = direction();
  return Incremented(pose, axis * rotation_rad, shift * translation_mm);
}

std::string RigidRegistrationSummary::BriefReport() const {
  std::ostringstream s;
  s << "rigid registration (" << SimilarityName(similarity) << "): score " << initial_score
    << " -> " << final_score << ", " << iterations << " iterations over " << levels.size()
    << " levels, " << drr_count << " DRRs, " << seconds << " s";
  if (initial_mtre_mm && final_mtre_mm) {
    s << ", mTRE " << *initial_mtre_mm << " -> " << *final_mtre_mm << " mm";
  }
  return s.str();
}

RigidRegistrationSummary RegisterRigid(const drr::PreparedVolume& volume,
                                       const std::vector<RegistrationView>& views,
                                       const Pose& initial, const RigidRegistrationOptions& options,
                                       const std::optional<RegistrationTruth>& truth) {
  const Clock::time_point start = Clock::now();
  std::string problem;
  if (!options.IsValid(&problem)) throw InvalidInput("rigid registration options: " + problem);
  if (views.empty()) throw InvalidInput("rigid registration: no X-ray view was given");
  CheckVolume(volume);
  if (std::abs(initial.scale - 1.0) > 1e-12) {
    throw InvalidInput("rigid registration: the start pose has scale " + NumberText(initial.scale) +
                       "; a rigid pose needs scale 1");
  }
  if (!initial.rotation.allFinite() || !initial.translation.allFinite() ||
      !initial.center.allFinite()) {
    throw InvalidInput("rigid registration: the start pose has non-finite values");
  }
  for (size_t v = 0; v < views.size(); ++v) {
    const Image2D& image = views[v].line_integral;
    if (image.rows != views[v].geometry.rows() || image.cols != views[v].geometry.cols() ||
        image.pixels.size() != static_cast<size_t>(image.rows) * image.cols || image.empty()) {
      throw InvalidInput(ViewName(views, v) +
                         ": the image size disagrees with its geometry; use PrepareView");
    }
  }
  if (options.background) {
    CheckVolume(*options.background);
    if (std::abs(options.background_pose.scale - 1.0) > 1e-12) {
      throw InvalidInput("rigid registration: the background pose has scale " +
                         NumberText(options.background_pose.scale) + "; it must be 1");
    }
  }
  if (truth && truth->targets.rows() == 0) {
    throw InvalidInput("rigid registration: the truth has no target points for mTRE");
  }
  const auto mtre = [&](const Pose& pose) -> std::optional<double> {
    if (!truth) return std::nullopt;
    return MeanTargetRegistrationError(pose, truth->pose, truth->targets);
  };

  RigidRegistrationSummary summary;
  summary.similarity = options.similarity;
  summary.initial_mtre_mm = mtre(initial);
  const double lever_mm = LeverArm(volume);
  Pose pose = initial;
  const size_t num_levels = options.levels.size();
  for (size_t l = 0; l < num_levels; ++l) {
    const Clock::time_point level_start = Clock::now();
    const RigidRegistrationLevel& spec = options.levels[l];
    drr::PreparedVolume shrunk;
    LevelData level;
    drr::PreparedVolume shrunk_background;
    const drr::PreparedVolume* background = options.background;
    if (background && spec.volume_shrink > 1) {
      shrunk_background = ShrinkVolume(*background, spec.volume_shrink);
      background = &shrunk_background;
    }
    if (spec.volume_shrink > 1) {
      shrunk = ShrinkVolume(volume, spec.volume_shrink);
      level.volume = &shrunk;
    } else {
      level.volume = &volume;
    }
    double pixel_at_center_mm = std::numeric_limits<double>::infinity();
    for (size_t v = 0; v < views.size(); ++v) {
      const std::string what = ViewName(views, v);
      const RegistrationView& view = views[v];
      if (view.geometry.rows() / spec.detector_binning < 3 ||
          view.geometry.cols() / spec.detector_binning < 3) {
        throw InvalidInput(what + ": level " + std::to_string(l + 1) + " bins the " +
                           std::to_string(view.geometry.cols()) + "x" +
                           std::to_string(view.geometry.rows()) + " detector by " +
                           std::to_string(spec.detector_binning) +
                           ", leaving fewer than 3x3 pixels; use a smaller binning");
      }
      level.geometries.push_back(BinnedGeometry(view.geometry, spec.detector_binning));
      const Image2D binned = BinImage(view.line_integral, spec.detector_binning);
      const drr::ProjectionGeometry& g = level.geometries.back();
      level.rois.emplace_back();
      level.backgrounds.emplace_back();
      if (background) {
        level.backgrounds.back() =
            ProjectPosed(*background, options.background_pose, g, options.projection);
      }
      if (options.roi_margin_mm >= 0.0) {
        const int radius = static_cast<int>(std::ceil(
            options.roi_margin_mm / std::min(g.pixel_spacing_u_mm(), g.pixel_spacing_v_mm())));
        level.rois.back() =
            Footprint(ProjectPosed(*level.volume, pose, g, options.projection), radius);
      }
      level.xray_features.push_back(Features(binned, options.similarity, level.rois.back()));
      level.num_residuals += level.xray_features.back().size();
      double depth = 0.0;
      g.Project(pose.Apply(pose.center), &depth);
      if (depth <= 0.0) {
        throw InvalidInput(what +
                           ": the CT centre lies behind the X-ray source at the start "
                           "pose; check the view geometry or the start pose");
      }
      pixel_at_center_mm =
          std::min(pixel_at_center_mm, std::max(g.pixel_spacing_u_mm(), g.pixel_spacing_v_mm()) *
                                           depth / g.source_to_detector_mm());
    }
    int drr_count = 0;
    const DrrEvaluator evaluator(level, options.similarity, options.projection, &drr_count);
    std::vector<double> start_scores;
    evaluator.Residuals(pose, &start_scores);
    for (size_t v = 0; v < views.size(); ++v) {
      if (start_scores[v] == 0.0) {
        throw InvalidInput(ViewName(views, v) +
                           ": the DRR of the volume at the start pose has no contrast (the "
                           "volume does not project onto the detector); check the geometry or "
                           "give a start pose");
      }
    }
    const double step_mm = options.step_pixels * pixel_at_center_mm;
    auto* cost = new DrrCostFunction(evaluator, pose, level.num_residuals, lever_mm, step_mm,
                                     options.central_differences);
    double x[6] = {0, 0, 0, 0, 0, 0};
    ceres::Problem problem_ceres;
    problem_ceres.AddResidualBlock(cost, nullptr, x);
    ceres::Solver::Options solver;
    solver.minimizer_type = ceres::TRUST_REGION;
    solver.trust_region_strategy_type = ceres::LEVENBERG_MARQUARDT;
    solver.linear_solver_type = ceres::DENSE_NORMAL_CHOLESKY;
    solver.max_num_iterations = options.max_iterations_per_level;
    solver.function_tolerance = options.function_tolerance;
    solver.gradient_tolerance = 1e-12;
    solver.parameter_tolerance = 1e-12;  // LevelCallback stops on the step in mm
    solver.logging_type = ceres::SILENT;
    solver.minimizer_progress_to_stdout = false;
    solver.num_threads = 1;
    LevelCallback callback(options.progress, static_cast<double>(l) / num_levels,
                           static_cast<double>(l + 1) / num_levels,
                           options.max_iterations_per_level,
                           options.step_tolerance_pixels * pixel_at_center_mm);
    solver.callbacks.push_back(&callback);
    ceres::Solver::Summary ceres_summary;
    ceres::Solve(solver, &problem_ceres, &ceres_summary);
    if (callback.error_) std::rethrow_exception(callback.error_);
    if (!ceres_summary.IsSolutionUsable()) {
      throw InternalError("rigid registration: Ceres failed at level " + std::to_string(l + 1) +
                          ": " + ceres_summary.message);
    }
    pose = cost->PoseAt(x);
    std::vector<double> end_scores;
    evaluator.Residuals(pose, &end_scores);

    RigidRegistrationLevelSummary level_summary;
    level_summary.level = spec;
    level_summary.iterations =
        ceres_summary.num_successful_steps + ceres_summary.num_unsuccessful_steps;
    const auto mean = [](const std::vector<double>& s) {
      double sum = 0.0;
      for (double v : s) sum += v;
      return sum / static_cast<double>(s.size());
    };
    level_summary.initial_score = mean(start_scores);
    level_summary.final_score = mean(end_scores);
    level_summary.mtre_mm = mtre(pose);
    level_summary.seconds = Seconds(level_start, Clock::now());
    SSMX_LOG(kDebug) << "rigid registration level " << l + 1 << " (binning "
                     << spec.detector_binning << ", shrink " << spec.volume_shrink << "): score "
                     << level_summary.initial_score << " -> " << level_summary.final_score << " in "
                     << level_summary.iterations << " iterations, step " << step_mm << " mm, "
                     << ceres_summary.message;
    summary.iterations += level_summary.iterations;
    summary.drr_count += drr_count;
    summary.levels.push_back(level_summary);
    if (l + 1 == num_levels) {
      // The finest level also scores the start pose, for the report.
      std::vector<double> initial_scores;
      evaluator.Residuals(initial, &initial_scores);
      summary.initial_score = mean(initial_scores);
      summary.final_score = level_summary.final_score;
      summary.view_scores = end_scores;
      summary.drr_count += static_cast<int>(views.size());
    }
  }
  summary.pose = pose;
  summary.final_mtre_mm = mtre(pose);
  summary.seconds = Seconds(start, Clock::now());
  return summary;
}

}  // namespace ssmx::registration
