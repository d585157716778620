// Distance between two 100k-face surfaces: ssmx's ComputeSurfaceDistance
// (BVH + exact closest points, both directions, with and without Dice) next
// to VTK's vtkDistancePolyDataFilter (vtkImplicitPolyDataDistance over a cell
// locator) doing the same per-vertex signed distances in both directions, in
// the same run. Prints the time ratio and how far the two disagree.
//
//   build/benchmarks/ssm/surface_distance_benchmark [--benchmark_repetitions=5]
// On a shared machine, repetitions make the printed ratio (of medians) stable.
#include <benchmark/benchmark.h>
#include <vtkDistancePolyDataFilter.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkPolyData.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "internal/vtk_mesh.h"
#include "ssmx/ssm/surface.h"
#include "ssmx/ssm/surface_distance.h"

namespace {

using ssmx::TriangleMesh;

constexpr int64_t kFaces = 100000;

// A closed bumpy ball: the region |p - shift| < radius(direction), meshed by
// ssmx's own extraction and decimated to exactly-ish kFaces faces.
TriangleMesh BumpyBall(double radius, int theta_waves, double phase, const Eigen::Vector3d& shift) {
  ssmx::VolumeGeometry g;
  const double spacing = 0.55;
  const int n = static_cast<int>(2 * (radius + 6) / spacing);
  g.size = Eigen::Vector3i(n, n, n);
  g.spacing_mm = Eigen::Vector3d::Constant(spacing);
  g.origin_mm = shift - Eigen::Vector3d::Constant(0.5 * spacing * (n - 1));
  ssmx::Volume field(g, ssmx::VoxelType::kFloat32);
  float* v = field.data<float>();
  for (int k = 0; k < n; ++k) {
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < n; ++i) {
        const Eigen::Vector3d p = g.IndexToWorld(Eigen::Vector3d(i, j, k)) - shift;
        const double r = p.norm();
        const double theta = std::acos(r > 0 ? p.z() / r : 1.0), phi = std::atan2(p.y(), p.x());
        const double surface =
            radius + 3.0 * std::sin(theta_waves * theta + phase) * std::cos(3 * phi);
        v[field.LinearIndex(i, j, k)] = static_cast<float>(surface - r);
      }
    }
  }
  ssmx::ssm::SurfaceOptions options;
  options.smooth_iterations = 0;
  options.target_faces = kFaces;
  return ssmx::ssm::ExtractIsoSurface(field, 0.0, options);
}

struct Pair {
  TriangleMesh a, b;
};

const Pair& Meshes() {
  static const Pair pair = [] {
    Pair p;
    p.a = BumpyBall(40, 5, 0.0, Eigen::Vector3d::Zero());
    p.b = BumpyBall(41, 4, 0.3, Eigen::Vector3d(0.5, -0.3, 0.2));
    std::printf("meshes: A %ld faces / %ld vertices, B %ld faces / %ld vertices\n",
                static_cast<long>(p.a.num_faces()), static_cast<long>(p.a.num_vertices()),
                static_cast<long>(p.b.num_faces()), static_cast<long>(p.b.num_vertices()));
    return p;
  }();
  return pair;
}

void BM_SsmxSurfaceDistance(benchmark::State& state) {
  const Pair& m = Meshes();
  ssmx::ssm::SurfaceDistanceOptions options;
  options.compute_dice = false;
  for (auto _ : state) {
    const ssmx::ssm::SurfaceDistanceSummary s =
        ssmx::ssm::ComputeSurfaceDistance(m.a, m.b, options);
    benchmark::DoNotOptimize(s.hausdorff_mm);
  }
}
BENCHMARK(BM_SsmxSurfaceDistance)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same on one thread ($SSMX_NUM_THREADS=1): the work compared with the
// single-threaded VTK filter, whatever else the machine is doing.
void BM_SsmxSurfaceDistanceOneThread(benchmark::State& state) {
  const Pair& m = Meshes();
  ssmx::ssm::SurfaceDistanceOptions options;
  options.compute_dice = false;
  setenv("SSMX_NUM_THREADS", "1", 1);
  for (auto _ : state) {
    const ssmx::ssm::SurfaceDistanceSummary s =
        ssmx::ssm::ComputeSurfaceDistance(m.a, m.b, options);
    benchmark::DoNotOptimize(s.hausdorff_mm);
  }
  unsetenv("SSMX_NUM_THREADS");
}
BENCHMARK(BM_SsmxSurfaceDistanceOneThread)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SsmxSurfaceDistanceWithDice(benchmark::State& state) {
  const Pair& m = Meshes();
  ssmx::ssm::SurfaceDistanceOptions options;
  options.dice_spacing_mm = 0.5;
  for (auto _ : state) {
    const ssmx::ssm::SurfaceDistanceSummary s =
        ssmx::ssm::ComputeSurfaceDistance(m.a, m.b, options);
    benchmark::DoNotOptimize(s.dice);
  }
}
BENCHMARK(BM_SsmxSurfaceDistanceWithDice)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SsmxLocatorBuild(benchmark::State& state) {
  const Pair& m = Meshes();
  for (auto _ : state) {
    const ssmx::ssm::SurfaceLocator locator(m.b);
    benchmark::DoNotOptimize(locator.num_faces());
  }
}
BENCHMARK(BM_SsmxLocatorBuild)->Unit(benchmark::kMillisecond)->UseRealTime();

