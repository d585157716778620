#include "ssmx/ssm/shape_model.h"

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>
#include <Eigen/QR>
#include <Eigen/SVD>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>
#include <sstream>

#include "internal/random.h"
#include "ssmx/core/error.h"

namespace ssmx::ssm {

namespace {

// #V by 3 row-major <-> the stacked 3V vector (x0, y0, z0, x1, ...), same memory order.
Eigen::VectorXd Stack(const Eigen::Ref<const MatrixX3dR>& points) {
  Eigen::VectorXd v(points.rows() * 3);
  for (int64_t i = 0; i < points.rows(); ++i) v.segment<3>(3 * i) = points.row(i).transpose();
  return v;
}

MatrixX3dR Unstack(const Eigen::VectorXd& v) {
  MatrixX3dR points(v.size() / 3, 3);
  for (int64_t i = 0; i < points.rows(); ++i) points.row(i) = v.segment<3>(3 * i).transpose();
  return points;
}

std::string NowString() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a %b %d %H:%M:%S UTC %Y", &tm);
  return buf;
}

}  // namespace

ShapeModel::ShapeModel(Eigen::VectorXd mean, Eigen::MatrixXd basis, Eigen::VectorXd variances,
                       double noise_variance, MatrixX3iR faces)
    : mean_(std::move(mean)),
      basis_(std::move(basis)),
      variances_(std::move(variances)),
      noise_variance_(noise_variance),
      faces_(std::move(faces)) {
  if (mean_.size() == 0 || mean_.size() % 3 != 0) {
    throw InvalidInput("shape model: the mean has " + std::to_string(mean_.size()) +
                       " values, expected 3 per vertex");
  }
  if (basis_.rows() != mean_.size() || basis_.cols() != variances_.size()) {
    throw InvalidInput("shape model: the basis is " + std::to_string(basis_.rows()) + " by " +
                       std::to_string(basis_.cols()) + ", expected " +
                       std::to_string(mean_.size()) + " by " + std::to_string(variances_.size()) +
                       " (3V by the number of variances)");
  }
  if (!mean_.allFinite() || !basis_.allFinite() || !variances_.allFinite() ||
      !std::isfinite(noise_variance_)) {
    throw InvalidInput("shape model: mean, basis or variances hold NaN or Inf");
  }
  if (variances_.size() > 0 && variances_.minCoeff() < 0) {
    throw InvalidInput("shape model: negative variance " + std::to_string(variances_.minCoeff()));
  }
  if (noise_variance_ < 0) {
    throw InvalidInput("shape model: negative noise variance " + std::to_string(noise_variance_));
  }
  if (faces_.size() > 0 && (faces_.minCoeff() < 0 || faces_.maxCoeff() >= num_vertices())) {
    throw InvalidInput("shape model: a face refers to a vertex outside 0.." +
                       std::to_string(num_vertices() - 1));
  }
}

Eigen::MatrixXd ShapeModel::ScaledBasis() const {
  return basis_ * variances_.cwiseSqrt().asDiagonal();
}

void ShapeModel::SetLandmarks(std::map<std::string, int> landmarks) {
  for (const auto& [name, v] : landmarks) {
    if (v < 0 || v >= num_vertices()) {
      throw InvalidInput("shape model: landmark '" + name + "' refers to vertex " +
                         std::to_string(v) + " but the model has " +
                         std::to_string(num_vertices()) + " vertices");
    }
  }
  landmarks_ = std::move(landmarks);
}

TriangleMesh ShapeModel::MeanMesh() const {
  TriangleMesh mesh;
  mesh.vertices = Unstack(mean_);
  mesh.faces = faces_;
  return mesh;
}

MatrixX3dR ShapeModel::Instance(const Eigen::Ref<const Eigen::VectorXd>& coefficients) const {
  const int k = static_cast<int>(coefficients.size());
  if (k > num_modes()) {
    throw InvalidInput("shape model: " + std::to_string(k) + " coefficients for a model of " +
                       std::to_string(num_modes()) + " modes");
  }
  const Eigen::VectorXd scaled = coefficients.cwiseProduct(variances_.head(k).cwiseSqrt());
  return Unstack(mean_ + basis_.leftCols(k) * scaled);
}

TriangleMesh ShapeModel::InstanceMesh(const Eigen::Ref<const Eigen::VectorXd>& coefficients) const {
  TriangleMesh mesh;
  mesh.vertices = Instance(coefficients);
  mesh.faces = faces_;
  return mesh;
}

