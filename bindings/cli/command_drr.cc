// `ssmx drr`: a digitally reconstructed radiograph of a CT (or of one labelled
// structure) for a named view or a geometry sidecar, with its own sidecar.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "arguments.h"
#include "commands.h"
#include "ssmx/drr/detector.h"
#include "ssmx/drr/projector.h"
#include "ssmx/drr/sidecar.h"
#include "ssmx/drr/xray_image_io.h"
#include "ssmx/ssm/label_map.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::cli {
namespace {

ImageQuantity QuantityOption(const std::string& text) {
  if (text == "line-integral") return ImageQuantity::kLineIntegral;
  if (text == "intensity") return ImageQuantity::kIntensity;
  if (text == "mask") return ImageQuantity::kMask;
  if (text == "path-length") return ImageQuantity::kPathLength;
  throw UsageError("--quantity " + text +
                   ": expected line-integral, intensity, mask or path-length");
}

}  // namespace

int RunDrr(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args(
      "drr", "CT --out IMAGE [--view ap|lat | --geometry VIEW.json] [options]",
      "Projects a CT (DICOM folder or file, NIfTI, MetaImage, NRRD; values in HU) onto an X-ray\n"
      "detector and writes the image and its JSON sidecar (<image>.json, with the 3x4 projection\n"
      "matrix; docs/geometry.md). The view is AP or LAT around the isocentre (default: the\n"
      "volume centre), or any geometry read from a sidecar. With --labels and --label, a\n"
      "structure is projected instead: its path length in mm (default), its 0/1 mask, or the\n"
      "line integral of the CT inside it (a bone-only DRR). Output by extension: .png (16-bit,\n"
      "window in the sidecar), .tif/.tiff (float), .mha, .nii, .nii.gz, .nrrd (float).",
      "ssmx drr ct.nii.gz --view ap --size 512x512 --pixel-spacing 0.5 --out ap.png");
  args.Option("out", "IMAGE",
              "output image (.png, .tiff, .mha, .nii.gz, .nrrd); the sidecar goes beside it")
      .Option("view", "ap|lat", "named view (default ap)")
      .Option("geometry", "VIEW.json",
              "take the view from this sidecar instead (its projection matrix)")
      .Option("size", "COLSxROWS", "detector size in pixels (default 512x512)")
      .Option("pixel-spacing", "MM[,MM]", "detector pixel pitch along u[,v] in mm (default 0.5)")
      .Option("source-to-detector", "MM", "source-to-detector distance (default 1000)")
      .Option("source-to-isocenter", "MM", "source-to-isocentre distance (default 700)")
      .Option("isocenter", "X,Y,Z", "isocentre in LPS mm (default: the volume centre)")
      .Option("quantity", "Q",
              "line-integral (default for a CT), intensity, mask or path-length (default with "
              "--labels)")
      .Option("i0", "COUNTS", "unattenuated counts per pixel for intensity images (default 100000)")
      .Option("noise-seed", "S", "add Poisson noise to intensities, seeded (same seed, same image)")
      .Option("projector", "exact|trilinear",
              "exact voxel traversal (default) or trilinear sampling")
      .Option("step", "VOXELS",
              "trilinear sampling step in voxels of the smallest spacing (default 0.5)")
      .Option("threads", "N", "worker threads (default: every core)")
      .Option("mu-water", "PER_MM", "attenuation of water in 1/mm (default 0.02059, about 60 keV)")
      .Option("labels", "LABELMAP", "a folder of masks or a label-map file on the CT's grid")
      .Option("label", "NAME|ID", "the structure to project from --labels")
      .Option("label-table", "FILE", "label table for a label-map file (JSON, ITK-SNAP, Slicer)")
      .Option("window", "LOW,HIGH", "PNG window in the image's quantity (default: see docs/drr.md)")
      .Option("series", "KEY", "series of a DICOM folder holding several")
      .Option("allow-gaps", "", "interpolate across missing DICOM slices");
  if (!args.Parse(argv)) return 0;
  if (args.positional().size() != 1) {
    throw UsageError("ssmx drr: expected one CT path, got " +
                     std::to_string(args.positional().size()) + "; see ssmx drr --help");
  }
  const std::string ct_path = args.positional()[0];
  const std::string out = args.Value("out");
  if (out.empty()) throw UsageError("ssmx drr: --out IMAGE is required");
  if (args.Has("view") && args.Has("geometry")) {
    throw UsageError("ssmx drr: give --view or --geometry, not both");
  }
  const bool labelled = args.Has("labels") || args.Has("label");
  if (labelled && !(args.Has("labels") && args.Has("label"))) {
    throw UsageError("ssmx drr: --labels LABELMAP and --label NAME|ID go together");
  }
  const ImageQuantity quantity =
      QuantityOption(args.Value("quantity", labelled ? "path-length" : "line-integral"));
  if (!labelled && (quantity == ImageQuantity::kMask || quantity == ImageQuantity::kPathLength)) {
    throw UsageError("ssmx drr: --quantity mask and path-length need --labels and --label");
  }
  const double mu_water = args.Number("mu-water", drr::kDefaultMuWaterPerMm);
  const double i0 = args.Number("i0", 1e5);
  if (args.Has("noise-seed") && quantity != ImageQuantity::kIntensity) {
    throw UsageError(
        "ssmx drr: --noise-seed adds Poisson noise to intensities; add --quantity intensity");
  }
  drr::ProjectionOptions options;
  options.projector = drr::ParseProjectorKind(args.Value("projector", "exact"));
  options.step_voxels = args.Number("step", 0.5);
  options.threads = args.Integer("threads", 0);
  std::string problem;
  if (!options.IsValid(&problem)) throw UsageError("ssmx drr: " + problem);

  ssm::VolumeReadOptions read;
  read.series = args.Value("series");
  read.allow_gaps = args.Flag("allow-gaps");
  read.progress = TerminalProgress(settings);

  const auto start = std::chrono::steady_clock::now();
  drr::PreparedVolume prepared;
  if (!labelled) {
    prepared = drr::PreparedVolume::ReadHounsfield(ct_path, mu_water, read);
  } else {
    const Volume mask =
        ssm::ReadLabelMask(args.Value("labels"), args.Value("label"), args.Value("label-table"));
    if (quantity == ImageQuantity::kLineIntegral || quantity == ImageQuantity::kIntensity) {
      prepared = drr::PreparedVolume::FromHounsfieldMasked(ssm::ReadVolume(ct_path, read).volume,
                                                           mask, mu_water);
    } else {
      prepared = drr::PreparedVolume::FromMask(mask);
    }
  }
  const auto prepared_at = std::chrono::steady_clock::now();

  drr::Sidecar sidecar;
  if (args.Has("geometry")) {
    sidecar = drr::ReadSidecar(args.Value("geometry"));
    sidecar.png_window.reset();
    sidecar.i0.reset();
  } else {
    drr::CarmGeometry detector;
    if (args.Has("size")) {
      const std::pair<int, int> size = ImageSize("size", args.Value("size"));
      detector.cols = size.first;
      detector.rows = size.second;
    }
    if (args.Has("pixel-spacing")) {
      const std::string text = args.Value("pixel-spacing");
      const std::vector<double> spacing =
          NumberList("pixel-spacing", text, text.find(',') == std::string::npos ? 1 : 2);
      detector.pixel_spacing_u_mm = spacing[0];
      detector.pixel_spacing_v_mm = spacing.back();
    }
    detector.source_to_detector_mm =
        args.Number("source-to-detector", detector.source_to_detector_mm);
    detector.source_to_isocenter_mm =
        args.Number("source-to-isocenter", detector.source_to_isocenter_mm);
    Eigen::Vector3d isocenter = drr::DefaultIsocenter(prepared.geometry());
    if (args.Has("isocenter")) {
      const std::vector<double> c = NumberList("isocenter", args.Value("isocenter"), 3);
      isocenter = Eigen::Vector3d(c[0], c[1], c[2]);
    }
    const drr::NamedView view = drr::ParseNamedView(args.Value("view", "ap"));
    const std::string carm_problem = [&] {
      drr::CarmGeometry check = detector;
      check.rotation = drr::NamedViewRotation(view);
      return check.Validate();
    }();
    if (!carm_problem.empty()) throw UsageError("ssmx drr: " + carm_problem);
    sidecar.geometry = drr::ProjectionGeometry::Named(view, isocenter, detector);
    sidecar.view = drr::NamedViewName(view);
  }
  sidecar.projector = drr::ProjectorKindName(options.projector);

  Image2D image = drr::Project(prepared, sidecar.geometry, options);
  const auto projected_at = std::chrono::steady_clock::now();
  if (labelled && quantity != ImageQuantity::kLineIntegral &&
      quantity != ImageQuantity::kIntensity) {
    image.quantity = ImageQuantity::kPathLength;
    if (quantity == ImageQuantity::kMask) image = drr::MaskFromPathLength(image);
  } else {
    sidecar.mu_water_per_mm = mu_water;
    if (quantity == ImageQuantity::kIntensity) {
      std::optional<uint64_t> seed;
      if (args.Has("noise-seed")) {
        const std::string text = args.Value("noise-seed");
        char* end = nullptr;
        const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || text[0] == '-') {
          throw UsageError("--noise-seed " + text + ": expected a non-negative whole number");
        }
        seed = value;
      }
      image = drr::IntensityFromLineIntegral(image, i0, seed);
      sidecar.i0 = i0;
    }
  }
  std::optional<std::array<double, 2>> window;
  if (args.Has("window")) {
    const std::vector<double> w = NumberList("window", args.Value("window"), 2);
    window = std::array<double, 2>{w[0], w[1]};
  }
  drr::WriteXrayImage(image, sidecar, out, window);
  const auto written_at = std::chrono::steady_clock::now();

  const auto seconds = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  float max_value = 0;
  for (float p : image.pixels) max_value = std::max(max_value, p);
  nlohmann::json info;
  info["image"] = out;
  info["sidecar"] = drr::SidecarPath(out);
  info["quantity"] = ImageQuantityName(image.quantity);
  info["view"] = sidecar.view;
  info["projector"] = sidecar.projector;
  info["size"] = {image.cols, image.rows};
  info["max_value"] = max_value;
  info["seconds"] = {{"prepare", seconds(start, prepared_at)},
                     {"project", seconds(prepared_at, projected_at)},
                     {"write", seconds(projected_at, written_at)}};
  if (args.Flag("json")) {
    std::cout << info.dump(2) << std::endl;
  } else if (!settings.quiet) {
    std::printf("%s: %dx%d %s DRR (%s view, %s projector), max %.4g; sidecar %s\n", out.c_str(),
                image.cols, image.rows, ImageQuantityName(image.quantity), sidecar.view.c_str(),
                sidecar.projector.c_str(), max_value, drr::SidecarPath(out).c_str());
    std::printf("time: prepare %.3f s, project %.3f s, write %.3f s\n", seconds(start, prepared_at),
                seconds(prepared_at, projected_at), seconds(projected_at, written_at));
  }
  return 0;
}

}  // namespace ssmx::cli
