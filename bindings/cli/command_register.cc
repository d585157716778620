// `ssmx register`: the rigid pose of a CT (or of one labelled bone in it)
// against calibrated X-ray views (docs/rigid_registration.md).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "arguments.h"
#include "commands.h"
#include "ssmx/drr/projector.h"
#include "ssmx/drr/xray_image_io.h"
#include "ssmx/registration/pose.h"
#include "ssmx/registration/rigid_registration.h"
#include "ssmx/ssm/label_map.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::cli {
namespace {

constexpr double kDegPerRad = 180.0 / 3.14159265358979323846;

// "4:2,2,1" -> {{4, 2}, {2, 1}, {1, 1}}: detector binning[:volume shrink].
std::vector<registration::RigidRegistrationLevel> ParseLevels(const std::string& text) {
  std::vector<registration::RigidRegistrationLevel> levels;
  std::stringstream in(text);
  std::string item;
  const auto whole = [&](const std::string& s) {
    char* end = nullptr;
    const long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || v < 1 || v > 64) {
      throw UsageError("--levels " + text + ": \"" + s +
                       "\" is not a whole number 1..64; expected e.g. 4:2,2,1");
    }
    return static_cast<int>(v);
  };
  while (std::getline(in, item, ',')) {
    registration::RigidRegistrationLevel level;
    const size_t colon = item.find(':');
    level.detector_binning = whole(item.substr(0, colon));
    if (colon != std::string::npos) level.volume_shrink = whole(item.substr(colon + 1));
    levels.push_back(level);
  }
  if (levels.empty()) throw UsageError("--levels: expected e.g. 4:2,2,1");
  return levels;
}

nlohmann::json PoseReport(const registration::RigidRegistrationSummary& summary) {
  nlohmann::json levels = nlohmann::json::array();
  for (const auto& level : summary.levels) {
    nlohmann::json l = {{"detector_binning", level.level.detector_binning},
                        {"volume_shrink", level.level.volume_shrink},
                        {"iterations", level.iterations},
                        {"initial_score", level.initial_score},
                        {"final_score", level.final_score},
                        {"seconds", level.seconds}};
    if (level.mtre_mm) l["mtre_mm"] = *level.mtre_mm;
    levels.push_back(l);
  }
  nlohmann::json report = {{"similarity", registration::SimilarityName(summary.similarity)},
                           {"initial_score", summary.initial_score},
                           {"final_score", summary.final_score},
                           {"view_scores", summary.view_scores},
                           {"iterations", summary.iterations},
                           {"drr_count", summary.drr_count},
                           {"seconds", summary.seconds},
                           {"levels", levels}};
  if (summary.initial_mtre_mm) report["initial_mtre_mm"] = *summary.initial_mtre_mm;
  if (summary.final_mtre_mm) report["mtre_mm"] = *summary.final_mtre_mm;
  return report;
}

}  // namespace

