#include "ssmx/core/triangle_mesh.h"

#include <Eigen/Geometry>
#include <algorithm>
#include <numeric>
#include <sstream>

#include "ssmx/core/error.h"

namespace ssmx {
namespace {

class UnionFind {
 public:
  explicit UnionFind(int64_t n) : parent_(static_cast<size_t>(n)) {
    std::iota(parent_.begin(), parent_.end(), 0);
  }
  int64_t Find(int64_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  void Unite(int64_t a, int64_t b) { parent_[Find(a)] = Find(b); }

 private:
  std::vector<int64_t> parent_;
};

bool FaceInRange(const TriangleMesh& mesh, int64_t f) {
  const int64_t nv = mesh.num_vertices();
  for (int c = 0; c < 3; ++c) {
    const int32_t v = mesh.faces(f, c);
    if (v < 0 || v >= nv) return false;
  }
  return true;
}

}  // namespace

Bounds3d ComputeBounds(const TriangleMesh& mesh) {
  if (mesh.empty()) throw InvalidInput("cannot compute the bounds of a mesh without vertices");
  return {mesh.vertices.colwise().minCoeff().transpose(),
          mesh.vertices.colwise().maxCoeff().transpose()};
}

MeshCheck CheckMesh(const TriangleMesh& mesh) {
  MeshCheck check;
  const int64_t nv = mesh.num_vertices();
  const int64_t nf = mesh.num_faces();
  for (int64_t v = 0; v < nv; ++v) {
    if (!mesh.vertices.row(v).allFinite()) ++check.non_finite_vertices;
  }

  // Every directed edge as (min, max, forward?) so that the two uses of an
  // interior edge end up next to each other after sorting.
  struct Edge {
    int32_t a, b;
    bool forward;
    bool operator<(const Edge& o) const { return a != o.a ? a < o.a : b < o.b; }
  };
  std::vector<Edge> edges;
  edges.reserve(static_cast<size_t>(nf) * 3);
  std::vector<char> referenced(static_cast<size_t>(nv), 0);
  UnionFind components(nv);
  const double scale = nv > 0 && check.non_finite_vertices == 0
                           ? (mesh.vertices.colwise().maxCoeff() - mesh.vertices.colwise().minCoeff()).norm()
                           : 1.0;
  const double area_epsilon = 1e-14 * scale * scale;

  for (int64_t f = 0; f < nf; ++f) {
    if (!FaceInRange(mesh, f)) {
      ++check.out_of_range_indices;
      continue;
    }
    const int32_t i0 = mesh.faces(f, 0), i1 = mesh.faces(f, 1), i2 = mesh.faces(f, 2);
    referenced[i0] = referenced[i1] = referenced[i2] = 1;
    components.Unite(i0, i1);
    components.Unite(i1, i2);
    if (i0 == i1 || i1 == i2 || i0 == i2) {
      ++check.degenerate_faces;
      continue;
    }
    const Eigen::Vector3d a = mesh.vertices.row(i0), b = mesh.vertices.row(i1),
                          c = mesh.vertices.row(i2);
    const double twice_area = (b - a).cross(c - a).norm();
    if (!(twice_area > area_epsilon)) ++check.degenerate_faces;
    check.surface_area_mm2 += 0.5 * twice_area;
    check.enclosed_volume_mm3 += a.dot(b.cross(c)) / 6.0;
    const int32_t corners[3] = {i0, i1, i2};
    for (int e = 0; e < 3; ++e) {
      const int32_t p = corners[e], q = corners[(e + 1) % 3];
      edges.push_back({std::min(p, q), std::max(p, q), p < q});
    }
  }

  std::sort(edges.begin(), edges.end());
  for (size_t i = 0; i < edges.size();) {
    size_t j = i;
    int forward = 0;
    while (j < edges.size() && edges[j].a == edges[i].a && edges[j].b == edges[i].b) {
      forward += edges[j].forward ? 1 : 0;
      ++j;
    }
    const size_t uses = j - i;
    if (uses == 1) {
      ++check.boundary_edges;
    } else if (uses > 2) {
      ++check.non_manifold_edges;
    } else if (forward != 1) {
      ++check.inconsistent_edges;
    }
    i = j;
  }

  std::vector<char> is_root(static_cast<size_t>(nv), 0);
  for (int64_t v = 0; v < nv; ++v) {
    if (!referenced[v]) {
      ++check.unreferenced_vertices;
      continue;
    }
    const int64_t root = components.Find(v);
    if (!is_root[root]) {
      is_root[root] = 1;
      ++check.connected_components;
    }
  }
  return check;
}

std::vector<std::string> MeshCheck::Problems() const {
  std::vector<std::string> problems;
  auto add = [&](int64_t n, const char* what) {
    if (n > 0) problems.push_back(std::to_string(n) + " " + what);
  };
  add(non_finite_vertices, "vertices with NaN or infinite coordinates");
  add(out_of_range_indices, "faces with vertex indices out of range");
  add(degenerate_faces, "degenerate faces (repeated vertex or zero area)");
  add(unreferenced_vertices, "vertices not used by any face");
  add(boundary_edges, "boundary edges (holes: the surface is not closed)");
  add(non_manifold_edges, "non-manifold edges (shared by more than two faces)");
  add(inconsistent_edges, "edges with inconsistent face orientation");
  if (connected_components > 1) add(connected_components, "connected components");
  if (watertight() && enclosed_volume_mm3 < 0) {
    problems.push_back("faces are oriented inwards (negative enclosed volume)");
  }
  return problems;
}

void ValidateMesh(const TriangleMesh& mesh, const std::string& what) {
  const int64_t nv = mesh.num_vertices();
  if (mesh.num_faces() == 0) throw InvalidInput(what + ": the mesh has no triangles");
  for (int64_t v = 0; v < nv; ++v) {
    if (!mesh.vertices.row(v).allFinite()) {
      std::ostringstream msg;
      msg << what << ": vertex " << v << " has a NaN or infinite coordinate";
      throw InvalidInput(msg.str());
    }
  }
  for (int64_t f = 0; f < mesh.num_faces(); ++f) {
    if (!FaceInRange(mesh, f)) {
      std::ostringstream msg;
      msg << what << ": face " << f << " refers to vertex " << mesh.faces.row(f).maxCoeff()
          << " but the mesh has " << nv << " vertices (indices 0.." << nv - 1 << ")";
      if (mesh.faces.row(f).minCoeff() < 0) {
        msg.str("");
        msg << what << ": face " << f << " has a negative vertex index "
            << mesh.faces.row(f).minCoeff();
      }
      throw InvalidInput(msg.str());
    }
  }
  if (mesh.normals.rows() != 0 && mesh.normals.rows() != nv) {
    throw InvalidInput(what + ": " + std::to_string(mesh.normals.rows()) + " normals for " +
                       std::to_string(nv) + " vertices");
  }
  for (const auto& [name, values] : mesh.scalars) {
    if (values.size() != nv) {
      throw InvalidInput(what + ": scalar \"" + name + "\" has " + std::to_string(values.size()) +
                         " values for " + std::to_string(nv) + " vertices");
    }
  }
}

int64_t RemoveRepeatedIndexFaces(TriangleMesh* mesh) {
  int64_t kept = 0;
  const int64_t nf = mesh->num_faces();
  for (int64_t f = 0; f < nf; ++f) {
    const auto row = mesh->faces.row(f);
    if (row(0) == row(1) || row(1) == row(2) || row(0) == row(2)) continue;
    if (kept != f) mesh->faces.row(kept) = mesh->faces.row(f);
    ++kept;
  }
  mesh->faces.conservativeResize(kept, 3);
  return nf - kept;
}

}  // namespace ssmx
