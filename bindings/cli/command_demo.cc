// `ssmx demo`: runs what the library can do on built-in data and writes a
// report. Every stage joins it when it lands.
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "arguments.h"
#include "commands.h"
#include "ssmx/core/atomic_write.h"
#include "ssmx/core/log.h"
#include "ssmx/core/version.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/primitives.h"
#include "ssmx/ssm/surface.h"
#include "ssmx/ssm/surface_distance.h"
#include "ssmx/ssm/volume_io.h"
#include "ssmx/ssm/voxelize.h"

namespace ssmx::cli {
namespace {

namespace fs = std::filesystem;
constexpr double kPi = 3.14159265358979323846;

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A synthetic thigh CT: air, an elliptic soft-tissue cylinder (40 HU) and a
// femoral-shaft-like tube (cortex 1400 HU, marrow 100 HU), 1.5 mm voxels, with
// oblique direction cosines so that index <-> LPS is exercised for real.
Volume MakeThighVolume() {
  VolumeGeometry g;
  g.size = Eigen::Vector3i(80, 72, 60);
  g.spacing_mm = Eigen::Vector3d(1.5, 1.5, 2.0);
  const double angle = 10.0 * kPi / 180.0;  // a 10 degree rotation about the z axis
  g.direction << std::cos(angle), -std::sin(angle), 0, std::sin(angle), std::cos(angle), 0, 0, 0, 1;
  g.origin_mm = -g.direction * g.spacing_mm.cwiseProduct(0.5 * (g.size.cast<double>() - Eigen::Vector3d::Ones()));
  Volume v(g, VoxelType::kInt16);
  for (int k = 0; k < g.size.z(); ++k) {
    for (int j = 0; j < g.size.y(); ++j) {
      for (int i = 0; i < g.size.x(); ++i) {
        const Eigen::Vector3d p = g.IndexToWorld(Eigen::Vector3d(i, j, k));
        const double body = std::pow(p.x() / 52.0, 2) + std::pow(p.y() / 45.0, 2);
        const double r_bone = std::hypot(p.x() - 8.0, p.y() + 4.0);
        float hu = -1000.0f;
        if (body <= 1.0) hu = 40.0f;
        if (r_bone <= 14.0) hu = 1400.0f;
        if (r_bone <= 9.0) hu = 100.0f;
        v.Set(i, j, k, hu);
      }
    }
  }
  return v;
}

}  // namespace

int RunDemo(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args("demo", "[--out DIR] [--json]",
                 "Runs the ssmx pipeline on built-in data and writes every output and a report\n"
                 "(report.json, report.md) to DIR. Stages so far: volume IO round trip (MetaImage,\n"
                 "NIfTI) with geometry checks, mesh IO round trip through every mesh format, and\n"
                 "surfaces: a voxelised sphere meshed, smoothed, decimated and measured against it.",
                 "ssmx demo --out /tmp/ssmx-demo");
  args.Option("out", "DIR", "output folder (default: ./ssmx-demo)");
  if (!args.Parse(argv)) return 0;
  if (!args.positional().empty()) throw UsageError("ssmx demo: unexpected argument " + args.positional()[0]);
  const fs::path out = args.Value("out", "ssmx-demo");
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw IoError(out.string() + ": cannot create the output folder (" + ec.message() + ")");
  const auto say = [&](const std::string& line) {
    if (!settings.quiet && !args.Flag("json")) std::cout << line << std::endl;
  };
  nlohmann::json report = {{"ssmx_version", Version()}, {"stages", nlohmann::json::array()}};
  bool all_ok = true;

  // Stage 1: volumes.
  {
    const auto start = std::chrono::steady_clock::now();
    say("[1/3] volume IO: synthetic thigh CT, written and read back as MetaImage and NIfTI");
    const Volume ct = MakeThighVolume();
    nlohmann::json stage = {{"stage", "volume_io"}};
    for (const std::string name : {"thigh_ct.mha", "thigh_ct.nii.gz"}) {
      const std::string path = (out / name).string();
      ssm::WriteVolume(ct, path);
      const ssm::VolumeReadResult back = ssm::ReadVolume(path);
      const VolumeGeometry& a = ct.geometry();
      const VolumeGeometry& b = back.volume.geometry();
      double max_voxel_diff = 0;
      const Volume fa = ct.ToFloat(), fb = back.volume.ToFloat();
      for (int64_t n = 0; n < ct.num_voxels(); ++n) {
        max_voxel_diff = std::max<double>(max_voxel_diff, std::abs(fa.data<float>()[n] - fb.data<float>()[n]));
      }
      const double geometry_error = std::max({(a.origin_mm - b.origin_mm).cwiseAbs().maxCoeff(),
                                              (a.spacing_mm - b.spacing_mm).cwiseAbs().maxCoeff(),
                                              (a.direction - b.direction).cwiseAbs().maxCoeff()});
      const bool ok = a.size == b.size && max_voxel_diff == 0 && geometry_error < 1e-4;
      all_ok = all_ok && ok;
      stage[name] = {{"format", back.format},
                     {"max_voxel_difference", max_voxel_diff},
                     {"max_geometry_difference", geometry_error},
                     {"ok", ok}};
      say("      " + name + ": " + back.format + ", voxels identical: " + (max_voxel_diff == 0 ? "yes" : "NO") +
          ", geometry error " + std::to_string(geometry_error));
    }
    stage["seconds"] = Seconds(start);
    report["stages"].push_back(stage);
  }

  // Stage 2: meshes.
  {
    const auto start = std::chrono::steady_clock::now();
    const double radius = 25.0;
    say("[2/3] mesh IO: geodesic sphere of radius 25 mm through STL, PLY, OBJ, VTK and VTP");
    const TriangleMesh sphere = ssm::MakeIcosphere(radius, 5);
    const double analytic = 4.0 / 3.0 * kPi * radius * radius * radius;
    nlohmann::json stage = {{"stage", "mesh_io"},
                            {"vertices", sphere.num_vertices()},
                            {"faces", sphere.num_faces()},
                            {"analytic_volume_mm3", analytic}};
    for (const std::string name : {"sphere.stl", "sphere.ply", "sphere.obj", "sphere.vtk", "sphere.vtp"}) {
      const std::string path = (out / name).string();
      ssm::WriteMesh(sphere, path);
      ssm::MeshReadReport read_report;
      const TriangleMesh back = ssm::ReadMesh(path, &read_report);
      const MeshCheck check = CheckMesh(back);
      // Compare face corners, not vertex rows: STL stores no shared vertices,
      // so its reader numbers them in order of first appearance.
      double max_error = back.num_faces() == sphere.num_faces() ? 0.0 : INFINITY;
      for (Eigen::Index f = 0; f < back.num_faces() && std::isfinite(max_error); ++f) {
        for (int c = 0; c < 3; ++c) {
          max_error = std::max(max_error, (back.vertices.row(back.faces(f, c)) -
                                           sphere.vertices.row(sphere.faces(f, c))).cwiseAbs().maxCoeff());
        }
      }
      const double volume_error = std::abs(check.enclosed_volume_mm3 - analytic) / analytic;
      const bool ok = back.num_faces() == sphere.num_faces() && max_error < 1e-4 && check.watertight() &&
                      volume_error < 0.01;
      all_ok = all_ok && ok;
      stage[name] = {{"format", read_report.format}, {"max_vertex_error_mm", max_error},
                     {"watertight", check.watertight()}, {"enclosed_volume_mm3", check.enclosed_volume_mm3},
                     {"ok", ok}};
      char line[200];
      std::snprintf(line, sizeof(line), "      %-11s %-26s max vertex error %.2g mm, volume %.1f mm^3 (%.2f%% below analytic)",
                    name.c_str(), read_report.format.c_str(), max_error, check.enclosed_volume_mm3, 100 * volume_error);
      say(line);
    }
    stage["seconds"] = Seconds(start);
    report["stages"].push_back(stage);
  }

  // Stage 3: surfaces. A sphere is voxelised at 1 mm, meshed back (flying
  // edges, smoothing, decimation) and compared with the exact geodesic sphere.
  {
    const auto start = std::chrono::steady_clock::now();
    const double radius = 25.0;
    say("[3/3] surfaces: sphere of radius 25 mm voxelised at 1 mm, meshed, smoothed, decimated, "
        "measured");
    const TriangleMesh sphere = ssm::MakeIcosphere(radius, 5);
    const Volume mask = ssm::Voxelize(sphere, 1.0, 3.0);
    ssm::SurfaceOptions options;
    options.target_faces = 8000;
    const TriangleMesh mesh = ssm::ExtractLabelSurface(mask, 1, options);
    ssm::WriteMesh(mesh, (out / "sphere_from_voxels.stl").string());
    const ssm::SurfaceDistanceSummary d = ssm::ComputeSurfaceDistance(mesh, sphere);
    const MeshCheck check = CheckMesh(mesh);
    const bool ok = check.watertight() && check.connected_components == 1 && d.mean_mm < 0.25 &&
                    d.hausdorff_mm < 1.0 && d.dice > 0.98;
    all_ok = all_ok && ok;
    report["stages"].push_back(
        {{"stage", "surfaces"},
         {"faces", mesh.num_faces()},
         {"watertight", check.watertight()},
         {"distance",
          {{"mean_mm", d.mean_mm}, {"hausdorff_mm", d.hausdorff_mm}, {"dice", d.dice}, {"ok", ok}}},
         {"seconds", Seconds(start)}});
    char line[200];
    std::snprintf(
        line, sizeof(line),
        "      %ld faces, watertight %s, mean distance %.3f mm, Hausdorff %.3f mm, Dice %.4f",
        static_cast<long>(mesh.num_faces()), check.watertight() ? "yes" : "NO", d.mean_mm,
        d.hausdorff_mm, d.dice);
    say(line);
  }

  report["ok"] = all_ok;
  std::ostringstream md;
  md << "# ssmx demo report\n\nssmx " << Version() << "\n\n| stage | result | seconds |\n|---|---|---|\n";
  for (const auto& stage : report["stages"]) {
    bool ok = true;
    for (const auto& [key, value] : stage.items()) {
      if (value.is_object() && value.contains("ok")) ok = ok && value["ok"].get<bool>();
    }
    md << "| " << stage["stage"].get<std::string>() << " | " << (ok ? "ok" : "FAILED") << " | "
       << stage["seconds"].get<double>() << " |\n";
  }
  WriteFileAtomically((out / "report.json").string(), report.dump(2) + "\n");
  WriteFileAtomically((out / "report.md").string(), md.str());
  if (args.Flag("json")) std::cout << report.dump(2) << std::endl;
  say(std::string("report: ") + (out / "report.md").string() + (all_ok ? " (all stages ok)" : " (FAILURES)"));
  if (!all_ok) throw InternalError("the demo found a failing stage; see " + (out / "report.json").string());
  return 0;
}

}  // namespace ssmx::cli
