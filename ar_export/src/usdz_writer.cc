#include "ssmx/ar_export/usdz_writer.h"

#include <charconv>
#include <cmath>

#include "internal/package.h"
#include "internal/prepare.h"
#include "ssmx/core/atomic_write.h"
#include "ssmx/core/version.h"

namespace ssmx::ar_export {
namespace {

using internal::PreparedScene;
using internal::PreparedStructure;

// Shortest text that reads back as the same float32.
void AppendFloat(std::string* out, float v) {
  if (v == 0.0f) v = 0.0f;  // no "-0"
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, result.ptr);
}

void AppendTuple(std::string* out, const float* v, int n) {
  out->push_back('(');
  for (int k = 0; k < n; ++k) {
    if (k) out->append(", ");
    AppendFloat(out, v[k]);
  }
  out->push_back(')');
}

// A USD string literal: JSON-style escaping of quotes and backslashes.
std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

std::string Color3(const Eigen::Vector3d& linear) {
  std::string out;
  const float v[3] = {static_cast<float>(linear.x()), static_cast<float>(linear.y()),
                      static_cast<float>(linear.z())};
  AppendTuple(&out, v, 3);
  return out;
}

void AppendMaterial(std::string* out, const PreparedStructure& s, const std::string& texture_path) {
  const std::string path = "/Model/Materials/" + s.identifier;
  *out += "        def Material \"" + s.identifier + "\"\n        {\n";
  if (s.heat) *out += "            token inputs:frame:stPrimvarName = \"st\"\n";
  *out += "            token outputs:surface.connect = <" + path +
          "/PreviewSurface.outputs:surface>\n\n";
  *out += "            def Shader \"PreviewSurface\"\n            {\n";
  *out += "                uniform token info:id = \"UsdPreviewSurface\"\n";
  if (s.heat) {
    *out += "                color3f inputs:diffuseColor.connect = <" + path +
            "/ColormapTexture.outputs:rgb>\n";
  } else {
    // UsdPreviewSurface colours are linear, like glTF's factors.
    *out += "                color3f inputs:diffuseColor = " + Color3(SrgbToLinear(s.color_srgb)) +
            "\n";
  }
  *out +=
      "                float inputs:metallic = 0\n                float inputs:roughness = 0.6\n";
  *out += "                token outputs:surface\n            }\n";
  if (s.heat) {
    *out += "\n            def Shader \"PrimvarReader\"\n            {\n";
    *out += "                uniform token info:id = \"UsdPrimvarReader_float2\"\n";
    *out += "                token inputs:varname.connect = <" + path +
            ".inputs:frame:stPrimvarName>\n";
    *out += "                float2 outputs:result\n            }\n";
    *out += "\n            def Shader \"ColormapTexture\"\n            {\n";
    *out += "                uniform token info:id = \"UsdUVTexture\"\n";
    *out += "                asset inputs:file = @" + texture_path + "@\n";
    *out +=
        "                float2 inputs:st.connect = <" + path + "/PrimvarReader.outputs:result>\n";
    *out += "                token inputs:sourceColorSpace = \"sRGB\"\n";
    *out +=
        "                token inputs:wrapS = \"clamp\"\n                token inputs:wrapT = "
        "\"clamp\"\n";
    *out += "                float3 outputs:rgb\n            }\n";
  }
  *out += "        }\n";
}

void AppendMesh(std::string* out, const PreparedStructure& s) {
  const int64_t nv = s.positions.rows(), nf = s.faces.rows();
  *out += "    def Mesh \"" + s.identifier +
          "\" (\n        prepend apiSchemas = [\"MaterialBindingAPI\"]\n";
  *out += "        customData = {\n            string structure = " + Quoted(s.name) +
          "\n            string side = " + Quoted(s.side) + "\n        }\n    )\n    {\n";
  *out += "        uniform bool doubleSided = 0\n        float3[] extent = [";
  AppendTuple(out, s.min.data(), 3);
  *out += ", ";
  AppendTuple(out, s.max.data(), 3);
  *out += "]\n        int[] faceVertexCounts = [";
  for (int64_t f = 0; f < nf; ++f) *out += f ? ", 3" : "3";
  *out += "]\n        int[] faceVertexIndices = [";
  char buf[16];
  for (int64_t i = 0; i < 3 * nf; ++i) {
    if (i) out->append(", ");
    const auto r = std::to_chars(buf, buf + sizeof(buf), s.faces.data()[i]);
    out->append(buf, r.ptr);
  }
  *out += "]\n        rel material:binding = </Model/Materials/" + s.identifier + ">\n";
  *out += "        normal3f[] normals = [";
  for (int64_t v = 0; v < nv; ++v) {
    if (v) out->append(", ");
    AppendTuple(out, s.normals.data() + 3 * v, 3);
  }
  *out += "] (\n            interpolation = \"vertex\"\n        )\n        point3f[] points = [";
  for (int64_t v = 0; v < nv; ++v) {
    if (v) out->append(", ");
    AppendTuple(out, s.positions.data() + 3 * v, 3);
  }
  *out += "]\n";
  if (s.heat) {
    *out += "        texCoord2f[] primvars:st = [";
    for (int64_t v = 0; v < nv; ++v) {
      if (v) out->append(", ");
      const float st[2] = {internal::TextureU(s.t[v]), 0.5f};
      AppendTuple(out, st, 2);
    }
    *out += "] (\n            interpolation = \"vertex\"\n        )\n";
  }
  *out += "        uniform token orientation = \"rightHanded\"\n";
  *out += "        uniform token subdivisionScheme = \"none\"\n    }\n\n";
}

std::string Layer(const PreparedScene& scene, const std::string& texture_path) {
  std::string out = "#usda 1.0\n(\n";
  // customLayerData: the same anonymous metadata as the GLB's asset.extras,
  // as a JSON string (USD dictionaries cannot hold arrays of dictionaries).
  out += "    customLayerData = {\n        string generator = " +
         Quoted(std::string("ssmx ") + Version()) +
         "\n        string ssmx_metadata_json = " + Quoted(internal::MetadataJson(scene).dump()) +
         "\n    }\n";
  out += "    defaultPrim = \"Model\"\n    metersPerUnit = 1\n    upAxis = \"Y\"\n)\n\n";
  out +=
      "def Xform \"Model\" (\n    assetInfo = {\n        string name = \"Model\"\n    }\n    kind "
      "= \"component\"\n)\n{\n";
  const Eigen::Vector3d& t = scene.root_translation;
  if (!t.isZero()) {
    const float v[3] = {static_cast<float>(t.x()), static_cast<float>(t.y()),
                        static_cast<float>(t.z())};
    out += "    double3 xformOp:translate = ";
    AppendTuple(&out, v, 3);
    out += "\n    uniform token[] xformOpOrder = [\"xformOp:translate\"]\n";
  }
  out += "\n";
  for (const PreparedStructure& s : scene.structures) AppendMesh(&out, s);
  out += "    def Scope \"Materials\"\n    {\n";
  for (const PreparedStructure& s : scene.structures) AppendMaterial(&out, s, texture_path);
  out += "    }\n}\n";
  return out;
}

}  // namespace

std::string UsdaText(const Scene& scene, const std::string& texture_path) {
  return Layer(internal::Prepare(scene), texture_path);
}

std::string ColormapPng(Colormap colormap) {
  constexpr int kWidth = 256, kHeight = 4;
  std::string rgb;
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      const Eigen::Vector3d c = SampleColormap(colormap, x / 255.0);
      for (int k = 0; k < 3; ++k) rgb.push_back(static_cast<char>(std::lround(c[k] * 255.0)));
    }
  }
  return internal::RgbPng(rgb, kWidth, kHeight);
}

std::string UsdzBytes(const Scene& scene) {
  const PreparedScene prepared = internal::Prepare(scene);
  const std::string texture = "textures/colormap.png";
  std::vector<std::pair<std::string, std::string>> files = {
      {"model.usda", Layer(prepared, texture)}};
  bool any_heat = false;
  for (const PreparedStructure& s : prepared.structures) any_heat = any_heat || s.heat;
  if (any_heat) files.emplace_back(texture, ColormapPng(prepared.heat_map.colormap));
  return internal::StoredZip(files, 64);
}

void WriteUsdz(const Scene& scene, const std::string& path) {
  WriteFileAtomically(path, UsdzBytes(scene));
}

}  // namespace ssmx::ar_export
