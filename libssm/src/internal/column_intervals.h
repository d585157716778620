#ifndef SSMX_SSM_INTERNAL_COLUMN_INTERVALS_H_
#define SSMX_SSM_INTERNAL_COLUMN_INTERVALS_H_

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "ssmx/core/triangle_mesh.h"

namespace ssmx::internal {

// Where the lines x = i, y = j (i in [0, ni), j in [0, nj)) run inside a
// closed mesh given in grid coordinates (x, y, z): the spans of z on which the
// winding number of the mesh is nonzero. Column c = i + ni * j owns
// spans[offset[c] .. offset[c + 1]), sorted, disjoint, each [z_enter, z_exit).
//
// Each triangle is rasterised onto the (x, y) lattice with edge functions
// evaluated with the edge's endpoints in a canonical order (lower vertex id
// first) and a top-left rule for points on an edge, so that a line through a
// shared edge or vertex crosses exactly one of the triangles around it, as in
// a watertight rasteriser. Triangles seen edge-on are skipped: their
// neighbours account for the crossing.
struct ColumnIntervals {
  int ni = 0;
  int nj = 0;
  std::vector<int64_t> offset;  // ni * nj + 1
  std::vector<std::pair<double, double>> spans;
};

ColumnIntervals ComputeColumnIntervals(const MatrixX3dR& grid_vertices, const MatrixX3iR& faces,
                                       int ni, int nj);

// Number of integers k with z0 <= k < z1.
inline int64_t LatticePointsIn(double z0, double z1) {
  const double n = std::ceil(z1) - std::ceil(z0);
  return n > 0 ? static_cast<int64_t>(n) : 0;
}

}  // namespace ssmx::internal

#endif  // SSMX_SSM_INTERNAL_COLUMN_INTERVALS_H_
