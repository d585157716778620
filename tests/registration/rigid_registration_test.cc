#include "ssmx/registration/rigid_registration.h"

#include <gtest/gtest.h>

#include <cmath>

#include "../ssm/test_data.h"
#include "ssmx/core/error.h"
#include "ssmx/drr/detector.h"
#include "ssmx/ssm/label_map.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::registration {
namespace {

constexpr double kPi = 3.14159265358979323846;

// An asymmetric attenuation phantom (1/mm): a soft-tissue ellipsoid holding a
// tilted "bone" ellipsoid, a dense ball and a rod, 64 x 56 x 48 voxels of 2 mm.
Volume SyntheticPhantom() {
  VolumeGeometry g;
  g.size = {64, 56, 48};
  g.spacing_mm = {2.0, 2.0, 2.0};
  g.origin_mm = {-63.0, -40.0, 10.0};
  Volume mu(g, VoxelType::kFloat32);
  const Eigen::Vector3d c = g.Center();
  for (int k = 0; k < g.size.z(); ++k) {
    for (int j = 0; j < g.size.y(); ++j) {
      for (int i = 0; i < g.size.x(); ++i) {
        const Eigen::Vector3d p = g.IndexToWorld(Eigen::Vector3d(i, j, k)) - c;
        float value = 0.0f;
        if (std::pow(p.x() / 58, 2) + std::pow(p.y() / 48, 2) + std::pow(p.z() / 44, 2) < 1) {
          value = 0.02f;
        }
        const Eigen::Vector3d q(p.x() - 15 + 0.3 * p.z(), p.y() + 5, p.z());
        if (std::pow(q.x() / 10, 2) + std::pow(q.y() / 12, 2) + std::pow(q.z() / 35, 2) < 1) {
          value = 0.05f;
        }
        if ((p - Eigen::Vector3d(-25, 10, 15)).norm() < 8) value = 0.08f;
        if (std::hypot(p.y() + 15, p.z() + 20) < 4 && std::abs(p.x() + 10) < 30) value = 0.04f;
        mu.Set(i, j, k, value);
      }
    }
  }
  return mu;
}

drr::CarmGeometry Detector(int size, double pitch_mm) {
  drr::CarmGeometry d;
  d.rows = d.cols = size;
  d.pixel_spacing_u_mm = d.pixel_spacing_v_mm = pitch_mm;
  return d;
}

double MaxAbsDifference(const Image2D& a, const Image2D& b) {
  double worst = 0.0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(a.pixels[i]) - b.pixels[i]));
  }
  return worst;
}

double MaxValue(const Image2D& a) {
  double m = 0.0;
  for (float p : a.pixels) m = std::max(m, static_cast<double>(p));
  return m;
}

TEST(RigidRegistrationTest, ProjectPosedEqualsProjectingTheVolumeMovedByItsHeader) {
  const Volume mu = SyntheticPhantom();
  Pose pose;
  pose.center = mu.geometry().Center();
  pose.rotation = Eigen::Vector3d(0.15, -0.25, 0.4);
  pose.translation = {7.0, -4.0, 11.0};
  const drr::PreparedVolume still = drr::PreparedVolume::FromAttenuation(mu);
  const drr::PreparedVolume moved = drr::PreparedVolume::FromAttenuation(MoveVolume(mu, pose));
  for (drr::NamedView named : {drr::NamedView::kAP, drr::NamedView::kLAT}) {
    const drr::ProjectionGeometry view =
        drr::ProjectionGeometry::Named(named, pose.center, Detector(96, 2.0));
    const Image2D truth = drr::Project(moved, view);
    const Image2D posed = ProjectPosed(still, pose, view);
    ASSERT_GT(MaxValue(truth), 1.0);
    EXPECT_LT(MaxAbsDifference(truth, posed), 1e-4 * MaxValue(truth)) << NamedViewName(named);
    // The unmoved DRR differs clearly: the test can tell a pose from none.
    EXPECT_GT(MaxAbsDifference(truth, drr::Project(still, view)), 0.1 * MaxValue(truth));
  }
}

