// The biplanar fit and its preprocessing. Truth never comes from the code
// under test: analytic discs and projections, known transforms, phantom femur
// meshes (the DRRs are rasterised from the truth mesh by the drr target), and
// DICOM attributes as dcmdump prints them.
#include "ssmx/registration/biplanar_fit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "../ssm/test_data.h"
#include "ssmx/core/error.h"
#include "ssmx/drr/mesh_projection.h"
#include "ssmx/registration/xray_features.h"
#include "ssmx/ssm/alignment.h"
#include "ssmx/ssm/phantom.h"
#include "ssmx/ssm/primitives.h"
#include "ssmx/ssm/radiograph_io.h"
#include "ssmx/ssm/surface_distance.h"

namespace ssmx::registration {
namespace {

constexpr double kPi = 3.14159265358979323846;

// A bright anti-aliased disc of radius r (pixels) centred at (c, c).
Image2D Disc(int size, double c, double r) {
  Image2D image(size, size);
  image.quantity = ImageQuantity::kLineIntegral;
  for (int v = 0; v < size; ++v) {
    for (int u = 0; u < size; ++u) {
      int inside = 0;
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          inside += std::hypot(u - 0.375 + 0.25 * i - c, v - 0.375 + 0.25 * j - c) < r;
      image.at(v, u) = inside / 16.0f;
    }
  }
  return image;
}

TEST(XrayFeaturesTest, DiscEdgesLieOnTheCircleWithInwardGradients) {
  const double c = 63.3, r = 30.0;
  EdgeOptions options;
  options.levels = 2;
  const EdgePyramid pyramid = ExtractEdges(Disc(128, c, r), options);
  ASSERT_EQ(pyramid.levels.size(), 2u);
  for (const EdgeLevel& level : pyramid.levels) {
    ASSERT_GT(level.num_edges, 20);
    for (int v = 0; v < level.rows; ++v) {
      for (int u = 0; u < level.cols; ++u) {
        if (!level.edges[static_cast<size_t>(v) * level.cols + u]) continue;
        // Edge pixels lie on the circle (to a pixel of this level).
        const double radius = std::hypot(level.ToFull(u) - c, level.ToFull(v) - c);
        EXPECT_NEAR(radius, r, 1.0 * level.factor) << "level " << level.level;
      }
    }
  }
  const EdgeLevel& full = pyramid.levels[0];
  // The distance map at the centre is the radius.
  const int centre = static_cast<int>(std::lround(c));
  EXPECT_NEAR(full.distance_px[static_cast<size_t>(centre) * full.cols + centre], r, 1.5);
  // On the right of the disc the gradient points to -u (bin 4): the oriented
  // map of bin 4 is ~0 there, the map of bin 0 (+u) reaches the left side.
  const int right = static_cast<int>(std::lround(c + r));
  const size_t at = static_cast<size_t>(centre) * full.cols + right;
  EXPECT_LT(full.oriented_distance_px[4][at], 1.5);
  // The edges with gradients within 67.5 degrees of +u lie on the left arc,
  // whose nearest point is 2 r sin(56.25 degrees) away.
  EXPECT_NEAR(full.oriented_distance_px[0][at], 2 * r * std::sin(56.25 * kPi / 180), 1.5);
  EXPECT_FALSE(RenderEdgesPng(pyramid, 1).empty());
}

TEST(XrayFeaturesTest, BadImagesAreRejected) {
  Image2D flat(64, 64);
  EXPECT_THROW(NormalizeXray(flat), InvalidInput);
  EXPECT_THROW(ExtractEdges(Disc(40, 20, 10), EdgeOptions{}),
               InvalidInput);  // too small for 3 levels
  EdgeOptions bad;
  bad.levels = 0;
  EXPECT_THROW(ExtractEdges(Disc(128, 64, 30), bad), InvalidInput);
}

std::vector<drr::ProjectionGeometry> BiplanarViews(const Eigen::Vector3d& isocenter, int size,
                                                   double pixel_mm) {
  drr::CarmGeometry detector;
  detector.rows = detector.cols = size;
  detector.pixel_spacing_u_mm = detector.pixel_spacing_v_mm = pixel_mm;
  return {drr::ProjectionGeometry::Named(drr::NamedView::kAP, isocenter, detector),
          drr::ProjectionGeometry::Named(drr::NamedView::kLAT, isocenter, detector)};
}

TEST(LandmarkTest, TriangulationRecoversProjectedPoints) {
  const auto views = BiplanarViews(Eigen::Vector3d(10, -20, 300), 512, 0.8);
  for (const Eigen::Vector3d x : {Eigen::Vector3d(10, -20, 300), Eigen::Vector3d(-40, 25, 180),
                                  Eigen::Vector3d(55, 5, 410)}) {
    const Eigen::Vector3d back =
        TriangulateLandmark(views, {views[0].Project(x), views[1].Project(x)}, "point");
    EXPECT_LT((back - x).norm(), 1e-6);
  }
  EXPECT_THROW(TriangulateLandmark(views, {views[0].Project(Eigen::Vector3d::Zero()), std::nullopt},
                                   "lonely"),
               InvalidInput);
}

ssm::ShapeModel SphereModel() {
  std::vector<TriangleMesh> shapes;
  for (double r : {40.0, 44.0, 50.0}) shapes.push_back(ssm::MakeIcosphere(r, 2));
  ssm::ShapeModelBuildOptions options;
  options.alignment = ssm::AlignmentKind::kNone;
  ssm::ShapeModel model = ssm::BuildShapeModel(shapes, options);
  model.SetLandmarks({{"north", 0}, {"a", 5}, {"b", 17}, {"c", 60}});
  return model;
}

TEST(LandmarkTest, PoseFromLandmarksRecoversAKnownRigidPose) {
  const ssm::ShapeModel model = SphereModel();
  Pose truth;
  truth.rotation = {0.2, -0.1, 0.3};
  truth.translation = {5, -3, 210};
  const auto views = BiplanarViews(Eigen::Vector3d(0, 0, 200), 512, 0.8);
  std::vector<ViewLandmarks> marks(2);
  const MatrixX3dR mean = model.MeanMesh().vertices;
  for (const auto& [name, vertex] : model.landmarks()) {
    const Eigen::Vector3d world = truth.Apply(Eigen::Vector3d(mean.row(vertex).transpose()));
    for (int v = 0; v < 2; ++v) marks[v][name] = views[v].Project(world);
  }
  std::vector<std::string> used;
  const Pose pose = PoseFromLandmarks(model, views, marks, false, &used);
  EXPECT_EQ(used.size(), 4u);
  EXPECT_LT((pose.Matrix() - truth.Matrix()).cwiseAbs().maxCoeff(), 1e-6);
  // Two landmarks are not enough.
  std::vector<ViewLandmarks> few = marks;
  for (auto& view : few) {
    view.erase("a");
    view.erase("b");
  }
  EXPECT_THROW(PoseFromLandmarks(model, views, few, false), InvalidInput);
}

TEST(LandmarkTest, LandmarkFilesAreCheckedByName) {
  const std::string dir = testing::TempDir("landmarks2d");
  const std::string good = dir + "/lm.json";
  std::ofstream(good) << R"({"format": "ssmx-landmarks-2d", "views": [
      {"points": {"head": [100.5, 20]}}, {"points": {}}]})";
  const auto marks = ReadLandmarks2d(good, 2);
  ASSERT_EQ(marks.size(), 2u);
  EXPECT_DOUBLE_EQ(marks[0].at("head").x(), 100.5);
  EXPECT_TRUE(marks[1].empty());
  EXPECT_THROW(ReadLandmarks2d(good, 3), InvalidInput);
  const std::string bad = dir + "/bad.json";
  std::ofstream(bad) << R"({"views": [{"points": {"head": [1]}}]})";
  try {
    ReadLandmarks2d(bad, 1);
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("'head'"), std::string::npos);
  }
  EXPECT_THROW(ReadLandmarks2d(dir + "/missing.json", 2), IoError);
}

