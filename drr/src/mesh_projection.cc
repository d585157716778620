#include "ssmx/drr/mesh_projection.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <vector>

#include "internal/parallel.h"
#include "ssmx/core/error.h"

namespace ssmx::drr {
namespace {

// Edge function of the 2D edge a -> b at p (twice the signed area of a, b, p).
inline double Edge(const Eigen::Vector2d& a, const Eigen::Vector2d& b, double px, double py) {
  return (b.x() - a.x()) * (py - a.y()) - (b.y() - a.y()) * (px - a.x());
}

// Top-left rule for a triangle with positive edge functions inside: a pixel
// centre exactly on an edge belongs to the triangle only for "top" or "left"
// edges, so two triangles sharing the edge never both take it.
inline bool OwnsEdge(const Eigen::Vector2d& a, const Eigen::Vector2d& b) {
  const double dx = b.x() - a.x(), dy = b.y() - a.y();
  return dy > 0 || (dy == 0 && dx < 0);
}

}  // namespace

Image2D ProjectMeshPathLength(const TriangleMesh& mesh, const ProjectionGeometry& geometry,
                              int threads) {
  ValidateMesh(mesh, "mesh to project");
  const MeshCheck check = CheckMesh(mesh);
  if (!check.watertight()) {
    throw InvalidInput(
        "mesh to project is not a closed surface (" +
        (check.Problems().empty() ? std::string("open") : check.Problems().front()) +
        "); path lengths need a watertight mesh: mesh the structure with `ssmx mesh`");
  }
  if (check.enclosed_volume_mm3 <= 0) {
    throw InvalidInput(
        "mesh to project is oriented inwards (negative enclosed volume); flip its faces");
  }
  const int rows = geometry.rows(), cols = geometry.cols();
  const Eigen::Vector3d source = geometry.SourcePosition();
  const Matrix34d& p = geometry.matrix();
  // Project the vertices once.
  const int64_t nv = mesh.num_vertices();
  std::vector<Eigen::Vector2d> uv(nv);
  for (int64_t i = 0; i < nv; ++i) {
    const Eigen::Vector3d x = mesh.vertices.row(i).transpose();
    const Eigen::Vector3d h = p.leftCols<3>() * x + p.col(3);
    if (!(h.z() > 1e-9)) {
      throw InvalidInput("mesh to project reaches the source plane (vertex " + std::to_string(i) +
                         " is not in front of the source); move the source away");
    }
    uv[i] = h.head<2>() / h.z();
  }
  // M^-1 (u, v, 1) = r(u, v) is the ray direction with d.r = 1, so the ray is
  // s + lambda * r and its length to a point is lambda * |r|.
  const Eigen::Matrix3d m_inverse = p.leftCols<3>().inverse();

  Image2D image(rows, cols);
  image.pixel_spacing_u_mm = geometry.pixel_spacing_u_mm();
  image.pixel_spacing_v_mm = geometry.pixel_spacing_v_mm();
  image.quantity = ImageQuantity::kPathLength;
  std::vector<double> sum(static_cast<size_t>(rows) * cols, 0.0);

  // Threads own bands of rows, so no two write the same pixel.
  constexpr int kBand = 8;
  const int bands = (rows + kBand - 1) / kBand;
  internal::ParallelFor(bands, internal::ResolveThreads(threads), [&](int64_t band) {
    const int row_begin = static_cast<int>(band) * kBand;
    const int row_end = std::min(rows, row_begin + kBand);
    for (int64_t f = 0; f < mesh.num_faces(); ++f) {
      const int i0 = mesh.faces(f, 0), i1 = mesh.faces(f, 1), i2 = mesh.faces(f, 2);
      Eigen::Vector2d a = uv[i0], b = uv[i1], c = uv[i2];
      const double area = Edge(a, b, c.x(), c.y());
      if (area == 0) continue;  // seen edge-on: the ray grazes it
      if (area < 0) std::swap(b, c);
      const double vmin = std::min({a.y(), b.y(), c.y()}), vmax = std::max({a.y(), b.y(), c.y()});
      const int v_first = std::max(row_begin, static_cast<int>(std::ceil(vmin)));
      const int v_last = std::min(row_end - 1, static_cast<int>(std::floor(vmax)));
      if (v_first > v_last) continue;
      const double umin = std::min({a.x(), b.x(), c.x()}), umax = std::max({a.x(), b.x(), c.x()});
      const int u_first = std::max(0, static_cast<int>(std::ceil(umin)));
      const int u_last = std::min(cols - 1, static_cast<int>(std::floor(umax)));
      if (u_first > u_last) continue;
      const bool own_ab = OwnsEdge(a, b), own_bc = OwnsEdge(b, c), own_ca = OwnsEdge(c, a);
      // Plane of the triangle in 3D and the sign of the crossing.
      const Eigen::Vector3d x0 = mesh.vertices.row(i0).transpose();
      const Eigen::Vector3d x1 = mesh.vertices.row(i1).transpose();
      const Eigen::Vector3d x2 = mesh.vertices.row(i2).transpose();
      const Eigen::Vector3d normal = (x1 - x0).cross(x2 - x0);
      const double plane = normal.dot(x0 - source);
      for (int v = v_first; v <= v_last; ++v) {
        for (int u = u_first; u <= u_last; ++u) {
          const double e0 = Edge(a, b, u, v), e1 = Edge(b, c, u, v), e2 = Edge(c, a, u, v);
          if (e0 < 0 || e1 < 0 || e2 < 0) continue;
          if ((e0 == 0 && !own_ab) || (e1 == 0 && !own_bc) || (e2 == 0 && !own_ca)) continue;
          const Eigen::Vector3d r = m_inverse * Eigen::Vector3d(u, v, 1.0);
          const double facing = normal.dot(r);
          if (facing == 0) continue;
          // lambda = n.(x0 - s) / n.r; leaving the solid (n.r > 0) adds, entering subtracts.
          const double length = plane / facing * r.norm();
          sum[static_cast<size_t>(v) * cols + u] += facing > 0 ? length : -length;
        }
      }
    }
  });
  for (size_t n = 0; n < sum.size(); ++n)
    image.pixels[n] = static_cast<float>(std::max(0.0, sum[n]));
  return image;
}

}  // namespace ssmx::drr