TEST(RigidRegistrationTest, MoveVolumePlacesEveryVoxelWhereThePoseTakesIt) {
  const Volume mu = SyntheticPhantom();
  Pose pose;
  pose.center = {1, 2, 3};
  pose.rotation = Eigen::Vector3d(0.0, 0.0, kPi / 2);
  pose.translation = {10, 0, 0};
  const Volume moved = MoveVolume(mu, pose);
  for (const Eigen::Vector3d& ijk : {Eigen::Vector3d(0, 0, 0), Eigen::Vector3d(5, 17, 40)}) {
    // A quarter turn about +z through (1, 2, 3): (x, y) - c -> (-(y - cy), x - cx).
    const Eigen::Vector3d p = mu.geometry().IndexToWorld(ijk);
    const Eigen::Vector3d expected(1 - (p.y() - 2) + 10, 2 + (p.x() - 1), p.z());
    EXPECT_NEAR((moved.geometry().IndexToWorld(ijk) - expected).norm(), 0.0, 1e-9);
  }
  EXPECT_EQ(moved.At(5, 17, 40), mu.At(5, 17, 40));
  pose.scale = 2.0;
  EXPECT_THROW(MoveVolume(mu, pose), InvalidInput);
}

TEST(RigidRegistrationTest, ShrinkVolumeKeepsTheLineIntegralsOfAUniformBoxOfWholeBlocks) {
  // A box of 0.03 /mm filling voxels 4..19 x 6..13 x 2..17 (whole 2^3 blocks)
  // of a 24 x 20 x 22 grid with an oblique direction: shrinking by 2 must give
  // the same box, so the same DRR; a ray through it crosses the same chord.
  VolumeGeometry g;
  g.size = {24, 20, 22};
  g.spacing_mm = {1.5, 2.0, 2.5};
  g.origin_mm = {-20, -30, 5};
  g.direction = Eigen::AngleAxisd(0.3, Eigen::Vector3d(1, 2, 3).normalized()).toRotationMatrix();
  Volume mu(g, VoxelType::kFloat32);
  for (int k = 2; k <= 17; ++k) {
    for (int j = 6; j <= 13; ++j) {
      for (int i = 4; i <= 19; ++i) mu.Set(i, j, k, 0.03f);
    }
  }
  const drr::PreparedVolume volume = drr::PreparedVolume::FromAttenuation(mu);
  const drr::PreparedVolume shrunk = ShrinkVolume(volume, 2);
  EXPECT_EQ(shrunk.geometry().size, Eigen::Vector3i(12, 10, 11));
  EXPECT_EQ(shrunk.geometry().spacing_mm, Eigen::Vector3d(3.0, 4.0, 5.0));
  EXPECT_NEAR((VolumeCenter(shrunk) - VolumeCenter(volume)).norm(), 0.0, 1e-9);
  const drr::ProjectionGeometry view =
      drr::ProjectionGeometry::Named(drr::NamedView::kAP, VolumeCenter(volume), Detector(48, 1.0));
  const Image2D fine = drr::Project(volume, view);
  const Image2D coarse = drr::Project(shrunk, view);
  ASSERT_GT(MaxValue(fine), 0.3);
  EXPECT_LT(MaxAbsDifference(fine, coarse), 1e-4 * MaxValue(fine));
  EXPECT_THROW(ShrinkVolume(volume, 0), InvalidInput);
}

TEST(RigidRegistrationTest, BinnedGeometryMapsPixelsAsDocumented) {
  const drr::ProjectionGeometry view = drr::ProjectionGeometry::Named(
      drr::NamedView::kAP, Eigen::Vector3d(0, 0, 0), Detector(64, 1));
  const drr::ProjectionGeometry binned = BinnedGeometry(view, 4);
  EXPECT_EQ(binned.rows(), 16);
  EXPECT_EQ(binned.cols(), 16);
  EXPECT_DOUBLE_EQ(binned.pixel_spacing_u_mm(), 4.0);
  const Eigen::Vector3d point(12.0, -30.0, 17.0);
  const Eigen::Vector2d uv = view.Project(point);
  // docs/geometry.md section 3: u_new = (u - (b-1)/2) / b.
  EXPECT_NEAR((binned.Project(point) - (uv.array() - 1.5).matrix() / 4.0).norm(), 0.0, 1e-9);
  EXPECT_NEAR((binned.SourcePosition() - view.SourcePosition()).norm(), 0.0, 1e-9);

  Image2D image(5, 6);
  for (int v = 0; v < 5; ++v) {
    for (int u = 0; u < 6; ++u) image.at(v, u) = static_cast<float>(10 * v + u);
  }
  const Image2D small = BinImage(image, 2);
  ASSERT_EQ(small.rows, 2);
  ASSERT_EQ(small.cols, 3);
  // Block (v 2..3, u 4..5): (24 + 25 + 34 + 35) / 4.
  EXPECT_FLOAT_EQ(small.at(1, 2), 29.5f);
  EXPECT_THROW(BinnedGeometry(view, 65), InvalidInput);
}