// A small phantom cohort: a model from 15 femurs in true correspondence and a
// held-out femur, whose views are rasterised from its mesh (path length x mu).
struct PhantomCase {
  ssm::ShapeModel model;
  TriangleMesh truth;
  std::vector<FitView> views;
  std::map<std::string, int> landmark_vertices;
};

const PhantomCase& Case() {
  static const PhantomCase c = [] {
    PhantomCase out;
    ssm::PhantomMeshOptions mesh_options;
    mesh_options.spacing_mm = 1.5;
    mesh_options.target_faces = 4000;
    const ssm::FemurTemplate femur_template = ssm::MakeFemurTemplate(mesh_options);
    const auto parameters = ssm::SampleFemurParameters(16, 5);
    std::vector<TriangleMesh> training;
    for (int i = 0; i < 16; ++i) {
      const TriangleMesh mesh =
          ssm::CorrespondingFemurMesh(femur_template, ssm::PhantomFemur(parameters[i]));
      if (i < 15)
        training.push_back(mesh);
      else
        out.truth = mesh;
    }
    out.model = ssm::BuildShapeModel(training);
    out.model.SetLandmarks(femur_template.landmark_vertices);
    out.landmark_vertices = femur_template.landmark_vertices;
    const Eigen::Vector3d center = out.truth.vertices.colwise().mean().transpose();
    for (const drr::ProjectionGeometry& g : BiplanarViews(center, 512, 1.6)) {
      FitView view;
      view.geometry = g;
      view.image = drr::ProjectMeshPathLength(out.truth, g);
      for (float& p : view.image.pixels) p *= 0.05f;  // bone mu, per mm
      view.image.quantity = ImageQuantity::kLineIntegral;
      view.name = g.ToCarm().rotation.col(2).y() > 0.5 ? "AP" : "LAT";
      out.views.push_back(view);
    }
    return out;
  }();
  return c;
}

