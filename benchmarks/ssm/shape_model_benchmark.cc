// Building a shape model from 100 shapes of 10242 vertices (issue 4 asks
// < 1 s), with and without rigid Procrustes, and projecting one shape.
//
//   build/benchmarks/ssm/shape_model_benchmark [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <Eigen/Geometry>
#include <cmath>
#include <vector>

#include "ssmx/ssm/primitives.h"
#include "ssmx/ssm/shape_model.h"

namespace {

using ssmx::TriangleMesh;

// 100 icospheres (10242 vertices) deformed by 12 smooth fields with
// deterministic amplitudes and rotated a little, so Procrustes has work to do.
const std::vector<TriangleMesh>& Cohort() {
  static const std::vector<TriangleMesh> cohort = [] {
    const TriangleMesh base = ssmx::ssm::MakeIcosphere(30.0, 5);
    std::vector<TriangleMesh> shapes;
    for (int s = 0; s < 100; ++s) {
      TriangleMesh m = base;
      for (int64_t v = 0; v < m.num_vertices(); ++v) {
        const Eigen::Vector3d p = base.vertices.row(v).transpose();
        double r = 1.0;
        for (int f = 0; f < 12; ++f) {
          r += 0.02 * std::sin(1.7 * s + 2.3 * f) *
               std::sin((f + 1) * p.x() / 30.0 + f * p.z() / 40.0);
        }
        m.vertices.row(v) =
            (Eigen::AngleAxisd(0.01 * (s % 7), Eigen::Vector3d::UnitZ()) * (r * p)).transpose();
      }
      shapes.push_back(m);
    }
    return shapes;
  }();
  return cohort;
}

void BM_BuildShapeModel(benchmark::State& state) {
  ssmx::ssm::ShapeModelBuildOptions options;
  options.alignment =
      state.range(0) ? ssmx::ssm::AlignmentKind::kRigid : ssmx::ssm::AlignmentKind::kNone;
  const auto& cohort = Cohort();
  for (auto _ : state) {
    benchmark::DoNotOptimize(ssmx::ssm::BuildShapeModel(cohort, options));
  }
  state.SetLabel(state.range(0) ? "100 x 10242 vertices, rigid Procrustes"
                                : "100 x 10242 vertices, no alignment");
}
BENCHMARK(BM_BuildShapeModel)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_Coefficients(benchmark::State& state) {
  const ssmx::ssm::ShapeModel model = ssmx::ssm::BuildShapeModel(Cohort());
  const ssmx::MatrixX3dR x = Cohort()[3].vertices;
  for (auto _ : state) benchmark::DoNotOptimize(model.Coefficients(x));
  state.SetLabel("99 modes, 10242 vertices");
}
BENCHMARK(BM_Coefficients)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
