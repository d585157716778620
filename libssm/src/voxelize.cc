// Mesh voxelisation by exact ray crossings along grid columns.
#include "ssmx/ssm/voxelize.h"

#include <algorithm>
#include <cmath>

#include "internal/column_intervals.h"
#include "internal/parallel.h"
#include "ssmx/core/error.h"

namespace ssmx {
namespace internal {
namespace {

struct Crossing {
  int64_t column;
  double z;
  int sign;  // orientation of the triangle seen along z; along a closed column the signs sum to 0
  bool operator<(const Crossing& o) const {
    return column != o.column ? column < o.column : z < o.z;
  }
};

// Twice the signed area of (p, q, r) in the (x, y) plane.
inline double Orient(double px, double py, double qx, double qy, double rx, double ry) {
  return (qx - px) * (ry - py) - (qy - py) * (rx - px);
}

// Crossings of the lattice columns with triangle f, appended to *out.
void RasteriseTriangle(const MatrixX3dR& v, const MatrixX3iR& faces, int64_t f, int ni, int nj,
                       std::vector<Crossing>* out) {
  const int32_t id[3] = {faces(f, 0), faces(f, 1), faces(f, 2)};
  const double x[3] = {v(id[0], 0), v(id[1], 0), v(id[2], 0)};
  const double y[3] = {v(id[0], 1), v(id[1], 1), v(id[2], 1)};
  const double z[3] = {v(id[0], 2), v(id[1], 2), v(id[2], 2)};
  const double area = Orient(x[0], y[0], x[1], y[1], x[2], y[2]);
  if (area == 0 || !std::isfinite(area)) return;  // edge-on: the neighbours carry the crossing
  const int s = area > 0 ? 1 : -1;
  const int i0 = std::max(0, static_cast<int>(std::ceil(std::min({x[0], x[1], x[2]}))));
  const int i1 = std::min(ni - 1, static_cast<int>(std::floor(std::max({x[0], x[1], x[2]}))));
  const int j0 = std::max(0, static_cast<int>(std::ceil(std::min({y[0], y[1], y[2]}))));
  const int j1 = std::min(nj - 1, static_cast<int>(std::floor(std::max({y[0], y[1], y[2]}))));
  if (i0 > i1 || j0 > j1) return;
  // Edge e runs from corner e to corner e+1 and is opposite corner e+2.
  // Canonical endpoints (lower vertex id first) make the edge function of a
  // shared edge bit-identical, up to sign, in both of its triangles.
  struct Edge {
    int lo, hi;     // corner indices of the canonical endpoints
    double flip;    // +1 when the triangle traverses lo -> hi, else -1
    bool top_left;  // points on this edge belong to this triangle
  } edges[3];
  for (int e = 0; e < 3; ++e) {
    const int a = e, b = (e + 1) % 3;
    const bool forward = id[a] < id[b];
    edges[e].lo = forward ? a : b;
    edges[e].hi = forward ? b : a;
    edges[e].flip = forward ? 1.0 : -1.0;
    // The edge's direction in the counter-clockwise traversal of the triangle.
    const double dx = (x[edges[e].hi] - x[edges[e].lo]) * edges[e].flip * s;
    const double dy = (y[edges[e].hi] - y[edges[e].lo]) * edges[e].flip * s;
    edges[e].top_left = dy > 0 || (dy == 0 && dx < 0);
  }
  for (int j = j0; j <= j1; ++j) {
    for (int i = i0; i <= i1; ++i) {
      double w[3];
      bool inside = true;
      for (int e = 0; e < 3 && inside; ++e) {
        const Edge& edge = edges[e];
        w[e] = s * edge.flip * Orient(x[edge.lo], y[edge.lo], x[edge.hi], y[edge.hi], i, j);
        inside = w[e] > 0 || (w[e] == 0 && edge.top_left);
      }
      if (!inside) continue;
      // w[e] weighs the corner opposite edge e, corner (e + 2) % 3.
      const double total = w[0] + w[1] + w[2];
      const double zc =
          total > 0 ? (w[0] * z[2] + w[1] * z[0] + w[2] * z[1]) / total : (z[0] + z[1] + z[2]) / 3;
      out->push_back({i + static_cast<int64_t>(ni) * j, zc, s});
    }
  }
}

}  // namespace

ColumnIntervals ComputeColumnIntervals(const MatrixX3dR& grid_vertices, const MatrixX3iR& faces,
                                       int ni, int nj) {
  ColumnIntervals result;
  result.ni = ni;
  result.nj = nj;
  const int64_t columns = static_cast<int64_t>(ni) * nj;
  // Rasterise in parallel into per-thread lists; the chunking is fixed, so the
  // merged list (sorted afterwards) is the same on every run.
  const int64_t nf = faces.rows();
  const int threads = WorkerCount();
  std::vector<std::vector<Crossing>> parts(static_cast<size_t>(threads));
  ParallelFor(threads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      for (int64_t f = nf * t / threads; f < nf * (t + 1) / threads; ++f) {
        RasteriseTriangle(grid_vertices, faces, f, ni, nj, &parts[t]);
      }
    }
  });
  std::vector<Crossing> crossings;
  size_t total = 0;
  for (const auto& part : parts) total += part.size();
  crossings.reserve(total);
  for (auto& part : parts) crossings.insert(crossings.end(), part.begin(), part.end());
  parts.clear();
  std::sort(crossings.begin(), crossings.end());