double MeanDistance(const TriangleMesh& a, const TriangleMesh& b) {
  ssm::SurfaceDistanceOptions options;
  options.compute_dice = false;
  return ssm::ComputeSurfaceDistance(a, b, options).mean_mm;
}

TEST(BiplanarFitTest, LandmarkStartReconstructsAHeldOutFemur) {
  const PhantomCase& c = Case();
  FitInitialization init;
  init.landmarks.resize(2);
  for (const auto& [name, vertex] : c.landmark_vertices) {
    for (int v = 0; v < 2; ++v) {
      init.landmarks[v][name] =
          c.views[v].geometry.Project(c.truth.vertices.row(vertex).transpose());
    }
  }
  const FitResult fit = FitShapeModel(c.model, c.views, init);
  EXPECT_EQ(fit.start, FitStart::kLandmarks);
  TriangleMesh start = c.model.MeanMesh();
  start.vertices = fit.initial_pose.Apply(Eigen::MatrixX3d(start.vertices));
  const double before = MeanDistance(start, c.truth);
  const double after = MeanDistance(fit.mesh, c.truth);
  // The model's own limit: the truth projected onto the model (known
  // correspondence, rigid alignment), i.e. the best any fit can do.
  const ssm::SimilarityTransform to_model =
      ssm::Umeyama(c.truth.vertices, c.model.MeanMesh().vertices, false);
  TriangleMesh best = c.truth;
  best.vertices = c.model.Reconstruct(to_model.Apply(c.truth.vertices));
  TriangleMesh truth_in_model = c.truth;
  truth_in_model.vertices = to_model.Apply(c.truth.vertices);
  const double floor = MeanDistance(best, truth_in_model);
  // Sub-pixel: within one detector pixel at the femur (1.6 mm x 700 / 1000)
  // of that limit. (Edges of a hard-edged path-length image sit about half a
  // pixel inside the outline; docs/biplanar_fit.md, "Accuracy".)
  EXPECT_LT(after, floor + 1.12) << "start " << before << ", model floor " << floor;
  EXPECT_LT(after, 0.6 * before);
  ASSERT_EQ(fit.mesh.scalars.count("posterior_std_mm"), 1u);
  const Eigen::VectorXd& sd = fit.mesh.scalars.at("posterior_std_mm");
  EXPECT_EQ(sd.size(), fit.mesh.num_vertices());
  EXPECT_GT(sd.minCoeff(), 0.0);
  for (const ViewResidualStats& v : fit.views) {
    EXPECT_GT(v.contour_points, 50);
    EXPECT_LT(v.median_px, 1.0);
  }
  EXPECT_FALSE(fit.AnyFlagRaised()) << fit.SummaryJson();
  EXPECT_NE(fit.SummaryJson().find("\"quality_flags\""), std::string::npos);
  EXPECT_FALSE(
      RenderFitOverlayPng(c.views[0], fit.initial_contours[0], fit.final_contours[0]).empty());
}