TEST(RigidRegistrationTest, SimilarityIsOneForAnAffineCopyAndMinusOneForANegatedOne) {
  Image2D a(20, 30);
  for (int v = 0; v < 20; ++v) {
    for (int u = 0; u < 30; ++u) a.at(v, u) = static_cast<float>(std::sin(0.3 * u) + 0.01 * v * v);
  }
  Image2D b = a, c = a;
  for (float& p : b.pixels) p = 3.0f * p + 7.0f;
  for (float& p : c.pixels) p = -2.0f * p + 1.0f;
  for (Similarity s : {Similarity::kNcc, Similarity::kGradientCorrelation}) {
    EXPECT_NEAR(ImageSimilarity(a, b, s), 1.0, 1e-9) << SimilarityName(s);
    EXPECT_NEAR(ImageSimilarity(a, c, s), -1.0, 1e-9) << SimilarityName(s);
  }
  Image2D flat(20, 30);
  EXPECT_EQ(ImageSimilarity(a, flat, Similarity::kNcc), 0.0);
  EXPECT_THROW(ImageSimilarity(a, Image2D(3, 3), Similarity::kNcc), InvalidInput);
}

TEST(RigidRegistrationTest, SimilarityInARegionOfInterestIgnoresThePixelsOutsideIt) {
  // b is an affine copy of a in columns 0..14 and unrelated beyond; the
  // region of interest, columns 1..13, keeps every Sobel window inside the copy.
  Image2D a(20, 30), b(20, 30);
  std::vector<uint8_t> roi(a.pixels.size(), 0);
  for (int v = 0; v < 20; ++v) {
    for (int u = 0; u < 30; ++u) {
      a.at(v, u) = static_cast<float>(std::sin(0.3 * u) + 0.01 * v * v);
      b.at(v, u) = u <= 14 ? 3.0f * a.at(v, u) + 7.0f : static_cast<float>(std::cos(0.7 * u * v));
      roi[static_cast<size_t>(v) * 30 + u] = u >= 1 && u <= 13;
    }
  }
  for (Similarity s : {Similarity::kNcc, Similarity::kGradientCorrelation}) {
    EXPECT_NEAR(ImageSimilarity(a, b, s, roi), 1.0, 1e-9) << SimilarityName(s);
    EXPECT_LT(ImageSimilarity(a, b, s), 0.9) << SimilarityName(s);
    EXPECT_DOUBLE_EQ(ImageSimilarity(a, b, s, {}), ImageSimilarity(a, b, s));
  }
  EXPECT_THROW(ImageSimilarity(a, b, Similarity::kNcc, std::vector<uint8_t>(10, 1)), InvalidInput);
}

TEST(RigidRegistrationTest, PerturbPoseMovesByExactlyTheRequestedStepAndIsSeeded) {
  Pose base;
  base.center = {10, 20, 30};
  base.rotation = {0.1, 0.2, -0.1};
  base.translation = {1, 2, 3};
  const Pose a = PerturbPose(base, 10.0, 5.0 * kPi / 180.0, 42);
  const Pose b = PerturbPose(base, 10.0, 5.0 * kPi / 180.0, 42);
  const Pose c = PerturbPose(base, 10.0, 5.0 * kPi / 180.0, 43);
  EXPECT_EQ(a.Matrix(), b.Matrix());
  EXPECT_GT((a.Matrix() - c.Matrix()).norm(), 1e-3);
  EXPECT_NEAR((a.translation - base.translation).norm(), 10.0, 1e-9);
  const Eigen::AngleAxisd relative(a.RotationMatrix() * base.RotationMatrix().transpose());
  EXPECT_NEAR(relative.angle(), 5.0 * kPi / 180.0, 1e-9);
}

