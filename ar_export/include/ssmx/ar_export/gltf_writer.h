#ifndef SSMX_AR_EXPORT_GLTF_WRITER_H_
#define SSMX_AR_EXPORT_GLTF_WRITER_H_

#include <string>

#include "ssmx/ar_export/scene.h"

namespace ssmx::ar_export {

// Binary glTF 2.0 (GLB) for ARCore Scene Viewer, model-viewer, three.js,
// Blender. One node + mesh + material per structure, all named after it; each
// primitive has POSITION (float32, with min/max), NORMAL (unit, float32),
// indices (uint16 when the structure has < 65536 vertices, else uint32), and
// COLOR_0 (linear RGB float32) when the heat map covers it, with a white base
// colour so the vertex colours show unchanged. Materials: metallic 0,
// roughness 0.6, opaque, single-sided (the surfaces are closed). No Draco, no
// quantisation, no extensions: every glTF viewer reads it.
//
// asset.extras.ssmx holds the anonymous metadata (generator, version, units,
// frame conversion, structures with sides, heat-map legend); each node's
// extras hold its structure name and side.
//
// Missing normals are computed (area-weighted face normals). Throws
// InvalidInput (see ValidateScene).
std::string GlbBytes(const Scene& scene);

// Writes GlbBytes atomically to `path`. Throws IoError when it cannot.
void WriteGlb(const Scene& scene, const std::string& path);

}  // namespace ssmx::ar_export

#endif  // SSMX_AR_EXPORT_GLTF_WRITER_H_