Eigen::VectorXd ShapeModel::Coefficients(const Eigen::Ref<const MatrixX3dR>& points) const {
  if (points.rows() != num_vertices()) {
    throw InvalidInput("shape model: the shape has " + std::to_string(points.rows()) +
                       " vertices but the model has " + std::to_string(num_vertices()) +
                       "; shapes must be in correspondence with the model");
  }
  const Eigen::MatrixXd w = ScaledBasis();
  Eigen::MatrixXd m = w.transpose() * w;
  m.diagonal().array() += noise_variance_;
  // Complete orthogonal decomposition: exact for full rank, minimum-norm for
  // zero-variance modes (which then get coefficient 0).
  return m.completeOrthogonalDecomposition().solve(w.transpose() * (Stack(points) - mean_));
}

MatrixX3dR ShapeModel::Reconstruct(const Eigen::Ref<const MatrixX3dR>& points, int modes) const {
  const Eigen::VectorXd a = Coefficients(points);
  const int k = modes < 0 ? num_modes() : std::min(modes, num_modes());
  return Instance(a.head(k));
}

double ShapeModel::MahalanobisDistance(const Eigen::Ref<const MatrixX3dR>& points) const {
  return Coefficients(points).norm();
}

std::vector<MatrixX3dR> ShapeModel::Sample(int n, uint64_t seed, bool add_noise,
                                           Eigen::MatrixXd* coefficients) const {
  if (n < 0) throw InvalidInput("shape model: sample count must be >= 0");
  std::mt19937_64 rng(seed);
  std::vector<MatrixX3dR> samples;
  samples.reserve(n);
  if (coefficients) coefficients->resize(n, num_modes());
  const double noise_sd = std::sqrt(noise_variance_);
  for (int i = 0; i < n; ++i) {
    Eigen::VectorXd a(num_modes());
    for (int k = 0; k < num_modes(); ++k) a(k) = ::ssmx::internal::StandardNormal(rng);
    if (coefficients) coefficients->row(i) = a.transpose();
    MatrixX3dR x = Instance(a);
    if (add_noise && noise_sd > 0) {
      for (int64_t r = 0; r < x.rows(); ++r) {
        for (int c = 0; c < 3; ++c) x(r, c) += noise_sd * ::ssmx::internal::StandardNormal(rng);
      }
    }
    samples.push_back(std::move(x));
  }
  return samples;
}

Eigen::Matrix3d ShapeModel::VertexCovariance(int64_t v) const {
  if (v < 0 || v >= num_vertices()) {
    throw InvalidInput("shape model: vertex " + std::to_string(v) + " outside 0.." +
                       std::to_string(num_vertices() - 1));
  }
  const Eigen::MatrixXd wv = basis_.middleRows(3 * v, 3) * variances_.cwiseSqrt().asDiagonal();
  return wv * wv.transpose() + noise_variance_ * Eigen::Matrix3d::Identity();
}

Eigen::VectorXd ShapeModel::PerVertexVariance() const {
  const Eigen::MatrixXd w = ScaledBasis();
  Eigen::VectorXd out(num_vertices());
  for (int64_t v = 0; v < num_vertices(); ++v) {
    out(v) = w.middleRows(3 * v, 3).squaredNorm() + 3 * noise_variance_;
  }
  return out;
}

ShapeModel ShapeModel::Truncated(int modes) const {
  if (modes < 1 || modes > num_modes()) {
    throw InvalidInput("shape model: cannot keep " + std::to_string(modes) + " modes of " +
                       std::to_string(num_modes()));
  }
  ShapeModel out(mean_, basis_.leftCols(modes), variances_.head(modes), noise_variance_, faces_);
  out.landmarks_ = landmarks_;
  out.info_ = info_;
  if (out.info_.scores.rows() > modes) {
    out.info_.scores = Eigen::MatrixXd(info_.scores.topRows(modes));
  }
  return out;
}

int ShapeModel::ModesForVarianceFraction(double fraction) const {
  if (!(fraction > 0 && fraction <= 1)) {
    throw InvalidInput("shape model: variance fraction " + std::to_string(fraction) +
                       " outside (0, 1]");
  }
  const double total = variances_.sum();
  double cumulative = 0;
  for (int k = 0; k < num_modes(); ++k) {
    cumulative += variances_(k);
    // A relative slack so that fraction 1 is reached despite rounding.
    if (cumulative >= fraction * total * (1 - 1e-12)) return k + 1;
  }
  return std::max(1, num_modes());
}

std::string ShapeModelBuildOptions::IsValid() const {
  if (modes < 0) return "modes must be >= 0 (0: choose by variance_fraction)";
  if (!(variance_fraction > 0 && variance_fraction <= 1)) {
    return "variance fraction " + std::to_string(variance_fraction) + " outside (0, 1]";
  }
  if (!(noise_variance >= 0) || !std::isfinite(noise_variance)) {
    return "noise variance must be a finite value >= 0";
  }
  return "";
}