// Targets: ProjectPosed-independent X-rays of the volume moved by its header.
std::vector<RegistrationView> TargetViews(const Volume& moved_volume, bool hounsfield,
                                          const Eigen::Vector3d& isocenter,
                                          const drr::CarmGeometry& detector, uint64_t seed) {
  const drr::PreparedVolume moved = hounsfield ? drr::PreparedVolume::FromHounsfield(moved_volume)
                                               : drr::PreparedVolume::FromAttenuation(moved_volume);
  std::vector<RegistrationView> views;
  for (drr::NamedView named : {drr::NamedView::kAP, drr::NamedView::kLAT}) {
    drr::XrayImage xray;
    xray.sidecar.geometry = drr::ProjectionGeometry::Named(named, isocenter, detector);
    xray.sidecar.i0 = 1e4;
    xray.image = drr::IntensityFromLineIntegral(drr::Project(moved, xray.sidecar.geometry), 1e4,
                                                seed + views.size());
    views.push_back(PrepareView(xray, NamedViewName(named)));
  }
  return views;
}

TEST(RigidRegistrationTest, ACancelledProgressStopsTheRegistration) {
  const drr::PreparedVolume volume = drr::PreparedVolume::FromAttenuation(SyntheticPhantom());
  Pose start;
  start.center = VolumeCenter(volume);
  const std::vector<RegistrationView> views =
      TargetViews(MoveVolume(SyntheticPhantom(), PerturbPose(start, 5.0, 0.05, 9)), false,
                  start.center, Detector(32, 6.0), 1);
  RigidRegistrationOptions options;
  int calls = 0;
  options.progress = [&](double, const std::string&) { return ++calls < 3; };
  EXPECT_THROW(RegisterRigid(volume, views, start, options), Cancelled);
  EXPECT_EQ(calls, 3);
}

TEST(RigidRegistrationTest, RecoversAKnownPoseOfASyntheticVolumeWithNccAndGc) {
  const Volume mu = SyntheticPhantom();
  const drr::PreparedVolume volume = drr::PreparedVolume::FromAttenuation(mu);
  Pose truth;
  truth.center = VolumeCenter(volume);
  truth.rotation = Eigen::Vector3d(0.05, -0.08, 0.1);
  truth.translation = {4.0, -6.0, 3.0};
  const std::vector<RegistrationView> views =
      TargetViews(MoveVolume(mu, truth), false, truth.center, Detector(96, 2.0), 7);
  const RegistrationTruth known{truth, TargetPoints(volume, 0.04f)};
  RigidRegistrationOptions options;
  options.levels = {{2, 2}, {1, 1}};
  for (Similarity s : {Similarity::kNcc, Similarity::kGradientCorrelation}) {
    options.similarity = s;
    for (uint64_t seed : {1u, 2u}) {
      const Pose start = PerturbPose(truth, 10.0, 5.0 * kPi / 180.0, seed);
      const RigidRegistrationSummary summary = RegisterRigid(volume, views, start, options, known);
      SCOPED_TRACE(summary.BriefReport());
      ASSERT_TRUE(summary.initial_mtre_mm && summary.final_mtre_mm);
      EXPECT_GT(*summary.initial_mtre_mm, 8.0);
      EXPECT_LT(*summary.final_mtre_mm, 0.3);
      EXPECT_GT(summary.final_score, summary.initial_score);
      EXPECT_GT(summary.final_score, 0.9);
      EXPECT_EQ(summary.view_scores.size(), 2u);
      EXPECT_EQ(summary.levels.size(), 2u);
      EXPECT_GT(summary.iterations, 0);
      EXPECT_EQ(summary.pose.center, truth.center);
      EXPECT_EQ(summary.pose.scale, 1.0);
    }
  }
}

