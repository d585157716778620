// SurfaceLocator: a bounding-volume hierarchy over triangles with exact
// point-triangle closest points and pseudonormal signs.
#include <Eigen/Geometry>
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "internal/parallel.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/surface_distance.h"

namespace ssmx::ssm {
namespace {

// Which part of a triangle a closest point lies on.
enum class Feature : uint8_t { kVertexA, kVertexB, kVertexC, kEdgeAB, kEdgeBC, kEdgeCA, kFace };

struct Node {
  Eigen::Vector3d lo, hi;
  // Leaf: first triangle and count > 0. Inner: children at `first` and `first + 1`, count = 0.
  int32_t first = 0;
  int32_t count = 0;
};

// The nearest triangle and the feature of it the closest point lies on.
struct Nearest {
  Eigen::Vector3d point;
  int32_t triangle = -1;
  Feature feature = Feature::kFace;
  double distance_squared = std::numeric_limits<double>::infinity();
};

}  // namespace

struct SurfaceLocator::Data {
  // Triangles in leaf order: corners a, b, c.
  std::vector<std::array<Eigen::Vector3d, 3>> triangles;
  std::vector<int64_t> face_id;                             // original face row of each triangle
  std::vector<std::array<int32_t, 3>> corner;               // vertex ids of each triangle
  std::vector<Eigen::Vector3d> face_normal;                 // unit, per triangle
  std::vector<std::array<Eigen::Vector3d, 3>> edge_normal;  // AB, BC, CA pseudonormals
  std::vector<Eigen::Vector3d> vertex_normal;  // angle-weighted pseudonormals, per vertex
  std::vector<Node> nodes;

