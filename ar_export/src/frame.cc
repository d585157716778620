#include "ssmx/ar_export/frame.h"

namespace ssmx::ar_export {

Eigen::Matrix3d ArFromLps() {
  Eigen::Matrix3d m;
  m << 1, 0, 0,  //
      0, 0, 1,   //
      0, -1, 0;
  return kMetresPerMillimetre * m;
}

TriangleMesh ToArFrame(const TriangleMesh& mesh_lps_mm) {
  const Eigen::Matrix3d ar_from_lps = ArFromLps();
  const Eigen::Matrix3d rotation = ar_from_lps / kMetresPerMillimetre;
  TriangleMesh out = mesh_lps_mm;
  // Rows are points: x_ar^T = x_lps^T * ar_from_lps^T.
  out.vertices = mesh_lps_mm.vertices * ar_from_lps.transpose();
  if (mesh_lps_mm.normals.rows() > 0) out.normals = mesh_lps_mm.normals * rotation.transpose();
  return out;
}

}  // namespace ssmx::ar_export
