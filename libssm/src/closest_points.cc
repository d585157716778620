#include "internal/closest_points.h"

#include <Eigen/Geometry>

#include "internal/parallel.h"

namespace ssmx::ssm::internal {

MatrixX3dR FaceNormals(const Eigen::Ref<const MatrixX3dR>& vertices, const MatrixX3iR& faces) {
  MatrixX3dR normals(faces.rows(), 3);
  for (Eigen::Index f = 0; f < faces.rows(); ++f) {
    const Eigen::Vector3d a = vertices.row(faces(f, 0)), b = vertices.row(faces(f, 1)),
                          c = vertices.row(faces(f, 2));
    const Eigen::Vector3d n = (b - a).cross(c - a);
    const double norm = n.norm();
    normals.row(f) = norm > 0 ? Eigen::Vector3d(n / norm) : Eigen::Vector3d::Zero();
  }
  return normals;
}

MatrixX3dR VertexNormals(const Eigen::Ref<const MatrixX3dR>& vertices, const MatrixX3iR& faces) {
  MatrixX3dR normals = MatrixX3dR::Zero(vertices.rows(), 3);
  for (Eigen::Index f = 0; f < faces.rows(); ++f) {
    const Eigen::Vector3d a = vertices.row(faces(f, 0)), b = vertices.row(faces(f, 1)),
                          c = vertices.row(faces(f, 2));
    const Eigen::RowVector3d n = (b - a).cross(c - a).transpose();  // length: twice the area
    for (int k = 0; k < 3; ++k) normals.row(faces(f, k)) += n;
  }
  for (Eigen::Index v = 0; v < normals.rows(); ++v) {
    const double norm = normals.row(v).norm();
    if (norm > 0) normals.row(v) /= norm;
  }
  return normals;
}

TargetSurface::TargetSurface(const TriangleMesh& mesh)
    : locator_(mesh), face_normals_(FaceNormals(mesh.vertices, mesh.faces)) {}

ClosestPoints TargetSurface::Query(const Eigen::Ref<const MatrixX3dR>& queries) const {
  ClosestPoints out;
  out.points.resize(queries.rows(), 3);
  out.normals.resize(queries.rows(), 3);
  out.distances.resize(queries.rows());
  ssmx::internal::ParallelFor(queries.rows(), 256, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const ClosestPointResult r = locator_.ClosestPoint(queries.row(i).transpose());
      out.points.row(i) = r.point.transpose();
      out.normals.row(i) = face_normals_.row(r.face);
      out.distances(i) = r.distance;
    }
  });
  return out;
}

Eigen::Vector3d WeightedCentroid(const Eigen::Ref<const MatrixX3dR>& points,
                                 const Eigen::VectorXd& weights) {
  return (points.transpose() * weights) / weights.sum();
}

}  // namespace ssmx::ssm::internal
