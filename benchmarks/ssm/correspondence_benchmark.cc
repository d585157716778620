// One dense correspondence with a 20k-vertex reference (issue 4 asks < 10 s):
// the mean phantom femur meshed to 40000 faces deformed onto a different,
// independently meshed phantom femur; and rigid ICP between the two.
//
//   build/benchmarks/ssm/correspondence_benchmark [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include "ssmx/ssm/correspondence.h"
#include "ssmx/ssm/icp.h"
#include "ssmx/ssm/phantom.h"

namespace {

using ssmx::TriangleMesh;

struct Pair {
  TriangleMesh reference, target;
};

const Pair& Meshes() {
  static const Pair pair = [] {
    ssmx::ssm::PhantomMeshOptions fine;
    fine.spacing_mm = 0.6;
    fine.target_faces = 40000;  // 20002 vertices
    Pair p;
    p.reference = ssmx::ssm::MeshPhantomFemur(
        ssmx::ssm::PhantomFemur(ssmx::ssm::MeanFemurParameters()), fine);
    fine.spacing_mm = 0.7;
    p.target = ssmx::ssm::MeshPhantomFemur(
        ssmx::ssm::PhantomFemur(ssmx::ssm::SampleFemurParameters(1, 7)[0]), fine);
    return p;
  }();
  return pair;
}

void BM_Correspond20k(benchmark::State& state) {
  const Pair& p = Meshes();
  ssmx::ssm::CorrespondenceOptions options;
  options.max_solve_vertices = static_cast<int>(state.range(0));
  for (auto _ : state) {
    const ssmx::ssm::CorrespondenceSummary s =
        ssmx::ssm::RegisterTemplate(p.reference, p.target, {}, options);
    benchmark::DoNotOptimize(s.mesh.vertices.data());
    state.counters["mean_mm"] = s.mean_distance_mm;
    state.counters["flipped"] = static_cast<double>(s.flipped_faces);
  }
  state.counters["vertices"] = static_cast<double>(p.reference.num_vertices());
}
BENCHMARK(BM_Correspond20k)->Arg(4000)->Unit(benchmark::kSecond)->Iterations(1);

void BM_RigidIcp20k(benchmark::State& state) {
  const Pair& p = Meshes();
  for (auto _ : state) {
    const auto s = ssmx::ssm::IterativeClosestPoint(
        p.reference, p.target,
        ssmx::ssm::CentroidAlignment(p.reference, p.target, ssmx::ssm::AlignmentKind::kRigid));
    benchmark::DoNotOptimize(s.target_from_source.translation.data());
  }
}
BENCHMARK(BM_RigidIcp20k)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
