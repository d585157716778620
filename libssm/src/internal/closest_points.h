#ifndef SSMX_SSM_INTERNAL_CLOSEST_POINTS_H_
#define SSMX_SSM_INTERNAL_CLOSEST_POINTS_H_

// Closest points with the normal of the face they lie on, shared by rigid ICP
// and the non-rigid template registration.

#include <Eigen/Core>

#include "ssmx/core/triangle_mesh.h"
#include "ssmx/ssm/surface_distance.h"

namespace ssmx::ssm::internal {

// Unit face normals (right-hand rule over the corners), #F by 3; a zero row
// for a face of zero area.
MatrixX3dR FaceNormals(const Eigen::Ref<const MatrixX3dR>& vertices, const MatrixX3iR& faces);

// Unit vertex normals: the area-weighted sum of the adjacent face normals,
// #V by 3 (a zero row for an isolated vertex).
MatrixX3dR VertexNormals(const Eigen::Ref<const MatrixX3dR>& vertices, const MatrixX3iR& faces);

// Closest points of the rows of `queries` on one surface.
//   points:    #Q by 3 closest points
//   normals:   #Q by 3 unit normals of the faces they lie on
//   distances: #Q unsigned distances, mm
struct ClosestPoints {
  MatrixX3dR points;
  MatrixX3dR normals;
  Eigen::VectorXd distances;
};

class TargetSurface {
 public:
  explicit TargetSurface(const TriangleMesh& mesh);
  // In parallel; the result does not depend on the thread count.
  ClosestPoints Query(const Eigen::Ref<const MatrixX3dR>& queries) const;

 private:
  SurfaceLocator locator_;
  MatrixX3dR face_normals_;
};

// sum_i w_i p_i / sum_i w_i over the rows of `points` (#P by 3, #P weights > 0).
Eigen::Vector3d WeightedCentroid(const Eigen::Ref<const MatrixX3dR>& points,
                                 const Eigen::VectorXd& weights);

}  // namespace ssmx::ssm::internal

#endif  // SSMX_SSM_INTERNAL_CLOSEST_POINTS_H_
