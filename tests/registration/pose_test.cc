#include "ssmx/registration/pose.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ssmx/core/error.h"

namespace ssmx::registration {
namespace {

constexpr double kPi = 3.14159265358979323846;

TEST(PoseTest, QuarterTurnAboutZThroughACentreMovesPointsAsByHand) {
  Pose pose;
  pose.rotation = {0, 0, kPi / 2};
  pose.center = {10, 0, 0};
  pose.translation = {0, 0, 5};
  // (11, 0, 0) is 1 mm along +x from the centre; a quarter turn about +z takes
  // it to 1 mm along +y, then +5 in z.
  const Eigen::Vector3d moved = pose.Apply(Eigen::Vector3d(11, 0, 0));
  EXPECT_NEAR((moved - Eigen::Vector3d(10, 1, 5)).norm(), 0.0, 1e-12);
  const Eigen::Vector4d h = pose.Matrix() * Eigen::Vector4d(11, 0, 0, 1);
  EXPECT_NEAR((h.head<3>() - Eigen::Vector3d(10, 1, 5)).norm(), 0.0, 1e-12);
}

TEST(PoseTest, ScaleAboutTheCentreKeepsTheCentreFixed) {
  Pose pose;
  pose.scale = 1.1;
  pose.center = {3, -4, 7};
  EXPECT_NEAR((pose.Apply(pose.center) - pose.center).norm(), 0.0, 1e-12);
  EXPECT_NEAR((pose.Apply(Eigen::Vector3d(13, -4, 7)) - Eigen::Vector3d(14, -4, 7)).norm(), 0.0,
              1e-12);
}

TEST(PoseTest, MatrixRoundTripAndRecentringKeepTheTransform) {
  Pose pose;
  pose.rotation = Eigen::Vector3d(0.3, -0.2, 0.7);
  pose.translation = {12, -3, 40};
  pose.scale = 0.93;
  pose.center = {-20, 15, 100};
  const Pose back = Pose::FromMatrix(pose.Matrix(), pose.center);
  EXPECT_NEAR((back.rotation - pose.rotation).norm(), 0.0, 1e-12);
  EXPECT_NEAR((back.translation - pose.translation).norm(), 0.0, 1e-10);
  EXPECT_NEAR(back.scale, pose.scale, 1e-12);
  const Pose moved = Recentered(pose, Eigen::Vector3d(1, 2, 3));
  EXPECT_NEAR((moved.Matrix() - pose.Matrix()).cwiseAbs().maxCoeff(), 0.0, 1e-10);
}

TEST(PoseTest, JsonRoundTripAndChecks) {
  Pose pose;
  pose.rotation = Eigen::Vector3d(-0.1, 0.05, 0.2);
  pose.translation = {1, 2, 3};
  pose.center = {4, 5, 6};
  const std::string text = PoseToJson(pose, R"({"mtre_mm": 0.25})");
  EXPECT_NE(text.find("\"mtre_mm\": 0.25"), std::string::npos);
  const Pose back = PoseFromJson(text, "pose.json");
  EXPECT_NEAR((back.Matrix() - pose.Matrix()).cwiseAbs().maxCoeff(), 0.0, 1e-12);

  // A bare matrix (as another tool would write it) is enough.
  const Pose bare = PoseFromJson(R"({"matrix": [[0,-1,0,1],[1,0,0,2],[0,0,1,3],[0,0,0,1]]})", "x");
  EXPECT_NEAR(bare.rotation.z(), kPi / 2, 1e-12);
  EXPECT_NEAR((bare.Apply(Eigen::Vector3d(1, 0, 0)) - Eigen::Vector3d(1, 3, 3)).norm(), 0, 1e-12);

  EXPECT_THROW(PoseFromJson("{", "bad.json"), InvalidInput);
  EXPECT_THROW(PoseFromJson(R"({"matrix": [[1,0,0]]})", "bad.json"), InvalidInput);
  // Mirror.
  EXPECT_THROW(PoseFromJson(R"({"matrix": [[-1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]})", "m"),
               InvalidInput);
  // Shear.
  EXPECT_THROW(PoseFromJson(R"({"matrix": [[1,0.2,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]})", "s"),
               InvalidInput);
  // A convenience key that disagrees with the matrix is reported by name.
  try {
    PoseFromJson(R"({"matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]], "scale": 2})", "p.json");
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("'scale'"), std::string::npos);
  }
  EXPECT_THROW(ReadPose("/nonexistent/pose.json"), IoError);
}

TEST(PoseTest, MeanTargetRegistrationErrorOfAPureTranslationIsItsLength) {
  Pose truth;
  Pose estimated;
  estimated.translation = {0.3, 0.4, 0};
  Eigen::MatrixX3d targets(3, 3);
  targets << 0, 0, 0, 100, 0, 0, 0, 50, 20;
  EXPECT_NEAR(MeanTargetRegistrationError(estimated, truth, targets), 0.5, 1e-12);
  // A rotation by a about z through the origin moves a point at radius r by 2 r sin(a/2).
  Pose turned;
  turned.rotation = {0, 0, 0.1};
  Eigen::MatrixX3d ring(2, 3);
  ring << 10, 0, 0, 0, 10, 0;
  EXPECT_NEAR(MeanTargetRegistrationError(turned, truth, ring), 20 * std::sin(0.05), 1e-12);
  EXPECT_THROW(MeanTargetRegistrationError(turned, truth, Eigen::MatrixX3d(0, 3)), InvalidInput);
}

}  // namespace
}  // namespace ssmx::registration