TEST(BiplanarFitTest, GivenPoseStartConvergesAndShapeImprovesOnTheMean) {
  const PhantomCase& c = Case();
  // The true pose of the mean shape (Umeyama with known correspondence), moved 4 mm and 2 degrees.
  const ssm::SimilarityTransform t =
      ssm::Umeyama(c.model.MeanMesh().vertices, c.truth.vertices, false);
  Pose pose =
      Pose::FromMatrix(t.Matrix(), c.model.MeanMesh().vertices.colwise().mean().transpose());
  pose.translation += Eigen::Vector3d(3, -2, 2);
  pose.rotation += Eigen::Vector3d(0, 2 * kPi / 180, 0);
  FitInitialization init;
  init.pose = pose;
  FitOptions options;
  const FitResult fit = FitShapeModel(c.model, c.views, init, options);
  EXPECT_EQ(fit.start, FitStart::kGivenPose);
  EXPECT_LT(MeanDistance(fit.mesh, c.truth), 1.12);
  // Rigid-only fit of the mean shape from the same start is worse: the shape modes matter.
  options.modes = 0;
  const FitResult rigid = FitShapeModel(c.model, c.views, init, options);
  EXPECT_EQ(rigid.coefficients.size(), 0);
  EXPECT_GT(MeanDistance(rigid.mesh, c.truth), MeanDistance(fit.mesh, c.truth));
}

// Without landmarks, from a start 12 mm and 8 degrees off, while a flat
// horizontal edge (the cut end of a CT's soft tissue, a step as high as the
// bone's own contrast) lies 12 mm above the femoral head in both views: the
// intensity capture and the edge fit find the femur.
TEST(BiplanarFitTest, StartWithoutLandmarksFindsTheFemurDespiteAFlatEdgeAboveIt) {
  const PhantomCase& c = Case();
  std::vector<FitView> views = c.views;
  const int head = c.landmark_vertices.at("femoral_head_top");
  for (FitView& view : views) {
    const Eigen::Vector3d top = c.truth.vertices.row(head).transpose();
    const double cut_row = view.geometry.Project(top + Eigen::Vector3d(0, 0, 12)).y();
    for (int v = 0; v < view.image.rows; ++v) {
      if (v < cut_row) continue;
      for (int u = 0; u < view.image.cols; ++u) view.image.at(v, u) += 2.0f;
    }
  }
  const ssm::SimilarityTransform t =
      ssm::Umeyama(c.model.MeanMesh().vertices, c.truth.vertices, false);
  Pose pose =
      Pose::FromMatrix(t.Matrix(), c.model.MeanMesh().vertices.colwise().mean().transpose());
  pose.translation += Eigen::Vector3d(-7, 7, -7);  // 12.1 mm
  const Eigen::Matrix3d turn =
      Eigen::AngleAxisd(8 * kPi / 180, Eigen::Vector3d(1, 1, 1).normalized()).toRotationMatrix();
  const Eigen::AngleAxisd rotation(turn * pose.RotationMatrix());
  pose.rotation = rotation.axis() * rotation.angle();
  FitInitialization init;
  init.pose = pose;
  FitOptions options;
  options.restarts = false;
  const FitResult fit = FitShapeModel(c.model, views, init, options);
  TriangleMesh start = c.model.MeanMesh();
  start.vertices = fit.initial_pose.Apply(Eigen::MatrixX3d(start.vertices));
  EXPECT_GT(MeanDistance(start, c.truth), 5.0);
  EXPECT_LT(MeanDistance(fit.mesh, c.truth), 1.12) << fit.SummaryJson();
  EXPECT_FALSE(fit.AnyFlagRaised()) << fit.SummaryJson();
}

