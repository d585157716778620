// Rigid CT-to-X-ray registration on the real abdomen CT (issue 5, "Must show"):
// AP and LAT target X-rays of the CT moved to a known pose (moved through its
// header, projected, Poisson noise, seeded), then N registrations from random
// starts exactly --start-mm / --start-deg away (seeded). Prints one row per
// start, the success rate (mTRE <= --success-mm) and the timing; --json writes
// the same as JSON. Usage:
//   rigid_benchmark [--data DIR] [--starts 20] [--seed 1] [--size 256]
//                   [--pitch 2.0] [--i0 10000] [--similarity ncc|gc]
//                   [--label NAME [--roi-margin MM] [--bone-only-target 1 | --two-stage 1]]
//                   [--target-projector exact|trilinear]
//                   [--threads N] [--json out.json]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ssmx/core/error.h"
#include "ssmx/drr/detector.h"
#include "ssmx/registration/rigid_registration.h"
#include "ssmx/ssm/label_map.h"
#include "ssmx/ssm/volume_io.h"

namespace {

using namespace ssmx;
using namespace ssmx::registration;
constexpr double kPi = 3.14159265358979323846;

struct Settings {
  std::string data;
  int starts = 20;
  uint64_t seed = 1;
  int size = 256;
  double pitch_mm = 2.0;
  double i0 = 1e4;
  double start_mm = 10.0;
  double start_deg = 5.0;
  double success_mm = 0.5;
  Similarity similarity = Similarity::kNcc;
  std::string label;
  double roi_margin_mm = -1.0;
  bool bone_only_target = false;
  bool two_stage = false;
  int threads = 0;
  drr::ProjectorKind target_projector = drr::ProjectorKind::kExact;
  std::string json;
};

std::string DefaultDataDir() {
  if (const char* env = std::getenv("SSMX_DATA")) return env;
  return SSMX_SOURCE_DIR "/../shared/data";
}

Settings Parse(int argc, char** argv) {
  Settings s;
  s.data = DefaultDataDir();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) throw InvalidInput(arg + ": expected a value after it");
    const std::string value = argv[++i];
    if (arg == "--data")
      s.data = value;
    else if (arg == "--starts")
      s.starts = std::stoi(value);
    else if (arg == "--seed")
      s.seed = std::stoull(value);
    else if (arg == "--size")
      s.size = std::stoi(value);
    else if (arg == "--pitch")
      s.pitch_mm = std::stod(value);
    else if (arg == "--i0")
      s.i0 = std::stod(value);
    else if (arg == "--start-mm")
      s.start_mm = std::stod(value);
    else if (arg == "--start-deg")
      s.start_deg = std::stod(value);
    else if (arg == "--success-mm")
      s.success_mm = std::stod(value);
    else if (arg == "--similarity")
      s.similarity = ParseSimilarity(value);
    else if (arg == "--label")
      s.label = value;
    else if (arg == "--threads")
      s.threads = std::stoi(value);
    else if (arg == "--two-stage")
      s.two_stage = value == "1";
    else if (arg == "--bone-only-target")
      s.bone_only_target = value == "1";
    else if (arg == "--roi-margin")
      s.roi_margin_mm = std::stod(value);
    else if (arg == "--target-projector")
      s.target_projector = drr::ParseProjectorKind(value);
    else if (arg == "--json")
      s.json = value;
    else
      throw InvalidInput("unknown option " + arg);
  }
  if (s.starts < 1) throw InvalidInput("--starts: expected >= 1");
  return s;
}

double Percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const double at = p * (values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(at));
  const size_t hi = std::min(values.size() - 1, lo + 1);
  return values[lo] + (at - lo) * (values[hi] - values[lo]);
}

