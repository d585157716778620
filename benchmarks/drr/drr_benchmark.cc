// DRR speed: preparing the attenuation volume, and projecting it with the
// exact and the trilinear projectors at several detector sizes and thread
// counts. The volume is the 512 x 512 x 256, 1 mm body phantom of
// body_phantom.h (the one compare_plastimatch.py times against plastimatch).
// The detector always covers the same 512 mm field at SID 1000 / SAD 700, so a
// 128^2 detector has 4 mm pixels and a 512^2 one 1 mm pixels.
//
//   build/benchmarks/drr/drr_benchmark [--benchmark_filter=Project/exact]
//
// Counters: rays/s (detector pixels per second) and slabs/s (voxel slabs
// crossed along the beam per second), both over all threads together.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "body_phantom.h"
#include "ssmx/drr/projector.h"
#include "ssmx/ssm/volume_io.h"

namespace {

using ssmx::drr::NamedView;
using ssmx::drr::PreparedVolume;
using ssmx::drr::ProjectionGeometry;
using ssmx::drr::ProjectorKind;

const ssmx::Volume& PhantomCt() {
  static const ssmx::Volume ct = ssmx::benchmarks::MakeBodyPhantom();
  return ct;
}

const PreparedVolume& PhantomMu() {
  static const PreparedVolume mu = PreparedVolume::FromHounsfield(PhantomCt());
  return mu;
}

ProjectionGeometry View(NamedView view, int pixels) {
  ssmx::drr::CarmGeometry detector;
  detector.rows = detector.cols = pixels;
  detector.pixel_spacing_u_mm = detector.pixel_spacing_v_mm = 512.0 / pixels;
  detector.source_to_detector_mm = 1000;
  detector.source_to_isocenter_mm = 700;
  return ProjectionGeometry::Named(view, Eigen::Vector3d::Zero(), detector);
}

void BM_PrepareFromHounsfield(benchmark::State& state) {
  const ssmx::Volume& ct = PhantomCt();
  for (auto _ : state) {
    PreparedVolume mu = PreparedVolume::FromHounsfield(ct);
    benchmark::DoNotOptimize(mu.data());
  }
  state.SetBytesProcessed(state.iterations() * ct.num_voxels() * 2);
}
BENCHMARK(BM_PrepareFromHounsfield)->Unit(benchmark::kMillisecond)->UseRealTime();

// Arguments: projector (0 exact, 1 trilinear), detector pixels per side,
// threads, view (0 AP, 1 LAT).
void BM_Project(benchmark::State& state) {
  const PreparedVolume& mu = PhantomMu();
  ssmx::drr::ProjectionOptions options;
  options.projector = state.range(0) == 0 ? ProjectorKind::kExact : ProjectorKind::kTrilinear;
  options.threads = static_cast<int>(state.range(2));
  const NamedView view = state.range(3) == 0 ? NamedView::kAP : NamedView::kLAT;
  const ProjectionGeometry geometry = View(view, static_cast<int>(state.range(1)));
  state.SetLabel(std::string(ssmx::drr::ProjectorKindName(options.projector)) + " " +
                 ssmx::drr::NamedViewName(view));
  double checksum = 0;
  for (auto _ : state) {
    const ssmx::Image2D image = ssmx::drr::Project(mu, geometry, options);
    checksum = image.pixels[image.pixels.size() / 2];
    benchmark::DoNotOptimize(checksum);
  }
  const double rays = static_cast<double>(geometry.rows()) * geometry.cols();
  state.counters["rays/s"] =
      benchmark::Counter(rays * state.iterations(), benchmark::Counter::kIsRate);
  // Every ray crosses about one slab of voxels per voxel of the volume's
  // extent along the beam (512 for AP and LAT): slabs/s over all threads.
  state.counters["slabs/s"] =
      benchmark::Counter(rays * 512 * state.iterations(), benchmark::Counter::kIsRate);
}

void ProjectArguments(benchmark::internal::Benchmark* b) {
  for (int projector : {0, 1}) {
    for (int pixels : {128, 256, 512}) {
      for (int threads : {1, 2}) b->Args({projector, pixels, threads, 0});
    }
    b->Args({projector, 512, 2, 1});  // LAT
  }
}
BENCHMARK(BM_Project)
    ->Apply(ProjectArguments)
    ->ArgNames({"projector", "pixels", "threads", "lat"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(1.0);

// The real abdomen CT of the shared data (122 x 101 x 112 voxels of 3 mm, air
// and a table around the body), or the CT named by $SSMX_BENCH_CT; AP and LAT
// 512^2 at 0.5 mm around its centre.
const PreparedVolume* RealCtMu() {
  static const PreparedVolume* mu = []() -> const PreparedVolume* {
    std::string path = SSMX_SOURCE_DIR "/../shared/data/ct/totalseg_abdomen/example_ct.nii.gz";
    if (const char* env = std::getenv("SSMX_BENCH_CT")) path = env;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return nullptr;
    return new PreparedVolume(PreparedVolume::FromHounsfield(ssmx::ssm::ReadVolume(path).volume));
  }();
  return mu;
}

void BM_ProjectRealCt(benchmark::State& state) {
  const PreparedVolume* mu = RealCtMu();
  if (!mu) {
    state.SkipWithError("no real CT: set SSMX_BENCH_CT or provide ../shared/data");
    return;
  }
  ssmx::drr::ProjectionOptions options;
  options.projector = state.range(0) == 0 ? ProjectorKind::kExact : ProjectorKind::kTrilinear;
  options.threads = static_cast<int>(state.range(1));
  const NamedView view = state.range(2) == 0 ? NamedView::kAP : NamedView::kLAT;
  ssmx::drr::CarmGeometry detector;  // 512^2 at 0.5 mm, SID 1000, SAD 700
  const ProjectionGeometry geometry =
      ProjectionGeometry::Named(view, ssmx::drr::DefaultIsocenter(mu->geometry()), detector);
  for (auto _ : state) {
    const ssmx::Image2D image = ssmx::drr::Project(*mu, geometry, options);
    benchmark::DoNotOptimize(image.pixels.data());
  }
  state.counters["rays/s"] = benchmark::Counter(
      static_cast<double>(geometry.rows()) * geometry.cols() * state.iterations(),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ProjectRealCt)
    ->ArgsProduct({{0, 1}, {1, 2}, {0, 1}})
    ->ArgNames({"projector", "threads", "lat"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
