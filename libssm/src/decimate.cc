// Quadric error decimation (Garland & Heckbert, SIGGRAPH 1997) by edge
// collapse, with the link condition (Dey et al. 1999) so that a closed
// two-manifold stays one, and a normal-flip test so that no face turns over.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <queue>
#include <vector>

#include "ssmx/core/error.h"
#include "ssmx/ssm/surface.h"

namespace ssmx::ssm {
namespace {

// The error quadric of a set of planes: sum of area * (n.p + d)^2, stored as
// the symmetric 4x4 matrix of [p; 1].
using Quadric = Eigen::Matrix4d;

struct Candidate {
  double cost;
  int32_t u, v;               // u < v
  uint32_t stamp_u, stamp_v;  // versions of u and v when the candidate was made
  bool operator>(const Candidate& o) const {
    if (cost != o.cost) return cost > o.cost;
    return u != o.u ? u > o.u : v > o.v;  // deterministic order among equal costs
  }
};

class Decimator {
 public:
  explicit Decimator(const TriangleMesh& mesh)
      : positions_(mesh.vertices),
        faces_(mesh.faces),
        face_alive_(static_cast<size_t>(mesh.num_faces()), 1),
        vertex_alive_(static_cast<size_t>(mesh.num_vertices()), 1),
        locked_(static_cast<size_t>(mesh.num_vertices()), 0),
        stamp_(static_cast<size_t>(mesh.num_vertices()), 0),
        vertex_faces_(static_cast<size_t>(mesh.num_vertices())),
        quadric_(static_cast<size_t>(mesh.num_vertices()), Quadric::Zero()),
        alive_faces_(mesh.num_faces()) {
    for (int32_t f = 0; f < faces_.rows(); ++f) {
      for (int c = 0; c < 3; ++c) vertex_faces_[faces_(f, c)].push_back(f);
      const Eigen::Vector3d a = Corner(f, 0), b = Corner(f, 1), p = Corner(f, 2);
      const Eigen::Vector3d n = (b - a).cross(p - a);
      const double twice_area = n.norm();
      if (!(twice_area > 0)) continue;
      const Eigen::Vector3d unit = n / twice_area;
      Eigen::Vector4d plane;
      plane << unit, -unit.dot(a);
      const Quadric q = (0.5 * twice_area) * plane * plane.transpose();
      for (int c = 0; c < 3; ++c) quadric_[faces_(f, c)] += q;
    }
    LockNonManifoldAndBoundaryVertices();
  }

  void Run(int64_t target_faces) {
    std::vector<std::pair<int32_t, int32_t>> edges;
    edges.reserve(static_cast<size_t>(faces_.rows()) * 3);
    for (int32_t f = 0; f < faces_.rows(); ++f) {
      for (int c = 0; c < 3; ++c)
        edges.emplace_back(std::minmax(faces_(f, c), faces_(f, (c + 1) % 3)));
    }
    std::sort(edges.begin(), edges.end());
    edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
    for (const auto& [u, v] : edges) Push(u, v);
    while (alive_faces_ > target_faces && !heap_.empty()) {
      const Candidate top = heap_.top();
      heap_.pop();
      if (!vertex_alive_[top.u] || !vertex_alive_[top.v] || stamp_[top.u] != top.stamp_u ||
          stamp_[top.v] != top.stamp_v) {
        continue;  // stale: an endpoint changed since this candidate was made
      }
      // The placement is recomputed rather than stored: the stamps guarantee
      // the same quadrics, and a small candidate keeps the heap cache-friendly.
      double cost = 0;
      const Eigen::Vector3d target = Placement(top.u, top.v, &cost);
      if (CanCollapse(top.u, top.v, target)) Collapse(top.u, top.v, target);
    }
  }

  TriangleMesh Result() const {
    std::vector<int32_t> index(vertex_alive_.size(), -1);
    TriangleMesh out;
    int32_t nv = 0;
    std::vector<int32_t> order;
    for (int32_t f = 0; f < faces_.rows(); ++f) {
      if (!face_alive_[f]) continue;
      for (int c = 0; c < 3; ++c) {
        if (index[faces_(f, c)] < 0) {
          index[faces_(f, c)] = nv++;
          order.push_back(faces_(f, c));
        }
      }
    }
    out.vertices.resize(nv, 3);
    for (int32_t v = 0; v < nv; ++v) out.vertices.row(v) = positions_.row(order[v]);
    out.faces.resize(alive_faces_, 3);
    int64_t row = 0;
    for (int32_t f = 0; f < faces_.rows(); ++f) {
      if (!face_alive_[f]) continue;
      for (int c = 0; c < 3; ++c) out.faces(row, c) = index[faces_(f, c)];
      ++row;
    }
    return out;
  }