TEST(BiplanarFitTest, AStartOutsideTheViewsEndsFlaggedInsteadOfCrashing) {
  const PhantomCase& c = Case();
  FitInitialization init;
  init.pose = Pose();
  // 5 m to the side in both views: it projects about 0.9 m off the detector centres.
  init.pose->translation = Eigen::Vector3d(5000, 5000, 0);
  FitOptions options;
  options.intensity_capture = false;
  const FitResult fit = FitShapeModel(c.model, c.views, init, options);
  EXPECT_TRUE(fit.AnyFlagRaised());
  for (const ViewResidualStats& v : fit.views) EXPECT_EQ(v.contour_points, 0);
  EXPECT_EQ(fit.restarts, 4);
}

TEST(BiplanarFitTest, BadInputIsRejected) {
  const PhantomCase& c = Case();
  std::vector<FitView> views = c.views;
  views[1].image = Image2D(100, 100);
  EXPECT_THROW(FitShapeModel(c.model, views, {}), InvalidInput);
  EXPECT_THROW(FitShapeModel(c.model, {}, {}), InvalidInput);
  ssm::ShapeModel points(c.model.mean(), c.model.basis(), c.model.variances(), 0, MatrixX3iR(0, 3));
  EXPECT_THROW(FitShapeModel(points, c.views, {}), InvalidInput);
  FitOptions options;
  options.edge_noise_px = 0;
  EXPECT_THROW(FitShapeModel(c.model, c.views, {}, options), InvalidInput);
}

TEST(RadiographTest, DicomComputedRadiographReadsWithItsHeaderValues) {
  SSMX_REQUIRE_DATA("xray/hip_cr_RG2.dcm");
  const std::string path = testing::DataPath("xray/hip_cr_RG2.dcm");
  const ssm::DicomRadiograph r = ssm::ReadDicomRadiograph(path);
  // dcmdump: Rows 2140, Columns 1760, PixelSpacing 0.2\0.2, CR, MONOCHROME2.
  EXPECT_EQ(r.image.rows, 2140);
  EXPECT_EQ(r.image.cols, 1760);
  EXPECT_TRUE(r.spacing_known);
  EXPECT_DOUBLE_EQ(r.image.pixel_spacing_u_mm, 0.2);
  EXPECT_EQ(r.modality, "CR");
  EXPECT_EQ(r.photometric, "MONOCHROME2");
  const auto [low, high] = std::minmax_element(r.image.pixels.begin(), r.image.pixels.end());
  EXPECT_LT(*low, *high);
  // Its edges can be found; fitting it needs a sidecar, and the error says so.
  const EdgePyramid edges = ExtractEdges(r.image);
  EXPECT_GT(edges.levels[0].num_edges, 1000);
  try {
    ReadFitView(path);
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("sidecar"), std::string::npos);
  }
  EXPECT_THROW(ssm::ReadDicomRadiograph("/nonexistent.dcm"), IoError);
}

}  // namespace
}  // namespace ssmx::registration
