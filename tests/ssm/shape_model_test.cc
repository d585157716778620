// Tests of alignment (Umeyama, generalised Procrustes), the PCA shape model
// (build, projection, sampling, variances, posterior) and statismo HDF5 files.
// Truth comes from known transforms, shapes made from known orthonormal
// deformation fields with known coefficients, closed-form posteriors, the
// phantom cohort's true correspondence, and a model file written by scalismo
// read independently with h5py.
#include "ssmx/ssm/shape_model.h"

#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <Eigen/Geometry>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "ssmx/core/error.h"
#include "ssmx/ssm/alignment.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/model_metrics.h"
#include "ssmx/ssm/phantom.h"
#include "ssmx/ssm/primitives.h"
#include "ssmx/ssm/statismo_io.h"
#include "test_data.h"

namespace ssmx::ssm {
namespace {

namespace fs = std::filesystem;
using Eigen::Vector3d;

constexpr char kScalismoModel[] = "models/femur_gp_statismo/femur_gp_model_50-components.h5";
constexpr char kPython[] = "/usr/bin/python3";

// A well-spread point set with a fixed pseudo-random layout.
MatrixX3dR TestPoints(int n) {
  MatrixX3dR p(n, 3);
  for (int i = 0; i < n; ++i) {
    p.row(i) << 40 * std::sin(1.3 * i), 25 * std::cos(0.7 * i + 1), 60 * std::sin(0.31 * i + 2);
  }
  return p;
}

TEST(Umeyama, RecoversAKnownSimilarityTransform) {
  const MatrixX3dR x = TestPoints(50);
  SimilarityTransform truth;
  truth.rotation = Eigen::AngleAxisd(0.7, Vector3d(1, -2, 0.5).normalized()).toRotationMatrix();
  truth.scale = 1.37;
  truth.translation = Vector3d(12, -40, 7.5);
  const MatrixX3dR y = truth.Apply(x);
  const SimilarityTransform s = Umeyama(x, y, true);
  EXPECT_NEAR(s.scale, 1.37, 1e-12);
  EXPECT_LT((s.rotation - truth.rotation).norm(), 1e-12);
  EXPECT_LT((s.translation - truth.translation).norm(), 1e-10);
  // Rigid fit of the same data: the rotation is still exact (scale does not change it).
  const SimilarityTransform r = Umeyama(x, y, false);
  EXPECT_EQ(r.scale, 1.0);
  EXPECT_LT((r.rotation - truth.rotation).norm(), 1e-12);
}

TEST(Umeyama, NeverReturnsAReflection) {
  const MatrixX3dR x = TestPoints(30);
  MatrixX3dR mirrored = x;
  mirrored.col(0) *= -1;
  const SimilarityTransform s = Umeyama(x, mirrored, true);
  EXPECT_NEAR(s.rotation.determinant(), 1.0, 1e-12);
  EXPECT_THROW(Umeyama(x.topRows(2), mirrored.topRows(2), false), InvalidInput);
  EXPECT_THROW(Umeyama(x, mirrored.topRows(10), false), InvalidInput);
}

TEST(Procrustes, RemovesKnownPosesAndScales) {
  const MatrixX3dR base = TestPoints(40);
  std::vector<MatrixX3dR> shapes;
  for (int i = 0; i < 6; ++i) {
    SimilarityTransform t;
    t.rotation = Eigen::AngleAxisd(0.3 * i, Vector3d(i, 1, 2).normalized()).toRotationMatrix();
    t.translation = Vector3d(5.0 * i, -3.0 * i, 1);
    t.scale = 1.0 + 0.1 * i;
    shapes.push_back(t.Apply(base));
  }
  ProcrustesOptions options;
  options.kind = AlignmentKind::kSimilarity;
  const ProcrustesResult similarity = GeneralizedProcrustes(shapes, options);
  for (const MatrixX3dR& a : similarity.aligned) {
    EXPECT_LT((a - similarity.mean).cwiseAbs().maxCoeff(), 1e-8);
  }
  // The gauge: the mean sits on shapes[0] rigidly, with the average centroid size.
  const SimilarityTransform to_first = Umeyama(similarity.mean, shapes[0], true);
  EXPECT_NEAR(to_first.scale, 1.0 / 1.25, 1e-9);  // average scale of the cohort is 1.25
  // Rigid alignment cannot remove the scales: the residual stays.
  options.kind = AlignmentKind::kRigid;
  const ProcrustesResult rigid = GeneralizedProcrustes(shapes, options);
  EXPECT_GT((rigid.aligned[5] - rigid.aligned[0]).norm(), 1.0);
  for (const SimilarityTransform& t : rigid.transforms) EXPECT_EQ(t.scale, 1.0);
}

// Shapes base + a1 f1 + a2 f2 with orthonormal fields f1, f2 (3V each).
struct KnownCohort {
  TriangleMesh base;
  Eigen::VectorXd f1, f2;
  std::vector<TriangleMesh> meshes;
};

KnownCohort MakeKnownCohort() {
  KnownCohort c;
  c.base = MakeIcosphere(20.0, 2);
  const int64_t v = c.base.num_vertices();
  c.f1.resize(3 * v);
  c.f2.resize(3 * v);
  for (int64_t i = 0; i < v; ++i) {
    const Vector3d p = c.base.vertices.row(i).transpose();
    c.f1.segment<3>(3 * i) = p * (p.z() / 20.0);                     // elongation along z
    c.f2.segment<3>(3 * i) = Vector3d(0, 0, std::sin(p.x() / 7.0));  // a wave
  }
  c.f1.normalize();
  c.f2 -= c.f2.dot(c.f1) * c.f1;
  c.f2.normalize();
  const double a1[] = {3, -3, 1, -1}, a2[] = {1, 1, -1, -1};  // zero mean, uncorrelated
  for (int s = 0; s < 4; ++s) {
    TriangleMesh m = c.base;
    const Eigen::VectorXd d = a1[s] * c.f1 + a2[s] * c.f2;
    for (int64_t i = 0; i < v; ++i) m.vertices.row(i) += d.segment<3>(3 * i).transpose();
    c.meshes.push_back(m);
  }
  return c;
}

MatrixX3dR Displace(const MatrixX3dR& points, const Eigen::VectorXd& d) {
  MatrixX3dR out = points;
  for (int64_t i = 0; i < out.rows(); ++i) out.row(i) += d.segment<3>(3 * i).transpose();
  return out;
}

TEST(ShapeModel, BuildRecoversKnownModesAndVariances) {
  const KnownCohort c = MakeKnownCohort();
  ShapeModelBuildOptions options;
  options.alignment = AlignmentKind::kNone;
  ShapeModelBuildReport report;
  const ShapeModel model = BuildShapeModel(c.meshes, options, &report);
  ASSERT_EQ(model.num_modes(), 2);
  EXPECT_EQ(report.modes_available, 2);
  // Sample variances of the coefficients: sum a^2 / (n - 1).
  EXPECT_NEAR(model.variances()(0), 20.0 / 3.0, 1e-9);
  EXPECT_NEAR(model.variances()(1), 4.0 / 3.0, 1e-9);
  EXPECT_NEAR(std::abs(model.basis().col(0).dot(c.f1)), 1.0, 1e-9);
  EXPECT_NEAR(std::abs(model.basis().col(1).dot(c.f2)), 1.0, 1e-9);
  EXPECT_LT((model.MeanMesh().vertices - c.base.vertices).cwiseAbs().maxCoeff(), 1e-9);
  EXPECT_LT((model.basis().transpose() * model.basis() - Eigen::Matrix2d::Identity()).norm(), 1e-9);
  EXPECT_EQ(model.faces(), c.base.faces);

  // A new shape in the span: exact coefficients, reconstruction, Mahalanobis distance.
  const MatrixX3dR shape = Displace(c.base.vertices, 0.5 * c.f1 - 2.0 * c.f2);
  const Eigen::VectorXd a = model.Coefficients(shape);
  EXPECT_NEAR(std::abs(a(0)), 0.5 / std::sqrt(20.0 / 3.0), 1e-9);
  EXPECT_NEAR(std::abs(a(1)), 2.0 / std::sqrt(4.0 / 3.0), 1e-9);
  EXPECT_LT((model.Reconstruct(shape) - shape).cwiseAbs().maxCoeff(), 1e-9);
  EXPECT_NEAR(model.MahalanobisDistance(shape), std::sqrt(0.25 * 3 / 20 + 4 * 3.0 / 4), 1e-9);
  // One mode only: the f2 part is what is left.
  const MatrixX3dR one = model.Reconstruct(shape, 1);
  EXPECT_NEAR((one - shape).norm(), 2.0, 1e-9);

  // Per-vertex variance: sum_k var_k |f_k(v)|^2.
  const Eigen::VectorXd pv = model.PerVertexVariance();
  for (int64_t v : {0, 17, 100}) {
    const double expected = 20.0 / 3.0 * c.f1.segment<3>(3 * v).squaredNorm() +
                            4.0 / 3.0 * c.f2.segment<3>(3 * v).squaredNorm();
    EXPECT_NEAR(pv(v), expected, 1e-12);
    EXPECT_NEAR(model.VertexCovariance(v).trace(), expected, 1e-12);
  }
  // Truncation by variance: mode 1 holds 20/24 = 83 % of the variance.
  EXPECT_EQ(model.ModesForVarianceFraction(0.8), 1);
  EXPECT_EQ(model.ModesForVarianceFraction(0.9), 2);
  options.variance_fraction = 0.8;
  EXPECT_EQ(BuildShapeModel(c.meshes, options).num_modes(), 1);
  options.variance_fraction = 1;
  options.modes = 1;
  EXPECT_EQ(BuildShapeModel(c.meshes, options).num_modes(), 1);
}

TEST(ShapeModel, MoreShapesThanCoordinatesKeepsTheTotalVariance) {
  // 12 triangles (9 coordinates): the rank is limited by 3V, not by n - 1.
  std::vector<TriangleMesh> meshes;
  std::mt19937_64 rng(3);
  for (int s = 0; s < 12; ++s) {
    TriangleMesh m;
    m.vertices.resize(3, 3);
    for (int i = 0; i < 9; ++i) m.vertices(i / 3, i % 3) = static_cast<double>(rng() >> 40);
    m.faces = MatrixX3iR(1, 3);
    m.faces << 0, 1, 2;
    meshes.push_back(m);
  }
  ShapeModelBuildOptions options;
  options.alignment = AlignmentKind::kNone;
  const ShapeModel model = BuildShapeModel(meshes, options);
  EXPECT_EQ(model.num_modes(), 9);
  MatrixX3dR mean = MatrixX3dR::Zero(3, 3);
  for (const TriangleMesh& m : meshes) mean += m.vertices / 12.0;
  double total = 0;
  for (const TriangleMesh& m : meshes) total += (m.vertices - mean).squaredNorm() / 11.0;
  EXPECT_NEAR(model.variances().sum(), total, 1e-9 * total);
  EXPECT_LT((model.basis().transpose() * model.basis() - Eigen::MatrixXd::Identity(9, 9)).norm(),
            1e-9);
  // Coordinates up to 2^24: 1e-6 is a relative 1e-13.
  EXPECT_LT((model.Reconstruct(meshes[4].vertices) - meshes[4].vertices).cwiseAbs().maxCoeff(),
            1e-6);
}

TEST(ShapeModel, PpcaNoiseIsSubtractedFromTheVariances) {
  const KnownCohort c = MakeKnownCohort();
  ShapeModelBuildOptions options;
  options.alignment = AlignmentKind::kNone;
  options.noise_variance = 0.5;
  const ShapeModel model = BuildShapeModel(c.meshes, options);
  EXPECT_NEAR(model.variances()(0), 20.0 / 3.0 - 0.5, 1e-9);
  EXPECT_NEAR(model.variances()(1), 4.0 / 3.0 - 0.5, 1e-9);
  EXPECT_NEAR(model.PerVertexVariance()(0) - model.ScaledBasis().middleRows(0, 3).squaredNorm(),
              1.5, 1e-12);
  // Coefficients with noise are shrunk by var / (var + noise) (orthonormal basis).
  const MatrixX3dR shape = Displace(c.base.vertices, 2.0 * c.f1);
  const double var = 20.0 / 3.0 - 0.5;
  EXPECT_NEAR(std::abs(model.Coefficients(shape)(0)), 2.0 * std::sqrt(var) / (var + 0.5), 1e-9);
}

TEST(ShapeModel, RefusesShapesThatAreNotInCorrespondence) {
  KnownCohort c = MakeKnownCohort();
  ShapeModelBuildOptions options;
  options.names = {"a.ply", "b.ply", "c.ply", "d.ply"};
  std::vector<TriangleMesh> meshes = c.meshes;
  meshes[2] = MakeIcosphere(20.0, 1);
  try {
    BuildShapeModel(meshes, options);
    FAIL() << "no error";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("c.ply"), std::string::npos) << e.what();
  }
  meshes = c.meshes;
  std::swap(meshes[3].faces(0, 0), meshes[3].faces(0, 1));
  EXPECT_THROW(BuildShapeModel(meshes, options), InvalidInput);
  EXPECT_THROW(BuildShapeModel({c.meshes[0]}, options), InvalidInput);
  options.variance_fraction = 1.5;
  EXPECT_THROW(BuildShapeModel(c.meshes, options), InvalidInput);
}

TEST(ShapeModel, SamplingIsSeededAndFollowsTheModel) {
  const KnownCohort c = MakeKnownCohort();
  ShapeModelBuildOptions options;
  options.alignment = AlignmentKind::kNone;
  const ShapeModel model = BuildShapeModel(c.meshes, options);
  Eigen::MatrixXd a1, a2;
  const auto s1 = model.Sample(2000, 7, false, &a1);
  const auto s2 = model.Sample(2000, 7, false, &a2);
  EXPECT_EQ(a1, a2);
  EXPECT_TRUE(s1[5] == s2[5]);
  EXPECT_FALSE(model.Sample(1, 8)[0] == s1[0]);
  EXPECT_LT((s1[3] - model.Instance(a1.row(3).transpose())).cwiseAbs().maxCoeff(), 1e-12);
  // Coefficients are standard normal: mean 0, covariance I (SE of 2000 draws ~ 0.03).
  const Eigen::RowVectorXd mean = a1.colwise().mean();
  const Eigen::MatrixXd centred = a1.rowwise() - mean;
  const Eigen::MatrixXd cov = centred.transpose() * centred / 1999.0;
  EXPECT_LT(mean.cwiseAbs().maxCoeff(), 0.1);
  EXPECT_LT((cov - Eigen::Matrix2d::Identity()).cwiseAbs().maxCoeff(), 0.1);
}

// A hand-made model with one mode: basis u (unit), variance lambda.
TEST(PosteriorModel, MatchesTheClosedFormForOneMode) {
  const TriangleMesh base = MakeIcosphere(10.0, 1);
  const int64_t v = base.num_vertices();
  Eigen::VectorXd u = Eigen::VectorXd::Zero(3 * v);
  for (int64_t i = 0; i < v; ++i) u(3 * i + 2) = 1.0 + 0.1 * i;
  u.normalize();
  const double lambda = 9.0, noise = 0.25;
  Eigen::VectorXd mean(3 * v);
  for (int64_t i = 0; i < v; ++i) mean.segment<3>(3 * i) = base.vertices.row(i).transpose();
  const ShapeModel prior(mean, u, Eigen::VectorXd::Constant(1, lambda), 0.0, base.faces);
  // Observe vertex 5 displaced by 2 mm in z.
  PointObservation o;
  o.vertex = 5;
  o.position = mean.segment<3>(15) + Vector3d(0, 0, 2.0);
  o.noise_variance = noise;
  const ShapeModel post = PosteriorModel(prior, {o});
  const double w = std::sqrt(lambda) * u(17);  // W at the observed z coordinate
  const double m = 1 + w * w / noise;
  const double a_hat = (w * 2.0 / noise) / m;
  ASSERT_EQ(post.num_modes(), 1);
  EXPECT_NEAR(post.variances()(0), lambda / m, 1e-10);
  EXPECT_LT((post.mean() - (mean + std::sqrt(lambda) * a_hat * u)).cwiseAbs().maxCoeff(), 1e-10);
  EXPECT_NEAR(std::abs(post.basis().col(0).dot(u)), 1.0, 1e-12);
  // The posterior variance at the observed vertex is below the noise.
  EXPECT_LT(post.VertexCovariance(5)(2, 2), noise);
  EXPECT_THROW(PosteriorModel(prior, {PointObservation{v, Vector3d::Zero(), 1.0}}), InvalidInput);
  EXPECT_THROW(PosteriorModel(prior, {PointObservation{0, Vector3d::Zero(), 0.0}}), InvalidInput);
}

TEST(PosteriorModel, ObservingEveryPointWithTinyNoiseReproducesTheShape) {
  const KnownCohort c = MakeKnownCohort();
  ShapeModelBuildOptions options;
  options.alignment = AlignmentKind::kNone;
  const ShapeModel model = BuildShapeModel(c.meshes, options);
  const MatrixX3dR shape = Displace(c.base.vertices, 1.5 * c.f1 + 0.7 * c.f2);
  std::vector<PointObservation> all;
  const double noise = 1e-6;
  for (int64_t i = 0; i < shape.rows(); ++i) {
    all.push_back({i, shape.row(i).transpose(), noise});
  }
  const ShapeModel post = PosteriorModel(model, all);
  EXPECT_LT((post.MeanMesh().vertices - shape).cwiseAbs().maxCoeff(), 1e-5);
  // Every direction is pinned: the remaining variance is of the order of the noise.
  EXPECT_LT(post.variances().maxCoeff(), noise);
}

// --- the phantom cohort (true correspondence) --------------------------------

struct PhantomCohortMeshes {
  std::vector<TriangleMesh> meshes;
};

const PhantomCohortMeshes& Phantom40() {
  static const PhantomCohortMeshes cohort = [] {
    PhantomMeshOptions mesh;
    mesh.spacing_mm = 2.0;
    mesh.target_faces = 2000;
    const FemurTemplate t = MakeFemurTemplate(mesh);
    PhantomCohortMeshes c;
    for (const FemurParameters& p : SampleFemurParameters(40, 1)) {
      c.meshes.push_back(CorrespondingFemurMesh(t, PhantomFemur(p)));
    }
    return c;
  }();
  return cohort;
}

TEST(ShapeModel, PhantomModelIsCompactAndGeneralises) {
  const std::vector<TriangleMesh>& all = Phantom40().meshes;
  const std::vector<TriangleMesh> train(all.begin(), all.begin() + 30);
  ShapeModelBuildReport report;
  const ShapeModel model = BuildShapeModel(train, {}, &report);
  // The generator varies 9 parameters of the outer surface (docs/phantom.md;
  // cortical thickness and HU do not move it).
  int geometric_modes = 0;
  for (const FemurParameterMode& m : FemurParameterModes()) {
    if (m.name != "cortical_thickness_mm" && m.name != "cortical_hu" && m.name != "trabecular_hu") {
      ++geometric_modes;
    }
  }
  EXPECT_EQ(geometric_modes, 9);
  EXPECT_LE(model.ModesForVarianceFraction(0.95), geometric_modes);
  // Held-out subjects: aligned rigidly to the mean, projected on all modes.
  double sum = 0;
  for (int i = 30; i < 40; ++i) {
    const MatrixX3dR& x = all[i].vertices;
    const MatrixX3dR aligned = Umeyama(x, model.MeanMesh().vertices, false).Apply(x);
    const MatrixX3dR r = model.Reconstruct(aligned);
    sum += (r - aligned).rowwise().norm().mean();
  }
  const double generalisation_mm = sum / 10;
  RecordProperty("generalisation_mm", std::to_string(generalisation_mm));
  RecordProperty("modes_95", std::to_string(model.ModesForVarianceFraction(0.95)));
  EXPECT_LE(generalisation_mm, 0.3);
  std::printf("phantom model: %s; 95 %% variance in %d modes; held-out mean vertex error %.3f mm\n",
              report.BriefReport().c_str(), model.ModesForVarianceFraction(0.95),
              generalisation_mm);
}

TEST(PosteriorModel, FiveLandmarksLowerTheErrorOfAHeldOutShape) {
  const std::vector<TriangleMesh>& all = Phantom40().meshes;
  const std::vector<TriangleMesh> train(all.begin(), all.begin() + 30);
  const ShapeModel model = BuildShapeModel(train);
  const MatrixX3dR& x = all[35].vertices;
  const MatrixX3dR target = Umeyama(x, model.MeanMesh().vertices, false).Apply(x);
  const MatrixX3dR mean = model.MeanMesh().vertices;
  const int64_t v = model.num_vertices();
  const int64_t landmarks[] = {0, v / 5, 2 * v / 5, 3 * v / 5, 4 * v / 5};
  std::vector<PointObservation> obs;
  for (int64_t l : landmarks) obs.push_back({l, target.row(l).transpose(), 0.25});
  const ShapeModel post = PosteriorModel(model, obs);
  const double before = (mean - target).rowwise().norm().mean();
  const double after = (post.MeanMesh().vertices - target).rowwise().norm().mean();
  EXPECT_LT(after, before);
  const Eigen::VectorXd var_prior = model.PerVertexVariance(), var_post = post.PerVertexVariance();
  for (int64_t l : landmarks) EXPECT_LT(var_post(l), 0.5 * var_prior(l));
  EXPECT_LT(var_post.sum(), var_prior.sum());
  std::printf("posterior on 5 points: mean vertex error %.3f -> %.3f mm\n", before, after);
}

TEST(ModelMetrics, CompactnessAndGeneralisationOfKnownModes) {
  const KnownCohort c = MakeKnownCohort();
  ShapeModelBuildOptions options;
  options.alignment = AlignmentKind::kNone;
  const ShapeModel model = BuildShapeModel(c.meshes, options);
  const std::vector<double> compactness = Compactness(model);
  ASSERT_EQ(compactness.size(), 2u);
  EXPECT_NEAR(compactness[0], 20.0 / 24.0, 1e-12);
  EXPECT_NEAR(compactness[1], 1.0, 1e-12);
  // A test shape base + 0.5 f1 - 2 f2: one mode leaves the f2 part, two leave nothing.
  TriangleMesh test = c.base;
  test.vertices = Displace(c.base.vertices, 0.5 * c.f1 - 2.0 * c.f2);
  MetricOptions metric;
  metric.alignment = AlignmentKind::kNone;
  const MetricCurve g = Generalization(model, {test}, metric);
  double expected = 0;
  for (int64_t v = 0; v < c.base.num_vertices(); ++v)
    expected += 2.0 * c.f2.segment<3>(3 * v).norm();
  expected /= static_cast<double>(c.base.num_vertices());
  ASSERT_EQ(g.modes, (std::vector<int>{1, 2}));
  EXPECT_NEAR(g.mean_mm[0], expected, 1e-9);
  EXPECT_NEAR(g.mean_mm[1], 0.0, 1e-9);
  TriangleMesh wrong = MakeIcosphere(5.0, 1);
  EXPECT_THROW(Generalization(model, {wrong}, metric), InvalidInput);
}

TEST(ModelMetrics, SpecificityOfOneModeAgainstTheMeanIsTheHalfNormalMean) {
  // One mode, reference set = the mean only: distance of a sample = |a| sqrt(lambda)
  // mean_v |u_v|, whose expectation is sqrt(2 / pi) sqrt(lambda) mean_v |u_v|.
  const TriangleMesh base = MakeIcosphere(10.0, 1);
  const int64_t v = base.num_vertices();
  Eigen::VectorXd u(3 * v), mean(3 * v);
  for (int64_t i = 0; i < v; ++i) {
    u.segment<3>(3 * i) = base.vertices.row(i).transpose() * (1.0 + 0.05 * i);
    mean.segment<3>(3 * i) = base.vertices.row(i).transpose();
  }
  u.normalize();
  const double lambda = 16.0;
  const ShapeModel model(mean, u, Eigen::VectorXd::Constant(1, lambda), 0.0, base.faces);
  MetricOptions options;
  options.alignment = AlignmentKind::kNone;
  options.samples = 4000;
  const MetricCurve s = Specificity(model, {base}, options);
  double mean_norm = 0;
  for (int64_t i = 0; i < v; ++i) mean_norm += u.segment<3>(3 * i).norm();
  mean_norm /= static_cast<double>(v);
  const double expected = std::sqrt(2.0 / 3.14159265358979323846) * std::sqrt(lambda) * mean_norm;
  // Relative SE of the mean of 4000 half-normal draws: 0.6 / sqrt(4000) = 1 %.
  EXPECT_NEAR(s.mean_mm[0] / expected, 1.0, 0.04);
  EXPECT_EQ(Specificity(model, {base}, options).mean_mm, s.mean_mm);  // seeded
}

TEST(ModelMetrics, LeaveOneOutOnThePhantomDecreasesWithModes) {
  const std::vector<TriangleMesh>& all = Phantom40().meshes;
  const std::vector<TriangleMesh> cohort(all.begin(), all.begin() + 20);
  MetricOptions options;
  options.modes = {1, 3, 9, 18};
  const MetricCurve g = LeaveOneOutGeneralization(cohort, {}, options);
  ASSERT_EQ(g.mean_mm.size(), 4u);
  for (size_t i = 1; i < g.mean_mm.size(); ++i) EXPECT_LT(g.mean_mm[i], g.mean_mm[i - 1]);
  EXPECT_LT(g.mean_mm.back(), 0.3);
  std::printf("phantom leave-one-out (20 shapes): G(1) %.3f, G(3) %.3f, G(9) %.3f, G(18) %.3f mm\n",
              g.mean_mm[0], g.mean_mm[1], g.mean_mm[2], g.mean_mm[3]);
}

// --- statismo files ------------------------------------------------------------

bool HavePythonH5py() {
  return std::system((std::string(kPython) + " -c 'import h5py' 2>/dev/null").c_str()) == 0;
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(StatismoIo, ReadsTheScalismoFemurModel) {
  SSMX_REQUIRE_DATA(kScalismoModel);
  const std::string path = testing::DataPath(kScalismoModel);
  const ShapeModel model = ReadStatismoModel(path);
  EXPECT_EQ(model.num_vertices(), 1622);
  EXPECT_EQ(model.faces().rows(), 3240);
  EXPECT_EQ(model.num_modes(), 51);
  EXPECT_EQ(model.noise_variance(), 0.0);
  ASSERT_EQ(model.info().builders.size(), 1u);
  EXPECT_EQ(model.info().build_time, "Sun Aug 23 16:00:11 CEST 2020");
  // The mean equals the reference mesh shipped with it (STL, float32).
  const std::string reference = testing::DataPath("models/femur_gp_statismo/femur_reference.stl");
  if (!reference.empty()) {
    const TriangleMesh ref = ReadMesh(reference);
    ASSERT_EQ(ref.num_vertices(), model.num_vertices());
    EXPECT_LT((ref.vertices - model.MeanMesh().vertices).cwiseAbs().maxCoeff(), 1e-4);
  }
  if (!HavePythonH5py()) GTEST_SKIP() << kPython << " with h5py not found";
  // Independent values read by h5py.
  const std::string dir = testing::TempDir("statismo_read");
  const std::string script = dir + "/dump.py", out = dir + "/values.txt";
  std::ofstream(script) << "import h5py, sys\n"
                           "f = h5py.File(sys.argv[1], 'r')\n"
                           "vals = [f['model/mean'][7], f['model/pcaVariance'][0],\n"
                           "        f['model/pcaVariance'][50], f['model/pcaBasis'][100, 3],\n"
                           "        f['model/pcaBasis'][4865, 50], f['representer/cells'][1, 7],\n"
                           "        f['representer/cells'][2, 3239]]\n"
                           "print(' '.join(repr(float(v)) for v in vals))\n";
  ASSERT_EQ(std::system((std::string(kPython) + " " + script + " " + path + " > " + out).c_str()),
            0);
  std::istringstream values(ReadText(out));
  double mean7, var0, var50, b100_3, b4865_50, cell_1_7, cell_2_3239;
  values >> mean7 >> var0 >> var50 >> b100_3 >> b4865_50 >> cell_1_7 >> cell_2_3239;
  ASSERT_TRUE(values) << ReadText(out);
  EXPECT_EQ(model.mean()(7), mean7);
  EXPECT_EQ(model.variances()(0), var0);
  EXPECT_EQ(model.variances()(50), var50);
  EXPECT_EQ(model.basis()(100, 3), b100_3);
  EXPECT_EQ(model.basis()(4865, 50), b4865_50);
  EXPECT_EQ(model.faces()(7, 1), cell_1_7);
  EXPECT_EQ(model.faces()(3239, 2), cell_2_3239);
}

// Compares every dataset and attribute of file A with file B by h5py; prints
// the differences, or OK.
constexpr char kCompareScript[] = R"(import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], 'r'), h5py.File(sys.argv[2], 'r')
bad = []
def attrs(name, x, y):
    for k, v in x.attrs.items():
        if k not in y.attrs: bad.append(name + '@' + k + ' missing')
        elif np.asarray(v).tolist() != np.asarray(y.attrs[k]).tolist(): bad.append(name + '@' + k + ' differs')
def visit(name, x):
    if name not in b: bad.append(name + ' missing'); return
    y = b[name]
    attrs(name, x, y)
    if isinstance(x, h5py.Dataset):
        if x.shape != y.shape: bad.append(name + ' shape %s vs %s' % (x.shape, y.shape)); return
        if x.dtype.kind == 'S':
            if x[()].tolist() != y[()].tolist(): bad.append(name + ' string differs')
        elif not np.allclose(x[()], y[()], rtol=1e-6, atol=1e-6): bad.append(name + ' values differ')
a.visititems(visit)
attrs('/', a, b)
print('\n'.join(bad) if bad else 'OK')
)";

TEST(StatismoIo, WritesTheScalismoModelBackSoThatH5pyFindsTheSameContent) {
  SSMX_REQUIRE_DATA(kScalismoModel);
  if (!HavePythonH5py()) GTEST_SKIP() << kPython << " with h5py not found";
  const std::string path = testing::DataPath(kScalismoModel);
  const std::string dir = testing::TempDir("statismo_write");
  const ShapeModel model = ReadStatismoModel(path);
  WriteStatismoModel(model, dir + "/copy.h5");
  std::ofstream(dir + "/compare.py") << kCompareScript;
  const std::string cmd = std::string(kPython) + " " + dir + "/compare.py " + path + " " + dir +
                          "/copy.h5 > " + dir + "/out.txt";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(ReadText(dir + "/out.txt"), "OK\n");
  // And ssmx reads its own file back to the same numbers (float32 already).
  const ShapeModel again = ReadStatismoModel(dir + "/copy.h5");
  EXPECT_EQ(again.mean(), model.mean());
  EXPECT_EQ(again.basis(), model.basis());
  EXPECT_EQ(again.faces(), model.faces());
}

TEST(StatismoIo, RoundTripsABuiltModelWithLandmarksAndHistory) {
  const KnownCohort c = MakeKnownCohort();
  ShapeModelBuildOptions options;
  options.names = {"s0.ply", "s1.ply", "s2.ply", "s3.ply"};
  options.noise_variance = 0.1;
  ShapeModel model = BuildShapeModel(c.meshes, options);
  model.SetLandmarks({{"top", 3}, {"side", 11}});
  const std::string dir = testing::TempDir("statismo_roundtrip");
  WriteStatismoModel(model, dir + "/m.h5");
  const ShapeModel r = ReadStatismoModel(dir + "/m.h5");
  EXPECT_LT((r.mean() - model.mean()).cwiseAbs().maxCoeff(), 1e-5);
  EXPECT_LT((r.basis() - model.basis()).cwiseAbs().maxCoeff(), 1e-6);
  EXPECT_LT((r.variances() - model.variances()).cwiseAbs().maxCoeff(), 1e-5);
  EXPECT_NEAR(r.noise_variance(), 0.1, 1e-7);
  EXPECT_EQ(r.faces(), model.faces());
  EXPECT_EQ(r.landmarks(), model.landmarks());
  ASSERT_EQ(r.info().builders.size(), 1u);
  EXPECT_EQ(r.info().builders[0].data_info.at("URI_2"), "s2.ply");
  EXPECT_EQ(r.info().builders[0].parameters.at("alignment"), "rigid");
  EXPECT_EQ(r.info().scores.rows(), model.num_modes());
  EXPECT_EQ(r.info().scores.cols(), 4);
  EXPECT_LT((r.info().scores - model.info().scores).cwiseAbs().maxCoeff(), 1e-5);
  if (!HavePythonH5py()) return;
  // h5py sees the statismo layout: versions, shapes and the representer attributes.
  std::ofstream(dir + "/check.py")
      << "import h5py, sys\n"
         "f = h5py.File(sys.argv[1], 'r')\n"
         "print(int(f['version/majorVersion'][()]), int(f['version/minorVersion'][()]),\n"
         "      f['model/pcaBasis'].shape, f['representer/points'].shape,\n"
         "      f['representer/cells'].shape, f['model/mean'].dtype,\n"
         "      f['representer'].attrs['datasetType'][0].decode())\n";
  ASSERT_EQ(std::system((std::string(kPython) + " " + dir + "/check.py " + dir + "/m.h5 > " + dir +
                         "/out.txt")
                            .c_str()),
            0);
  const int64_t v = c.base.num_vertices(), f = c.base.num_faces();
  std::ostringstream expected;
  expected << "0 9 (" << 3 * v << ", 2) (3, " << v << ") (3, " << f << ") float32 POLYGON_MESH\n";
  EXPECT_EQ(ReadText(dir + "/out.txt"), expected.str());
}

TEST(StatismoIo, RefusesFilesThatAreNotModels) {
  const std::string dir = testing::TempDir("statismo_bad");
  EXPECT_THROW(ReadStatismoModel(dir + "/missing.h5"), IoError);
  std::ofstream(dir + "/text.h5") << "not hdf5";
  try {
    ReadStatismoModel(dir + "/text.h5");
    FAIL() << "no error";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("text.h5"), std::string::npos);
  }
  // A valid HDF5 file without /model.
  const KnownCohort c = MakeKnownCohort();
  WriteStatismoModel(BuildShapeModel(c.meshes), dir + "/good.h5");
  if (HavePythonH5py()) {
    const std::string cmd = std::string(kPython) + " -c \"import h5py; f = h5py.File('" + dir +
                            "/good.h5', 'a'); del f['model/pcaVariance']\"";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    try {
      ReadStatismoModel(dir + "/good.h5");
      FAIL() << "no error";
    } catch (const InvalidInput& e) {
      EXPECT_NE(std::string(e.what()).find("model/pcaVariance"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace ssmx::ssm
