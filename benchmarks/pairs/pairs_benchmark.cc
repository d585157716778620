// Training-pair throughput (docs/pairs.md, "Throughput"): 256 x 256 AP + LAT
// pairs of a 256^3 CT (the body phantom of benchmarks/drr/body_phantom.h at
// 1.5 mm), and the generator's overhead over the raw projections it needs.
//
//   build/benchmarks/pairs/pairs_benchmark
//
// BM_PairsVsRawProjection/W generates 8 samples with W sample threads into a
// fresh folder (manual time = generation only; reading the CT once per volume
// is reported as read_s) and, in the same iteration, projects the same 16
// views with the same pose matrices and W threads over views, so machine load
// hits both alike. Counters: pairs/s (generation) and overhead_pct =
// 100 * (generation / raw projection - 1).
#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "../drr/body_phantom.h"
#include "ssmx/drr/projector.h"
#include "ssmx/drr/training_pairs.h"
#include "ssmx/ssm/volume_io.h"

namespace {

namespace fs = std::filesystem;
using ssmx::drr::TrainingPairOptions;

const std::string& PhantomPath() {
  static const std::string path = [] {
    const fs::path dir = fs::temp_directory_path() / "ssmx_pairs_benchmark";
    fs::create_directories(dir);
    const std::string file = (dir / "body_256.mha").string();
    if (!fs::exists(file)) {
      ssmx::ssm::WriteVolume(ssmx::benchmarks::MakeBodyPhantom(256, 256, 256, 1.5), file);
    }
    return file;
  }();
  return path;
}

TrainingPairOptions Options(int workers) {
  TrainingPairOptions o;
  o.volumes = {PhantomPath()};
  o.per_volume = 8;
  o.detector.rows = o.detector.cols = 256;
  o.detector.pixel_spacing_u_mm = o.detector.pixel_spacing_v_mm = 2.4;  // 440 mm at 1.43x
  o.workers = workers;
  o.projection.threads = 1;  // one thread per image, as the raw projections below
  return o;
}

void BM_PairsVsRawProjection(benchmark::State& state) {
  const int workers = static_cast<int>(state.range(0));
  const TrainingPairOptions o = Options(workers);
  const ssmx::drr::PreparedVolume ct = ssmx::drr::PreparedVolume::ReadHounsfield(PhantomPath());
  const Eigen::Vector3d center = ct.geometry().Center();
  std::vector<ssmx::drr::ProjectionGeometry> views;
  for (int s = 0; s < o.per_volume; ++s) {
    const ssmx::drr::SamplePose pose = ssmx::drr::DrawSamplePose(
        ssmx::drr::SampleSeed(o.seed, 0, s), center, o.pose_jitter_mm, o.pose_jitter_rad);
    for (ssmx::drr::NamedView view : o.views) {
      const auto named = ssmx::drr::ProjectionGeometry::Named(view, center, o.detector);
      views.push_back(ssmx::drr::ProjectionGeometry::FromMatrix(
          named.matrix() * pose.WorldFromCt(), named.rows(), named.cols(),
          named.pixel_spacing_u_mm(), named.pixel_spacing_v_mm(), named.source_to_isocenter_mm()));
    }
  }
  double generate = 0, raw = 0, read = 0;
  int run = 0;
  for (auto _ : state) {
    const std::string out =
        (fs::temp_directory_path() / "ssmx_pairs_benchmark" / ("run" + std::to_string(run++)))
            .string();
    fs::remove_all(out);
    const ssmx::drr::TrainingPairSummary summary = ssmx::drr::GenerateTrainingPairs(out, o);
    fs::remove_all(out);
    // The raw projections of the same views, `workers` threads over views.
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    ssmx::drr::ProjectionOptions one_thread;
    one_thread.threads = 1;
    for (int w = 0; w < workers; ++w) {
      pool.emplace_back([&, w] {
        for (size_t i = w; i < views.size(); i += workers) {
          benchmark::DoNotOptimize(ssmx::drr::Project(ct, views[i], one_thread).pixels.data());
        }
      });
    }
    for (std::thread& t : pool) t.join();
    const double raw_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(summary.seconds_generate);
    generate += summary.seconds_generate;
    raw += raw_s;
    read += summary.seconds_read;
  }
  const double pairs = static_cast<double>(o.per_volume) * state.iterations();
  state.counters["pairs/s"] = pairs / generate;
  state.counters["raw_pairs/s"] = pairs / raw;
  state.counters["overhead_pct"] = 100.0 * (generate / raw - 1.0);
  state.counters["read_s"] = read / state.iterations();
}
BENCHMARK(BM_PairsVsRawProjection)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseManualTime()
    ->Iterations(5);

}  // namespace

BENCHMARK_MAIN();
