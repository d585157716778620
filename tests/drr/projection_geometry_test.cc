// Geometry tests: the hand-computed numbers of docs/geometry.md, round trips of
// random C-arm poses through P, refusals, and the sidecar.
#include "ssmx/drr/projection_geometry.h"

#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <random>

#include "ssmx/core/error.h"
#include "ssmx/drr/sidecar.h"

namespace ssmx::drr {
namespace {

CarmGeometry WorkedExample() {
  CarmGeometry carm;  // SID 1000, SAD 700, 512 x 512, 0.5 mm: the documented defaults
  carm.isocenter_mm = Eigen::Vector3d::Zero();
  return carm;
}

TEST(ProjectionGeometry, ApMatrixMatchesTheWorkedExample) {
  const ProjectionGeometry g =
      ProjectionGeometry::Named(NamedView::kAP, Eigen::Vector3d::Zero(), WorkedExample());
  Matrix34d expected;
  expected << 2000, 255.5, 0, 178850,  //
      0, 255.5, -2000, 178850,         //
      0, 1, 0, 700;
  EXPECT_LT((g.matrix() - expected).norm(), 1e-9);
  EXPECT_LT((g.SourcePosition() - Eigen::Vector3d(0, -700, 0)).norm(), 1e-12);
  double w = 0;
  Eigen::Vector2d uv = g.Project(Eigen::Vector3d(10, 0, 0), &w);
  EXPECT_NEAR(w, 700, 1e-12);
  EXPECT_NEAR(uv.x(), 198850.0 / 700.0, 1e-9);
  EXPECT_NEAR(uv.y(), 255.5, 1e-12);
  uv = g.Project(Eigen::Vector3d(0, 0, 20));
  EXPECT_NEAR(uv.y(), 255.5 - 2000.0 * 20 / 700, 1e-9);
  uv = g.Project(Eigen::Vector3d(10, 100, 0), &w);
  EXPECT_NEAR(w, 800, 1e-12);
  EXPECT_NEAR(uv.x(), 280.5, 1e-9);
  EXPECT_LT((g.DetectorPoint(0, 0) - Eigen::Vector3d(-127.75, 300, 127.75)).norm(), 1e-9);
  EXPECT_GT(g.matrix().leftCols<3>().determinant(), 0);
}

TEST(ProjectionGeometry, LatMatrixMatchesTheWorkedExample) {
  const ProjectionGeometry g =
      ProjectionGeometry::Named(NamedView::kLAT, Eigen::Vector3d::Zero(), WorkedExample());
  Matrix34d expected;
  expected << 255.5, -2000, 0, 178850,  //
      255.5, 0, -2000, 178850,          //
      1, 0, 0, 700;
  EXPECT_LT((g.matrix() - expected).norm(), 1e-9);
  EXPECT_LT((g.SourcePosition() - Eigen::Vector3d(-700, 0, 0)).norm(), 1e-12);
  EXPECT_NEAR(g.Project(Eigen::Vector3d(0, -10, 0)).x(), 255.5 + 2000.0 * 10 / 700, 1e-9);
}

TEST(ProjectionGeometry, OrientationOfNamedViewsIsAsDisplayed) {
  const Eigen::Vector3d iso(12, -30, 80);
  const ProjectionGeometry ap = ProjectionGeometry::Named(NamedView::kAP, iso);
  const Eigen::Vector2d centre = ap.Project(iso);
  // Patient left (+x) lands right of centre, superior (+z) above it.
  EXPECT_GT(ap.Project(iso + Eigen::Vector3d(20, 0, 0)).x(), centre.x() + 1);
  EXPECT_LT(ap.Project(iso + Eigen::Vector3d(0, 0, 20)).y(), centre.y() - 1);
  const ProjectionGeometry lat = ProjectionGeometry::Named(NamedView::kLAT, iso);
  // Anterior (-y) lands right in LAT.
  EXPECT_GT(lat.Project(iso + Eigen::Vector3d(0, -20, 0)).x(), lat.Project(iso).x() + 1);
}

TEST(ProjectionGeometry, RandomPosesRoundTripThroughTheMatrix) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> uniform(-1, 1);
  for (int trial = 0; trial < 200; ++trial) {
    CarmGeometry carm;
    carm.rows = 100 + trial;
    carm.cols = 300 - trial;
    carm.pixel_spacing_u_mm = 0.2 + 0.3 * (uniform(rng) + 1);
    carm.pixel_spacing_v_mm = 0.2 + 0.3 * (uniform(rng) + 1);
    carm.source_to_detector_mm = 900 + 200 * uniform(rng);
    carm.source_to_isocenter_mm = 500 + 100 * uniform(rng);
    carm.principal_point_px =
        Eigen::Vector2d(carm.cols / 2.0 + 20 * uniform(rng), carm.rows / 2.0 + 20 * uniform(rng));
    carm.rotation = Eigen::Quaterniond(uniform(rng), uniform(rng), uniform(rng), uniform(rng))
                        .normalized()
                        .toRotationMatrix();
    carm.isocenter_mm = Eigen::Vector3d(uniform(rng), uniform(rng), uniform(rng)) * 200;
    const ProjectionGeometry g = ProjectionGeometry::FromCarm(carm);
    const CarmGeometry back = g.ToCarm();
    EXPECT_NEAR(back.source_to_detector_mm, carm.source_to_detector_mm, 1e-9);
    EXPECT_NEAR(back.source_to_isocenter_mm, carm.source_to_isocenter_mm, 1e-9);
    EXPECT_LT((back.principal_point_px - carm.principal_point_px).norm(), 1e-9);
    EXPECT_LT((back.rotation - carm.rotation).norm(), 1e-9);
    EXPECT_LT((back.isocenter_mm - carm.isocenter_mm).norm(), 1e-9);
    // The source is the null space of P.
    const Eigen::Vector4d s(g.SourcePosition().x(), g.SourcePosition().y(), g.SourcePosition().z(),
                            1);
    EXPECT_LT((g.matrix() * s).norm(), 1e-6);
    // A P scaled by a positive factor (as another tool may write it) is the same view.
    const ProjectionGeometry scaled = ProjectionGeometry::FromMatrix(
        3.7 * g.matrix(), carm.rows, carm.cols, carm.pixel_spacing_u_mm, carm.pixel_spacing_v_mm,
        carm.source_to_isocenter_mm);
    EXPECT_LT((scaled.matrix() - g.matrix()).norm(), 1e-9 * g.matrix().norm());
    // Detector pixels project back onto themselves.
    double w = 0;
    const Eigen::Vector2d uv = g.Project(g.DetectorPoint(17.25, 3.5), &w);
    EXPECT_NEAR(uv.x(), 17.25, 1e-8);
    EXPECT_NEAR(uv.y(), 3.5, 1e-8);
    EXPECT_NEAR(w, carm.source_to_detector_mm, 1e-8);
  }
}

TEST(ProjectionGeometry, RefusesMirroredSingularAndInconsistentMatrices) {
  const ProjectionGeometry g = ProjectionGeometry::Named(NamedView::kAP, Eigen::Vector3d::Zero());
  EXPECT_THROW(ProjectionGeometry::FromMatrix(-g.matrix(), 512, 512, 0.5, 0.5, 700), InvalidInput);
  Matrix34d mirrored = g.matrix();
  mirrored.row(0) *= -1;
  EXPECT_THROW(ProjectionGeometry::FromMatrix(mirrored, 512, 512, 0.5, 0.5, 700), InvalidInput);
  EXPECT_THROW(ProjectionGeometry::FromMatrix(Matrix34d::Zero(), 512, 512, 0.5, 0.5, 700),
               InvalidInput);
  // k11*du = 1000 but k22*dv = 1200.
  EXPECT_THROW(ProjectionGeometry::FromMatrix(g.matrix(), 512, 512, 0.5, 0.6, 700), InvalidInput);
  CarmGeometry bad;
  bad.source_to_isocenter_mm = 1200;  // beyond the detector
  EXPECT_THROW(ProjectionGeometry::FromCarm(bad), InvalidInput);
  bad = CarmGeometry();
  bad.rotation = -Eigen::Matrix3d::Identity();
  EXPECT_THROW(ProjectionGeometry::FromCarm(bad), InvalidInput);
}

TEST(Sidecar, WritesTheDocumentedKeysAndReadsThemBack) {
  Sidecar sidecar;
  sidecar.geometry =
      ProjectionGeometry::Named(NamedView::kAP, Eigen::Vector3d::Zero(), WorkedExample());
  sidecar.quantity = ImageQuantity::kLineIntegral;
  sidecar.view = "AP";
  sidecar.mu_water_per_mm = 0.02059;
  sidecar.png_window = std::array<double, 2>{0.0, 8.0};
  const std::string text = SidecarToJson(sidecar);
  for (const char* key :
       {"\"rows\"", "\"cols\"", "\"pixel_spacing_mm\"", "\"source_to_detector_mm\"",
        "\"source_to_isocenter_mm\"", "\"principal_point_px\"", "\"source_position_mm\"",
        "\"projection_matrix\"", "\"quantity\"", "\"world_from_carm\"", "\"isocenter_mm\""}) {
    EXPECT_NE(text.find(key), std::string::npos) << key;
  }
  EXPECT_NE(text.find("178850"), std::string::npos);
  const Sidecar back = SidecarFromJson(text, "ap.json");
  EXPECT_LT((back.geometry.matrix() - sidecar.geometry.matrix()).norm(), 1e-9);
  EXPECT_EQ(*back.quantity, ImageQuantity::kLineIntegral);
  EXPECT_EQ(back.view, "AP");
  EXPECT_DOUBLE_EQ((*back.png_window)[1], 8.0);
}

TEST(Sidecar, RefusesFieldsThatDisagreeWithTheMatrix) {
  Sidecar sidecar;
  sidecar.geometry =
      ProjectionGeometry::Named(NamedView::kAP, Eigen::Vector3d::Zero(), WorkedExample());
  sidecar.quantity = ImageQuantity::kIntensity;
  std::string text = SidecarToJson(sidecar);
  const auto replace = [](std::string s, const std::string& from, const std::string& to) {
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  // Source moved by 1 mm.
  const std::string moved = replace(text, "-700.0", "-701.0");
  try {
    SidecarFromJson(moved, "ap.json");
    FAIL() << "accepted a wrong source position";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("ap.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("source_position_mm"), std::string::npos);
  }
  EXPECT_THROW(SidecarFromJson(replace(text, "\"rows\"", "\"r0ws\""), "x.json"), InvalidInput);
  EXPECT_THROW(SidecarFromJson("{not json", "x.json"), InvalidInput);
  EXPECT_THROW(SidecarFromJson(replace(text, "\"intensity\"", "\"brightness\""), "x.json"),
               InvalidInput);
}

TEST(Sidecar, PathReplacesDoubleExtensions) {
  EXPECT_EQ(SidecarPath("views/ap.png"), "views/ap.json");
  EXPECT_EQ(SidecarPath("views/ap.nii.gz"), "views/ap.json");
  EXPECT_EQ(SidecarPath("lat.tiff"), "lat.json");
}

}  // namespace
}  // namespace ssmx::drr