 private:
  Eigen::Vector3d Corner(int32_t f, int c) const {
    return positions_.row(faces_(f, c)).transpose();
  }

  // Vertices on boundary or non-manifold edges are never moved or removed:
  // the link condition below is the one for closed two-manifolds.
  void LockNonManifoldAndBoundaryVertices() {
    struct Use {
      int32_t lo, hi;
      bool operator<(const Use& o) const { return lo != o.lo ? lo < o.lo : hi < o.hi; }
      bool operator==(const Use& o) const { return lo == o.lo && hi == o.hi; }
    };
    std::vector<Use> uses;
    uses.reserve(static_cast<size_t>(faces_.rows()) * 3);
    for (int32_t f = 0; f < faces_.rows(); ++f) {
      for (int c = 0; c < 3; ++c) {
        const int32_t p = faces_(f, c), q = faces_(f, (c + 1) % 3);
        uses.push_back({std::min(p, q), std::max(p, q)});
      }
    }
    std::sort(uses.begin(), uses.end());
    for (size_t i = 0; i < uses.size();) {
      size_t j = i;
      while (j < uses.size() && uses[j] == uses[i]) ++j;
      if (j - i != 2) locked_[uses[i].lo] = locked_[uses[i].hi] = 1;
      i = j;
    }
  }

