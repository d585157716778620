#include "internal/prepare.h"

#include <Eigen/Geometry>
#include <cctype>
#include <cmath>
#include <set>

#include "ssmx/ar_export/frame.h"
#include "ssmx/core/version.h"

namespace ssmx::ar_export::internal {
namespace {

std::string Identifier(const std::string& name, std::set<std::string>* used) {
  std::string id;
  for (unsigned char c : name) id += std::isalnum(c) ? static_cast<char>(c) : '_';
  if (id.empty() || std::isdigit(static_cast<unsigned char>(id[0]))) id = "_" + id;
  std::string unique = id;
  for (int k = 2; used->count(unique); ++k) unique = id + "_" + std::to_string(k);
  used->insert(unique);
  return unique;
}

// Unit vertex normals: the given ones normalised, or area-weighted sums of face
// normals; a vertex with no usable normal (unreferenced) gets +Y.
MatrixX3fR UnitNormals(const TriangleMesh& mesh) {
  const Eigen::Index nv = mesh.num_vertices();
  MatrixX3dR n = MatrixX3dR::Zero(nv, 3);
  if (mesh.normals.rows() == nv) {
    n = mesh.normals;
  } else {
    for (Eigen::Index f = 0; f < mesh.num_faces(); ++f) {
      const Eigen::Vector3d a = mesh.vertices.row(mesh.faces(f, 0));
      const Eigen::Vector3d b = mesh.vertices.row(mesh.faces(f, 1));
      const Eigen::Vector3d c = mesh.vertices.row(mesh.faces(f, 2));
      const Eigen::RowVector3d twice_area_normal = (b - a).cross(c - a).transpose();
      for (int k = 0; k < 3; ++k) n.row(mesh.faces(f, k)) += twice_area_normal;
    }
  }
  MatrixX3fR out(nv, 3);
  for (Eigen::Index v = 0; v < nv; ++v) {
    const double norm = n.row(v).norm();
    if (norm > 0 && std::isfinite(norm))
      out.row(v) = (n.row(v) / norm).cast<float>();
    else
      out.row(v) << 0.0f, 1.0f, 0.0f;
  }
  return out;
}

}  // namespace

PreparedScene Prepare(const Scene& scene) {
  ValidateScene(scene);
  PreparedScene out;
  out.heat = scene.has_heat_map;
  out.heat_map = scene.heat_map;
  if (out.heat) {
    out.range = HeatMapRange(scene);
    if (out.heat_map.units.empty() && out.heat_map.scalar.size() > 3 &&
        out.heat_map.scalar.compare(out.heat_map.scalar.size() - 3, 3, "_mm") == 0) {
      out.heat_map.units = "mm";
    }
  }
  std::set<std::string> used;
  out.min.setConstant(INFINITY);
  out.max.setConstant(-INFINITY);
  for (const Structure& s : scene.structures) {
    const TriangleMesh ar = ToArFrame(s.mesh);
    PreparedStructure p;
    p.name = s.name;
    p.identifier = Identifier(s.name, &used);
    p.side = s.side;
    p.color_srgb = s.color_srgb;
    p.positions = ar.vertices.cast<float>();
    p.normals = UnitNormals(ar);
    p.faces = ar.faces;
    p.min = p.positions.colwise().minCoeff().transpose();
    p.max = p.positions.colwise().maxCoeff().transpose();
    out.min = out.min.cwiseMin(p.min.cast<double>());
    out.max = out.max.cwiseMax(p.max.cast<double>());
    const auto it = out.heat ? ar.scalars.find(out.heat_map.scalar) : ar.scalars.end();
    if (it != ar.scalars.end()) {
      p.heat = true;
      const double span = out.range[1] - out.range[0];
      p.t.resize(it->second.size());
      for (Eigen::Index v = 0; v < it->second.size(); ++v) {
        const double t = span > 0 ? (it->second[v] - out.range[0]) / span : 0.5;
        p.t[v] = static_cast<float>(std::clamp(t, 0.0, 1.0));
      }
    }
    out.structures.push_back(std::move(p));
  }
  out.root_translation.setZero();
  if (scene.place_on_origin) {
    out.root_translation = -Eigen::Vector3d(0.5 * (out.min.x() + out.max.x()), out.min.y(),
                                            0.5 * (out.min.z() + out.max.z()));
  }
  return out;
}

nlohmann::json MetadataJson(const PreparedScene& scene) {
  nlohmann::json structures = nlohmann::json::array();
  for (const PreparedStructure& s : scene.structures) {
    nlohmann::json j = {{"name", s.name},
                        {"side", s.side},
                        {"color", ColorHex(s.color_srgb)},
                        {"vertices", s.positions.rows()},
                        {"faces", s.faces.rows()},
                        {"heat_map", s.heat}};
    structures.push_back(j);
  }
  const Eigen::Vector3d extent_m = scene.max - scene.min;
  const Eigen::Matrix3d m = ArFromLps();
  nlohmann::json meta = {
      {"generator", "ssmx"},
      {"version", Version()},
      {"units", "m"},
      {"frame", "glTF: +X patient left, +Y superior, +Z anterior, metres"},
      {"ar_from_lps_mm",
       {{m(0, 0), m(0, 1), m(0, 2)}, {m(1, 0), m(1, 1), m(1, 2)}, {m(2, 0), m(2, 1), m(2, 2)}}},
      {"root_translation_m",
       {scene.root_translation.x(), scene.root_translation.y(), scene.root_translation.z()}},
      {"extent_mm", {1000 * extent_m.x(), 1000 * extent_m.y(), 1000 * extent_m.z()}},
      {"structures", structures}};
  if (scene.heat) {
    nlohmann::json stops = nlohmann::json::array();
    for (int k = 0; k <= 10; ++k)
      stops.push_back(ColorHex(SampleColormap(scene.heat_map.colormap, k / 10.0)));
    meta["heat_map"] = {
        {"scalar", scene.heat_map.scalar}, {"colormap", ColormapName(scene.heat_map.colormap)},
        {"min", scene.range[0]},           {"max", scene.range[1]},
        {"units", scene.heat_map.units},   {"stops", stops}};
  }
  return meta;
}

}  // namespace ssmx::ar_export::internal
