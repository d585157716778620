// `ssmx mesh`: a surface from a label (mask folder or label map) or from a CT
// threshold, written as a mesh file.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "arguments.h"
#include "commands.h"
#include "ssmx/ssm/label_map.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/surface.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::cli {
namespace {

namespace fs = std::filesystem;

// Refuses an output path that cannot be written before any work is done.
void CheckMeshOutput(const std::string& command, const std::string& option,
                     const std::string& path) {
  if (path.empty())
    throw UsageError("--" + option + " FILE is required; see ssmx " + command + " --help");
  if (!ssm::HasMeshExtension(path)) {
    throw UsageError("--" + option + " " + path +
                     ": unknown mesh extension; use .stl, .ply, .obj, .vtk or .vtp");
  }
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    throw IoError(path + ": the output folder " + parent.string() + " does not exist");
  }
}

// Runs an extraction; its errors name the input.
template <typename Extract>
TriangleMesh ExtractNaming(const std::string& input, const Extract& extract) {
  try {
    return extract();
  } catch (const InvalidInput& e) {
    throw InvalidInput(input + ": " + e.what());
  }
}

}  // namespace

int RunMesh(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args(
      "mesh",
      "INPUT (--label NAME|ID | --hu-threshold HU) --out FILE [--smooth ITER] [--target-faces N]\n"
      "       [--keep largest|all] [--no-fill-holes] [--json]",
      "Extracts a watertight, outward-oriented surface in LPS mm. INPUT is a folder of masks\n"
      "(<name>.nii.gz, TotalSegmentator's layout) or an integer label map (NIfTI, MetaImage,\n"
      "NRRD; names from <stem>.json, .ctbl or .txt next to it) with --label, or a CT (DICOM\n"
      "folder or file, NIfTI, MetaImage, NRRD) with --hu-threshold: the surface of the voxels\n"
      "above it. Flying edges, largest piece, cavity filling, windowed-sinc smoothing and\n"
      "quadric decimation; see docs/surfaces.md.",
      "ssmx mesh ct/labels --label femur_left --out femur.stl");
  args.Option("label", "NAME|ID", "the structure: a mask name or a label name or numeric id")
      .Option("label-table", "FILE",
              "label table for a label map (JSON, ITK-SNAP or 3D Slicer colour table)")
      .Option("hu-threshold", "HU",
              "CT mode: the surface of the voxels above this value (e.g. 250 for bone)")
      .Option("out", "FILE", "output mesh (.stl, .ply, .obj, .vtk, .vtp)")
      .Option("smooth", "ITER", "windowed-sinc smoothing iterations (default 20; 0 = none)")
      .Option("passband", "PB", "smoothing pass band in (0, 2] (default 0.1; smaller = smoother)")
      .Option("target-faces", "N", "decimate to about N faces (default: no decimation)")
      .Option("keep", "largest|all", "keep the largest connected piece (default) or all of them")
      .Option("no-fill-holes", "", "keep inner shells of enclosed cavities instead of filling them")
      .Option("series", "KEY", "CT mode: the series of a DICOM folder holding several")
      .Option("allow-gaps", "", "CT mode: interpolate across missing DICOM slices");
  if (!args.Parse(argv)) return 0;
  if (args.positional().size() != 1) {
    throw UsageError("expected exactly one INPUT, got " + std::to_string(args.positional().size()) +
                     "; see ssmx mesh --help");
  }
  const std::string input = args.positional()[0];
  const bool by_label = args.Has("label"), by_threshold = args.Has("hu-threshold");
  if (by_label == by_threshold) {
    throw UsageError(input +
                     ": give either --label NAME|ID (a segmentation) or --hu-threshold HU (a CT)");
  }
  const std::string out = args.Value("out");
  CheckMeshOutput("mesh", "out", out);

  ssm::SurfaceOptions options;
  options.smooth_iterations = args.Integer("smooth", options.smooth_iterations);
  options.smooth_passband = args.Number("passband", options.smooth_passband);
  options.target_faces = args.Integer("target-faces", 0);
  try {
    options.keep = ssm::ParseKeepComponents(args.Value("keep", "largest"));
  } catch (const InvalidInput&) {
    throw UsageError("--keep " + args.Value("keep") + ": expected largest or all");
  }
  options.fill_holes = !args.Flag("no-fill-holes");
  options.progress = TerminalProgress(settings);
  if (options.smooth_iterations < 0)
    throw UsageError("--smooth must be 0 (no smoothing) or more iterations");
  if (!(options.smooth_passband > 0 && options.smooth_passband <= 2)) {
    throw UsageError("--passband must be in (0, 2]; 0.1 is a good start, smaller is smoother");
  }
  if (options.target_faces < 0 || (options.target_faces > 0 && options.target_faces < 4)) {
    throw UsageError("--target-faces must be at least 4 (or 0 for no decimation)");
  }

  const auto start = std::chrono::steady_clock::now();
  nlohmann::json info = {{"input", input}, {"output", out}};
  TriangleMesh mesh;
  if (by_label) {
    const Volume mask = ssm::ReadLabelMask(input, args.Value("label"), args.Value("label-table"));
    int64_t voxels = 0;
    for (int64_t i = 0; i < mask.num_voxels(); ++i) voxels += mask.data<int16_t>()[i];
    info["source"] = "label";
    info["label"] = args.Value("label");
    info["label_voxels"] = voxels;
    info["label_voxel_volume_mm3"] =
        static_cast<double>(voxels) * mask.geometry().spacing_mm.prod();
    mesh = ExtractNaming(input, [&] { return ssm::ExtractLabelSurface(mask, 1, options); });
  } else {
    const double threshold = args.Number("hu-threshold", 0);
    ssm::VolumeReadOptions read;
    read.series = args.Value("series");
    read.allow_gaps = args.Flag("allow-gaps");
    read.progress = options.progress;
    const ssm::VolumeReadResult ct = ssm::ReadVolume(input, read);
    info["source"] = "threshold";
    info["hu_threshold"] = threshold;
    info["format"] = ct.format;
    mesh =
        ExtractNaming(input, [&] { return ssm::ExtractIsoSurface(ct.volume, threshold, options); });
  }
  ssm::WriteMesh(mesh, out);

  const MeshCheck check = CheckMesh(mesh);
  const Bounds3d bounds = ComputeBounds(mesh);
  info["vertices"] = mesh.num_vertices();
  info["faces"] = mesh.num_faces();
  info["watertight"] = check.watertight();
  info["connected_components"] = check.connected_components;
  info["surface_area_mm2"] = check.surface_area_mm2;
  info["enclosed_volume_mm3"] = check.enclosed_volume_mm3;
  info["bounds_mm"] = {{"min", {bounds.min.x(), bounds.min.y(), bounds.min.z()}},
                       {"max", {bounds.max.x(), bounds.max.y(), bounds.max.z()}}};
  info["problems"] = check.Problems();
  info["options"] = {{"smooth_iterations", options.smooth_iterations},
                     {"smooth_passband", options.smooth_passband},
                     {"target_faces", options.target_faces},
                     {"keep", ssm::KeepComponentsName(options.keep)},
                     {"fill_holes", options.fill_holes}};
  info["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (args.Flag("json")) {
    std::cout << info.dump(2) << std::endl;
    return 0;
  }
  std::cout << out << ": " << mesh.num_vertices() << " vertices, " << mesh.num_faces() << " faces, "
            << (check.watertight() ? "watertight" : "NOT watertight") << ", "
            << check.connected_components
            << (check.connected_components == 1 ? " component\n" : " components\n");
  std::cout << "  area " << Fmt(check.surface_area_mm2, 1) << " mm^2, enclosed volume "
            << Fmt(check.enclosed_volume_mm3, 1) << " mm^3";
  if (by_label) {
    const double voxel_volume = info["label_voxel_volume_mm3"].get<double>();
    std::cout << " (label voxels " << Fmt(voxel_volume, 1) << " mm^3, "
              << Fmt(100.0 * (check.enclosed_volume_mm3 - voxel_volume) / voxel_volume, 2) << " %)";
  }
  std::cout << "\n  bounds (" << Fmt(bounds.min.x(), 1) << ", " << Fmt(bounds.min.y(), 1) << ", "
            << Fmt(bounds.min.z(), 1) << ") .. (" << Fmt(bounds.max.x(), 1) << ", "
            << Fmt(bounds.max.y(), 1) << ", " << Fmt(bounds.max.z(), 1) << ") mm LPS\n";
  for (const std::string& problem : check.Problems()) std::cout << "  problem: " << problem << "\n";
  std::cout << "  " << Fmt(info["seconds"].get<double>(), 2) << " s\n";
  return 0;
}

}  // namespace ssmx::cli
