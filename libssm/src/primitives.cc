#include "ssmx/ssm/primitives.h"

#include <cmath>
#include <map>
#include <vector>

#include "ssmx/core/error.h"

namespace ssmx::ssm {

TriangleMesh MakeIcosphere(double radius_mm, int subdivisions, const Eigen::Vector3d& center_mm) {
  if (!(radius_mm > 0) || !std::isfinite(radius_mm)) {
    throw InvalidInput("icosphere radius must be positive, got " + std::to_string(radius_mm));
  }
  if (subdivisions < 0 || subdivisions > 8) {
    throw InvalidInput("icosphere subdivisions must be in 0..8, got " + std::to_string(subdivisions));
  }
  const double t = (1.0 + std::sqrt(5.0)) / 2.0;
  std::vector<Eigen::Vector3d> v = {{-1, t, 0}, {1, t, 0}, {-1, -t, 0}, {1, -t, 0},
                                    {0, -1, t}, {0, 1, t}, {0, -1, -t}, {0, 1, -t},
                                    {t, 0, -1}, {t, 0, 1}, {-t, 0, -1}, {-t, 0, 1}};
  for (auto& p : v) p.normalize();
  std::vector<Eigen::Vector3i> f = {{0, 11, 5}, {0, 5, 1},  {0, 1, 7},   {0, 7, 10}, {0, 10, 11},
                                    {1, 5, 9},  {5, 11, 4}, {11, 10, 2}, {10, 7, 6}, {7, 1, 8},
                                    {3, 9, 4},  {3, 4, 2},  {3, 2, 6},   {3, 6, 8},  {3, 8, 9},
                                    {4, 9, 5},  {2, 4, 11}, {6, 2, 10},  {8, 6, 7},  {9, 8, 1}};
  for (int s = 0; s < subdivisions; ++s) {
    std::map<std::pair<int, int>, int> midpoint;
    auto mid = [&](int a, int b) {
      const auto key = std::minmax(a, b);
      auto it = midpoint.find(key);
      if (it != midpoint.end()) return it->second;
      v.push_back((v[a] + v[b]).normalized());
      return midpoint[key] = static_cast<int>(v.size()) - 1;
    };
    std::vector<Eigen::Vector3i> next;
    next.reserve(f.size() * 4);
    for (const auto& tri : f) {
      const int a = mid(tri[0], tri[1]), b = mid(tri[1], tri[2]), c = mid(tri[2], tri[0]);
      next.push_back({tri[0], a, c});
      next.push_back({tri[1], b, a});
      next.push_back({tri[2], c, b});
      next.push_back({a, b, c});
    }
    f.swap(next);
  }
  TriangleMesh mesh;
  mesh.vertices.resize(static_cast<Eigen::Index>(v.size()), 3);
  mesh.normals.resize(static_cast<Eigen::Index>(v.size()), 3);
  for (size_t i = 0; i < v.size(); ++i) {
    mesh.normals.row(i) = v[i].transpose();
    mesh.vertices.row(i) = (center_mm + radius_mm * v[i]).transpose();
  }
  mesh.faces.resize(static_cast<Eigen::Index>(f.size()), 3);
  for (size_t i = 0; i < f.size(); ++i) mesh.faces.row(i) = f[i].transpose();
  return mesh;
}

}  // namespace ssmx::ssm
