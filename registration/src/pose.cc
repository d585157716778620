#include "ssmx/registration/pose.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ssmx/core/atomic_write.h"
#include "ssmx/core/error.h"

namespace ssmx::registration {
namespace {

using json = nlohmann::json;
constexpr double kPi = 3.14159265358979323846;
constexpr double kDegPerRad = 180.0 / kPi;

Eigen::Matrix3d RotationFromVector(const Eigen::Vector3d& v) {
  const double angle = v.norm();
  if (angle < 1e-300) return Eigen::Matrix3d::Identity();
  return Eigen::AngleAxisd(angle, v / angle).toRotationMatrix();
}

Eigen::Vector3d VectorFromRotation(const Eigen::Matrix3d& r) {
  const Eigen::AngleAxisd aa(r);
  return aa.axis() * aa.angle();
}

double Number(const json& value, const std::string& key, const std::string& what) {
  if (!value.is_number() || !std::isfinite(value.get<double>())) {
    throw InvalidInput(what + ": '" + key + "' must be a finite number");
  }
  return value.get<double>();
}

Eigen::Vector3d Vector3(const json& root, const std::string& key, const std::string& what) {
  const json& value = root.at(key);
  if (!value.is_array() || value.size() != 3) {
    throw InvalidInput(what + ": '" + key + "' must be an array of 3 numbers");
  }
  return {Number(value[0], key, what), Number(value[1], key, what), Number(value[2], key, what)};
}

void CheckAgrees(double a, double b, double tolerance, const std::string& key,
                 const std::string& what) {
  if (std::abs(a - b) > tolerance) {
    std::ostringstream message;
    message << what << ": '" << key << "' (" << a << ") disagrees with 'matrix' (" << b
            << "); the matrix is authoritative: fix or remove '" << key << "'";
    throw InvalidInput(message.str());
  }
}

}  // namespace

Eigen::Matrix3d Pose::RotationMatrix() const { return RotationFromVector(rotation); }

Eigen::Matrix4d Pose::Matrix() const {
  const Eigen::Matrix3d a = scale * RotationMatrix();
  Eigen::Matrix4d m = Eigen::Matrix4d::Identity();
  m.topLeftCorner<3, 3>() = a;
  m.topRightCorner<3, 1>() = center + translation - a * center;
  return m;
}

Eigen::Vector3d Pose::Apply(const Eigen::Vector3d& x) const {
  return scale * (RotationMatrix() * (x - center)) + center + translation;
}

Eigen::MatrixX3d Pose::Apply(const Eigen::MatrixX3d& points) const {
  const Eigen::Matrix4d m = Matrix();
  Eigen::MatrixX3d out = points * m.topLeftCorner<3, 3>().transpose();
  out.rowwise() += m.topRightCorner<3, 1>().transpose();
  return out;
}

Pose Pose::FromMatrix(const Eigen::Matrix4d& m, const Eigen::Vector3d& center,
                      const std::string& what) {
  if (!m.allFinite()) throw InvalidInput(what + ": the matrix has non-finite entries");
  if (m.row(3).cwiseAbs().sum() - 1.0 > 1e-9 || std::abs(m(3, 3) - 1.0) > 1e-9) {
    throw InvalidInput(what + ": the last matrix row must be [0, 0, 0, 1]");
  }
  const Eigen::Matrix3d a = m.topLeftCorner<3, 3>();
  const double det = a.determinant();
  if (det <= 0) {
    throw InvalidInput(what + ": the 3x3 block is mirrored or singular (det <= 0); a pose " +
                       "is a rotation, a translation and a positive scale");
  }
  const double s = std::cbrt(det);
  const Eigen::Matrix3d r = a / s;
  if ((r.transpose() * r - Eigen::Matrix3d::Identity()).cwiseAbs().maxCoeff() > 1e-6) {
    throw InvalidInput(what + ": the 3x3 block is not a scaled rotation (shear or " +
                       "anisotropic scale); only similarity poses are supported");
  }
  // Re-orthonormalise so the angle-axis conversion sees an exact rotation.
  const Eigen::JacobiSVD<Eigen::Matrix3d> svd(r, Eigen::ComputeFullU | Eigen::ComputeFullV);
  const Eigen::Matrix3d rotation = svd.matrixU() * svd.matrixV().transpose();
  Pose pose;
  pose.scale = s;
  pose.rotation = VectorFromRotation(rotation);
  pose.center = center;
  pose.translation = m.topRightCorner<3, 1>() - center + s * rotation * center;
  return pose;
}

Pose Recentered(const Pose& pose, const Eigen::Vector3d& center) {
  return Pose::FromMatrix(pose.Matrix(), center);
}

std::string PoseToJson(const Pose& pose, const std::string& extra_json) {
  json root = json::object();
  root["format"] = "ssmx-pose";
  root["version"] = 1;
  root["frame"] = "world_from_object, LPS millimetres (docs/registration.md)";
  const Eigen::Matrix4d m = pose.Matrix();
  json matrix = json::array();
  for (int r = 0; r < 4; ++r) {
    matrix.push_back({m(r, 0), m(r, 1), m(r, 2), m(r, 3)});
  }
  root["matrix"] = matrix;
  const Eigen::Vector3d deg = pose.rotation * kDegPerRad;
  root["rotation_vector_deg"] = {deg.x(), deg.y(), deg.z()};
  root["rotation_angle_deg"] = deg.norm();
  root["translation_mm"] = {pose.translation.x(), pose.translation.y(), pose.translation.z()};
  root["scale"] = pose.scale;
  root["center_mm"] = {pose.center.x(), pose.center.y(), pose.center.z()};
  const json extra = json::parse(extra_json);
  if (!extra.is_object()) throw InvalidInput("PoseToJson: extra_json must be a JSON object");
  for (auto it = extra.begin(); it != extra.end(); ++it) root[it.key()] = it.value();
  return root.dump(2) + "\n";
}

Pose PoseFromJson(const std::string& text, const std::string& what) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    throw InvalidInput(what + ": not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object() || !root.contains("matrix")) {
    throw InvalidInput(what + ": a pose file needs a 'matrix' member: 4 rows of 4 numbers " +
                       "(world_from_object, docs/registration.md)");
  }
  const json& rows = root["matrix"];
  if (!rows.is_array() || rows.size() != 4) {
    throw InvalidInput(what + ": 'matrix' must be 4 rows of 4 numbers");
  }
  Eigen::Matrix4d m;
  for (int r = 0; r < 4; ++r) {
    if (!rows[r].is_array() || rows[r].size() != 4) {
      throw InvalidInput(what + ": 'matrix' must be 4 rows of 4 numbers");
    }
    for (int c = 0; c < 4; ++c) m(r, c) = Number(rows[r][c], "matrix", what);
  }
  const Eigen::Vector3d center =
      root.contains("center_mm") ? Vector3(root, "center_mm", what) : Eigen::Vector3d::Zero();
  const Pose pose = Pose::FromMatrix(m, center, what);
  if (root.contains("scale")) {
    CheckAgrees(Number(root["scale"], "scale", what), pose.scale, 1e-6, "scale", what);
  }
  if (root.contains("translation_mm")) {
    const Eigen::Vector3d t = Vector3(root, "translation_mm", what);
    for (int i = 0; i < 3; ++i)
      CheckAgrees(t[i], pose.translation[i], 1e-4, "translation_mm", what);
  }
  if (root.contains("rotation_vector_deg")) {
    const Eigen::Matrix3d r =
        RotationFromVector(Vector3(root, "rotation_vector_deg", what) / kDegPerRad);
    const double angle = Eigen::AngleAxisd(r.transpose() * pose.RotationMatrix()).angle();
    CheckAgrees(angle * kDegPerRad, 0.0, 1e-4, "rotation_vector_deg", what);
  }
  return pose;
}

void WritePose(const Pose& pose, const std::string& path, const std::string& extra_json) {
  WriteFileAtomically(path, PoseToJson(pose, extra_json));
}

Pose ReadPose(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open the pose file (check the path)");
  std::ostringstream text;
  text << in.rdbuf();
  return PoseFromJson(text.str(), path);
}

double MeanTargetRegistrationError(const Pose& estimated, const Pose& truth,
                                   const Eigen::MatrixX3d& targets) {
  if (targets.rows() == 0) {
    throw InvalidInput("MeanTargetRegistrationError: no target points given");
  }
  return (estimated.Apply(targets) - truth.Apply(targets)).rowwise().norm().mean();
}

}  // namespace ssmx::registration
