#ifndef SSMX_AR_EXPORT_FRAME_H_
#define SSMX_AR_EXPORT_FRAME_H_

#include <Eigen/Core>

#include "ssmx/core/triangle_mesh.h"

namespace ssmx::ar_export {

// The AR frame of glTF 2.0 and of our USD files: metres, right-handed, +Y up
// (superior), +Z towards the viewer (anterior), +X the patient's left.
// docs/geometry.md section 8 derives it:
//
//   (X, Y, Z)_ar = 0.001 * (x_lps, z_lps, -y_lps)
//
//   ar_from_lps = 0.001 * [[1, 0,  0],
//                          [0, 0,  1],
//                          [0, -1, 0]]
//
// The 3x3 block without the scale is a proper rotation (det +1): triangle
// winding is kept and outward normals stay outward.
constexpr double kMetresPerMillimetre = 0.001;

// ar_from_lps, the 3 by 3 matrix above (scale included). Positions map as
// x_ar = ArFromLps() * x_lps_mm; directions (normals) by its rotation part,
// ArFromLps() / kMetresPerMillimetre.
Eigen::Matrix3d ArFromLps();

// The one place where ssmx converts geometry from LPS millimetres to the AR
// frame: vertices scaled and rotated, normals (when present) rotated, faces and
// scalars unchanged. Every AR writer (GLB, USDZ, OBJ) goes through it.
TriangleMesh ToArFrame(const TriangleMesh& mesh_lps_mm);

}  // namespace ssmx::ar_export

#endif  // SSMX_AR_EXPORT_FRAME_H_
