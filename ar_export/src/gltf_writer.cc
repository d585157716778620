#include "ssmx/ar_export/gltf_writer.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "internal/prepare.h"
#include "ssmx/core/atomic_write.h"
#include "ssmx/core/error.h"
#include "ssmx/core/version.h"

namespace ssmx::ar_export {
namespace {

using nlohmann::json;

constexpr int kFloat = 5126, kUnsignedShort = 5123, kUnsignedInt = 5125;
constexpr int kArrayBuffer = 34962, kElementArrayBuffer = 34963;

// The binary chunk under construction and the bufferViews/accessors that
// describe it.
class BinaryBuilder {
 public:
  // Appends `bytes` as one bufferView (4-byte aligned) and one accessor.
  int Add(const void* bytes, size_t size, int target, int component_type, int64_t count,
          const char* type, json extra_accessor_fields = json::object()) {
    while (bin_.size() % 4) bin_.push_back('\0');
    json view = {
        {"buffer", 0}, {"byteOffset", bin_.size()}, {"byteLength", size}, {"target", target}};
    bin_.append(static_cast<const char*>(bytes), size);
    views_.push_back(view);
    json accessor = {{"bufferView", views_.size() - 1},
                     {"componentType", component_type},
                     {"count", count},
                     {"type", type}};
    accessor.update(extra_accessor_fields);
    accessors_.push_back(accessor);
    return static_cast<int>(accessors_.size() - 1);
  }
  std::string& bin() { return bin_; }
  json& views() { return views_; }
  json& accessors() { return accessors_; }

 private:
  std::string bin_;
  json views_ = json::array();
  json accessors_ = json::array();
};

json Vec3(const Eigen::Vector3f& v) { return {v.x(), v.y(), v.z()}; }

void AppendU32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }

}  // namespace

std::string GlbBytes(const Scene& scene) {
  const internal::PreparedScene prepared = internal::Prepare(scene);
  BinaryBuilder bin;
  json nodes = json::array(), meshes = json::array(), materials = json::array();
  json root_children = json::array();
  for (const internal::PreparedStructure& s : prepared.structures) {
    const int64_t nv = s.positions.rows();
    json attributes;
    attributes["POSITION"] =
        bin.Add(s.positions.data(), sizeof(float) * 3 * nv, kArrayBuffer, kFloat, nv, "VEC3",
                {{"min", Vec3(s.min)}, {"max", Vec3(s.max)}});
    attributes["NORMAL"] =
        bin.Add(s.normals.data(), sizeof(float) * 3 * nv, kArrayBuffer, kFloat, nv, "VEC3");
    if (s.heat) {
      internal::MatrixX3fR colors(nv, 3);
      for (int64_t v = 0; v < nv; ++v) {
        colors.row(v) = SrgbToLinear(SampleColormap(prepared.heat_map.colormap, s.t[v]))
                            .cast<float>()
                            .transpose();
      }
      attributes["COLOR_0"] =
          bin.Add(colors.data(), sizeof(float) * 3 * nv, kArrayBuffer, kFloat, nv, "VEC3");
    }
    const int64_t ni = 3 * s.faces.rows();
    int indices;
    // 65535 is reserved (primitive restart) for uint16 indices.
    if (nv <= 65535) {
      std::vector<uint16_t> idx(static_cast<size_t>(ni));
      for (int64_t i = 0; i < ni; ++i) idx[i] = static_cast<uint16_t>(s.faces.data()[i]);
      indices =
          bin.Add(idx.data(), 2 * idx.size(), kElementArrayBuffer, kUnsignedShort, ni, "SCALAR");
    } else {
      indices = bin.Add(s.faces.data(), 4 * static_cast<size_t>(ni), kElementArrayBuffer,
                        kUnsignedInt, ni, "SCALAR");
    }
    const Eigen::Vector3d base = s.heat ? Eigen::Vector3d::Ones() : SrgbToLinear(s.color_srgb);
    materials.push_back({{"name", s.name},
                         {"pbrMetallicRoughness",
                          {{"baseColorFactor", {base.x(), base.y(), base.z(), 1.0}},
                           {"metallicFactor", 0.0},
                           {"roughnessFactor", 0.6}}}});
    meshes.push_back({{"name", s.name},
                      {"primitives",
                       {{{"attributes", attributes},
                         {"indices", indices},
                         {"material", materials.size() - 1},
                         {"mode", 4}}}}});
    nodes.push_back(
        {{"name", s.name},
         {"mesh", meshes.size() - 1},
         {"extras", {{"structure", s.name}, {"side", s.side}, {"color", ColorHex(s.color_srgb)}}}});
    root_children.push_back(nodes.size() - 1);
  }
  json root = {{"name", "ssmx_model"}, {"children", root_children}};
  const Eigen::Vector3d& t = prepared.root_translation;
  if (!t.isZero()) root["translation"] = {t.x(), t.y(), t.z()};
  nodes.push_back(root);

  std::string& binary = bin.bin();
  while (binary.size() % 4) binary.push_back('\0');
  json gltf = {{"asset",
                {{"version", "2.0"},
                 {"generator", std::string("ssmx ") + Version()},
                 {"extras", {{"ssmx", internal::MetadataJson(prepared)}}}}},
               {"scene", 0},
               {"scenes", {{{"name", "ssmx"}, {"nodes", {nodes.size() - 1}}}}},
               {"nodes", nodes},
               {"meshes", meshes},
               {"materials", materials},
               {"accessors", bin.accessors()},
               {"bufferViews", bin.views()},
               {"buffers", {{{"byteLength", binary.size()}}}}};
  std::string text = gltf.dump();
  while (text.size() % 4) text.push_back(' ');

  const uint64_t total = 12 + 8 + text.size() + 8 + binary.size();
  if (total > 0xFFFFFFFFull) {
    throw InvalidInput("the scene is too large for one GLB file (" + std::to_string(total) +
                       " bytes > 4 GiB); decimate it first (--target-faces)");
  }
  std::string out;
  out.reserve(static_cast<size_t>(total));
  out += "glTF";
  AppendU32(&out, 2);
  AppendU32(&out, static_cast<uint32_t>(total));
  AppendU32(&out, static_cast<uint32_t>(text.size()));
  out += "JSON";
  out += text;
  AppendU32(&out, static_cast<uint32_t>(binary.size()));
  out.append("BIN\0", 4);
  out += binary;
  return out;
}

void WriteGlb(const Scene& scene, const std::string& path) {
  WriteFileAtomically(path, GlbBytes(scene));
}

}  // namespace ssmx::ar_export
