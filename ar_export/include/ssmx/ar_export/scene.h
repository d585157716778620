#ifndef SSMX_AR_EXPORT_SCENE_H_
#define SSMX_AR_EXPORT_SCENE_H_

#include <Eigen/Core>
#include <limits>
#include <string>
#include <vector>

#include "ssmx/ar_export/colormap.h"
#include "ssmx/core/triangle_mesh.h"

namespace ssmx::ar_export {

// One named structure (a bone) of an export: its surface in LPS millimetres
// and its display colour.
struct Structure {
  std::string name;   // "femur_left"; shown in viewers, node/prim/object name
  TriangleMesh mesh;  // LPS mm; normals and scalars optional
  Eigen::Vector3d color_srgb{0.890, 0.855, 0.788};  // #e3dac9, "bone"
  std::string side;                                 // "left", "right" or "" (see InferSide)
};

// Colours vertices by a per-vertex scalar (e.g. "uncertainty_mm") through a
// colormap. Structures that lack the scalar keep their plain colour.
struct HeatMap {
  std::string scalar;  // name in TriangleMesh::scalars
  Colormap colormap = Colormap::kViridis;
  // Values mapped to the two ends of the colormap; NaN = the minimum /
  // maximum of the scalar over every structure that has it.
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
  std::string units;  // for the legend; "mm" when the name ends in _mm
};

// What goes into every AR file. Only anonymous, technical metadata is ever
// written: the structure names and sides, units, generator and version, the
// frame conversion and the heat-map legend. Nothing from a DICOM header.
struct Scene {
  std::vector<Structure> structures;
  bool has_heat_map = false;
  HeatMap heat_map;
  // true (default): a root transform places the centre of the bounding box's
  // bottom face at the origin, as AR viewers expect (the model stands on the
  // floor where it is placed). The meshes keep their converted LPS
  // coordinates; only the root carries the translation. false: no transform.
  bool place_on_origin = true;
};

// "left" when a word of `name` (split at _ - . space) is left/l/lt/links,
// "right" for right/r/rt, "" otherwise.
std::string InferSide(const std::string& name);

// Default colour of the structure at `index` in a multi-structure scene: bone
// for the first, then distinguishable muted tones.
Eigen::Vector3d DefaultStructureColor(int index);

// Throws InvalidInput (naming the structure) for: no structures, an empty or
// duplicate name, an invalid mesh (see ValidateMesh), a mesh too large for
// 32-bit glTF indices, a colour outside 0..1; for a heat map: a scalar no
// structure has, non-finite scalar values, min >= max after defaults.
void ValidateScene(const Scene& scene);

// The heat map's range after defaults (min/max over the structures that have
// the scalar when not given). Requires a scene with has_heat_map.
Eigen::Vector2d HeatMapRange(const Scene& scene);

}  // namespace ssmx::ar_export

#endif  // SSMX_AR_EXPORT_SCENE_H_