  result.offset.assign(static_cast<size_t>(columns) + 1, 0);
  size_t next = 0;
  for (int64_t c = 0; c < columns; ++c) {
    result.offset[c] = static_cast<int64_t>(result.spans.size());
    int winding = 0;
    double enter = 0;
    for (; next < crossings.size() && crossings[next].column == c; ++next) {
      const int before = winding;
      winding += crossings[next].sign;
      if (before == 0 && winding != 0) enter = crossings[next].z;
      if (before != 0 && winding == 0 && crossings[next].z > enter) {
        result.spans.emplace_back(enter, crossings[next].z);
      }
    }
  }
  result.offset[columns] = static_cast<int64_t>(result.spans.size());
  return result;
}

}  // namespace internal

namespace ssm {

Volume Voxelize(const TriangleMesh& mesh, const VolumeGeometry& grid) {
  ValidateMesh(mesh, "voxelize");
  const std::string problem = grid.Validate();
  if (!problem.empty()) throw InvalidInput("voxelize: invalid grid: " + problem);
  Volume out(grid, VoxelType::kInt16);
  const Eigen::Matrix4d index_from_world = grid.IndexFromWorld();
  const MatrixX3dR ijk =
      ((mesh.vertices * index_from_world.topLeftCorner<3, 3>().transpose()).rowwise() +
       index_from_world.topRightCorner<3, 1>().transpose());
  const internal::ColumnIntervals columns =
      internal::ComputeColumnIntervals(ijk, mesh.faces, grid.size.x(), grid.size.y());
  int16_t* voxels = out.data<int16_t>();
  const int nk = grid.size.z();
  for (int j = 0; j < grid.size.y(); ++j) {
    for (int i = 0; i < grid.size.x(); ++i) {
      const int64_t c = i + static_cast<int64_t>(grid.size.x()) * j;
      for (int64_t s = columns.offset[c]; s < columns.offset[c + 1]; ++s) {
        const double k0 = std::max(0.0, std::ceil(columns.spans[s].first));
        const double k1 = std::min(static_cast<double>(nk), std::ceil(columns.spans[s].second));
        for (auto k = static_cast<int>(k0); k < static_cast<int>(k1); ++k)
          voxels[out.LinearIndex(i, j, k)] = 1;
      }
    }
  }
  return out;
}

VolumeGeometry GridAroundMesh(const TriangleMesh& mesh, double spacing_mm, double margin_mm) {
  if (!(spacing_mm > 0) || !std::isfinite(spacing_mm)) {
    throw InvalidInput("voxelize: the spacing must be a positive number of mm, got " +
                       std::to_string(spacing_mm));
  }
  if (!(margin_mm >= 0) || !std::isfinite(margin_mm)) {
    throw InvalidInput("voxelize: the margin must be >= 0 mm, got " + std::to_string(margin_mm));
  }
  ValidateMesh(mesh, "voxelize");
  const Bounds3d bounds = ComputeBounds(mesh);
  const Eigen::Vector3d first = ((bounds.min.array() - margin_mm) / spacing_mm).floor();
  const Eigen::Vector3d last = ((bounds.max.array() + margin_mm) / spacing_mm).ceil();
  const Eigen::Vector3d count = last - first + Eigen::Vector3d::Ones();
  if (count.prod() > 2147483648.0) {
    throw InvalidInput("voxelize: a grid of spacing " + std::to_string(spacing_mm) +
                       " mm around the mesh has " + std::to_string(count.prod()) +
                       " voxels (more than 2^31); use a larger spacing");
  }
  VolumeGeometry grid;
  grid.size = count.cast<int>();
  grid.spacing_mm = Eigen::Vector3d::Constant(spacing_mm);
  grid.origin_mm = first * spacing_mm;
  grid.direction.setIdentity();
  return grid;
}

Volume Voxelize(const TriangleMesh& mesh, double spacing_mm, double margin_mm) {
  return Voxelize(mesh, GridAroundMesh(mesh, spacing_mm, margin_mm));
}

}  // namespace ssm
}  // namespace ssmx
