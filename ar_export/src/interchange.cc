#include "ssmx/ar_export/interchange.h"

#include <charconv>
#include <filesystem>

#include "internal/prepare.h"
#include "ssmx/ar_export/usdz_writer.h"
#include "ssmx/core/atomic_write.h"
#include "ssmx/core/version.h"

namespace ssmx::ar_export {
namespace {

namespace fs = std::filesystem;

void AppendNumber(std::string* out, float v) {
  if (v == 0.0f) v = 0.0f;
  char buf[32];
  out->append(buf, std::to_chars(buf, buf + sizeof(buf), v).ptr);
}

void AppendLine(std::string* out, const char* keyword, const float* v, int n) {
  *out += keyword;
  for (int k = 0; k < n; ++k) {
    out->push_back(' ');
    AppendNumber(out, v[k]);
  }
  out->push_back('\n');
}

}  // namespace

std::vector<std::string> WriteObj(const Scene& scene, const std::string& obj_path) {
  const internal::PreparedScene prepared = internal::Prepare(scene);
  const fs::path obj(obj_path);
  const std::string stem = obj.stem().string();
  const fs::path mtl = obj.parent_path() / (stem + ".mtl");
  const std::string texture_name = stem + "_colormap.png";
  bool any_heat = false;
  for (const auto& s : prepared.structures) any_heat = any_heat || s.heat;

  std::string text =
      std::string("# written by ssmx ") + Version() +
      "\n# units: metres; frame: +X patient left, +Y superior, +Z anterior (glTF), from LPS mm\n"
      "mtllib " +
      mtl.filename().string() + "\n";
  std::string materials =
      std::string("# written by ssmx ") + Version() + "; Kd is the sRGB display colour\n";
  int64_t base = 1;  // OBJ indices are 1-based and global over the file
  for (const auto& s : prepared.structures) {
    const int64_t nv = s.positions.rows();
    text += "o " + s.identifier + "\n";
    // OBJ has no transforms: the root translation (standing the model on the
    // origin, as in the GLB and USDZ) is applied to the vertices.
    const Eigen::Vector3f shift = prepared.root_translation.cast<float>();
    for (int64_t v = 0; v < nv; ++v) {
      const Eigen::Vector3f p = s.positions.row(v).transpose() + shift;
      AppendLine(&text, "v", p.data(), 3);
    }
    for (int64_t v = 0; v < nv; ++v) AppendLine(&text, "vn", s.normals.data() + 3 * v, 3);
    if (s.heat) {
      for (int64_t v = 0; v < nv; ++v) {
        const float uv[2] = {internal::TextureU(s.t[v]), 0.5f};
        AppendLine(&text, "vt", uv, 2);
      }
    }
    text += "usemtl " + s.identifier + "\n";
    char buf[24];
    for (int64_t f = 0; f < s.faces.rows(); ++f) {
      text += "f";
      for (int c = 0; c < 3; ++c) {
        const std::string i(buf, std::to_chars(buf, buf + sizeof(buf), base + s.faces(f, c)).ptr);
        text += " " + i + (s.heat ? "/" + i + "/" : "//") + i;
      }
      text += "\n";
    }
    base += nv;
    materials += "\nnewmtl " + s.identifier + "\n";
    const Eigen::Vector3d kd = s.heat ? Eigen::Vector3d::Ones() : s.color_srgb;
    const float kd_f[3] = {static_cast<float>(kd.x()), static_cast<float>(kd.y()),
                           static_cast<float>(kd.z())};
    const float zero[3] = {0, 0, 0};
    AppendLine(&materials, "Ka", zero, 3);
    AppendLine(&materials, "Kd", kd_f, 3);
    AppendLine(&materials, "Ks", zero, 3);
    materials += "d 1\nillum 1\n";
    if (s.heat) materials += "map_Kd " + texture_name + "\n";
  }
  std::vector<std::string> written;
  if (any_heat) {
    const std::string png = (obj.parent_path() / texture_name).string();
    WriteFileAtomically(png, ColormapPng(prepared.heat_map.colormap));
    written.push_back(png);
  }
  WriteFileAtomically(mtl.string(), materials);
  written.push_back(mtl.string());
  WriteFileAtomically(obj_path, text);
  written.push_back(obj_path);
  return written;
}

TriangleMesh MergeStructures(const Scene& scene) {
  ValidateScene(scene);
  TriangleMesh out;
  int64_t nv = 0, nf = 0;
  for (const Structure& s : scene.structures) {
    nv += s.mesh.num_vertices();
    nf += s.mesh.num_faces();
  }
  bool normals = true;
  std::vector<std::string> shared;
  for (const auto& [name, values] : scene.structures.front().mesh.scalars) {
    bool everywhere = true;
    for (const Structure& s : scene.structures)
      everywhere = everywhere && s.mesh.scalars.count(name);
    if (everywhere) shared.push_back(name);
  }
  for (const Structure& s : scene.structures)
    normals = normals && s.mesh.normals.rows() == s.mesh.num_vertices();
  out.vertices.resize(nv, 3);
  out.faces.resize(nf, 3);
  if (normals) out.normals.resize(nv, 3);
  for (const std::string& name : shared) out.scalars[name].resize(nv);
  if (scene.structures.size() > 1) out.scalars["structure_index"].resize(nv);
  int64_t v0 = 0, f0 = 0;
  for (size_t k = 0; k < scene.structures.size(); ++k) {
    const TriangleMesh& m = scene.structures[k].mesh;
    out.vertices.middleRows(v0, m.num_vertices()) = m.vertices;
    out.faces.middleRows(f0, m.num_faces()) = m.faces.array() + static_cast<int32_t>(v0);
    if (normals) out.normals.middleRows(v0, m.num_vertices()) = m.normals;
    for (const std::string& name : shared)
      out.scalars[name].segment(v0, m.num_vertices()) = m.scalars.at(name);
    if (scene.structures.size() > 1) {
      out.scalars["structure_index"]
          .segment(v0, m.num_vertices())
          .setConstant(static_cast<double>(k));
    }
    v0 += m.num_vertices();
    f0 += m.num_faces();
  }
  return out;
}

}  // namespace ssmx::ar_export
