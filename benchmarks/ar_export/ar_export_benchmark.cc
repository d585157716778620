// Export speed and size for a >100k-face femur: the statismo femur VSD001
// (37 864 faces, from $SSMX_DATA) with every triangle split into four
// (151 456 faces). Counters report the file sizes in MB.
//
//   build/benchmarks/ar_export/ar_export_benchmark [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "ssmx/ar_export/decimate.h"
#include "ssmx/ar_export/gltf_writer.h"
#include "ssmx/ar_export/usdz_writer.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/primitives.h"

namespace {

using ssmx::TriangleMesh;

// Midpoint subdivision: every triangle into four, shared edge midpoints.
TriangleMesh Subdivide(const TriangleMesh& mesh) {
  std::map<std::pair<int32_t, int32_t>, int32_t> midpoint;
  std::vector<Eigen::RowVector3d> vertices;
  for (Eigen::Index v = 0; v < mesh.num_vertices(); ++v) vertices.push_back(mesh.vertices.row(v));
  const auto mid = [&](int32_t a, int32_t b) {
    const auto key = std::minmax(a, b);
    auto [it, inserted] = midpoint.emplace(key, static_cast<int32_t>(vertices.size()));
    if (inserted) vertices.push_back(0.5 * (mesh.vertices.row(a) + mesh.vertices.row(b)));
    return it->second;
  };
  TriangleMesh out;
  out.faces.resize(4 * mesh.num_faces(), 3);
  for (Eigen::Index f = 0; f < mesh.num_faces(); ++f) {
    const int32_t a = mesh.faces(f, 0), b = mesh.faces(f, 1), c = mesh.faces(f, 2);
    const int32_t ab = mid(a, b), bc = mid(b, c), ca = mid(c, a);
    out.faces.row(4 * f) << a, ab, ca;
    out.faces.row(4 * f + 1) << ab, b, bc;
    out.faces.row(4 * f + 2) << ca, bc, c;
    out.faces.row(4 * f + 3) << ab, bc, ca;
  }
  out.vertices.resize(static_cast<Eigen::Index>(vertices.size()), 3);
  for (size_t v = 0; v < vertices.size(); ++v)
    out.vertices.row(static_cast<Eigen::Index>(v)) = vertices[v];
  return out;
}

const ssmx::ar_export::Scene& FemurScene() {
  static const ssmx::ar_export::Scene scene = [] {
    const char* env = std::getenv("SSMX_DATA");
    const std::string data = env ? env : std::string(SSMX_SOURCE_DIR) + "/../shared/data";
    const std::string path = data + "/meshes/femur_vsd/VSD001_femur.vtk";
    ssmx::ar_export::Scene s;
    ssmx::ar_export::Structure femur;
    femur.name = "femur";
    if (std::filesystem::exists(path)) {
      femur.mesh = Subdivide(ssmx::ssm::ReadMesh(path));
    } else {
      std::fprintf(stderr, "no %s: using a 327 680-face icosphere instead\n", path.c_str());
      femur.mesh = ssmx::ssm::MakeIcosphere(25, 7);
    }
    femur.mesh.scalars["uncertainty_mm"] = femur.mesh.vertices.col(2);
    s.structures.push_back(femur);
    return s;
  }();
  return scene;
}

void BM_GlbFemur(benchmark::State& state) {
  const auto& scene = FemurScene();
  size_t bytes = 0;
  for (auto _ : state) bytes = ssmx::ar_export::GlbBytes(scene).size();
  state.counters["faces"] = static_cast<double>(scene.structures[0].mesh.num_faces());
  state.counters["MB"] = bytes / 1e6;
}
BENCHMARK(BM_GlbFemur)->Unit(benchmark::kMillisecond);

void BM_WriteGlbFemurToDisk(benchmark::State& state) {
  const auto& scene = FemurScene();
  const std::string path =
      (std::filesystem::temp_directory_path() / "ssmx_bench_femur.glb").string();
  for (auto _ : state) ssmx::ar_export::WriteGlb(scene, path);
  state.counters["MB"] = std::filesystem::file_size(path) / 1e6;
  std::filesystem::remove(path);
}
BENCHMARK(BM_WriteGlbFemurToDisk)->Unit(benchmark::kMillisecond);

void BM_UsdzFemur(benchmark::State& state) {
  const auto& scene = FemurScene();
  size_t bytes = 0;
  for (auto _ : state) bytes = ssmx::ar_export::UsdzBytes(scene).size();
  state.counters["MB"] = bytes / 1e6;
}
BENCHMARK(BM_UsdzFemur)->Unit(benchmark::kMillisecond);

// The default export path: decimate to 50 000 faces (scalars carried over),
// then the GLB.
void BM_DecimateTo50kAndGlb(benchmark::State& state) {
  const auto& scene = FemurScene();
  size_t bytes = 0;
  int64_t faces = 0;
  for (auto _ : state) {
    const auto small = ssmx::ar_export::DecimateScene(scene, 50000);
    faces = small.structures[0].mesh.num_faces();
    bytes = ssmx::ar_export::GlbBytes(small).size();
  }
  state.counters["faces"] = static_cast<double>(faces);
  state.counters["MB"] = bytes / 1e6;
}
BENCHMARK(BM_DecimateTo50kAndGlb)->Unit(benchmark::kMillisecond)->Iterations(2);

}  // namespace

BENCHMARK_MAIN();