int Run(const Settings& s) {
  const std::string ct_path = s.data + "/ct/totalseg_abdomen/example_ct.nii.gz";
  if (!std::filesystem::exists(ct_path)) {
    throw IoError(ct_path + " not found; set SSMX_DATA or --data (see the data README)");
  }
  const Volume ct = ssm::ReadVolume(ct_path).volume;
  drr::PreparedVolume volume;
  Eigen::MatrixX3d targets;
  if (s.label.empty()) {
    volume = drr::PreparedVolume::FromHounsfield(ct);
    // mTRE over the bone voxels (>= 200 HU) of the CT.
    targets =
        TargetPoints(volume, drr::AttenuationFromHounsfield(200.0f, drr::kDefaultMuWaterPerMm));
  } else {
    volume = drr::PreparedVolume::FromHounsfieldMasked(
        ct, ssm::ReadLabelMask(s.data + "/ct/totalseg_abdomen/labels", s.label));
    targets = TargetPoints(volume, 1e-12f);
  }

  // A known pose: 3 degrees about a tilted axis and 6.2 mm.
  Pose truth;
  truth.center = VolumeCenter(volume);
  truth.rotation = Eigen::Vector3d(0.02, -0.035, 0.03);
  truth.translation = {4.0, -3.0, 3.5};

  // Target X-rays from the whole CT moved through its header (an independent
  // route to the pose), with Poisson noise. With --label and
  // --bone-only-target 1, the X-rays show the bone alone; with --two-stage 1,
  // the bone moves 4 mm / 3 degrees further than the rest of the CT (the truth
  // is the bone's pose), and each start registers the whole CT first, then
  // the bone in front of the rest of the CT at the whole CT's pose.
  const bool two_stage = s.two_stage && !s.label.empty();
  const Volume mask = s.label.empty()
                          ? Volume()
                          : ssm::ReadLabelMask(s.data + "/ct/totalseg_abdomen/labels", s.label);
  const Pose bone_truth = two_stage ? PerturbPose(truth, 4.0, 3.0 * kPi / 180.0, 77) : truth;
  std::vector<drr::PreparedVolume> moved;
  if (s.bone_only_target && !s.label.empty()) {
    moved.push_back(
        drr::PreparedVolume::FromHounsfieldMasked(MoveVolume(ct, truth), MoveVolume(mask, truth)));
  } else if (two_stage) {
    moved.push_back(VolumeOutsideMask(MoveVolume(ct, truth), MoveVolume(mask, truth)));
    moved.push_back(drr::PreparedVolume::FromHounsfieldMasked(MoveVolume(ct, bone_truth),
                                                              MoveVolume(mask, bone_truth)));
  } else {
    moved.push_back(drr::PreparedVolume::FromHounsfield(MoveVolume(ct, truth)));
  }
  drr::CarmGeometry detector;
  detector.rows = detector.cols = s.size;
  detector.pixel_spacing_u_mm = detector.pixel_spacing_v_mm = s.pitch_mm;
  drr::ProjectionOptions projection;
  projection.threads = s.threads;
  drr::ProjectionOptions target_projection = projection;
  target_projection.projector = s.target_projector;
  std::vector<RegistrationView> views;
  for (drr::NamedView named : {drr::NamedView::kAP, drr::NamedView::kLAT}) {
    drr::XrayImage xray;
    xray.sidecar.geometry = drr::ProjectionGeometry::Named(named, truth.center, detector);
    xray.sidecar.i0 = s.i0;
    Image2D line_integral = drr::Project(moved[0], xray.sidecar.geometry, target_projection);
    for (size_t m = 1; m < moved.size(); ++m) {
      const Image2D more = drr::Project(moved[m], xray.sidecar.geometry, target_projection);
      for (size_t p = 0; p < more.pixels.size(); ++p) line_integral.pixels[p] += more.pixels[p];
    }
    xray.image = drr::IntensityFromLineIntegral(line_integral, s.i0, s.seed * 1000 + views.size());
    views.push_back(PrepareView(xray, NamedViewName(named)));
  }

  RigidRegistrationOptions options;
  options.similarity = s.similarity;
  options.projection = projection;
  options.roi_margin_mm = s.roi_margin_mm;
  if (s.bone_only_target) std::printf("target X-rays: the bone alone\n");
  if (two_stage) {
    std::printf(
        "two stages: the whole CT, then the bone (moved 4 mm / 3 deg more) in front of "
        "the rest of the CT\n");
  }
  const drr::PreparedVolume whole =
      two_stage ? drr::PreparedVolume::FromHounsfield(ct) : drr::PreparedVolume();
  const drr::PreparedVolume rest = two_stage ? VolumeOutsideMask(ct, mask) : drr::PreparedVolume();
  const auto register_once = [&](const Pose& start) {
    const RegistrationTruth known{bone_truth, targets};
    if (!two_stage) return RegisterRigid(volume, views, start, options, known);
    RigidRegistrationOptions first = options;
    first.roi_margin_mm = -1.0;
    const RigidRegistrationSummary global =
        RegisterRigid(whole, views, Recentered(start, VolumeCenter(whole)), first);
    RigidRegistrationOptions second = options;
    second.background = &rest;
    second.background_pose = global.pose;
    RigidRegistrationSummary r =
        RegisterRigid(volume, views, Recentered(global.pose, truth.center), second, known);
    r.initial_mtre_mm = MeanTargetRegistrationError(start, bone_truth, targets);
    r.iterations += global.iterations;
    r.drr_count += global.drr_count;
    r.seconds += global.seconds;
    return r;
  };
  std::printf(
      "rigid registration, %s%s, %d targets; AP+LAT %dx%d at %.2f mm, I0 %.0f (Poisson), "
      "targets by the %s projector\n",
      s.label.empty() ? "whole CT" : "label ", s.label.c_str(), static_cast<int>(targets.rows()),
      s.size, s.size, s.pitch_mm, s.i0, drr::ProjectorKindName(s.target_projector));
  std::printf(
      "similarity %s; %d starts %.1f mm / %.1f deg away (seed %llu); success: mTRE <= %.2f mm\n\n",
      SimilarityName(s.similarity), s.starts, s.start_mm, s.start_deg,
      static_cast<unsigned long long>(s.seed), s.success_mm);
  std::printf("start  mTRE0(mm)  mTRE(mm)  score     iters  DRRs  time(s)  ok\n");
  nlohmann::json runs = nlohmann::json::array();
  std::vector<double> final_mtre, seconds;
  int successes = 0;
  for (int i = 0; i < s.starts; ++i) {
    const Pose start =
        PerturbPose(truth, s.start_mm, s.start_deg * kPi / 180.0, s.seed * 1000003 + i);
    const RigidRegistrationSummary r = register_once(start);
    const bool ok = *r.final_mtre_mm <= s.success_mm;
    successes += ok;
    final_mtre.push_back(*r.final_mtre_mm);
    seconds.push_back(r.seconds);
    std::printf("%5d  %9.3f  %8.3f  %.5f  %5d  %4d  %7.2f  %s\n", i + 1, *r.initial_mtre_mm,
                *r.final_mtre_mm, r.final_score, r.iterations, r.drr_count, r.seconds,
                ok ? "yes" : "NO");
    std::fflush(stdout);
    runs.push_back({{"start", i + 1},
                    {"initial_mtre_mm", *r.initial_mtre_mm},
                    {"final_mtre_mm", *r.final_mtre_mm},
                    {"score", r.final_score},
                    {"iterations", r.iterations},
                    {"drrs", r.drr_count},
                    {"seconds", r.seconds},
                    {"success", ok}});
  }
  const double rate = 100.0 * successes / s.starts;
  std::printf("\nsuccess %d/%d (%.0f %%); mTRE median %.3f mm, 95th pct %.3f mm, max %.3f mm\n",
              successes, s.starts, rate, Percentile(final_mtre, 0.5), Percentile(final_mtre, 0.95),
              *std::max_element(final_mtre.begin(), final_mtre.end()));
  std::printf("time per registration: median %.2f s, max %.2f s\n", Percentile(seconds, 0.5),
              *std::max_element(seconds.begin(), seconds.end()));
  if (!s.json.empty()) {
    nlohmann::json out = {{"label", s.label},
                          {"similarity", SimilarityName(s.similarity)},
                          {"detector", {s.size, s.size}},
                          {"pitch_mm", s.pitch_mm},
                          {"i0", s.i0},
                          {"bone_only_target", s.bone_only_target},
                          {"two_stage", two_stage},
                          {"roi_margin_mm", s.roi_margin_mm},
                          {"target_projector", drr::ProjectorKindName(s.target_projector)},
                          {"start_mm", s.start_mm},
                          {"start_deg", s.start_deg},
                          {"success_mm", s.success_mm},
                          {"success_rate", rate / 100.0},
                          {"median_mtre_mm", Percentile(final_mtre, 0.5)},
                          {"median_seconds", Percentile(seconds, 0.5)},
                          {"runs", runs}};
    std::ofstream(s.json) << out.dump(2) << "\n";
  }
  return rate >= 95.0 ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(Parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rigid_benchmark: error: %s\n", e.what());
    return 2;
  }
}