TEST(RigidRegistrationTest, RecoversABonesOwnMotionInFrontOfAFixedBackground) {
  // The phantom's "bone" (the tilted ellipsoid and the dense ball, mu 0.05 and
  // 0.08, rigidly joined) moves on its own; the rest stays put and is given as
  // the background, so only the bone's pose is unknown.
  const Volume mu = SyntheticPhantom();
  Volume bone_mu(mu.geometry(), VoxelType::kFloat32), rest_mu = mu;
  for (int64_t i = 0; i < mu.num_voxels(); ++i) {
    if (mu.data<float>()[i] >= 0.05f) {
      bone_mu.data<float>()[i] = mu.data<float>()[i];
      rest_mu.data<float>()[i] = 0.0f;
    }
  }
  const drr::PreparedVolume bone = drr::PreparedVolume::FromAttenuation(bone_mu);
  const drr::PreparedVolume rest = drr::PreparedVolume::FromAttenuation(rest_mu);
  Pose truth;
  truth.center = VolumeCenter(bone);
  truth.rotation = Eigen::Vector3d(0.03, 0.05, -0.04);
  truth.translation = {3.0, -2.0, 4.0};
  const drr::PreparedVolume moved_bone =
      drr::PreparedVolume::FromAttenuation(MoveVolume(bone_mu, truth));
  std::vector<RegistrationView> views;
  for (drr::NamedView named : {drr::NamedView::kAP, drr::NamedView::kLAT}) {
    drr::XrayImage xray;
    xray.sidecar.geometry = drr::ProjectionGeometry::Named(named, truth.center, Detector(96, 2.0));
    Image2D line_integral = drr::Project(rest, xray.sidecar.geometry);
    const Image2D bone_part = drr::Project(moved_bone, xray.sidecar.geometry);
    for (size_t p = 0; p < bone_part.pixels.size(); ++p)
      line_integral.pixels[p] += bone_part.pixels[p];
    xray.image = drr::IntensityFromLineIntegral(line_integral, 1e4, 21 + views.size());
    views.push_back(PrepareView(xray, NamedViewName(named)));
  }
  RigidRegistrationOptions options;
  options.levels = {{2, 1}, {1, 1}};
  options.background = &rest;
  options.background_pose.center = truth.center;  // the identity
  const RegistrationTruth known{truth, TargetPoints(bone, 0.01f)};
  const Pose start = PerturbPose(truth, 6.0, 3.0 * kPi / 180.0, 5);
  const RigidRegistrationSummary summary = RegisterRigid(bone, views, start, options, known);
  SCOPED_TRACE(summary.BriefReport());
  EXPECT_GT(*summary.initial_mtre_mm, 5.0);
  EXPECT_LT(*summary.final_mtre_mm, 0.3);
}

TEST(RigidRegistrationTest, VolumeOutsideMaskIsTheCtMinusTheLabel) {
  VolumeGeometry g;
  g.size = {4, 3, 2};
  Volume ct(g, VoxelType::kInt16), mask(g, VoxelType::kInt16);
  for (int i = 0; i < 4; ++i) {
    ct.Set(i, 1, 1, 1000.0f);
    ct.Set(i, 2, 0, 0.0f);
  }
  mask.Set(1, 1, 1, 1.0f);
  mask.Set(2, 1, 1, 1.0f);
  const drr::PreparedVolume outside = VolumeOutsideMask(ct, mask, 0.02);
  // HU 1000 -> mu 0.04, HU 0 -> 0.02, HU 0 of a zero-filled int16 voxel too.
  EXPECT_FLOAT_EQ(outside.data()[ct.LinearIndex(0, 1, 1)], 0.04f);
  EXPECT_FLOAT_EQ(outside.data()[ct.LinearIndex(1, 1, 1)], 0.0f);
  EXPECT_FLOAT_EQ(outside.data()[ct.LinearIndex(2, 1, 1)], 0.0f);
  EXPECT_FLOAT_EQ(outside.data()[ct.LinearIndex(3, 2, 0)], 0.02f);
  Volume other(VolumeGeometry{Eigen::Vector3i(4, 3, 3)}, VoxelType::kInt16);
  EXPECT_THROW(VolumeOutsideMask(ct, other), InvalidInput);
}

