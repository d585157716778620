#ifndef SSMX_AR_EXPORT_INTERCHANGE_H_
#define SSMX_AR_EXPORT_INTERCHANGE_H_

#include <string>
#include <vector>

#include "ssmx/ar_export/scene.h"

namespace ssmx::ar_export {

// Wavefront OBJ + MTL in the AR frame (metres, +Y superior, +Z anterior: the
// frame Blender, Reality Converter and three.js assume for OBJ), one object
// ("o") and one material per structure, named after it. With
// Scene::place_on_origin the model stands on the origin as in the GLB and
// USDZ (OBJ has no transforms, so the vertices carry it). Writes `obj_path`,
// the .mtl next to it (same stem) and, with a heat map, `<stem>_colormap.png`
// which the MTL uses as map_Kd (texture coordinates as in UsdaText: OBJ has no
// vertex colours either). MTL Kd is the structure's sRGB colour. Returns the
// paths written. Each file is written atomically.
std::vector<std::string> WriteObj(const Scene& scene, const std::string& obj_path);

// All structures in one mesh in LPS millimetres (for STL and PLY through
// ssm::WriteMesh: slicers and analysis tools expect millimetres and the CT's
// frame). Scalars every structure has are kept; with several structures a
// scalar "structure_index" (0, 1, ... in scene order) is added.
TriangleMesh MergeStructures(const Scene& scene);

}  // namespace ssmx::ar_export

#endif  // SSMX_AR_EXPORT_INTERCHANGE_H_
