#include "ssmx/ssm/alignment.h"

#include <Eigen/LU>
#include <Eigen/SVD>
#include <cmath>

#include "ssmx/core/error.h"

namespace ssmx::ssm {

const char* AlignmentKindName(AlignmentKind kind) {
  switch (kind) {
    case AlignmentKind::kNone: return "none";
    case AlignmentKind::kRigid: return "rigid";
    case AlignmentKind::kSimilarity: return "similarity";
  }
  return "none";
}

AlignmentKind ParseAlignmentKind(const std::string& name, const std::string& what) {
  for (AlignmentKind k :
       {AlignmentKind::kNone, AlignmentKind::kRigid, AlignmentKind::kSimilarity}) {
    if (name == AlignmentKindName(k)) return k;
  }
  throw InvalidInput(what + ": unknown alignment '" + name + "'; use rigid, similarity or none");
}

Eigen::Matrix4d SimilarityTransform::Matrix() const {
  Eigen::Matrix4d m = Eigen::Matrix4d::Identity();
  m.topLeftCorner<3, 3>() = scale * rotation;
  m.topRightCorner<3, 1>() = translation;
  return m;
}

MatrixX3dR SimilarityTransform::Apply(const Eigen::Ref<const MatrixX3dR>& points) const {
  MatrixX3dR out = (points * (scale * rotation).transpose());
  out.rowwise() += translation.transpose();
  return out;
}

SimilarityTransform Umeyama(const Eigen::Ref<const MatrixX3dR>& source,
                            const Eigen::Ref<const MatrixX3dR>& target, bool with_scaling) {
  if (source.rows() != target.rows()) {
    throw InvalidInput("Umeyama: source has " + std::to_string(source.rows()) +
                       " points but target has " + std::to_string(target.rows()) +
                       "; the point sets must correspond row by row");
  }
  if (source.rows() < 3) throw InvalidInput("Umeyama: needs at least 3 corresponding points");
  const double n = static_cast<double>(source.rows());
  const Eigen::RowVector3d mu_x = source.colwise().mean();
  const Eigen::RowVector3d mu_y = target.colwise().mean();
  const MatrixX3dR xc = source.rowwise() - mu_x;
  const MatrixX3dR yc = target.rowwise() - mu_y;
  const double sigma2_x = xc.squaredNorm() / n;
  if (!(sigma2_x > 0)) throw InvalidInput("Umeyama: the source points all coincide");
  // Cross-covariance Sigma_xy = (1/n) sum (y - mu_y)(x - mu_x)^T (Umeyama eq. 38).
  const Eigen::Matrix3d sigma_xy = yc.transpose() * xc / n;
  Eigen::JacobiSVD<Eigen::Matrix3d> svd(sigma_xy, Eigen::ComputeFullU | Eigen::ComputeFullV);
  Eigen::Vector3d s = Eigen::Vector3d::Ones();
  if (svd.matrixU().determinant() * svd.matrixV().determinant() < 0) s(2) = -1;  // eq. 39
  SimilarityTransform t;
  t.rotation = svd.matrixU() * s.asDiagonal() * svd.matrixV().transpose();     // eq. 40
  t.scale = with_scaling ? svd.singularValues().dot(s) / sigma2_x : 1.0;       // eq. 42
  t.translation = mu_y.transpose() - t.scale * t.rotation * mu_x.transpose();  // eq. 41
  return t;
}

namespace {

double CentroidSize(const MatrixX3dR& x) {
  return std::sqrt((x.rowwise() - x.colwise().mean()).squaredNorm());
}

}  // namespace

ProcrustesResult GeneralizedProcrustes(const std::vector<MatrixX3dR>& shapes,
                                       const ProcrustesOptions& options) {
  if (shapes.empty()) throw InvalidInput("Procrustes: no shapes");
  for (size_t i = 1; i < shapes.size(); ++i) {
    if (shapes[i].rows() != shapes[0].rows()) {
      throw InvalidInput("Procrustes: shape " + std::to_string(i) + " has " +
                         std::to_string(shapes[i].rows()) + " points, shape 0 has " +
                         std::to_string(shapes[0].rows()) + "; shapes must be in correspondence");
    }
  }
  if (options.max_iterations < 1) throw InvalidInput("Procrustes: max_iterations must be >= 1");
  ProcrustesResult result;
  result.aligned = shapes;
  result.transforms.assign(shapes.size(), SimilarityTransform{});
  auto compute_mean = [&]() {
    MatrixX3dR mean = MatrixX3dR::Zero(shapes[0].rows(), 3);
    for (const MatrixX3dR& a : result.aligned) mean += a;
    return MatrixX3dR(mean / static_cast<double>(shapes.size()));
  };
  if (options.kind == AlignmentKind::kNone || shapes.size() == 1) {
    result.mean = compute_mean();
    return result;
  }
  const bool scaling = options.kind == AlignmentKind::kSimilarity;
  double mean_size = 0;
  for (const MatrixX3dR& s : shapes) mean_size += CentroidSize(s);
  mean_size /= static_cast<double>(shapes.size());

  MatrixX3dR mean = shapes[0];
  const double rms_scale = 1.0 / std::sqrt(static_cast<double>(shapes[0].rows()));
  for (int it = 1; it <= options.max_iterations; ++it) {
    for (size_t i = 0; i < shapes.size(); ++i) {
      result.transforms[i] = Umeyama(shapes[i], mean, scaling);
      result.aligned[i] = result.transforms[i].Apply(shapes[i]);
    }
    MatrixX3dR new_mean = compute_mean();
    // Fix the gauge: the mean's size (similarity) and its pose (that of shapes[0]).
    if (scaling) {
      const Eigen::RowVector3d c = new_mean.colwise().mean();
      new_mean = ((new_mean.rowwise() - c) * (mean_size / CentroidSize(new_mean))).rowwise() + c;
    }
    new_mean = Umeyama(new_mean, shapes[0], false).Apply(new_mean);
    result.mean_change_mm = (new_mean - mean).norm() * rms_scale;
    result.iterations = it;
    mean = std::move(new_mean);
    if (result.mean_change_mm < options.tolerance_mm) break;
  }
  // Final alignment to the converged mean, so aligned[i] and transforms[i] agree with it.
  for (size_t i = 0; i < shapes.size(); ++i) {
    result.transforms[i] = Umeyama(shapes[i], mean, scaling);
    result.aligned[i] = result.transforms[i].Apply(shapes[i]);
  }
  result.mean = compute_mean();
  return result;
}

}  // namespace ssmx::ssm