TEST(RigidRegistrationTest, RecoversAKnownPoseOfTheRealAbdomenCt) {
  SSMX_REQUIRE_DATA("ct/totalseg_abdomen/example_ct.nii.gz");
  const Volume ct =
      ssm::ReadVolume(testing::DataPath("ct/totalseg_abdomen/example_ct.nii.gz")).volume;
  const drr::PreparedVolume volume = drr::PreparedVolume::FromHounsfield(ct);
  Pose truth;
  truth.center = VolumeCenter(volume);
  truth.rotation = Eigen::Vector3d(0.03, 0.02, -0.04);
  truth.translation = {3.0, 5.0, -2.0};
  // A 128^2 detector of 4 mm pixels (2.8 mm at the isocentre) keeps this short;
  // benchmarks/registration runs the full-size study.
  const std::vector<RegistrationView> views =
      TargetViews(MoveVolume(ct, truth), true, truth.center, Detector(128, 4.0), 11);
  const RegistrationTruth known{
      truth,
      TargetPoints(volume, drr::AttenuationFromHounsfield(200.0f, drr::kDefaultMuWaterPerMm))};
  RigidRegistrationOptions options;
  options.levels = {{2, 2}, {1, 1}};
  for (uint64_t seed : {3u, 4u}) {
    const Pose start = PerturbPose(truth, 10.0, 5.0 * kPi / 180.0, seed);
    const RigidRegistrationSummary summary = RegisterRigid(volume, views, start, options, known);
    SCOPED_TRACE(summary.BriefReport());
    EXPECT_LT(*summary.final_mtre_mm, 0.5);
  }
}

TEST(RigidRegistrationTest, RefusesBadInputWithClearErrors) {
  const Volume mu = SyntheticPhantom();
  const drr::PreparedVolume volume = drr::PreparedVolume::FromAttenuation(mu);
  Pose start;
  start.center = VolumeCenter(volume);
  const std::vector<RegistrationView> views =
      TargetViews(mu, false, start.center, Detector(32, 6.0), 1);
  const auto message = [&](auto&& call) -> std::string {
    try {
      call();
    } catch (const InvalidInput& e) {
      return e.what();
    }
    return "no InvalidInput";
  };
  EXPECT_NE(message([&] { RegisterRigid(volume, {}, start); }).find("no X-ray view"),
            std::string::npos);
  const drr::PreparedVolume empty =
      drr::PreparedVolume::FromAttenuation(Volume(mu.geometry(), VoxelType::kFloat32));
  EXPECT_NE(message([&] { RegisterRigid(empty, views, start); }).find("empty label"),
            std::string::npos);
  Pose scaled = start;
  scaled.scale = 1.1;
  EXPECT_NE(message([&] { RegisterRigid(volume, views, scaled); }).find("scale"),
            std::string::npos);
  RigidRegistrationOptions coarse;
  coarse.levels = {{16, 1}};
  EXPECT_NE(message([&] { RegisterRigid(volume, views, start, coarse); }).find("binning"),
            std::string::npos);
  Pose away = start;
  away.translation = {0, 0, 5000};  // far outside both fields of view
  EXPECT_NE(message([&] { RegisterRigid(volume, views, away); }).find("does not project"),
            std::string::npos);

  drr::XrayImage mask;
  mask.sidecar.geometry = views[0].geometry;
  mask.image = Image2D(32, 32);
  mask.image.quantity = ImageQuantity::kMask;
  mask.image.at(3, 3) = 1.0f;
  EXPECT_NE(message([&] { PrepareView(mask, "m.png"); }).find("m.png: a 0/1 mask"),
            std::string::npos);
  drr::XrayImage wrong_size = mask;
  wrong_size.image = Image2D(30, 32);
  wrong_size.image.quantity = ImageQuantity::kLineIntegral;
  EXPECT_NE(message([&] { PrepareView(wrong_size, "w.png"); }).find("w.png: the image is 32x30"),
            std::string::npos);
  drr::XrayImage flat = mask;
  flat.image = Image2D(32, 32);
  flat.image.quantity = ImageQuantity::kLineIntegral;
  EXPECT_NE(message([&] { PrepareView(flat, "f.png"); }).find("no contrast"), std::string::npos);
}

}  // namespace
}  // namespace ssmx::registration
