// `ssmx distance`: surface distances, volumes and Dice between two meshes.
#include <cmath>
#include <filesystem>
#include <iostream>

#include "arguments.h"
#include "commands.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/surface_distance.h"

namespace ssmx::cli {
namespace {

nlohmann::json DirectedJson(const ssm::DirectedDistance& d) {
  return {{"mean_mm", d.mean_mm}, {"rms_mm", d.rms_mm}, {"p95_mm", d.p95_mm}, {"max_mm", d.max_mm}};
}

std::string ExtensionOf(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace

int RunDistance(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args(
      "distance", "A B [--json] [--colored-out FILE.ply] [--dice-spacing MM] [--no-dice]",
      "Distances between the surfaces of two meshes in the same frame (LPS mm): mean, RMS,\n"
      "95th percentile and maximum from A to B, from B to A and symmetric (ASSD, HD95,\n"
      "Hausdorff), the enclosed volumes and the Dice of the enclosed volumes on a voxel grid.\n"
      "Statistics are area-weighted over the vertices; definitions in docs/surfaces.md.",
      "ssmx distance femur_fit.stl femur_truth.stl --colored-out fit_error.ply");
  args.Option("colored-out", "FILE",
              "write A with its signed distance to B (scalar distance_mm) and colours "
              "(.ply; .vtk/.vtp keep the scalars as arrays)")
      .Option("color-range", "MM",
              "distance shown as full blue (inside B) or red (outside B); default: max |d|")
      .Option("dice-spacing", "MM", "voxel size of the Dice grid (default 0.5)")
      .Option("no-dice", "", "skip Dice");
  if (!args.Parse(argv)) return 0;
  if (args.positional().size() != 2) {
    throw UsageError("expected two meshes A and B, got " +
                     std::to_string(args.positional().size()) +
                     " arguments; see ssmx distance --help");
  }
  const std::string path_a = args.positional()[0], path_b = args.positional()[1];
  const std::string colored = args.Value("colored-out");
  if (args.Has("colored-out")) {
    const std::string ext = ExtensionOf(colored);
    if (ext != ".ply" && ext != ".vtk" && ext != ".vtp") {
      throw UsageError(
          "--colored-out " + colored +
          ": needs a format with per-vertex values: .ply (with colours), .vtk or .vtp");
    }
    const std::filesystem::path parent = std::filesystem::path(colored).parent_path();
    std::error_code ec;
    if (!parent.empty() && !std::filesystem::is_directory(parent, ec)) {
      throw IoError(colored + ": the output folder " + parent.string() + " does not exist");
    }
  }
  ssm::SurfaceDistanceOptions options;
  options.dice_spacing_mm = args.Number("dice-spacing", options.dice_spacing_mm);
  options.compute_dice = !args.Flag("no-dice");
  options.progress = TerminalProgress(settings);
  std::string error;
  if (!options.IsValid(&error)) throw UsageError("--dice-spacing: " + error);
  const double color_range = args.Number("color-range", 0);
  if (args.Has("color-range") && !(color_range > 0)) {
    throw UsageError("--color-range must be a positive number of mm");
  }

  const TriangleMesh a = ssm::ReadMesh(path_a), b = ssm::ReadMesh(path_b);
  ssm::SurfaceDistanceSummary s;
  try {
    s = ssm::ComputeSurfaceDistance(a, b, options);
  } catch (const InvalidInput& e) {
    throw InvalidInput(path_a + " and " + path_b + ": " + e.what());
  }
  nlohmann::json warnings = nlohmann::json::array();
  const MeshCheck check_a = CheckMesh(a), check_b = CheckMesh(b);
  for (const auto& [path, check] : {std::pair{path_a, check_a}, std::pair{path_b, check_b}}) {
    if (!check.watertight()) {
      warnings.push_back(
          path +
          " is not watertight: its volume, Dice and the signs of distances to it are "
          "unreliable");
    } else if (check.enclosed_volume_mm3 < 0) {
      warnings.push_back(path + " faces inwards: signs of distances to it are reversed");
    }
  }

  if (!colored.empty()) {
    TriangleMesh out = a;
    out.scalars["distance_mm"] = s.signed_distance_a_mm;
    const double range = color_range > 0 ? color_range : std::max(1e-3, s.a_to_b.max_mm);
    ssm::AddDivergingColors(s.signed_distance_a_mm, range, &out);
    ssm::WriteMesh(out, colored);
  }

  const auto number_or_null = [](double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
  };
  nlohmann::json info = {
      {"a",
       {{"path", path_a},
        {"vertices", a.num_vertices()},
        {"faces", a.num_faces()},
        {"watertight", check_a.watertight()}}},
      {"b",
       {{"path", path_b},
        {"vertices", b.num_vertices()},
        {"faces", b.num_faces()},
        {"watertight", check_b.watertight()}}},
      {"a_to_b", DirectedJson(s.a_to_b)},
      {"b_to_a", DirectedJson(s.b_to_a)},
      {"symmetric",
       {{"mean_mm", s.mean_mm},
        {"rms_mm", s.rms_mm},
        {"p95_mm", s.p95_mm},
        {"hausdorff_mm", s.hausdorff_mm}}},
      {"area_a_mm2", s.area_a_mm2},
      {"area_b_mm2", s.area_b_mm2},
      {"volume_a_mm3", s.volume_a_mm3},
      {"volume_b_mm3", s.volume_b_mm3},
      {"dice", number_or_null(s.dice)},
      {"dice_spacing_mm",
       options.compute_dice ? nlohmann::json(options.dice_spacing_mm) : nlohmann::json()},
      {"sampling", "vertices weighted by area (a third of each adjacent face)"},
      {"warnings", warnings},
      {"seconds", s.seconds}};
  if (!colored.empty()) info["colored_out"] = colored;
  if (args.Flag("json")) {
    std::cout << info.dump(2) << std::endl;
    return 0;
  }
  std::cout << "A: " << path_a << " (" << a.num_vertices() << " vertices)\nB: " << path_b << " ("
            << b.num_vertices() << " vertices)\n"
            << s.BriefReport();
  if (!colored.empty())
    std::cout << "coloured A: " << colored << " (scalar distance_mm, + outside B)\n";
  for (const auto& w : warnings) std::cout << "warning: " << w.get<std::string>() << "\n";
  return 0;
}

}  // namespace ssmx::cli