  // The vertices joined to v by an edge, sorted, into *out.
  void Neighbours(int32_t v, std::vector<int32_t>* out) const {
    out->clear();
    for (int32_t f : vertex_faces_[v]) {
      for (int c = 0; c < 3; ++c) {
        if (faces_(f, c) != v) out->push_back(faces_(f, c));
      }
    }
    std::sort(out->begin(), out->end());
    out->erase(std::unique(out->begin(), out->end()), out->end());
  }
  std::vector<int32_t> Neighbours(int32_t v) const {
    std::vector<int32_t> out;
    for (int32_t f : vertex_faces_[v]) {
      for (int c = 0; c < 3; ++c) {
        if (faces_(f, c) != v) out.push_back(faces_(f, c));
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  // Where the merged vertex goes: the minimiser of the summed quadric when it
  // is well determined, else the best of the endpoints and the midpoint.
  Eigen::Vector3d Placement(int32_t u, int32_t v, double* cost) const {
    const Quadric q = quadric_[u] + quadric_[v];
    const auto error = [&q](const Eigen::Vector3d& p) {
      Eigen::Vector4d h;
      h << p, 1.0;
      return std::max(0.0, h.dot(q * h));
    };
    const Eigen::Vector3d pu = positions_.row(u).transpose(), pv = positions_.row(v).transpose();
    const Eigen::Matrix3d a = q.topLeftCorner<3, 3>();
    const Eigen::Vector3d b = -q.topRightCorner<3, 1>();
    const double edge2 = (pu - pv).squaredNorm();
    // The quadric's 3x3 part is symmetric positive semi-definite; a determinant
    // tiny against the cube of its mean eigenvalue means a flat or ridge-like
    // neighbourhood where the minimiser is not unique.
    const double scale = a.trace() / 3;
    Eigen::Matrix3d inverse;
    double determinant = 0;
    bool invertible = false;
    a.computeInverseAndDetWithCheck(inverse, determinant, invertible, 0.0);
    if (invertible && scale > 0 && std::abs(determinant) > 1e-9 * scale * scale * scale) {
      const Eigen::Vector3d p = inverse * b;
      // Reject solutions far from the edge (nearly singular systems).
      if ((p - 0.5 * (pu + pv)).squaredNorm() <= 4.0 * edge2) {
        *cost = error(p);
        return p;
      }
    }
    Eigen::Vector3d best = pu;
    *cost = error(pu);
    for (const Eigen::Vector3d& p : {pv, Eigen::Vector3d(0.5 * (pu + pv))}) {
      const double e = error(p);
      if (e < *cost) {
        *cost = e;
        best = p;
      }
    }
    return best;
  }

  void Push(int32_t a, int32_t b) {
    const int32_t u = std::min(a, b), v = std::max(a, b);
    if (locked_[u] || locked_[v]) return;
    Candidate c;
    c.u = u;
    c.v = v;
    c.stamp_u = stamp_[u];
    c.stamp_v = stamp_[v];
    Placement(u, v, &c.cost);
    heap_.push(c);
  }

  // The link condition for an interior edge uv of a closed two-manifold: the
  // common neighbours of u and v are exactly the two vertices opposite the
  // edge. Also refuses collapses that would leave a vertex with fewer than
  // three neighbours (a tetrahedron) or turn a face over.
  bool CanCollapse(int32_t u, int32_t v, const Eigen::Vector3d& target) const {
    int32_t opposite[2];
    int found = 0;
    for (int32_t f : vertex_faces_[u]) {
      bool has_v = false;
      int32_t other = -1;
      for (int c = 0; c < 3; ++c) {
        if (faces_(f, c) == v)
          has_v = true;
        else if (faces_(f, c) != u)
          other = faces_(f, c);
      }
      if (has_v) {
        if (found == 2) return false;  // a third face on the edge: non-manifold
        opposite[found++] = other;
      }
    }
    if (found != 2 || opposite[0] == opposite[1]) return false;
    if (opposite[0] > opposite[1]) std::swap(opposite[0], opposite[1]);
    std::vector<int32_t>& nu = scratch_u_;
    std::vector<int32_t>& nv = scratch_v_;
    std::vector<int32_t>& common = scratch_common_;
    Neighbours(u, &nu);
    Neighbours(v, &nv);
    common.clear();
    std::set_intersection(nu.begin(), nu.end(), nv.begin(), nv.end(), std::back_inserter(common));
    if (common.size() != 2 || common[0] != opposite[0] || common[1] != opposite[1]) return false;
    if (nu.size() + nv.size() <= 6)
      return false;  // the result would have fewer than 4 vertices around
    // The opposite vertices lose a neighbour; around an interior vertex of a
    // closed manifold there are as many neighbours as faces.
    for (int32_t w : opposite) {
      if (vertex_faces_[w].size() <= 3) return false;
    }
    // No surviving face may flip or become degenerate.
    for (int32_t moved : {u, v}) {
      for (int32_t f : vertex_faces_[moved]) {
        bool collapses = false;
        Eigen::Vector3d before[3], after[3];
        for (int c = 0; c < 3; ++c) {
          const int32_t x = faces_(f, c);
          if ((moved == u && x == v) || (moved == v && x == u)) collapses = true;
          before[c] = positions_.row(x).transpose();
          after[c] = (x == u || x == v) ? target : before[c];
        }
        if (collapses) continue;
        const Eigen::Vector3d n0 = (before[1] - before[0]).cross(before[2] - before[0]);
        const Eigen::Vector3d n1 = (after[1] - after[0]).cross(after[2] - after[0]);
        const double l0 = n0.norm(), l1 = n1.norm();
        if (!(l1 > 1e-12 * (l0 + 1e-300))) return false;
        if (n0.dot(n1) < 0.2 * l0 * l1) return false;  // turns by more than ~78 degrees
      }
    }
    return true;
  }

  // Merges v into u at `target`.
  void Collapse(int32_t u, int32_t v, const Eigen::Vector3d& target) {
    for (int32_t f : vertex_faces_[v]) {
      bool has_u = false;
      for (int c = 0; c < 3; ++c) has_u = has_u || faces_(f, c) == u;
      if (has_u) {
        // One of the two faces on the edge: it disappears.
        face_alive_[f] = 0;
        --alive_faces_;
        for (int c = 0; c < 3; ++c) {
          const int32_t x = faces_(f, c);
          if (x == v) continue;
          auto& list = vertex_faces_[x];
          list.erase(std::remove(list.begin(), list.end(), f), list.end());
        }
      } else {
        for (int c = 0; c < 3; ++c) {
          if (faces_(f, c) == v) faces_(f, c) = u;
        }
        vertex_faces_[u].push_back(f);
      }
    }
    vertex_faces_[v].clear();
    vertex_alive_[v] = 0;
    positions_.row(u) = target.transpose();
    quadric_[u] += quadric_[v];
    ++stamp_[u];
    for (int32_t w : Neighbours(u)) Push(u, w);
  }

  MatrixX3dR positions_;
  MatrixX3iR faces_;
  std::vector<char> face_alive_;
  std::vector<char> vertex_alive_;
  std::vector<char> locked_;
  std::vector<uint32_t> stamp_;
  std::vector<std::vector<int32_t>> vertex_faces_;
  std::vector<Quadric, Eigen::aligned_allocator<Quadric>> quadric_;
  int64_t alive_faces_;
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap_;
  // Reused by CanCollapse to avoid allocations per test.
  mutable std::vector<int32_t> scratch_u_, scratch_v_, scratch_common_;
};

}  // namespace

TriangleMesh DecimateSurface(const TriangleMesh& mesh, int64_t target_faces) {
  ValidateMesh(mesh, "decimation");
  if (target_faces < 4) {
    throw InvalidInput("decimation: the target face count must be at least 4, got " +
                       std::to_string(target_faces));
  }
  if (mesh.num_faces() <= target_faces) return mesh;
  TriangleMesh input = mesh;
  RemoveRepeatedIndexFaces(&input);
  Decimator decimator(input);
  decimator.Run(target_faces);
  TriangleMesh out = decimator.Result();
  out.normals = ComputeVertexNormals(out);
  return out;
}

}  // namespace ssmx::ssm
