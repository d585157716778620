// Meshing phantom femurs by the surface extraction path, the shared template
// and the corresponding (template-mapped) meshes. See docs/phantom.md.
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

#include "internal/phantom_geometry.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/phantom.h"
#include "ssmx/ssm/surface.h"

namespace ssmx::ssm {

namespace {

using Eigen::Vector3d;

// Runs body(k) for k in [0, count) on a few threads; body must only write
// its own outputs, so the result does not depend on the thread count.
template <typename Body>
void ParallelFor(int count, const Body& body) {
  const int threads = std::max(1, std::min<int>(std::thread::hardware_concurrency(), 8));
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(threads);
  for (int w = 0; w < threads; ++w) {
    pool.emplace_back([&, w] {
      try {
        for (int k = w; k < count; k += threads) body(k);
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
  }
  for (std::thread& t : pool) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

// The negated signed distance (positive inside) sampled on a grid around the
// bone. Only blocks near the surface are sampled finely; elsewhere the value
// is interpolated from a coarse grid, which keeps its sign because a coarse
// node further than the block diagonal from the surface cannot have a surface
// crossing in its block.
Volume SampleInsideness(const PhantomFemur& femur, double h) {
  const Bounds3d b = femur.bounds();
  VolumeGeometry g;
  g.spacing_mm = Vector3d::Constant(h);
  g.origin_mm = b.min.array() - 3 * h;
  constexpr int kBlock = 4;
  Eigen::Vector3i size = ((b.max - b.min) / h).array().ceil().cast<int>() + 7;
  size = ((size.array() + kBlock - 1) / kBlock) * kBlock + 1;  // whole blocks
  g.size = size;
  Volume v(g, VoxelType::kFloat32);
  float* out = v.data<float>();
  const Eigen::Vector3i blocks = (size.array() - 1) / kBlock;
  const int cx = blocks.x() + 1, cy = blocks.y() + 1, cz = blocks.z() + 1;
  std::vector<double> coarse(static_cast<size_t>(cx) * cy * cz);
  auto coarse_at = [&](int i, int j, int k) -> double& {
    return coarse[i + static_cast<size_t>(cx) * (j + static_cast<size_t>(cy) * k)];
  };
  ParallelFor(cz, [&](int k) {
    for (int j = 0; j < cy; ++j) {
      for (int i = 0; i < cx; ++i) {
        coarse_at(i, j, k) = femur.SignedDistance(g.IndexToWorld(Vector3d(i, j, k) * kBlock));
      }
    }
  });
  const double reach = 1.3 * kBlock * h * std::sqrt(3.0);
  std::vector<char> near(static_cast<size_t>(blocks.x()) * blocks.y() * blocks.z());
  auto near_at = [&](int i, int j, int k) -> char& {
    return near[i + static_cast<size_t>(blocks.x()) * (j + static_cast<size_t>(blocks.y()) * k)];
  };
  for (int bk = 0; bk < blocks.z(); ++bk) {
    for (int bj = 0; bj < blocks.y(); ++bj) {
      for (int bi = 0; bi < blocks.x(); ++bi) {
        bool any = false;
        for (int c = 0; c < 8; ++c) {
          any = any ||
                std::abs(coarse_at(bi + (c & 1), bj + ((c >> 1) & 1), bk + ((c >> 2) & 1))) < reach;
        }
        near_at(bi, bj, bk) = any;
      }
    }
  }
  // A sample is evaluated exactly when any block that contains it is near the
  // surface; otherwise it is interpolated within its block.
  ParallelFor(size.z(), [&](int k) {
    const int bk0 = std::max(0, (k - 1) / kBlock), bk1 = std::min(blocks.z() - 1, k / kBlock);
    for (int j = 0; j < size.y(); ++j) {
      const int bj0 = std::max(0, (j - 1) / kBlock), bj1 = std::min(blocks.y() - 1, j / kBlock);
      for (int i = 0; i < size.x(); ++i) {
        const int bi0 = std::max(0, (i - 1) / kBlock), bi1 = std::min(blocks.x() - 1, i / kBlock);
        bool exact = false;
        for (int bk = bk0; bk <= bk1 && !exact; ++bk)
          for (int bj = bj0; bj <= bj1 && !exact; ++bj)
            for (int bi = bi0; bi <= bi1 && !exact; ++bi) exact = near_at(bi, bj, bk);
        double value;
        if (exact) {
          value = femur.SignedDistance(g.IndexToWorld(Vector3d(i, j, k)));
        } else {
          const int bi = bi1, bj = bj1, bk = bk1;
          const double x = double(i - bi * kBlock) / kBlock, y = double(j - bj * kBlock) / kBlock,
                       z = double(k - bk * kBlock) / kBlock;
          value = 0;
          for (int c = 0; c < 8; ++c) {
            value += coarse_at(bi + (c & 1), bj + ((c >> 1) & 1), bk + ((c >> 2) & 1)) *
                     ((c & 1) ? x : 1 - x) * (((c >> 1) & 1) ? y : 1 - y) *
                     (((c >> 2) & 1) ? z : 1 - z);
          }
        }
        out[v.LinearIndex(i, j, k)] = static_cast<float>(-value);
      }
    }
  });
  return v;
}

// Vertex normals from the gradient of the signed distance (exact normals of
// the implicit surface).
void SetImplicitNormals(const PhantomFemur& femur, TriangleMesh* mesh) {
  mesh->normals.resize(mesh->vertices.rows(), 3);
  ParallelFor(static_cast<int>(mesh->vertices.rows()), [&](int i) {
    const Vector3d g = femur.Gradient(mesh->vertices.row(i).transpose());
    mesh->normals.row(i) = (g.norm() > 0 ? g.normalized() : Vector3d::UnitZ()).transpose();
  });
}

}  // namespace

std::string PhantomMeshOptions::IsValid() const {
  std::ostringstream s;
  if (!(spacing_mm >= 0.2 && spacing_mm <= 3.0))
    s << "mesh spacing " << spacing_mm << " mm outside 0.2..3";
  else if (target_faces != 0 && (target_faces < 500 || target_faces > 5000000))
    s << "target faces " << target_faces << " outside 500..5000000 (0: no decimation)";
  else if (snap_iterations < 0 || snap_iterations > 50)
    s << "snap iterations " << snap_iterations << " outside 0..50";
  return s.str();
}

TriangleMesh MeshPhantomFemur(const PhantomFemur& femur, const PhantomMeshOptions& options) {
  const std::string problem = options.IsValid();
  if (!problem.empty()) throw InvalidInput("phantom mesh: " + problem);
  const Volume inside = SampleInsideness(femur, options.spacing_mm);
  SurfaceOptions surface;
  surface.smooth_iterations = 0;  // the sampled distance is smooth already
  surface.target_faces = options.target_faces;
  surface.progress = options.progress;
  TriangleMesh mesh = ExtractIsoSurface(inside, 0.0, surface);
  if (options.snap_iterations > 0) {
    ParallelFor(static_cast<int>(mesh.vertices.rows()), [&](int i) {
      Vector3d p = mesh.vertices.row(i).transpose();
      femur.ProjectToSurface(&p, options.snap_iterations);
      mesh.vertices.row(i) = p.transpose();
    });
  }
  mesh.scalars.clear();
  SetImplicitNormals(femur, &mesh);
  return mesh;
}

FemurTemplate MakeFemurTemplate(const PhantomMeshOptions& options) {
  const PhantomFemur mean(MeanFemurParameters(BodySide::kRight));
  FemurTemplate t;
  t.mesh = MeshPhantomFemur(mean, options);
  const int64_t nv = t.mesh.num_vertices();
  // Landmarks on the surface: the nearest template vertex.
  for (const auto& [name, point] : mean.Landmarks()) {
    if (name == "femoral_head_center" || name == "knee_center" || name == "neck_shaft_point")
      continue;
    Eigen::Index best = 0;
    (t.mesh.vertices.rowwise() - point.transpose()).rowwise().squaredNorm().minCoeff(&best);
    t.landmark_vertices[name] = static_cast<int>(best);
  }
  // Parts and the head cap (away from the head-neck junction).
  const PhantomFemur::Geometry mean_geometry(mean.parameters());
  t.part.resize(nv);
  for (int64_t i = 0; i < nv; ++i) {
    const Vector3d q = mean_geometry.StraightFromWorld(t.mesh.vertices.row(i).transpose());
    const auto d = mean_geometry.PartDistances(q);
    t.part[i] = static_cast<int>(std::min_element(d.begin(), d.end()) - d.begin());
    const Vector3d r = q - mean_geometry.head_center;
    if (std::abs(r.norm() - mean.parameters().head_radius_mm) < 0.05 &&
        r.dot(mean_geometry.n) > -0.3 * mean.parameters().head_radius_mm) {
      t.head_vertices.push_back(static_cast<int>(i));
    }
  }
  return t;
}

TriangleMesh CorrespondingFemurMesh(const FemurTemplate& femur_template, const PhantomFemur& femur,
                                    int snap_iterations, CorrespondenceReport* report) {
  const TriangleMesh& t = femur_template.mesh;
  if (t.empty() || t.num_faces() == 0)
    throw InvalidInput("corresponding femur mesh: the template mesh is empty");
  TriangleMesh mesh;
  mesh.vertices.resize(t.vertices.rows(), 3);
  mesh.faces = t.faces;
  std::vector<double> snap(t.vertices.rows()), residual(t.vertices.rows());
  ParallelFor(static_cast<int>(t.vertices.rows()), [&](int i) {
    Vector3d p = femur.MapFromMean(t.vertices.row(i).transpose());
    snap[i] = femur.ProjectToSurface(&p, snap_iterations);
    residual[i] = std::abs(femur.SignedDistance(p));
    mesh.vertices.row(i) = p.transpose();
  });
  const bool left = femur.parameters().side == BodySide::kLeft;
  if (left) mesh.faces.col(1).swap(mesh.faces.col(2));
  SetImplicitNormals(femur, &mesh);
  if (report) {
    *report = CorrespondenceReport();
    for (size_t i = 0; i < snap.size(); ++i) {
      report->max_snap_mm = std::max(report->max_snap_mm, snap[i]);
      report->mean_snap_mm += snap[i] / snap.size();
      report->max_residual_mm = std::max(report->max_residual_mm, residual[i]);
    }
    for (int64_t f = 0; f < t.num_faces(); ++f) {
      auto normal = [](const TriangleMesh& m, int64_t face) {
        const Vector3d a = m.vertices.row(m.faces(face, 0)), b = m.vertices.row(m.faces(face, 1)),
                       c = m.vertices.row(m.faces(face, 2));
        return Vector3d((b - a).cross(c - a));
      };
      Vector3d before = normal(t, f);
      // Mirroring negates a face normal and reversing the face restores it.
      if (left) before.x() = -before.x();
      if (normal(mesh, f).dot(before) < 0) ++report->flipped_faces;
    }
  }
  return mesh;
}

}  // namespace ssmx::ssm
