#ifndef SSMX_SSM_SHAPE_MODEL_H_
#define SSMX_SSM_SHAPE_MODEL_H_

// A linear statistical shape model in the sense of statismo / scalismo: a
// Gaussian distribution over the 3V vertex coordinates of a mesh,
//   x = mean + W a + e,   a ~ N(0, I_K),   e ~ N(0, noise_variance I_3V),
//   W = basis * diag(sqrt(variances))        (3V by K),
// i.e. probabilistic PCA (Tipping & Bishop 1999) with mean, basis and noise.
// Shape vectors are stacked per vertex: (x0, y0, z0, x1, y1, z1, ...), in LPS
// millimetres. The statistical core knows nothing of files; statismo HDF5
// files are read and written by statismo_io.h. See docs/model_format.md.

#include <Eigen/Core>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ssmx/core/triangle_mesh.h"
#include "ssmx/ssm/alignment.h"

namespace ssmx::ssm {

// One step of the build history (statismo /modelinfo/modelBuilder-i).
struct ModelBuilderInfo {
  std::string builder_name;
  std::string build_time;
  std::map<std::string, std::string> data_info;   // e.g. "URI_0" -> the file of sample 0
  std::map<std::string, std::string> parameters;  // e.g. "alignment" -> "rigid"
};

// What the model file says about how the model was made (statismo /modelinfo).
struct ModelInfo {
  std::string build_time;
  Eigen::MatrixXd scores;  // K by n: coefficients of the n training shapes; 0 by 0 when unknown
  std::vector<ModelBuilderInfo> builders;
};

class ShapeModel {
 public:
  ShapeModel() = default;
  // mean: 3V; basis: 3V by K (orthonormal columns for models ssmx builds; see
  // docs/model_format.md for files whose basis is not); variances: K, >= 0;
  // faces: #F by 3 (may be 0 by 3 for a point-set model). Throws InvalidInput
  // when sizes disagree, a value is not finite, a variance is negative or a
  // face index is out of range.
  ShapeModel(Eigen::VectorXd mean, Eigen::MatrixXd basis, Eigen::VectorXd variances,
             double noise_variance, MatrixX3iR faces);

  int64_t num_vertices() const { return mean_.size() / 3; }
  int num_modes() const { return static_cast<int>(variances_.size()); }
  const Eigen::VectorXd& mean() const { return mean_; }
  const Eigen::MatrixXd& basis() const { return basis_; }
  const Eigen::VectorXd& variances() const { return variances_; }
  double noise_variance() const { return noise_variance_; }
  const MatrixX3iR& faces() const { return faces_; }
  // W = basis * diag(sqrt(variances)), 3V by K.
  Eigen::MatrixXd ScaledBasis() const;

  // Named landmarks as vertex indices (carried in the file, see model_format.md).
  const std::map<std::string, int>& landmarks() const { return landmarks_; }
  void SetLandmarks(std::map<std::string, int> landmarks);  // throws InvalidInput for a bad index
  const ModelInfo& info() const { return info_; }
  ModelInfo& mutable_info() { return info_; }

  // The mean as a mesh (#V by 3 vertices and the model's faces).
  TriangleMesh MeanMesh() const;
  // mean + W a for the first a.size() <= K coefficients, as #V by 3 / a mesh.
  MatrixX3dR Instance(const Eigen::Ref<const Eigen::VectorXd>& coefficients) const;
  TriangleMesh InstanceMesh(const Eigen::Ref<const Eigen::VectorXd>& coefficients) const;

  // The most probable coefficients of a shape (#V by 3, in correspondence):
  //   a = (W^T W + noise_variance I)^-1 W^T (x - mean),
  // statismo's ComputeCoefficients; the least-squares projection when the
  // noise is 0. Throws InvalidInput when the vertex count differs.
  Eigen::VectorXd Coefficients(const Eigen::Ref<const MatrixX3dR>& points) const;
  // Instance(Coefficients(points)) restricted to the first `modes` modes
  // (-1: all), i.e. the model's reconstruction of a shape.
  MatrixX3dR Reconstruct(const Eigen::Ref<const MatrixX3dR>& points, int modes = -1) const;
  // sqrt(sum a_k^2) of Coefficients(points): the Mahalanobis distance of the
  // shape from the mean within the model's subspace (statismo's definition).
  double MahalanobisDistance(const Eigen::Ref<const MatrixX3dR>& points) const;