  // The exact nearest triangle.
  Nearest FindNearest(const Eigen::Vector3d& p) const;
  // The distance of `n` with the sign of its feature's pseudonormal.
  double Signed(const Eigen::Vector3d& p, const Nearest& n) const;
};

namespace {

constexpr int kLeafSize = 4;
constexpr int kBins = 16;

// Closest point of triangle abc to p (Ericson 2005, sect. 5.1.5), with the
// feature it lies on. Works on the Voronoi regions of the corners and edges
// without computing the plane first.
Eigen::Vector3d ClosestOnTriangle(const Eigen::Vector3d& p, const Eigen::Vector3d& a,
                                  const Eigen::Vector3d& b, const Eigen::Vector3d& c,
                                  Feature* feature) {
  const Eigen::Vector3d ab = b - a, ac = c - a, ap = p - a;
  const double d1 = ab.dot(ap), d2 = ac.dot(ap);
  if (d1 <= 0 && d2 <= 0) {
    *feature = Feature::kVertexA;
    return a;
  }
  const Eigen::Vector3d bp = p - b;
  const double d3 = ab.dot(bp), d4 = ac.dot(bp);
  if (d3 >= 0 && d4 <= d3) {
    *feature = Feature::kVertexB;
    return b;
  }
  const double vc = d1 * d4 - d3 * d2;
  if (vc <= 0 && d1 >= 0 && d3 <= 0) {
    *feature = Feature::kEdgeAB;
    return a + (d1 / (d1 - d3)) * ab;
  }
  const Eigen::Vector3d cp = p - c;
  const double d5 = ab.dot(cp), d6 = ac.dot(cp);
  if (d6 >= 0 && d5 <= d6) {
    *feature = Feature::kVertexC;
    return c;
  }
  const double vb = d5 * d2 - d1 * d6;
  if (vb <= 0 && d2 >= 0 && d6 <= 0) {
    *feature = Feature::kEdgeCA;
    return a + (d2 / (d2 - d6)) * ac;
  }
  const double va = d3 * d6 - d5 * d4;
  if (va <= 0 && (d4 - d3) >= 0 && (d5 - d6) >= 0) {
    *feature = Feature::kEdgeBC;
    return b + ((d4 - d3) / ((d4 - d3) + (d5 - d6))) * (c - b);
  }
  const double denominator = 1.0 / (va + vb + vc);
  *feature = Feature::kFace;
  return a + ab * (vb * denominator) + ac * (vc * denominator);
}

double BoxDistanceSquared(const Node& node, const Eigen::Vector3d& p) {
  const Eigen::Vector3d d = (node.lo - p).cwiseMax(p - node.hi).cwiseMax(0.0);
  return d.squaredNorm();
}

struct BuildItem {
  Eigen::Vector3d lo, hi, centroid;
  int64_t face;
};

// Binned surface-area-heuristic build (Wald 2007) over items[begin, end) into
// node `index`; reorders the items so that every leaf covers a contiguous range.
// Deeper than kMaxSahDepth the split is the median along the longest axis, which
// bounds the depth by kMaxSahDepth + log2(#F) whatever the triangle layout.
constexpr int kMaxSahDepth = 48;

void Build(std::vector<BuildItem>* items, int32_t begin, int32_t end, int32_t index, int depth,
           std::vector<Node>* nodes) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  Eigen::Vector3d lo = Eigen::Vector3d::Constant(kInf), hi = -lo, clo = lo, chi = hi;
  for (int32_t i = begin; i < end; ++i) {
    const BuildItem& item = (*items)[i];
    lo = lo.cwiseMin(item.lo);
    hi = hi.cwiseMax(item.hi);
    clo = clo.cwiseMin(item.centroid);
    chi = chi.cwiseMax(item.centroid);
  }
  (*nodes)[index].lo = lo;
  (*nodes)[index].hi = hi;
  const int32_t count = end - begin;
  if (count <= kLeafSize) {
    (*nodes)[index].first = begin;
    (*nodes)[index].count = count;
    return;
  }
  struct Bin {
    double lo[3] = {kInf, kInf, kInf};
    double hi[3] = {-kInf, -kInf, -kInf};
    int32_t count = 0;
    void Add(const double* l, const double* h) {
      for (int k = 0; k < 3; ++k) {
        lo[k] = std::min(lo[k], l[k]);
        hi[k] = std::max(hi[k], h[k]);
      }
    }
    double Area() const {
      const double x = std::max(0.0, hi[0] - lo[0]), y = std::max(0.0, hi[1] - lo[1]),
                   z = std::max(0.0, hi[2] - lo[2]);
      return x * y + y * z + z * x;
    }
  };
  Bin bins[3][kBins];
  double scale[3];
  bool usable[3];
  // Only the axis along which the centroids spread most is binned: nearly as
  // good a tree as binning all three, for a third of the work.
  int longest = 0;
  (chi - clo).maxCoeff(&longest);
  for (int axis = 0; axis < 3; ++axis) {
    const double extent = chi[axis] - clo[axis];
    usable[axis] = axis == longest && extent > 0 && depth < kMaxSahDepth;
    scale[axis] = usable[axis] ? kBins / extent : 0;
  }
  if (usable[0] || usable[1] || usable[2]) {
    for (int32_t i = begin; i < end; ++i) {
      const BuildItem& item = (*items)[i];
      const int b = std::min(
          kBins - 1, static_cast<int>(scale[longest] * (item.centroid[longest] - clo[longest])));
      bins[longest][b].Add(item.lo.data(), item.hi.data());
      ++bins[longest][b].count;
    }
  }
  int best_axis = -1, best_split = 0;
  double best_cost = kInf;
  for (int axis = 0; axis < 3; ++axis) {
    if (!usable[axis]) continue;
    // Sweep from the right for the cost of every split plane.
    double right_area[kBins];
    int32_t right_count[kBins];
    Bin acc;
    for (int b = kBins - 1; b > 0; --b) {
      acc.Add(bins[axis][b].lo, bins[axis][b].hi);
      acc.count += bins[axis][b].count;
      right_area[b] = acc.count ? acc.Area() : 0;
      right_count[b] = acc.count;
    }
    Bin left;
    for (int b = 0; b + 1 < kBins; ++b) {
      left.Add(bins[axis][b].lo, bins[axis][b].hi);
      left.count += bins[axis][b].count;
      if (left.count == 0 || right_count[b + 1] == 0) continue;
      const double cost = left.Area() * left.count + right_area[b + 1] * right_count[b + 1];
      if (cost < best_cost) {
        best_cost = cost;
        best_axis = axis;
        best_split = b;
      }
    }
  }
  int32_t middle;
  if (best_axis < 0) {
    // Too deep, or every centroid coincides: the median along the longest axis.
    int axis = 0;
    (chi - clo).maxCoeff(&axis);
    middle = begin + count / 2;
    std::nth_element(items->begin() + begin, items->begin() + middle, items->begin() + end,
                     [axis](const BuildItem& x, const BuildItem& y) {
                       return x.centroid[axis] < y.centroid[axis];
                     });
  } else {
    const auto mid =
        std::partition(items->begin() + begin, items->begin() + end, [&](const BuildItem& item) {
          const int b = std::min(
              kBins - 1,
              static_cast<int>(scale[best_axis] * (item.centroid[best_axis] - clo[best_axis])));
          return b <= best_split;
        });
    middle = static_cast<int32_t>(mid - items->begin());
    if (middle == begin || middle == end) middle = begin + count / 2;
  }
  const auto children = static_cast<int32_t>(nodes->size());
  nodes->resize(nodes->size() + 2);
  (*nodes)[index].first = children;
  (*nodes)[index].count = 0;
  Build(items, begin, middle, children, depth + 1, nodes);
  Build(items, middle, end, children + 1, depth + 1, nodes);
}

}  // namespace

