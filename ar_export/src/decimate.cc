#include "ssmx/ar_export/decimate.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "ssmx/core/error.h"
#include "ssmx/ssm/surface.h"

namespace ssmx::ar_export {
namespace {

// Nearest original vertex by a uniform grid whose cells hold about one vertex
// on average; searched in growing shells until the best distance is certain.
class NearestVertex {
 public:
  explicit NearestVertex(const MatrixX3dR& points) : points_(points) {
    lo_ = points.colwise().minCoeff().transpose();
    const Eigen::Vector3d extent = points.colwise().maxCoeff().transpose() - lo_;
    const double volume = std::max(extent.prod(), 1e-12);
    cell_ = std::max(std::cbrt(volume / std::max<Eigen::Index>(points.rows(), 1)),
                     1e-9 + 1e-6 * extent.maxCoeff());
    for (Eigen::Index i = 0; i < points.rows(); ++i)
      grid_[Key(Cell(points.row(i).transpose()))].push_back(i);
  }

  Eigen::Index Find(const Eigen::Vector3d& p) const {
    const Eigen::Vector3i c = Cell(p);
    Eigen::Index best = -1;
    double best_d2 = INFINITY;
    for (int r = 0;; ++r) {
      for (int dx = -r; dx <= r; ++dx) {
        for (int dy = -r; dy <= r; ++dy) {
          for (int dz = -r; dz <= r; ++dz) {
            if (std::max({std::abs(dx), std::abs(dy), std::abs(dz)}) != r) continue;  // shell only
            const auto it = grid_.find(Key(c + Eigen::Vector3i(dx, dy, dz)));
            if (it == grid_.end()) continue;
            for (Eigen::Index i : it->second) {
              const double d2 = (points_.row(i).transpose() - p).squaredNorm();
              if (d2 < best_d2) best_d2 = d2, best = i;
            }
          }
        }
      }
      // Every point outside shell r is at least r * cell away.
      if (best >= 0 && std::sqrt(best_d2) <= r * cell_) return best;
      if (r > 4096) return best;
    }
  }

 private:
  Eigen::Vector3i Cell(const Eigen::Vector3d& p) const {
    return ((p - lo_) / cell_).array().floor().cast<int>();
  }
  static int64_t Key(const Eigen::Vector3i& c) {
    return (static_cast<int64_t>(c.x()) * 73856093) ^ (static_cast<int64_t>(c.y()) * 19349663) ^
           (static_cast<int64_t>(c.z()) * 83492791);
  }
  const MatrixX3dR& points_;
  Eigen::Vector3d lo_;
  double cell_;
  // Hash collisions only add candidates; distances decide.
  std::unordered_map<int64_t, std::vector<Eigen::Index>> grid_;
};

}  // namespace

TriangleMesh DecimateForAr(const TriangleMesh& mesh, int64_t target_faces) {
  if (target_faces < 4) {
    throw InvalidInput("target faces " + std::to_string(target_faces) +
                       " is too small; give at least 4");
  }
  if (mesh.num_faces() <= target_faces) return mesh;
  TriangleMesh out = ssm::DecimateSurface(mesh, target_faces);
  if (!mesh.scalars.empty()) {
    const NearestVertex nearest(mesh.vertices);
    std::vector<Eigen::Index> source(static_cast<size_t>(out.num_vertices()));
    for (Eigen::Index v = 0; v < out.num_vertices(); ++v)
      source[v] = nearest.Find(out.vertices.row(v).transpose());
    for (const auto& [name, values] : mesh.scalars) {
      Eigen::VectorXd moved(out.num_vertices());
      for (Eigen::Index v = 0; v < out.num_vertices(); ++v) moved[v] = values[source[v]];
      out.scalars[name] = moved;
    }
  }
  return out;
}

Scene DecimateScene(const Scene& scene, int64_t total_faces) {
  if (total_faces <= 0) return scene;
  int64_t all = 0;
  for (const Structure& s : scene.structures) all += s.mesh.num_faces();
  if (all <= total_faces) return scene;
  Scene out = scene;
  for (Structure& s : out.structures) {
    const int64_t budget =
        std::max<int64_t>(4, static_cast<int64_t>(static_cast<double>(total_faces) *
                                                  s.mesh.num_faces() / static_cast<double>(all)));
    s.mesh = DecimateForAr(s.mesh, budget);
  }
  return out;
}

}  // namespace ssmx::ar_export
