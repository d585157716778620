// Small mesh helpers shared by the surface tests. Header-only.
#ifndef SSMX_TESTS_SSM_TEST_MESHES_H_
#define SSMX_TESTS_SSM_TEST_MESHES_H_

#include "ssmx/core/triangle_mesh.h"

namespace ssmx::testing {

// The union of two meshes as one mesh (b's vertices after a's), no welding.
inline TriangleMesh Concatenate(const TriangleMesh& a, const TriangleMesh& b) {
  TriangleMesh out;
  out.vertices.resize(a.num_vertices() + b.num_vertices(), 3);
  out.vertices << a.vertices, b.vertices;
  out.faces.resize(a.num_faces() + b.num_faces(), 3);
  out.faces << a.faces, (b.faces.array() + static_cast<int32_t>(a.num_vertices())).matrix();
  return out;
}

}  // namespace ssmx::testing

#endif  // SSMX_TESTS_SSM_TEST_MESHES_H_