SurfaceLocator::SurfaceLocator(const TriangleMesh& mesh) : data_(std::make_unique<Data>()) {
  ValidateMesh(mesh, "surface locator");
  const int64_t nv = mesh.num_vertices(), nf = mesh.num_faces();
  if (nf >= std::numeric_limits<int32_t>::max() / 2) {
    throw InvalidInput("surface locator: " + std::to_string(nf) +
                       " faces are more than it can index");
  }
  std::vector<BuildItem> items;
  items.reserve(static_cast<size_t>(nf));
  std::vector<Eigen::Vector3d> unit_normal(static_cast<size_t>(nf), Eigen::Vector3d::Zero());
  data_->vertex_normal.assign(static_cast<size_t>(nv), Eigen::Vector3d::Zero());
  for (int64_t f = 0; f < nf; ++f) {
    const Eigen::Vector3d a = mesh.vertices.row(mesh.faces(f, 0)),
                          b = mesh.vertices.row(mesh.faces(f, 1)),
                          c = mesh.vertices.row(mesh.faces(f, 2));
    const Eigen::Vector3d n = (b - a).cross(c - a);
    const double length = n.norm();
    // Zero-area triangles are skipped: their points lie on the edges of their
    // neighbours, and they have no normal to give a sign.
    if (!(length > 0)) continue;
    unit_normal[f] = n / length;
    items.push_back({a.cwiseMin(b).cwiseMin(c), a.cwiseMax(b).cwiseMax(c), (a + b + c) / 3.0, f});
    // Angle-weighted vertex pseudonormals (Baerentzen & Aanaes 2005).
    const Eigen::Vector3d corners[3] = {a, b, c};
    for (int k = 0; k < 3; ++k) {
      const Eigen::Vector3d e1 = (corners[(k + 1) % 3] - corners[k]).normalized();
      const Eigen::Vector3d e2 = (corners[(k + 2) % 3] - corners[k]).normalized();
      const double angle = std::acos(std::clamp(e1.dot(e2), -1.0, 1.0));
      data_->vertex_normal[mesh.faces(f, k)] += angle * unit_normal[f];
    }
  }
  if (items.empty()) throw InvalidInput("surface locator: every face of the mesh has zero area");

  // Edge pseudonormals: the sum of the normals of the faces sharing the edge,
  // found through the faces around the edge's first vertex.
  std::vector<int64_t> first_face(static_cast<size_t>(nv) + 1, 0);
  for (int64_t f = 0; f < nf; ++f) {
    for (int k = 0; k < 3; ++k) ++first_face[mesh.faces(f, k) + 1];
  }
  for (int64_t v = 0; v < nv; ++v) first_face[v + 1] += first_face[v];
  std::vector<int64_t> faces_around(static_cast<size_t>(nf) * 3);
  {
    std::vector<int64_t> fill(first_face.begin(), first_face.end() - 1);
    for (int64_t f = 0; f < nf; ++f) {
      for (int k = 0; k < 3; ++k) faces_around[fill[mesh.faces(f, k)]++] = f;
    }
  }
  // edge_sum[3 * f + k]: pseudonormal of edge k (corner k -> k+1) of face f.
  std::vector<Eigen::Vector3d> edge_sum(static_cast<size_t>(nf) * 3, Eigen::Vector3d::Zero());
  for (int64_t f = 0; f < nf; ++f) {
    for (int k = 0; k < 3; ++k) {
      const int32_t p = mesh.faces(f, k), q = mesh.faces(f, (k + 1) % 3);
      Eigen::Vector3d sum = Eigen::Vector3d::Zero();
      for (int64_t i = first_face[p]; i < first_face[p + 1]; ++i) {
        const int64_t g = faces_around[i];
        if (mesh.faces(g, 0) == q || mesh.faces(g, 1) == q || mesh.faces(g, 2) == q)
          sum += unit_normal[g];
      }
      edge_sum[3 * f + k] = sum;
    }
  }

  data_->nodes.reserve(2 * items.size() / kLeafSize + 16);
  data_->nodes.resize(1);
  Build(&items, 0, static_cast<int32_t>(items.size()), 0, 0, &data_->nodes);
  data_->nodes.shrink_to_fit();
  const size_t nt = items.size();
  data_->triangles.resize(nt);
  data_->face_id.resize(nt);
  data_->corner.resize(nt);
  data_->face_normal.resize(nt);
  data_->edge_normal.resize(nt);
  for (size_t t = 0; t < nt; ++t) {
    const int64_t f = items[t].face;
    data_->face_id[t] = f;
    for (int k = 0; k < 3; ++k) {
      data_->corner[t][k] = mesh.faces(f, k);
      data_->triangles[t][k] = mesh.vertices.row(mesh.faces(f, k)).transpose();
      data_->edge_normal[t][k] = edge_sum[3 * f + k];
    }
    data_->face_normal[t] = unit_normal[f];
  }
}

