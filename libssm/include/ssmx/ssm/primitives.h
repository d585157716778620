#ifndef SSMX_SSM_PRIMITIVES_H_
#define SSMX_SSM_PRIMITIVES_H_

#include <Eigen/Core>

#include "ssmx/core/triangle_mesh.h"

namespace ssmx::ssm {

// A geodesic sphere: an icosahedron whose faces are split into four
// `subdivisions` times and whose vertices are pushed onto the sphere.
// 10 * 4^s + 2 vertices and 20 * 4^s faces, outward oriented, watertight, with
// unit outward normals. Throws InvalidInput for radius <= 0 or s outside 0..8.
TriangleMesh MakeIcosphere(double radius_mm, int subdivisions,
                           const Eigen::Vector3d& center_mm = Eigen::Vector3d::Zero());

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_PRIMITIVES_H_
