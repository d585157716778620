#ifndef SSMX_REGISTRATION_POSE_H_
#define SSMX_REGISTRATION_POSE_H_

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <string>
#include <vector>

namespace ssmx::registration {

// A similarity transform from an object's own frame (a CT's LPS millimetres
// as its header places it, or a shape model's frame) into the world of the
// projection geometry (the LPS millimetres the views' 3x4 matrices read):
//   world = scale * R * (x - center) + center + translation.
// Rotating about `center` (the object's centre, fixed by whoever sets up the
// problem) keeps rotation and translation decoupled for the optimisers.
// `rotation` is an angle-axis vector in radians (|rotation| = angle).
struct Pose {
  Eigen::Vector3d rotation = Eigen::Vector3d::Zero();
  Eigen::Vector3d translation = Eigen::Vector3d::Zero();
  double scale = 1.0;
  Eigen::Vector3d center = Eigen::Vector3d::Zero();

  Eigen::Matrix3d RotationMatrix() const;
  // The 4x4 homogeneous matrix world_from_object.
  Eigen::Matrix4d Matrix() const;
  Eigen::Vector3d Apply(const Eigen::Vector3d& x) const;
  // Applies the pose to every row of an (n, 3) point matrix.
  Eigen::MatrixX3d Apply(const Eigen::MatrixX3d& points) const;

  // The pose whose Matrix() is `world_from_object` (a similarity: its 3x3
  // block must be s*R with R a proper rotation, relative 1e-6), about
  // `center`. Throws InvalidInput otherwise, naming `what`.
  static Pose FromMatrix(const Eigen::Matrix4d& world_from_object,
                         const Eigen::Vector3d& center = Eigen::Vector3d::Zero(),
                         const std::string& what = "pose");
};

// The same transform expressed about another centre (Matrix() is unchanged).
Pose Recentered(const Pose& pose, const Eigen::Vector3d& center);

// pose.json: {"format": "ssmx-pose", "version": 1, "matrix": 4x4 rows,
// "rotation_vector_deg", "rotation_angle_deg", "translation_mm", "scale",
// "center_mm"} plus, when given, extra members copied from `extra_json` (a
// JSON object text, e.g. the registration's score and mTRE). `matrix` is
// authoritative on reading; center_mm is optional (default 0), and the other
// keys, when present, must agree with the matrix.
std::string PoseToJson(const Pose& pose, const std::string& extra_json = "{}");
Pose PoseFromJson(const std::string& text, const std::string& what);
void WritePose(const Pose& pose, const std::string& path, const std::string& extra_json = "{}");
// Throws IoError when the file is missing, InvalidInput when it is malformed.
Pose ReadPose(const std::string& path);

// Mean target registration error (mm): the mean over `targets` (rows, object
// frame) of |estimated(x) - truth(x)|. Throws InvalidInput for no targets.
double MeanTargetRegistrationError(const Pose& estimated, const Pose& truth,
                                   const Eigen::MatrixX3d& targets);

}  // namespace ssmx::registration

#endif  // SSMX_REGISTRATION_POSE_H_