std::string ShapeModelBuildReport::BriefReport() const {
  std::ostringstream os;
  os << "shape model from " << shapes << " shapes: " << modes_kept << " of " << modes_available
     << " modes, " << (variance_total > 0 ? 100.0 * variance_kept / variance_total : 0.0)
     << " % of the variance (" << variance_kept << " of " << variance_total << " mm^2)";
  if (procrustes_iterations > 0) os << ", Procrustes " << procrustes_iterations << " iterations";
  return os.str();
}

ShapeModel BuildShapeModel(const std::vector<TriangleMesh>& meshes,
                           const ShapeModelBuildOptions& options, ShapeModelBuildReport* report) {
  if (const std::string e = options.IsValid(); !e.empty()) {
    throw InvalidInput("build shape model: " + e);
  }
  const int n = static_cast<int>(meshes.size());
  if (n < 2)
    throw InvalidInput("build shape model: needs at least 2 shapes, got " + std::to_string(n));
  auto name = [&](int i) {
    return i < static_cast<int>(options.names.size()) ? options.names[i]
                                                      : "shape " + std::to_string(i);
  };
  std::vector<MatrixX3dR> shapes;
  shapes.reserve(n);
  for (int i = 0; i < n; ++i) {
    const TriangleMesh& m = meshes[i];
    if (m.num_vertices() != meshes[0].num_vertices()) {
      throw InvalidInput(name(i) + ": has " + std::to_string(m.num_vertices()) + " vertices but " +
                         name(0) + " has " + std::to_string(meshes[0].num_vertices()) +
                         "; build-model needs meshes in correspondence (run ssmx correspond)");
    }
    if (m.faces.rows() != meshes[0].faces.rows() || m.faces != meshes[0].faces) {
      throw InvalidInput(name(i) + ": its faces differ from those of " + name(0) +
                         "; build-model needs meshes in correspondence (same vertices and faces)");
    }
    if (!m.vertices.allFinite()) throw InvalidInput(name(i) + ": has NaN or Inf coordinates");
    shapes.push_back(m.vertices);
  }
  if (meshes[0].num_vertices() < 3) throw InvalidInput(name(0) + ": needs at least 3 vertices");

  ProcrustesOptions procrustes;
  procrustes.kind = options.alignment;
  const ProcrustesResult aligned = GeneralizedProcrustes(shapes, procrustes);

  const int64_t dim = meshes[0].num_vertices() * 3;
  Eigen::MatrixXd x(n, dim);  // n by 3V, one stacked shape per row
  for (int i = 0; i < n; ++i) x.row(i) = Stack(aligned.aligned[i]).transpose();
  const Eigen::VectorXd mean = x.colwise().mean().transpose();
  x.rowwise() -= mean.transpose();
  // Thin SVD of the centred data matrix X = U S V^T (V is 3V by n), computed
  // as the SVD of X^T (3V by n, tall) preconditioned by a Householder QR:
  // X^T = Q R, R = U_R S V_R^T, so V = Q U_R. Cost O(3V n^2); no 3V by 3V matrix.
  const Eigen::MatrixXd xt = x.transpose();
  const Eigen::HouseholderQR<Eigen::MatrixXd> qr(xt);
  const int64_t m = std::min<int64_t>(dim, n);
  const Eigen::MatrixXd r = qr.matrixQR().topRows(m).triangularView<Eigen::Upper>();
  const Eigen::JacobiSVD<Eigen::MatrixXd> small_svd(r, Eigen::ComputeThinU);
  Eigen::MatrixXd v_thin = Eigen::MatrixXd::Zero(dim, m);
  v_thin.topRows(m) = small_svd.matrixU();
  v_thin.applyOnTheLeft(qr.householderQ());
  const Eigen::VectorXd sample_variances =
      small_svd.singularValues().array().square() / static_cast<double>(n - 1);
  const double total = sample_variances.sum();
  // Non-zero modes: the centred data have rank <= n - 1; drop the numerically null ones.
  int available = 0;
  const double floor = std::max(total, 1e-300) * 1e-12;
  while (available < sample_variances.size() && available < n - 1 &&
         sample_variances(available) > floor) {
    ++available;
  }
  if (available == 0)
    throw InvalidInput("build shape model: all shapes are identical after alignment");
  int keep = available;
  if (options.modes > 0) {
    keep = std::min(options.modes, available);
  } else if (options.variance_fraction < 1) {
    double cumulative = 0;
    for (keep = 0; keep < available;) {
      cumulative += sample_variances(keep++);
      if (cumulative >= options.variance_fraction * total) break;
    }
  }
  while (keep > 0 && sample_variances(keep - 1) - options.noise_variance <= 0) --keep;
  if (keep == 0) {
    throw InvalidInput("build shape model: the noise variance " +
                       std::to_string(options.noise_variance) +
                       " mm^2 exceeds every mode's variance; lower it");
  }
  Eigen::VectorXd variances = sample_variances.head(keep).array() - options.noise_variance;
  ShapeModel model(mean, v_thin.leftCols(keep), variances, options.noise_variance, meshes[0].faces);

  ModelInfo& info = model.mutable_info();
  info.build_time = NowString();
  // Scores of the training shapes: the coefficients a = S^-1/2 V^T (x - mean) (noise-free case).
  info.scores = (x * v_thin.leftCols(keep)).transpose();
  for (int k = 0; k < keep; ++k) info.scores.row(k) /= std::sqrt(variances(k));
  ModelBuilderInfo builder;
  builder.builder_name = "ssmx PCA model builder (thin SVD of the centred data matrix)";
  builder.build_time = info.build_time;
  for (int i = 0; i < n; ++i) builder.data_info["URI_" + std::to_string(i)] = name(i);
  builder.parameters["alignment"] = AlignmentKindName(options.alignment);
  builder.parameters["modes"] = std::to_string(options.modes);
  builder.parameters["variance_fraction"] = std::to_string(options.variance_fraction);
  builder.parameters["noise_variance"] = std::to_string(options.noise_variance);
  info.builders.push_back(builder);

  if (report) {
    report->shapes = n;
    report->modes_available = available;
    report->modes_kept = keep;
    report->variance_total = total;
    report->variance_kept = sample_variances.head(keep).sum();
    report->procrustes_iterations = aligned.iterations;
    report->alignment = aligned.transforms;
  }
  return model;
}

