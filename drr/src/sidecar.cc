#include "ssmx/drr/sidecar.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ssmx/core/atomic_write.h"
#include "ssmx/core/error.h"

namespace ssmx::drr {
namespace {

using json = nlohmann::ordered_json;

constexpr double kTolerance = 1e-6;

[[noreturn]] void Fail(const std::string& what, const std::string& message) {
  throw InvalidInput(what + ": " + message);
}

const json& Require(const json& root, const char* key, const std::string& what) {
  auto it = root.find(key);
  if (it == root.end()) Fail(what, std::string("missing key \"") + key + "\"");
  return *it;
}

double Number(const json& value, const std::string& key, const std::string& what) {
  if (!value.is_number()) Fail(what, "\"" + key + "\" must be a number");
  const double x = value.get<double>();
  if (!std::isfinite(x)) Fail(what, "\"" + key + "\" must be finite");
  return x;
}

int Integer(const json& value, const std::string& key, const std::string& what) {
  if (!value.is_number_integer() || value.get<int64_t>() <= 0 || value.get<int64_t>() > 1 << 20) {
    Fail(what, "\"" + key + "\" must be a positive integer");
  }
  return value.get<int>();
}

template <int N>
Eigen::Matrix<double, N, 1> Vector(const json& value, const std::string& key,
                                   const std::string& what) {
  if (!value.is_array() || value.size() != N) {
    Fail(what, "\"" + key + "\" must be an array of " + std::to_string(N) + " numbers");
  }
  Eigen::Matrix<double, N, 1> v;
  for (int i = 0; i < N; ++i) v[i] = Number(value[i], key, what);
  return v;
}

template <int R, int C>
Eigen::Matrix<double, R, C> Matrix(const json& value, const std::string& key,
                                   const std::string& what) {
  if (!value.is_array() || value.size() != R) {
    Fail(what, "\"" + key + "\" must have " + std::to_string(R) + " rows of " + std::to_string(C) +
                   " numbers");
  }
  Eigen::Matrix<double, R, C> m;
  for (int r = 0; r < R; ++r) m.row(r) = Vector<C>(value[r], key, what).transpose();
  return m;
}

bool Agrees(double a, double b) {
  return std::abs(a - b) <= kTolerance * std::max({std::abs(a), std::abs(b), 1.0});
}

template <typename V>
bool AgreesVector(const V& a, const V& b) {
  return (a - b).norm() <= kTolerance * std::max({a.norm(), b.norm(), 1.0});
}

std::string Format(double value) {
  std::ostringstream out;
  out.precision(10);
  out << value;
  return out.str();
}

void CheckAgreement(bool ok, const std::string& what, const std::string& key,
                    const std::string& detail) {
  if (!ok) {
    Fail(what, "\"" + key + "\" disagrees with \"projection_matrix\" (" + detail +
                   "); the matrix is authoritative: fix or remove \"" + key + "\"");
  }
}

}  // namespace

std::string SidecarPath(const std::string& image_path) {
  std::filesystem::path path(image_path);
  std::string name = path.filename().string();
  for (const char* ext : {".nii.gz", ".tar.gz"}) {
    const std::string e = ext;
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
      name.resize(name.size() - e.size());
      return (path.parent_path() / (name + ".json")).string();
    }
  }
  path.replace_extension(".json");
  return path.string();
}

std::string SidecarToJson(const Sidecar& sidecar) {
  const ProjectionGeometry& g = sidecar.geometry;
  const CarmGeometry carm = g.ToCarm();
  json root = json::object();
  root["rows"] = g.rows();
  root["cols"] = g.cols();
  root["pixel_spacing_mm"] = {g.pixel_spacing_u_mm(), g.pixel_spacing_v_mm()};
  root["source_to_detector_mm"] = carm.source_to_detector_mm;
  root["source_to_isocenter_mm"] = carm.source_to_isocenter_mm;
  root["principal_point_px"] = {carm.principal_point_px.x(), carm.principal_point_px.y()};
  const Eigen::Vector3d s = g.SourcePosition();
  root["source_position_mm"] = {s.x(), s.y(), s.z()};
  json p = json::array();
  for (int r = 0; r < 3; ++r) {
    p.push_back({g.matrix()(r, 0), g.matrix()(r, 1), g.matrix()(r, 2), g.matrix()(r, 3)});
  }
  root["projection_matrix"] = p;
  if (sidecar.quantity) root["quantity"] = ImageQuantityName(*sidecar.quantity);
  root["isocenter_mm"] = {carm.isocenter_mm.x(), carm.isocenter_mm.y(), carm.isocenter_mm.z()};
  json pose = json::array();
  for (int r = 0; r < 3; ++r) {
    pose.push_back(
        {carm.rotation(r, 0), carm.rotation(r, 1), carm.rotation(r, 2), carm.isocenter_mm[r]});
  }
  pose.push_back({0.0, 0.0, 0.0, 1.0});
  root["world_from_carm"] = pose;
  root["view"] = sidecar.view;
  if (sidecar.mu_water_per_mm) root["mu_water_per_mm"] = *sidecar.mu_water_per_mm;
  if (sidecar.i0) root["i0"] = *sidecar.i0;
  if (sidecar.png_window) root["png_window"] = {(*sidecar.png_window)[0], (*sidecar.png_window)[1]};
  if (!sidecar.projector.empty()) root["projector"] = sidecar.projector;
  // One key per line, matrices one row per line; numbers in the shortest
  // form that reads back to the same double.
  std::string text = "{\n";
  bool first = true;
  for (const auto& item : root.items()) {
    if (!first) text += ",\n";
    first = false;
    text += "  \"" + item.key() + "\": ";
    const json& value = item.value();
    if (value.is_array() && !value.empty() && value[0].is_array()) {
      text += "[";
      for (size_t r = 0; r < value.size(); ++r) {
        text += (r ? ",\n    " : "") + value[r].dump();
      }
      text += "]";
    } else {
      text += value.dump();
    }
  }
  return text + "\n}\n";
}