int RunRegister(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args(
      "register",
      "CT --view IMAGE [--view IMAGE ...] --out POSE.json [--labels LABELMAP --label NAME] "
      "[--init POSE.json] [--true-pose POSE.json] [options]",
      "Finds the rigid pose (6 degrees of freedom) of a CT (DICOM folder or file, NIfTI,\n"
      "MetaImage, NRRD; HU) that makes its DRRs match the X-ray views: the CT moved by the\n"
      "pose, world = R (x - c) + c + t with c the CT's centre, is what the views' projection\n"
      "matrices see. Each view is an image with its JSON sidecar (intensity or line integral;\n"
      "docs/geometry.md). With --labels and --label only that structure (a bone) is moved\n"
      "and projected. Similarity: NCC (default) or gradient correlation, summed over the\n"
      "views; Levenberg-Marquardt (Ceres) on finite-difference DRR derivatives, coarse to\n"
      "fine. Writes pose.json (the matrix world_from_ct, the score, iterations, time; the\n"
      "mTRE in mm against --true-pose over bone voxels >= --target-hu, or the label's voxels).",
      "ssmx register ct.nii.gz --view ap.png --view lat.png --init start.json --out pose.json");
  args.Option("view", "IMAGE", "an X-ray with its sidecar (.png, .tif, .mha, ...); repeat per view")
      .Option("out", "POSE.json", "the registered pose (written atomically)")
      .Option("labels", "LABELMAP", "a folder of masks or a label-map file on the CT's grid")
      .Option("label", "NAME|ID", "register only this structure of --labels")
      .Option("label-table", "FILE", "label table for a label-map file (JSON, ITK-SNAP, Slicer)")
      .Option("init", "POSE.json", "start pose (default: the identity, the CT where it is)")
      .Option("true-pose", "POSE.json", "the known pose: report the mTRE (mm) against it")
      .Option("similarity", "ncc|gc",
              "normalised cross-correlation (default) or gradient correlation")
      .Option("levels", "B[:S],...",
              "coarse-to-fine levels: detector binning B and volume shrink S (default 4:2,2,1)")
      .Option("max-iterations", "N", "Levenberg-Marquardt iterations per level (default 25)")
      .Option("background", "",
              "with --label: draw the rest of the CT at the --init pose behind the structure (use "
              "the whole CT's registered pose as --init)")
      .Option("roi-margin", "MM",
              "compare only pixels within MM of the volume's footprint (default 20 with --label "
              "and no --background, else every pixel)")
      .Option("target-hu", "HU", "mTRE targets: the CT's voxels at or above HU (default 200)")
      .Option("projector", "exact|trilinear", "DRR projector (default exact)")
      .Option("threads", "N", "worker threads (default: every core)")
      .Option("mu-water", "PER_MM", "attenuation of water in 1/mm (default 0.02059)")
      .Option("series", "KEY", "series of a DICOM folder holding several")
      .Option("allow-gaps", "", "interpolate across missing DICOM slices");
  if (!args.Parse(argv)) return 0;
  if (args.positional().size() != 1) {
    throw UsageError("ssmx register: expected one CT path, got " +
                     std::to_string(args.positional().size()) + "; see ssmx register --help");
  }
  const std::string ct_path = args.positional()[0];
  const std::string out = args.Value("out");
  if (out.empty()) throw UsageError("ssmx register: --out POSE.json is required");
  const std::filesystem::path out_dir = std::filesystem::path(out).parent_path();
  std::error_code ec;
  if (!out_dir.empty() && !std::filesystem::is_directory(out_dir, ec)) {
    throw UsageError(out + ": the output folder does not exist; create it first");
  }
  const std::vector<std::string> view_paths = args.Values("view");
  if (view_paths.empty()) {
    throw UsageError("ssmx register: give at least one --view IMAGE (two, AP and LAT, are better)");
  }
  const bool labelled = args.Has("labels") || args.Has("label");
  if (labelled && !(args.Has("labels") && args.Has("label"))) {
    throw UsageError("ssmx register: --labels LABELMAP and --label NAME|ID go together");
  }
  registration::RigidRegistrationOptions options;
  options.similarity = registration::ParseSimilarity(args.Value("similarity", "ncc"));
  if (args.Has("levels")) options.levels = ParseLevels(args.Value("levels"));
  options.max_iterations_per_level = args.Integer("max-iterations", 25);
  options.projection.projector = drr::ParseProjectorKind(args.Value("projector", "exact"));
  options.projection.threads = args.Integer("threads", 0);
  options.progress = TerminalProgress(settings);
  if (args.Flag("background") && !labelled) {
    throw UsageError("ssmx register: --background needs --labels and --label");
  }
  options.roi_margin_mm =
      args.Number("roi-margin", labelled && !args.Flag("background") ? 20.0 : -1.0);
  std::string problem;
  if (!options.IsValid(&problem)) throw UsageError("ssmx register: " + problem);
  const double mu_water = args.Number("mu-water", drr::kDefaultMuWaterPerMm);
  if (!(mu_water > 0.0) || !std::isfinite(mu_water)) {
    throw UsageError("--mu-water " + args.Value("mu-water") + ": expected a positive number");
  }
  const double target_hu = args.Number("target-hu", 200.0);

  // Inputs that are quick to check come first, so bad ones fail before the CT is read.
  std::vector<registration::RegistrationView> views;
  for (const std::string& path : view_paths) {
    views.push_back(registration::PrepareView(drr::ReadXrayImage(path), path));
  }
  std::optional<registration::Pose> init, truth;
  if (args.Has("init")) init = registration::ReadPose(args.Value("init"));
  if (args.Has("true-pose")) truth = registration::ReadPose(args.Value("true-pose"));
  if (init && std::abs(init->scale - 1.0) > 1e-9) {
    throw UsageError(args.Value("init") + ": the start pose has scale " +
                     std::to_string(init->scale) + "; a rigid registration needs scale 1");
  }

  ssm::VolumeReadOptions read;
  read.series = args.Value("series");
  read.allow_gaps = args.Flag("allow-gaps");
  drr::PreparedVolume volume, background;
  Eigen::MatrixX3d targets;
  if (!labelled) {
    volume = drr::PreparedVolume::ReadHounsfield(ct_path, mu_water, read);
    if (truth) {
      targets = registration::TargetPoints(
          volume, drr::AttenuationFromHounsfield(static_cast<float>(target_hu), mu_water));
    }
  } else {
    const Volume mask =
        ssm::ReadLabelMask(args.Value("labels"), args.Value("label"), args.Value("label-table"));
    const Volume ct = ssm::ReadVolume(ct_path, read).volume;
    volume = drr::PreparedVolume::FromHounsfieldMasked(ct, mask, mu_water);
    if (args.Flag("background")) background = registration::VolumeOutsideMask(ct, mask, mu_water);
    if (volume.nonzero_min().x() > volume.nonzero_max().x()) {
      throw InvalidInput(args.Value("labels") + ": label " + args.Value("label") +
                         " covers no voxel with attenuation in " + ct_path +
                         "; check the label and that the label map belongs to this CT");
    }
    if (truth) targets = registration::TargetPoints(volume, 1e-30f);
  }
  const Eigen::Vector3d center = registration::VolumeCenter(volume);
  registration::Pose start;
  start.center = center;
  if (init) start = registration::Recentered(*init, center);
  if (!background.empty()) {
    options.background = &background;
    options.background_pose = start;
  }
  std::optional<registration::RegistrationTruth> known;
  if (truth) known = registration::RegistrationTruth{*truth, targets};

  const registration::RigidRegistrationSummary summary =
      registration::RegisterRigid(volume, views, start, options, known);
  nlohmann::json report = PoseReport(summary);
  report["background"] = !background.empty();
  report["roi_margin_mm"] = options.roi_margin_mm;
  registration::WritePose(summary.pose, out, report.dump());

  if (args.Flag("json")) {
    nlohmann::json info =
        nlohmann::json::parse(registration::PoseToJson(summary.pose, report.dump()));
    info["out"] = out;
    std::cout << info.dump(2) << std::endl;
  } else if (!settings.quiet) {
    const Eigen::AngleAxisd rotation(summary.pose.RotationMatrix());
    std::printf(
        "%s: rotation %.3f deg, translation (%.3f, %.3f, %.3f) mm about the centre "
        "(%.1f, %.1f, %.1f)\n",
        out.c_str(), rotation.angle() * kDegPerRad, summary.pose.translation.x(),
        summary.pose.translation.y(), summary.pose.translation.z(), center.x(), center.y(),
        center.z());
    std::printf("%s\n", summary.BriefReport().c_str());
  }
  return 0;
}

}  // namespace ssmx::cli
