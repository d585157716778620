#include "ssmx/ar_export/scene.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "ssmx/core/error.h"

namespace ssmx::ar_export {

std::string InferSide(const std::string& name) {
  std::string word;
  std::string side;
  const auto judge = [&] {
    std::string w = word;
    std::transform(w.begin(), w.end(), w.begin(), [](unsigned char c) { return std::tolower(c); });
    if (w == "left" || w == "l" || w == "lt" || w == "links") side = "left";
    if (w == "right" || w == "r" || w == "rt") side = "right";
    word.clear();
  };
  for (char c : name) {
    if (c == '_' || c == '-' || c == '.' || c == ' ')
      judge();
    else
      word += c;
  }
  judge();
  return side;
}

Eigen::Vector3d DefaultStructureColor(int index) {
  // Bone first, then muted tones that stay apart for common colour-vision
  // deficiencies (sand, steel blue, rose, sage, lavender, ochre).
  static const char* kPalette[] = {"#e3dac9", "#c9b38a", "#9fb8d0", "#d4a5a5",
                                   "#a9c4a0", "#bfb0d6", "#d6c27a"};
  const int n = static_cast<int>(sizeof(kPalette) / sizeof(kPalette[0]));
  return ParseColor(kPalette[((index % n) + n) % n]);
}

void ValidateScene(const Scene& scene) {
  if (scene.structures.empty())
    throw InvalidInput("the export has no structures (give at least one mesh)");
  std::set<std::string> names;
  bool any_scalar = false;
  for (const Structure& s : scene.structures) {
    if (s.name.empty())
      throw InvalidInput("a structure has an empty name; give every structure a name");
    if (!names.insert(s.name).second) {
      throw InvalidInput("structure name \"" + s.name + "\" is used twice; names must be unique");
    }
    ValidateMesh(s.mesh, "structure \"" + s.name + "\"");
    if (s.mesh.num_vertices() >= 4294967295LL || s.mesh.num_faces() * 3 >= 4294967295LL) {
      throw InvalidInput("structure \"" + s.name +
                         "\" has too many vertices or faces for glTF/USD (2^32); "
                         "decimate it first (--target-faces)");
    }
    if (!(s.color_srgb.array() >= 0).all() || !(s.color_srgb.array() <= 1).all()) {
      throw InvalidInput("structure \"" + s.name + "\" has a colour outside 0..1");
    }
    if (!s.side.empty() && s.side != "left" && s.side != "right") {
      throw InvalidInput("structure \"" + s.name + "\" has side \"" + s.side +
                         "\"; use left, right or empty");
    }
    if (scene.has_heat_map) {
      const auto it = s.mesh.scalars.find(scene.heat_map.scalar);
      if (it == s.mesh.scalars.end()) continue;
      any_scalar = true;
      for (Eigen::Index v = 0; v < it->second.size(); ++v) {
        if (!std::isfinite(it->second[v])) {
          throw InvalidInput("structure \"" + s.name + "\": scalar \"" + scene.heat_map.scalar +
                             "\" is not finite at vertex " + std::to_string(v));
        }
      }
    }
  }
  if (scene.has_heat_map) {
    if (!any_scalar) {
      std::string available;
      for (const auto& [name, values] : scene.structures.front().mesh.scalars)
        available += " " + name;
      throw InvalidInput("no structure has the scalar \"" + scene.heat_map.scalar + "\"" +
                         (available.empty()
                              ? std::string("; the meshes carry no scalars (PLY, VTK, VTP can)")
                              : "; the first mesh has:" + available));
    }
    const Eigen::Vector2d range = HeatMapRange(scene);
    if (!std::isfinite(range[0]) || !std::isfinite(range[1]) || !(range[0] < range[1])) {
      if (range[0] == range[1] && std::isnan(scene.heat_map.min) && std::isnan(scene.heat_map.max))
        return;
      throw InvalidInput("heat-map range [" + std::to_string(range[0]) + ", " +
                         std::to_string(range[1]) + "] is empty or not finite; give min < max");
    }
  }
}

Eigen::Vector2d HeatMapRange(const Scene& scene) {
  double lo = INFINITY, hi = -INFINITY;
  for (const Structure& s : scene.structures) {
    const auto it = s.mesh.scalars.find(scene.heat_map.scalar);
    if (it == s.mesh.scalars.end() || it->second.size() == 0) continue;
    lo = std::min(lo, it->second.minCoeff());
    hi = std::max(hi, it->second.maxCoeff());
  }
  return {std::isnan(scene.heat_map.min) ? lo : scene.heat_map.min,
          std::isnan(scene.heat_map.max) ? hi : scene.heat_map.max};
}

}  // namespace ssmx::ar_export
