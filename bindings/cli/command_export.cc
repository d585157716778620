// `ssmx export`: meshes to AR files (GLB, USDZ), interchange files (OBJ+MTL,
// STL, PLY) and an offline web viewer folder.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "arguments.h"
#include "commands.h"
#include "ssmx/ar_export/export.h"
#include "ssmx/ssm/mesh_io.h"

namespace ssmx::cli {
namespace {

namespace fs = std::filesystem;

// Values of a repeatable option, each also split at commas.
std::vector<std::string> ListValues(const Arguments& args, const std::string& name) {
  std::vector<std::string> out;
  for (const std::string& value : args.Values(name)) {
    size_t start = 0;
    while (true) {
      const size_t comma = value.find(',', start);
      out.push_back(
          value.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

// The scalar a user meant: the exact name, or the one name that starts with
// it ("uncertainty" finds "uncertainty_mm").
std::string ResolveScalar(const std::string& wanted,
                          const std::vector<ar_export::Structure>& structures) {
  std::vector<std::string> names;
  for (const auto& s : structures) {
    for (const auto& [name, values] : s.mesh.scalars) {
      if (name == wanted) return name;
      if (name.compare(0, wanted.size(), wanted) == 0 &&
          std::find(names.begin(), names.end(), name) == names.end()) {
        names.push_back(name);
      }
    }
  }
  if (names.size() == 1) return names[0];
  std::string available;
  for (const auto& s : structures) {
    for (const auto& [name, values] : s.mesh.scalars) {
      if (available.find(" " + name + ",") == std::string::npos) available += " " + name + ",";
    }
  }
  if (!available.empty()) available.pop_back();
  throw UsageError(
      "ssmx export: --scalar " + wanted + ": " +
      (names.empty() ? "no mesh has this scalar" : "ambiguous") +
      "; the meshes carry:" + (available.empty() ? std::string(" no scalars") : available));
}

std::string HumanBytes(uint64_t bytes) {
  char buf[32];
  if (bytes >= 1000000)
    std::snprintf(buf, sizeof(buf), "%.2f MB", bytes / 1e6);
  else
    std::snprintf(buf, sizeof(buf), "%.1f kB", bytes / 1e3);
  return buf;
}

}  // namespace

int RunExport(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args(
      "export",
      "MESH... [--glb F] [--usdz F] [--obj F] [--stl F] [--ply F] [--viewer DIR] [options]",
      "Exports bone meshes (STL, PLY, OBJ, VTK, VTP in LPS mm) for augmented reality and\n"
      "other tools. GLB (ARCore Scene Viewer, model-viewer, Blender), USDZ (iOS AR Quick Look)\n"
      "and OBJ+MTL are in metres with +Y superior and the anterior face towards +Z, at true\n"
      "size, decimated for phones to --target-faces (50000 by default); STL and PLY keep every\n"
      "face in LPS millimetres (all meshes merged). Several meshes become several named,\n"
      "separately coloured structures. --viewer writes a folder that works offline: run\n"
      "`python3 -m http.server` in it and open it in a browser or on a phone.",
      "ssmx export femur_left.ply tibia_left.stl --name femur_left --name tibia_left "
      "--glb leg.glb --usdz leg.usdz --viewer leg_viewer");
  args.Option("glb", "FILE", "binary glTF for Scene Viewer / model-viewer / Blender")
      .Option("usdz", "FILE", "USDZ for AR Quick Look (iOS)")
      .Option("obj", "FILE", "OBJ + MTL (metres, +Y up; a colormap PNG with --scalar)")
      .Option("stl", "FILE", "binary STL, LPS mm, all meshes merged")
      .Option("ply", "FILE", "binary PLY with normals and scalars, LPS mm, all meshes merged")
      .Option("viewer", "DIR",
              "write an offline web viewer folder (model.glb, model.usdz, index.html)")
      .Option(
          "name", "NAME",
          "structure name, one per mesh in order (repeat or comma-separate; default: file name)")
      .Option("color", "COLOR",
              "structure colour #rrggbb or a name (bone, ivory, ...), one per mesh")
      .Option("scalar", "NAME",
              "colour by this per-vertex scalar (e.g. uncertainty_mm; a unique prefix is enough)")
      .Option("colormap", "NAME", "heat-map colours: viridis (default), magma, inferno, plasma")
      .Option("scalar-min", "VALUE",
              "scalar value at the low end of the colormap (default: the minimum)")
      .Option("scalar-max", "VALUE",
              "scalar value at the high end of the colormap (default: the maximum)")
      .Option("target-faces", "N",
              "face budget of the AR files, all meshes together (default 50000; 0 keeps all)")
      .Option("keep-position", "",
              "keep the LPS-derived position instead of standing the model on the origin")
      .Option("title", "TEXT", "page title of the viewer (default: the structure names)");
  if (!args.Parse(argv)) return 0;
  const std::vector<std::string>& inputs = args.positional();
  if (inputs.empty())
    throw UsageError("ssmx export: give at least one MESH file; see ssmx export --help");
  ar_export::ExportRequest request;
  request.glb = args.Value("glb");
  request.usdz = args.Value("usdz");
  request.obj = args.Value("obj");
  request.stl = args.Value("stl");
  request.ply = args.Value("ply");
  request.viewer_dir = args.Value("viewer");
  request.target_faces = args.Integer("target-faces", 50000);
  if (request.target_faces != 0 && request.target_faces < 4) {
    throw UsageError("ssmx export: --target-faces must be 0 (keep every face) or at least 4");
  }
  if (request.glb.empty() && request.usdz.empty() && request.obj.empty() && request.stl.empty() &&
      request.ply.empty() && request.viewer_dir.empty()) {
    throw UsageError(
        "ssmx export: nothing to write; give --glb, --usdz, --obj, --stl, --ply or --viewer");
  }
  const std::vector<std::string> names = ListValues(args, "name");
  const std::vector<std::string> colors = ListValues(args, "color");
  if (names.size() > inputs.size() || colors.size() > inputs.size()) {
    throw UsageError("ssmx export: " + std::to_string(std::max(names.size(), colors.size())) +
                     " names or colours for " + std::to_string(inputs.size()) +
                     " meshes; give at most one per mesh");
  }

  ar_export::Scene scene;
  scene.place_on_origin = !args.Flag("keep-position");
  for (size_t i = 0; i < inputs.size(); ++i) {
    ar_export::Structure s;
    s.mesh = ssm::ReadMesh(inputs[i]);
    s.name = i < names.size() && !names[i].empty() ? names[i] : fs::path(inputs[i]).stem().string();
    s.side = ar_export::InferSide(s.name);
    try {
      s.color_srgb = i < colors.size() ? ar_export::ParseColor(colors[i])
                                       : ar_export::DefaultStructureColor(static_cast<int>(i));
    } catch (const InvalidInput& e) {
      throw UsageError(std::string("ssmx export: --") + e.what());
    }
    scene.structures.push_back(std::move(s));
  }
  if (args.Has("scalar")) {
    scene.has_heat_map = true;
    try {
      scene.heat_map.colormap = ar_export::ParseColormap(args.Value("colormap", "viridis"));
    } catch (const InvalidInput& e) {
      throw UsageError(std::string("ssmx export: --colormap: ") + e.what());
    }
    scene.heat_map.scalar = ResolveScalar(args.Value("scalar"), scene.structures);
    scene.heat_map.min = args.Number("scalar-min", NAN);
    scene.heat_map.max = args.Number("scalar-max", NAN);
  } else if (args.Has("colormap") || args.Has("scalar-min") || args.Has("scalar-max")) {
    throw UsageError("ssmx export: --colormap, --scalar-min and --scalar-max need --scalar NAME");
  }
  std::string title;
  for (const auto& s : scene.structures) title += (title.empty() ? "" : ", ") + s.name;
  request.viewer.title = args.Value("title", title);

  const std::vector<ar_export::ExportedFile> files = ar_export::ExportScene(scene, request);
  if (args.Flag("json")) {
    nlohmann::json out = {{"structures", nlohmann::json::array()},
                          {"files", nlohmann::json::array()}};
    for (const auto& s : scene.structures) {
      out["structures"].push_back({{"name", s.name},
                                   {"side", s.side},
                                   {"color", ar_export::ColorHex(s.color_srgb)},
                                   {"vertices", s.mesh.num_vertices()},
                                   {"faces", s.mesh.num_faces()}});
    }
    for (const auto& f : files) {
      out["files"].push_back({{"path", f.path},
                              {"format", f.format},
                              {"bytes", f.bytes},
                              {"seconds", f.seconds},
                              {"faces", f.faces}});
    }
    if (scene.has_heat_map) {
      const Eigen::Vector2d range = ar_export::HeatMapRange(scene);
      out["heat_map"] = {{"scalar", scene.heat_map.scalar},
                         {"colormap", ar_export::ColormapName(scene.heat_map.colormap)},
                         {"min", range[0]},
                         {"max", range[1]}};
    }
    std::cout << out.dump(2) << std::endl;
  } else if (!settings.quiet) {
    for (const auto& f : files) {
      char line[512];
      const std::string faces = f.faces ? std::to_string(f.faces) + " faces" : "";
      std::snprintf(line, sizeof(line), "  %-7s %-40s %10s %13s  %.3f s", f.format.c_str(),
                    f.path.c_str(), HumanBytes(f.bytes).c_str(), faces.c_str(), f.seconds);
      std::cout << line << "\n";
    }
    if (!request.viewer_dir.empty()) {
      std::cout << "viewer: cd " << request.viewer_dir
                << " && python3 -m http.server 8000, then open "
                << "http://localhost:8000 (or this computer's address from a phone)\n";
    }
  }
  return 0;
}

}  // namespace ssmx::cli
