// `ssmx phantom`: writes a cohort of phantom femurs (meshes in correspondence,
// optional remeshed surfaces and CTs) and cohort.json with the true parameters.
#include <cerrno>
#include <cstdlib>
#include <iostream>

#include "arguments.h"
#include "commands.h"
#include "ssmx/ssm/phantom.h"

namespace ssmx::cli {

int RunPhantom(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args(
      "phantom",
      "--out DIR [--n N] [--seed S] [--side right|left|alternate] [--ct] [--remeshed] ...",
      "Writes a cohort of anatomically plausible phantom femurs whose shapes vary along\n"
      "documented modes (length, neck-shaft angle, anteversion, head radius, neck length,\n"
      "anterior bow, condylar width, shaft diameter, bicondylar angle, cortical thickness;\n"
      "means and SDs from the literature, see docs/phantom.md). DIR gets template.EXT and\n"
      "femur_NNN.EXT (same vertices and faces in every file: vertex i is the same\n"
      "anatomical point), with --remeshed femur_NNN_remeshed.EXT (independently meshed, no\n"
      "correspondence), with --ct femur_NNN_ct.nii.gz (HU: air, thigh, cortex, trabecular\n"
      "bone, marrow), and cohort.json (seed, modes, template landmark vertices, and each\n"
      "subject's true parameters, pose and landmarks). Same seed, same bytes.",
      "ssmx phantom --n 40 --seed 1 --out cohort/ --ct --remeshed");
  args.Option("out", "DIR", "output folder (created when missing)")
      .Option("n", "N", "number of femurs (default 10)")
      .Option("seed", "S", "random seed, a non-negative integer (default 1)")
      .Option("side", "SIDE", "right (default), left, or alternate (right, left, right, ...)")
      .Option("ct", "", "also write one CT volume per femur")
      .Option("remeshed", "", "also write independently meshed surfaces of the same shapes")
      .Option("format", "EXT", "mesh format: ply (default), stl, obj, vtk or vtp")
      .Option("faces", "F", "faces of the template mesh (default 20000)")
      .Option("mesh-spacing", "MM", "sampling grid of the implicit surface (default 0.6)")
      .Option("ct-spacing", "MM", "isotropic CT voxel size (default 0.8)")
      .Option("ct-scan-extension", "MM",
              "CT scan range beyond both ends of the bone, filled by the thigh (default 12)")
      .Option("noise", "HU", "SD of Gaussian CT noise (default 0: none), seeded per femur");
  if (!args.Parse(argv)) return 0;
  if (!args.positional().empty()) {
    throw UsageError("ssmx phantom: unexpected argument " + args.positional()[0] +
                     "; see ssmx phantom --help");
  }
  if (!args.Has("out"))
    throw UsageError("ssmx phantom: --out DIR is required; see ssmx phantom --help");
  ssm::PhantomCohortOptions options;
  options.n = args.Integer("n", 10);
  if (options.n < 1 || options.n > 10000) {
    throw UsageError("ssmx phantom: --n must be in 1..10000, got " + std::to_string(options.n));
  }
  const std::string seed = args.Value("seed", "1");
  char* end = nullptr;
  errno = 0;
  options.seed = std::strtoull(seed.c_str(), &end, 10);
  if (seed.empty() || *end != '\0' || seed[0] == '-' || errno == ERANGE) {
    throw UsageError("ssmx phantom: --seed expects a non-negative integer, got \"" + seed + "\"");
  }
  const std::string side = args.Value("side", "right");
  if (side == "right")
    options.sides = ssm::CohortSides::kRight;
  else if (side == "left")
    options.sides = ssm::CohortSides::kLeft;
  else if (side == "alternate")
    options.sides = ssm::CohortSides::kAlternate;
  else
    throw UsageError("ssmx phantom: --side must be right, left or alternate, got \"" + side + "\"");
  const std::string format = args.Value("format", "ply");
  if (format != "ply" && format != "stl" && format != "obj" && format != "vtk" && format != "vtp") {
    throw UsageError("ssmx phantom: --format must be ply, stl, obj, vtk or vtp, got \"" + format +
                     "\"");
  }
  options.mesh_extension = "." + format;
  options.ct = args.Flag("ct");
  options.remeshed = args.Flag("remeshed");
  options.mesh.target_faces = args.Integer("faces", options.mesh.target_faces);
  options.mesh.spacing_mm = args.Number("mesh-spacing", options.mesh.spacing_mm);
  options.ct_options.spacing_mm = args.Number("ct-spacing", options.ct_options.spacing_mm);
  options.ct_options.noise_sd_hu = args.Number("noise", 0.0);
  options.ct_options.scan_extension_mm =
      args.Number("ct-scan-extension", options.ct_options.scan_extension_mm);
  const std::string problem = options.IsValid();
  if (!problem.empty()) throw UsageError("ssmx phantom: " + problem);
  options.progress = TerminalProgress(settings);
  const ssm::PhantomCohortSummary summary = ssm::WritePhantomCohort(args.Value("out"), options);
  if (args.Flag("json")) {
    nlohmann::json out = {{"cohort", summary.json_path},
                          {"femurs", summary.subjects.size()},
                          {"template_vertices", summary.template_vertices},
                          {"template_faces", summary.template_faces},
                          {"seconds", summary.seconds}};
    std::cout << out.dump(2) << std::endl;
  } else if (!settings.quiet) {
    std::cout << summary.BriefReport() << "\n"
              << "cohort: " << summary.json_path << std::endl;
  }
  return 0;
}

}  // namespace ssmx::cli
