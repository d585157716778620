#ifndef SSMX_AR_EXPORT_DECIMATE_H_
#define SSMX_AR_EXPORT_DECIMATE_H_

#include <cstdint>

#include "ssmx/ar_export/scene.h"

namespace ssmx::ar_export {

// A mesh with at most `target_faces` faces for AR viewers: ssm::DecimateSurface
// (quadric edge collapse, boundaries kept, normals recomputed) followed by a
// transfer of every per-vertex scalar from the nearest original vertex, since
// the decimation drops scalars. Returns the mesh unchanged when it already has
// at most target_faces faces. Throws InvalidInput for target_faces < 4.
TriangleMesh DecimateForAr(const TriangleMesh& mesh_lps_mm, int64_t target_faces);

// Decimates the structures of a scene to at most `total_faces` faces in all,
// each structure's budget in proportion to its share of the faces (at least
// 4). total_faces <= 0 keeps every face.
Scene DecimateScene(const Scene& scene, int64_t total_faces);

}  // namespace ssmx::ar_export

#endif  // SSMX_AR_EXPORT_DECIMATE_H_
