// `ssmx fit` (a shape model fitted to calibrated X-ray views) and `ssmx edges`
// (the preprocessing the fit sees, as a picture). docs/biplanar_fit.md.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "arguments.h"
#include "commands.h"
#include "output.h"
#include "ssmx/core/atomic_write.h"
#include "ssmx/drr/xray_image_io.h"
#include "ssmx/registration/biplanar_fit.h"
#include "ssmx/registration/xray_features.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/radiograph_io.h"
#include "ssmx/ssm/statismo_io.h"

namespace ssmx::cli {
namespace {

namespace fs = std::filesystem;

std::string SafeName(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

}  // namespace

int RunFit(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args(
      "fit",
      "MODEL.h5 --view IMAGE --view IMAGE [--landmarks LM.json] [--init POSE.json] --out MESH "
      "[--report DIR]",
      "Reconstructs a bone from calibrated X-ray views (an AP + lateral pair, or more): the\n"
      "pose and shape coefficients of a statistical shape model whose occluding contours fall\n"
      "on the image edges (Ceres; coarse to fine over an image pyramid and the modes). Every\n"
      "view needs its JSON geometry sidecar (docs/geometry.md); DICOM radiographs (CR/DX) too.\n"
      "The start comes from 2D landmarks marked in two views (>= 3 that the model names), a\n"
      "given pose, or else a coarse search from the image centres. The mesh gets the per-vertex\n"
      "posterior standard deviation (\"posterior_std_mm\") where the format holds scalars\n"
      "(PLY, VTK, VTP). See docs/biplanar_fit.md.",
      "ssmx fit femur.h5 --view ap.png --view lat.png --landmarks lm.json --out recon.ply "
      "--report recon/");
  args.Option("view", "IMAGE", "an X-ray with its sidecar (repeat: one per view)")
      .Option("out", "MESH", "the reconstructed mesh (.ply/.vtk/.vtp keep the uncertainty)")
      .Option("report", "DIR",
              "also write DIR/fit.json, DIR/pose.json, DIR/recon.ply and overlay PNGs")
      .Option("landmarks", "JSON", "2D landmarks per view (docs/biplanar_fit.md)")
      .Option("init", "POSE.json", "start pose, world_from_model (docs/registration.md)")
      .Option("modes", "K", "shape modes to fit (default 20, at most the model's)")
      .Option("fit-scale", "", "fit an isotropic scale too")
      .Option("search", "", "coarse search around the start even with landmarks or --init")
      .Option("levels", "N", "pyramid levels (default 3)")
      .Option("roi-margin", "MM",
              "ignore edges farther than this from the start (default 25; 0 off)")
      .Option("polarity", "P", "auto (default), bright (bone bright), dark, or any")
      .Option("json", "", "print the fit summary as JSON");
  if (!args.Parse(argv)) return 0;
  if (args.positional().size() != 1) {
    throw UsageError("ssmx fit: needs exactly one shape model file; see ssmx fit --help");
  }
  const std::vector<std::string> view_paths = args.Values("view");
  if (view_paths.empty()) throw UsageError("ssmx fit: give the X-ray views with --view IMAGE");
  if (!args.Has("out")) throw UsageError("ssmx fit: --out MESH is required");
  const std::string out = args.Value("out");
  if (!ssm::HasMeshExtension(out)) {
    throw UsageError("ssmx fit: --out " + out +
                     ": use a mesh extension (.ply, .stl, .obj, .vtk, .vtp)");
  }

  const ssm::ShapeModel model = ssm::ReadStatismoModel(args.positional()[0]);
  std::vector<registration::FitView> views;
  for (const std::string& path : view_paths) views.push_back(registration::ReadFitView(path));
  registration::FitInitialization init;
  if (args.Has("landmarks")) {
    init.landmarks =
        registration::ReadLandmarks2d(args.Value("landmarks"), static_cast<int>(views.size()));
  }
  if (args.Has("init")) init.pose = registration::ReadPose(args.Value("init"));

  registration::FitOptions options;
  options.modes = args.Integer("modes", 20);
  options.fit_scale = args.Flag("fit-scale");
  options.search = args.Flag("search");
  options.edges.levels = args.Integer("levels", 3);
  options.roi_margin_mm = args.Number("roi-margin", 25.0);
  options.polarity = registration::ParseEdgePolarity(args.Value("polarity", "auto"));
  options.progress = TerminalProgress(settings);
  if (const std::string problem = options.IsValid(); !problem.empty()) {
    throw UsageError("ssmx fit: " + problem);
  }
  const registration::FitResult fit = registration::FitShapeModel(model, views, init, options);

  ssm::WriteMesh(fit.mesh, out);
  if (args.Has("report")) {
    const fs::path dir = args.Value("report");
    fs::create_directories(dir);
    WriteFileAtomically((dir / "fit.json").string(), fit.SummaryJson());
    registration::WritePose(fit.pose, (dir / "pose.json").string());
    ssm::WriteMesh(fit.mesh, (dir / "recon.ply").string());
    for (size_t v = 0; v < views.size(); ++v) {
      const std::string name = "overlay_" + std::to_string(v) + "_" +
                               SafeName(fs::path(view_paths[v]).stem().string()) + ".png";
      WriteFileAtomically((dir / name).string(),
                          registration::RenderFitOverlayPng(views[v], fit.initial_contours[v],
                                                            fit.final_contours[v]));
    }
  }
  if (args.Flag("json")) {
    std::cout << fit.SummaryJson();
    return 0;
  }
  if (!settings.quiet) {
    std::ostringstream os;
    os << out << ": fitted " << fit.coefficients.size() << " modes from " << views.size()
       << " views (start: " << registration::FitStartName(fit.start) << ") in "
       << Fmt(fit.seconds, 2) << " s, " << fit.iterations << " iterations\n";
    for (const auto& v : fit.views) {
      os << "  " << v.name << ": " << v.contour_points
         << " contour points, distance to edges median " << Fmt(v.median_px, 2) << " px, p95 "
         << Fmt(v.p95_px, 2) << " px\n";
    }
    const Eigen::VectorXd& sd = fit.mesh.scalars.at("posterior_std_mm");
    std::vector<double> sorted(sd.data(), sd.data() + sd.size());
    std::sort(sorted.begin(), sorted.end());
    os << "  Mahalanobis distance " << Fmt(fit.mahalanobis, 2) << ", posterior SD median "
       << Fmt(sorted.empty() ? 0.0 : sorted[sorted.size() / 2], 2) << " mm\n";
    for (const auto& f : fit.flags) {
      if (f.raised) {
        os << "  warning: " << f.name << " (" << Fmt(f.value, 2) << " > " << Fmt(f.threshold, 2)
           << "; docs/biplanar_fit.md, \"Quality flags\")\n";
      }
    }
    std::cout << os.str();
  }
  return 0;
}

int RunEdges(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args("edges", "IMAGE --out EDGES.png [--levels N] [--level L] [--sigma PX] [--json]",
                 "Shows what the fit sees in an X-ray: the image normalised to its 0.5-99.5 %\n"
                 "percentiles with the Canny edges of one pyramid level drawn in amber. Reads\n"
                 "DICOM radiographs (CR, DX; no sidecar needed here) and every image format of\n"
                 "ssmx drr with its sidecar.",
                 "ssmx edges hip_cr.dcm --out hip_edges.png --level 1");
  args.Option("out", "PNG", "the picture to write")
      .Option("levels", "N", "pyramid levels (default 3)")
      .Option("level", "L", "the level whose edges are drawn (default 0)")
      .Option("sigma", "PX", "Gaussian smoothing before the gradients (default 1)")
      .Option("json", "", "print the edge counts per level as JSON");
  if (!args.Parse(argv)) return 0;
  if (args.positional().size() != 1) throw UsageError("ssmx edges: needs exactly one image");
  if (!args.Has("out")) throw UsageError("ssmx edges: --out EDGES.png is required");
  const std::string path = args.positional()[0];
  Image2D image;
  std::string what;
  if (ssm::LooksLikeDicomFile(path)) {
    const ssm::DicomRadiograph radiograph = ssm::ReadDicomRadiograph(path);
    image = radiograph.image;
    what = "DICOM " + radiograph.modality + " radiograph";
  } else {
    image = drr::ReadXrayImage(path).image;
    what = ImageQuantityName(image.quantity);
  }
  registration::EdgeOptions options;
  options.levels = args.Integer("levels", 3);
  options.smoothing_sigma_px = args.Number("sigma", 1.0);
  const int level = args.Integer("level", 0);
  if (level < 0 || level >= options.levels) {
    throw UsageError("ssmx edges: --level must be between 0 and --levels - 1");
  }
  const registration::EdgePyramid pyramid = registration::ExtractEdges(image, options);
  WriteFileAtomically(args.Value("out"), registration::RenderEdgesPng(pyramid, level));
  nlohmann::json j = {{"image", path},
                      {"kind", what},
                      {"cols", image.cols},
                      {"rows", image.rows},
                      {"out", args.Value("out")}};
  for (const auto& l : pyramid.levels) {
    j["levels"].push_back(
        {{"level", l.level}, {"cols", l.cols}, {"rows", l.rows}, {"edges", l.num_edges}});
  }
  if (args.Flag("json")) {
    std::cout << j.dump(2) << "\n";
  } else if (!settings.quiet) {
    std::cout << args.Value("out") << ": edges of " << path << " (" << what << ", " << image.cols
              << "x" << image.rows << "), level " << level << ": "
              << pyramid.levels[level].num_edges << " edge pixels\n";
  }
  return 0;
}

}  // namespace ssmx::cli