Sidecar SidecarFromJson(const std::string& text, const std::string& what) {
  json root;
  try {
    root = json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    Fail(what, std::string("not valid JSON (") + e.what() + ")");
  }
  if (!root.is_object()) Fail(what, "a sidecar must be a JSON object");
  const int rows = Integer(Require(root, "rows", what), "rows", what);
  const int cols = Integer(Require(root, "cols", what), "cols", what);
  const Eigen::Vector2d spacing =
      Vector<2>(Require(root, "pixel_spacing_mm", what), "pixel_spacing_mm", what);
  if (!(spacing.x() > 0) || !(spacing.y() > 0)) Fail(what, "\"pixel_spacing_mm\" must be positive");
  const double sid =
      Number(Require(root, "source_to_detector_mm", what), "source_to_detector_mm", what);
  const double sad =
      Number(Require(root, "source_to_isocenter_mm", what), "source_to_isocenter_mm", what);
  const Matrix34d p =
      Matrix<3, 4>(Require(root, "projection_matrix", what), "projection_matrix", what);

  Sidecar sidecar;
  try {
    sidecar.geometry = ProjectionGeometry::FromMatrix(p, rows, cols, spacing.x(), spacing.y(), sad);
  } catch (const InvalidInput& e) {
    Fail(what, e.what());
  }
  const ProjectionGeometry& g = sidecar.geometry;
  const Eigen::Matrix3d k = g.Intrinsics();
  const CarmGeometry carm = g.ToCarm();
  CheckAgreement(Agrees(sid, carm.source_to_detector_mm), what, "source_to_detector_mm",
                 "k11 * du = " + Format(carm.source_to_detector_mm) + " mm");
  const Eigen::Vector2d principal =
      Vector<2>(Require(root, "principal_point_px", what), "principal_point_px", what);
  CheckAgreement(AgreesVector(principal, Eigen::Vector2d(k(0, 2), k(1, 2))), what,
                 "principal_point_px",
                 "P gives (" + Format(k(0, 2)) + ", " + Format(k(1, 2)) + ")");
  const Eigen::Vector3d source =
      Vector<3>(Require(root, "source_position_mm", what), "source_position_mm", what);
  const Eigen::Vector3d s = g.SourcePosition();
  CheckAgreement(AgreesVector(source, s), what, "source_position_mm",
                 "P gives (" + Format(s.x()) + ", " + Format(s.y()) + ", " + Format(s.z()) + ")");
  if (root.contains("isocenter_mm")) {
    const Eigen::Vector3d iso = Vector<3>(root["isocenter_mm"], "isocenter_mm", what);
    CheckAgreement(AgreesVector(iso, carm.isocenter_mm), what, "isocenter_mm",
                   "s + SAD*d = (" + Format(carm.isocenter_mm.x()) + ", " +
                       Format(carm.isocenter_mm.y()) + ", " + Format(carm.isocenter_mm.z()) + ")");
  }
  if (root.contains("world_from_carm")) {
    const Eigen::Matrix4d pose = Matrix<4, 4>(root["world_from_carm"], "world_from_carm", what);
    const Eigen::Matrix3d r = pose.topLeftCorner<3, 3>();
    CheckAgreement((r - carm.rotation).norm() <= kTolerance * 3, what, "world_from_carm",
                   "its rotation columns must be e_u, e_v, d of P");
    CheckAgreement(AgreesVector(Eigen::Vector3d(pose.topRightCorner<3, 1>()), carm.isocenter_mm),
                   what, "world_from_carm", "its translation must be the isocentre s + SAD*d");
  }
  if (root.contains("quantity")) {
    if (!root["quantity"].is_string()) Fail(what, "\"quantity\" must be a string");
    try {
      sidecar.quantity = ParseImageQuantity(root["quantity"].get<std::string>());
    } catch (const InvalidInput& e) {
      Fail(what, e.what());
    }
  }
  if (root.contains("view")) {
    if (!root["view"].is_string()) Fail(what, "\"view\" must be a string");
    sidecar.view = root["view"].get<std::string>();
  }
  if (root.contains("mu_water_per_mm")) {
    sidecar.mu_water_per_mm = Number(root["mu_water_per_mm"], "mu_water_per_mm", what);
  }
  if (root.contains("i0")) sidecar.i0 = Number(root["i0"], "i0", what);
  if (root.contains("png_window")) {
    const Eigen::Vector2d window = Vector<2>(root["png_window"], "png_window", what);
    if (!(window.y() > window.x()))
      Fail(what, "\"png_window\" must be [low, high] with high > low");
    sidecar.png_window = std::array<double, 2>{window.x(), window.y()};
  }
  if (root.contains("projector") && root["projector"].is_string()) {
    sidecar.projector = root["projector"].get<std::string>();
  }
  return sidecar;
}

void WriteSidecar(const Sidecar& sidecar, const std::string& path) {
  WriteFileAtomically(path, SidecarToJson(sidecar));
}

Sidecar ReadSidecar(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw IoError(path +
                  ": cannot open the geometry sidecar (every X-ray image needs its JSON "
                  "sidecar, docs/geometry.md section 6)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return SidecarFromJson(text.str(), path);
}

}  // namespace ssmx::drr
