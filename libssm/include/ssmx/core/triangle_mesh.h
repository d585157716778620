#ifndef SSMX_CORE_TRIANGLE_MESH_H_
#define SSMX_CORE_TRIANGLE_MESH_H_

#include <Eigen/Core>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ssmx {

using MatrixX3dR = Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>;
using MatrixX3iR = Eigen::Matrix<int32_t, Eigen::Dynamic, 3, Eigen::RowMajor>;

// A triangle surface in patient LPS millimetres. Plain value type.
//   vertices: #V by 3, one vertex per row.
//   faces:    #F by 3, zero-based vertex indices, counter-clockwise seen from
//             outside for a closed, outward-oriented surface.
//   normals:  #V by 3 unit vertex normals, or 0 by 3 when absent.
//   scalars:  named per-vertex values, each of length #V (e.g. "distance_mm",
//             "uncertainty_mm").
struct TriangleMesh {
  MatrixX3dR vertices;
  MatrixX3iR faces;
  MatrixX3dR normals;
  std::map<std::string, Eigen::VectorXd> scalars;

  int64_t num_vertices() const { return vertices.rows(); }
  int64_t num_faces() const { return faces.rows(); }
  bool empty() const { return vertices.rows() == 0; }
};

// Axis-aligned bounds of the vertices, min and max corner. Throws InvalidInput
// for a mesh without vertices.
struct Bounds3d {
  Eigen::Vector3d min;
  Eigen::Vector3d max;
  Eigen::Vector3d Extent() const { return max - min; }
};
Bounds3d ComputeBounds(const TriangleMesh& mesh);

// Structural defects a mesh can have. Finding them is cheap (O(F log F)).
struct MeshCheck {
  int64_t non_finite_vertices = 0;     // NaN or Inf coordinates
  int64_t out_of_range_indices = 0;    // faces that index past #V or below 0
  int64_t degenerate_faces = 0;        // repeated vertex index or zero area
  int64_t unreferenced_vertices = 0;
  int64_t boundary_edges = 0;          // edges used by one face
  int64_t non_manifold_edges = 0;      // edges used by more than two faces
  int64_t inconsistent_edges = 0;      // edges two faces traverse the same way
  int64_t connected_components = 0;    // over faces, sharing vertices
  double surface_area_mm2 = 0;
  // Signed enclosed volume by the divergence theorem; meaningful only when
  // watertight. Negative when the faces are oriented inwards.
  double enclosed_volume_mm3 = 0;

  // Closed two-manifold with consistent orientation and valid indices.
  bool watertight() const {
    return out_of_range_indices == 0 && boundary_edges == 0 && non_manifold_edges == 0 &&
           inconsistent_edges == 0;
  }
  // Human-readable list of the problems found; empty when there are none.
  std::vector<std::string> Problems() const;
};
MeshCheck CheckMesh(const TriangleMesh& mesh);

// Throws InvalidInput naming `what` (a file name or argument) when the mesh
// cannot be used at all: no faces, non-finite coordinates, indices out of range,
// a normals or scalar array of the wrong length.
void ValidateMesh(const TriangleMesh& mesh, const std::string& what);

// Removes faces that repeat a vertex index (a documented repair applied by the
// readers). Returns how many were removed.
int64_t RemoveRepeatedIndexFaces(TriangleMesh* mesh);

}  // namespace ssmx

#endif  // SSMX_CORE_TRIANGLE_MESH_H_
