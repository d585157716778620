// `ssmx pairs`: synthetic X-ray / CT training pairs at scale (docs/pairs.md).
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "arguments.h"
#include "commands.h"
#include "ssmx/drr/training_pairs.h"

namespace ssmx::cli {
namespace {

// "a,b" and repeated options alike: --label femur --label hip == --label femur,hip.
std::vector<std::string> SplitValues(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& value : values) {
    std::stringstream in(value);
    std::string item;
    while (std::getline(in, item, ',')) {
      if (!item.empty()) out.push_back(item);
    }
  }
  return out;
}

uint64_t WholeNumber(const std::string& option, const std::string& text) {
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || text[0] == '-' || text[0] == '+') {
    throw UsageError("--" + option + " " + text + ": expected a non-negative whole number");
  }
  return value;
}

// "VOLUME:BEGIN-END" (END exclusive).
std::array<int, 3> Partition(const std::string& text) {
  int volume = 0, begin = 0, end = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%d:%d-%d%c", &volume, &begin, &end, &tail) != 3) {
    throw UsageError("--partition " + text +
                     ": expected VOLUME:BEGIN-END, e.g. 0:0-50 (samples BEGIN..END-1 of volume 0)");
  }
  return {volume, begin, end};
}

}  // namespace

int RunPairs(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args(
      "pairs", "CT_OR_DICOM_DIR... --out DATASET [options]",
      "Writes a training set of synthetic X-rays of CTs (files or DICOM folders, in HU): for "
      "every\n"
      "CT and sample, a seeded random pose of the CT (translation and rotation jitter about its\n"
      "centre), one DRR per view (AP, LAT) with its geometry sidecar, optionally Poisson noise,\n"
      "the projected 0/1 mask of each label and the landmarks in pixels; then manifest.csv and\n"
      "manifest.json (seeds, poses, files and their SHA-256) and README.txt. The same arguments\n"
      "give the same bytes for any --workers. Run again with the same arguments to resume an\n"
      "interrupted run: complete samples are verified and skipped. --partition and\n"
      "--manifest-only split one dataset over several processes or machines (docs/pairs.md).",
      "ssmx pairs ct.nii.gz dicom_dir/ --out dataset/ --per-volume 100 --views ap,lat --size "
      "256x256 --labels ct_labels/ --labels dicom_labels.nii.gz --label femur_left --i0 1e5");
  args.Option("out", "DATASET", "dataset folder (new, empty, or an earlier run to resume)")
      .Option("per-volume", "N", "samples per CT (default 100)")
      .Option("views", "ap,lat", "views per sample (default ap,lat)")
      .Option("size", "COLSxROWS", "detector size in pixels (default 256x256)")
      .Option("pixel-spacing", "MM[,MM]", "detector pixel pitch along u[,v] (default 1.6)")
      .Option("source-to-detector", "MM", "source-to-detector distance (default 1000)")
      .Option("source-to-isocenter", "MM", "source-to-isocentre distance (default 700)")
      .Option("pose-jitter-mm", "MM", "translation jitter, uniform in +-MM per axis (default 10)")
      .Option("pose-jitter-deg", "DEG",
              "rotation jitter, each angle about x, y, z uniform in +-DEG (default 10)")
      .Option("labels", "LABELMAP",
              "label map of each CT, in order (repeat the option): a folder of masks or a file")
      .Option("label", "NAME|ID",
              "label to project as a mask (repeat or comma-separate; default: every label)")
      .Option("label-table", "FILE", "label table for label-map files without one beside them")
      .Option("landmarks", "JSON",
              "landmarks of each CT in LPS mm, in order (repeat): {\"name\": [x,y,z]} or Slicer")
      .Option("i0", "COUNTS", "write intensities I0*exp(-L) with Poisson noise instead of L")
      .Option("seed", "S", "random seed (default 7): same seed, same bytes")
      .Option("workers", "N", "threads over samples (default: every core); output is the same")
      .Option("format", "png|tiff", "16-bit PNG (default) or 32-bit float TIFF")
      .Option("window", "LOW,HIGH",
              "PNG window of the DRRs (default 0,16 for line integrals, 0,I0 for intensities)")
      .Option("projector", "exact|trilinear", "exact voxel traversal (default) or trilinear")
      .Option("step", "VOXELS", "trilinear sampling step (default 0.5)")
      .Option("mu-water", "PER_MM", "attenuation of water in 1/mm (default 0.02059)")
      .Option("series", "KEY", "series of DICOM folders holding several")
      .Option("allow-gaps", "", "interpolate across missing DICOM slices")
      .Option("partition", "V:BEGIN-END",
              "only samples BEGIN..END-1 of volume V, no manifest (for many processes)")
      .Option("manifest-only", "", "check that every sample is complete and write the manifest");
  if (!args.Parse(argv)) return 0;
  if (args.positional().empty()) {
    throw UsageError("ssmx pairs: expected at least one CT file or DICOM folder; see --help");
  }
  const std::string out = args.Value("out");
  if (out.empty()) throw UsageError("ssmx pairs: --out DATASET is required");
  if (args.Has("partition") && args.Flag("manifest-only")) {
    throw UsageError("ssmx pairs: give --partition or --manifest-only, not both");
  }

  drr::TrainingPairOptions options;
  options.volumes = args.positional();
  options.label_maps = args.Values("labels");
  options.labels = SplitValues(args.Values("label"));
  options.label_table = args.Value("label-table");
  options.landmarks = args.Values("landmarks");
  if (!options.labels.empty() && options.label_maps.empty()) {
    throw UsageError("ssmx pairs: --label needs --labels LABELMAP (one per CT)");
  }
  options.per_volume = args.Integer("per-volume", 100);
  if (options.per_volume < 1) {
    throw UsageError("--per-volume " + args.Value("per-volume") + ": expected 1 or more");
  }
  options.views.clear();
  for (const std::string& view : SplitValues({args.Value("views", "ap,lat")})) {
    options.views.push_back(drr::ParseNamedView(view));
  }
  if (args.Has("size")) {
    const std::pair<int, int> size = ImageSize("size", args.Value("size"));
    options.detector.cols = size.first;
    options.detector.rows = size.second;
  }
  if (args.Has("pixel-spacing")) {
    const std::string text = args.Value("pixel-spacing");
    const std::vector<double> spacing =
        NumberList("pixel-spacing", text, text.find(',') == std::string::npos ? 1 : 2);
    options.detector.pixel_spacing_u_mm = spacing[0];
    options.detector.pixel_spacing_v_mm = spacing.back();
  }
  options.detector.source_to_detector_mm =
      args.Number("source-to-detector", options.detector.source_to_detector_mm);
  options.detector.source_to_isocenter_mm =
      args.Number("source-to-isocenter", options.detector.source_to_isocenter_mm);
  options.pose_jitter_mm = args.Number("pose-jitter-mm", 10.0);
  const double jitter_deg = args.Number("pose-jitter-deg", 10.0);
  if (!(jitter_deg >= 0 && jitter_deg <= 180)) {
    throw UsageError("--pose-jitter-deg " + args.Value("pose-jitter-deg") + ": expected 0..180");
  }
  options.pose_jitter_rad = jitter_deg * M_PI / 180.0;
  if (args.Has("i0")) options.i0 = args.Number("i0", 1e5);
  if (args.Has("seed")) options.seed = WholeNumber("seed", args.Value("seed"));
  options.workers = args.Integer("workers", 0);
  options.format = drr::ParsePairImageFormat(args.Value("format", "png"));
  if (args.Has("window")) {
    const std::vector<double> w = NumberList("window", args.Value("window"), 2);
    options.png_window = std::array<double, 2>{w[0], w[1]};
  }
  options.projection.projector = drr::ParseProjectorKind(args.Value("projector", "exact"));
  options.projection.step_voxels = args.Number("step", 0.5);
  options.mu_water_per_mm = args.Number("mu-water", drr::kDefaultMuWaterPerMm);
  options.dicom_series = args.Value("series");
  options.allow_gaps = args.Flag("allow-gaps");
  const std::string problem = options.Validate();
  if (!problem.empty()) throw UsageError("ssmx pairs: " + problem);
  options.progress = EtaProgress(settings, "ssmx pairs");

  drr::TrainingPairSummary summary;
  if (args.Flag("manifest-only")) {
    summary = drr::WriteTrainingPairManifest(out, options);
  } else if (args.Has("partition")) {
    const std::array<int, 3> p = Partition(args.Value("partition"));
    summary = drr::GenerateTrainingPairSamples(out, options, p[0], p[1], p[2]);
  } else {
    summary = drr::GenerateTrainingPairs(out, options);
  }

  if (args.Flag("json")) {
    nlohmann::json info = {{"out", out},
                           {"volumes", summary.volumes},
                           {"samples", summary.samples_total},
                           {"samples_generated", summary.samples_written},
                           {"samples_skipped", summary.samples_skipped},
                           {"files_written", summary.files_written},
                           {"clipped_pixels", summary.clipped_pixels},
                           {"manifest_csv", summary.manifest_csv},
                           {"manifest_json", summary.manifest_json},
                           {"warnings", summary.warnings},
                           {"seconds",
                            {{"read", summary.seconds_read},
                             {"generate", summary.seconds_generate},
                             {"manifest", summary.seconds_manifest}}}};
    std::cout << info.dump(2) << std::endl;
  } else if (!settings.quiet) {
    std::printf("%s: %s\n", out.c_str(), summary.BriefReport().c_str());
    for (const std::string& w : summary.warnings) std::printf("warning: %s\n", w.c_str());
  }
  return 0;
}

}  // namespace ssmx::cli