// VTK: per-vertex signed distances A -> B and B -> A (point data only).
vtkSmartPointer<vtkPolyData> VtkDistances(vtkPolyData* a, vtkPolyData* b) {
  vtkNew<vtkDistancePolyDataFilter> filter;
  filter->SetInputData(0, a);
  filter->SetInputData(1, b);
  filter->SignedDistanceOn();
  filter->ComputeSecondDistanceOn();
  filter->ComputeCellCenterDistanceOff();
  filter->Update();
  return filter->GetOutput();
}

void BM_VtkDistancePolyDataFilter(benchmark::State& state) {
  const Pair& m = Meshes();
  const auto a = ssmx::internal::ToVtkPolyData(m.a);
  const auto b = ssmx::internal::ToVtkPolyData(m.b);
  for (auto _ : state) {
    const auto out = VtkDistances(a, b);
    benchmark::DoNotOptimize(out->GetNumberOfPoints());
  }
}
BENCHMARK(BM_VtkDistancePolyDataFilter)->Unit(benchmark::kMillisecond)->UseRealTime();

// Records the real time of each benchmark to print ratios at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs)
      seconds_[run.benchmark_name()] = run.GetAdjustedRealTime() / 1e3;  // ms -> s
  }
  void PrintSummary() const {
    // The median of repetitions when there are several (--benchmark_repetitions=N).
    const auto find = [&](const std::string& name) {
      auto it = seconds_.find(name + "_median");
      if (it == seconds_.end()) it = seconds_.find(name);
      return it == seconds_.end() ? NAN : it->second;
    };
    const double ssmx_s = find("BM_SsmxSurfaceDistance/real_time");
    const double one_s = find("BM_SsmxSurfaceDistanceOneThread/real_time");
    const double dice_s = find("BM_SsmxSurfaceDistanceWithDice/real_time");
    const double vtk_s = find("BM_VtkDistancePolyDataFilter/real_time");
    std::printf("\nsummary (two %ld-face meshes, both directions, median wall time):\n",
                static_cast<long>(kFaces));
    const auto line = [](const char* what, double seconds) {
      if (std::isfinite(seconds)) std::printf("  %-30s %8.3f s\n", what, seconds);
    };
    line("ssmx distances (target < 1 s)", ssmx_s);
    line("ssmx distances, one thread", one_s);
    line("ssmx distances + Dice (0.5 mm)", dice_s);
    line("VTK vtkDistancePolyDataFilter", vtk_s);
    if (std::isfinite(ssmx_s) && std::isfinite(vtk_s)) {
      std::printf("  ratio VTK / ssmx               %8.1f x\n", vtk_s / ssmx_s);
    }
    if (std::isfinite(one_s) && std::isfinite(vtk_s)) {
      std::printf("  ratio VTK / ssmx, one thread   %8.1f x\n", vtk_s / one_s);
    }
  }

 private:
  std::map<std::string, double> seconds_;
};

// How far VTK's per-vertex signed distances are from ssmx's.
void PrintAgreement() {
  const Pair& m = Meshes();
  const auto out =
      VtkDistances(ssmx::internal::ToVtkPolyData(m.a), ssmx::internal::ToVtkPolyData(m.b));
  const ssmx::ssm::SurfaceDistanceSummary s = ssmx::ssm::ComputeSurfaceDistance(m.a, m.b);
  vtkDataArray* vtk = out->GetPointData()->GetArray("Distance");
  double worst = 0;
  for (vtkIdType v = 0; v < out->GetNumberOfPoints(); ++v) {
    worst = std::max(worst, std::abs(vtk->GetTuple1(v) - s.signed_distance_a_mm[v]));
  }
  std::printf(
      "agreement: max |d_vtk - d_ssmx| over A's vertices = %.3g mm; ssmx: mean %.4f, Hausdorff "
      "%.4f mm, "
      "Dice %.4f\n",
      worst, s.mean_mm, s.hausdorff_mm, s.dice);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  PrintAgreement();
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary();
  return 0;
}