ShapeModel PosteriorModel(const ShapeModel& prior,
                          const std::vector<PointObservation>& observations) {
  const int k = prior.num_modes();
  const Eigen::MatrixXd w = prior.ScaledBasis();
  Eigen::MatrixXd m = Eigen::MatrixXd::Identity(k, k);
  Eigen::VectorXd rhs = Eigen::VectorXd::Zero(k);
  for (size_t i = 0; i < observations.size(); ++i) {
    const PointObservation& o = observations[i];
    if (o.vertex < 0 || o.vertex >= prior.num_vertices()) {
      throw InvalidInput("posterior model: observation " + std::to_string(i) +
                         " refers to vertex " + std::to_string(o.vertex) + " but the model has " +
                         std::to_string(prior.num_vertices()) + " vertices");
    }
    if (!(o.noise_variance > 0) || !std::isfinite(o.noise_variance) || !o.position.allFinite()) {
      throw InvalidInput("posterior model: observation " + std::to_string(i) +
                         " needs a finite position and a noise variance > 0");
    }
    const Eigen::MatrixXd wo = w.middleRows(3 * o.vertex, 3);  // 3 by K
    m.noalias() += wo.transpose() * wo / o.noise_variance;
    rhs.noalias() +=
        wo.transpose() * (o.position - prior.mean().segment<3>(3 * o.vertex)) / o.noise_variance;
  }
  // M is symmetric positive definite (identity plus a Gram matrix).
  const Eigen::LLT<Eigen::MatrixXd> llt(m);
  const Eigen::VectorXd a_hat = llt.solve(rhs);
  const Eigen::VectorXd mean = prior.mean() + w * a_hat;
  // Posterior covariance W M^-1 W^T = (W L^-T)(W L^-T)^T with M = L L^T;
  // its orthonormal basis and variances from the thin SVD of W L^-T.
  const Eigen::MatrixXd factor =
      llt.matrixU().solve<Eigen::OnTheRight>(w);  // W U^-1 = W L^-T, 3V by K
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(factor, Eigen::ComputeThinU);
  ShapeModel posterior(mean, svd.matrixU(), svd.singularValues().array().square(),
                       prior.noise_variance(), prior.faces());
  posterior.SetLandmarks(prior.landmarks());
  ModelInfo info = prior.info();
  info.scores.resize(0, 0);  // the training scores do not carry over to the new basis
  ModelBuilderInfo builder;
  builder.builder_name = "ssmx posterior model builder";
  builder.build_time = NowString();
  builder.parameters["observations"] = std::to_string(observations.size());
  info.builders.push_back(builder);
  info.build_time = builder.build_time;
  posterior.mutable_info() = info;
  return posterior;
}

}  // namespace ssmx::ssm