SurfaceLocator::~SurfaceLocator() = default;
SurfaceLocator::SurfaceLocator(SurfaceLocator&&) noexcept = default;
SurfaceLocator& SurfaceLocator::operator=(SurfaceLocator&&) noexcept = default;

int64_t SurfaceLocator::num_faces() const { return static_cast<int64_t>(data_->triangles.size()); }

Nearest SurfaceLocator::Data::FindNearest(const Eigen::Vector3d& p) const {
  const Data& data = *this;
  Nearest best;
  int32_t stack[128];
  int depth = 0;
  stack[depth++] = 0;
  while (depth > 0) {
    const Node& node = data.nodes[stack[--depth]];
    if (BoxDistanceSquared(node, p) >= best.distance_squared) continue;
    if (node.count > 0) {
      for (int32_t t = node.first; t < node.first + node.count; ++t) {
        const auto& tri = data.triangles[t];
        Feature feature;
        const Eigen::Vector3d q = ClosestOnTriangle(p, tri[0], tri[1], tri[2], &feature);
        const double d2 = (q - p).squaredNorm();
        if (d2 < best.distance_squared) {
          best.distance_squared = d2;
          best.point = q;
          best.triangle = t;
          best.feature = feature;
        }
      }
      continue;
    }
    const int32_t left = node.first, right = node.first + 1;
    const double dl = BoxDistanceSquared(data.nodes[left], p);
    const double dr = BoxDistanceSquared(data.nodes[right], p);
    // Push the farther child first so that the nearer one is searched first.
    const bool left_first = dl <= dr;
    const int32_t near = left_first ? left : right, far = left_first ? right : left;
    const double d_near = left_first ? dl : dr, d_far = left_first ? dr : dl;
    if (depth + 2 > 128)
      throw InternalError("surface locator: the hierarchy is deeper than 128 levels");
    if (d_far < best.distance_squared) stack[depth++] = far;
    if (d_near < best.distance_squared) stack[depth++] = near;
  }
  return best;
}

ClosestPointResult SurfaceLocator::ClosestPoint(const Eigen::Vector3d& point) const {
  if (!point.allFinite()) throw InvalidInput("surface locator: the query point is not finite");
  const Nearest n = data_->FindNearest(point);
  ClosestPointResult result;
  result.point = n.point;
  result.face = data_->face_id[n.triangle];
  result.distance = std::sqrt(n.distance_squared);
  return result;
}

double SurfaceLocator::Data::Signed(const Eigen::Vector3d& p, const Nearest& n) const {
  const int32_t t = n.triangle;
  Eigen::Vector3d pseudonormal;
  switch (n.feature) {
    case Feature::kVertexA: pseudonormal = vertex_normal[corner[t][0]]; break;
    case Feature::kVertexB: pseudonormal = vertex_normal[corner[t][1]]; break;
    case Feature::kVertexC: pseudonormal = vertex_normal[corner[t][2]]; break;
    case Feature::kEdgeAB: pseudonormal = edge_normal[t][0]; break;
    case Feature::kEdgeBC: pseudonormal = edge_normal[t][1]; break;
    case Feature::kEdgeCA: pseudonormal = edge_normal[t][2]; break;
    default: pseudonormal = face_normal[t]; break;
  }
  const double distance = std::sqrt(n.distance_squared);
  return (p - n.point).dot(pseudonormal) < 0 ? -distance : distance;
}

double SurfaceLocator::SignedDistance(const Eigen::Vector3d& point) const {
  if (!point.allFinite()) throw InvalidInput("surface locator: the query point is not finite");
  return data_->Signed(point, data_->FindNearest(point));
}

Eigen::VectorXd SurfaceLocator::SignedDistances(const Eigen::Ref<const MatrixX3dR>& points) const {
  if (!points.allFinite()) throw InvalidInput("surface locator: a query point is not finite");
  Eigen::VectorXd out(points.rows());
  ::ssmx::internal::ParallelFor(points.rows(), 256, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const Eigen::Vector3d p = points.row(i).transpose();
      out[i] = data_->Signed(p, data_->FindNearest(p));
    }
  });
  return out;
}

}  // namespace ssmx::ssm