  // `n` random instances: a_k standard normal from std::mt19937_64(seed) by
  // an own Box-Muller transform (same seed, same bytes on every platform),
  // plus, when `add_noise`, isotropic noise of noise_variance.
  // Returns n by K coefficients (row i for sample i) when `coefficients` is set.
  std::vector<MatrixX3dR> Sample(int n, uint64_t seed, bool add_noise = false,
                                 Eigen::MatrixXd* coefficients = nullptr) const;

  // 3 by 3 covariance of vertex v: W_v W_v^T + noise_variance I.
  Eigen::Matrix3d VertexCovariance(int64_t v) const;
  // Trace of VertexCovariance for every vertex (mm^2), #V.
  Eigen::VectorXd PerVertexVariance() const;

  // The first `modes` modes (1 <= modes <= K); keeps faces, landmarks and info
  // (scores cut to the kept modes).
  ShapeModel Truncated(int modes) const;
  // The number of modes that explains `fraction` (0 < fraction <= 1) of the
  // total variance, at least 1.
  int ModesForVarianceFraction(double fraction) const;

 private:
  Eigen::VectorXd mean_;
  Eigen::MatrixXd basis_;
  Eigen::VectorXd variances_;
  double noise_variance_ = 0;
  MatrixX3iR faces_ = MatrixX3iR(0, 3);
  std::map<std::string, int> landmarks_;
  ModelInfo info_;
};

struct ShapeModelBuildOptions {
  AlignmentKind alignment = AlignmentKind::kRigid;
  // Truncation: keep `modes` modes when > 0, else the fewest modes that
  // explain `variance_fraction` of the variance (1: every non-zero mode).
  int modes = 0;
  double variance_fraction = 1.0;
  // PPCA noise variance (mm^2) >= 0. As in statismo's PCAModelBuilder, it is
  // subtracted from the sample variances of the kept modes (modes whose
  // variance would fall to <= 0 are dropped).
  double noise_variance = 0.0;
  std::vector<std::string> names;  // optional, one per shape: recorded as data_info URI_i
  std::string IsValid() const;     // empty when valid
};

struct ShapeModelBuildReport {
  int shapes = 0;
  int modes_available = 0;  // non-zero modes of the data (<= n - 1)
  int modes_kept = 0;
  double variance_total = 0;  // sum of all sample variances, mm^2
  double variance_kept = 0;
  int procrustes_iterations = 0;
  std::vector<SimilarityTransform> alignment;  // per shape, into the model frame
  std::string BriefReport() const;
};

// Builds a PCA model from meshes in correspondence (same vertex count and the
// same faces): optional generalised Procrustes alignment, then the thin SVD
// of the centred n by 3V data matrix X = U S V^T (never a 3V by 3V
// covariance): basis = the first columns of V, variances = S^2 / (n - 1).
// The faces are those of meshes[0]. Throws InvalidInput naming the shape
// (options.names[i] or "shape i") whose vertices or faces differ, or when
// n < 2.
ShapeModel BuildShapeModel(const std::vector<TriangleMesh>& meshes,
                           const ShapeModelBuildOptions& options = {},
                           ShapeModelBuildReport* report = nullptr);

// A point observed on the shape: vertex `vertex` is at `position` (mm), with
// isotropic Gaussian noise of variance `noise_variance` (mm^2, > 0).
struct PointObservation {
  int64_t vertex = 0;
  Eigen::Vector3d position = Eigen::Vector3d::Zero();
  double noise_variance = 1.0;
};

// The posterior model given observations (statismo PosteriorModelBuilder,
// scalismo's posterior of a low-rank GP): with W_o the rows of W at the
// observed vertices and Sigma the diagonal observation noise,
//   M = I + W_o^T Sigma^-1 W_o,
//   posterior coefficients a_hat = M^-1 W_o^T Sigma^-1 (y - mean_o),
//   posterior mean = mean + W a_hat, posterior covariance W M^-1 W^T,
// returned as a new model whose orthonormal basis and variances come from the
// SVD of W M^-1/2 (K <= prior K modes); noise variance, faces and landmarks
// are kept. Throws InvalidInput for an out-of-range vertex or noise <= 0.
ShapeModel PosteriorModel(const ShapeModel& prior,
                          const std::vector<PointObservation>& observations);

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_SHAPE_MODEL_H_
