// `ssmx build-model`, `ssmx model-info` and `ssmx sample`: statistical shape
// models in statismo v0.9 HDF5 files (see docs/model_format.md).
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "arguments.h"
#include "commands.h"
#include "ssmx/core/atomic_write.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/shape_model.h"
#include "ssmx/ssm/statismo_io.h"

namespace ssmx::cli {

namespace {

uint64_t ParseSeed(const std::string& command, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 10);
  const bool ok = !text.empty() && text[0] != '-' && *end == '\0' && errno != ERANGE;
  if (!ok) {
    throw UsageError("ssmx " + command + ": --seed expects a non-negative integer, got \"" + text +
                     "\"");
  }
  return value;
}

nlohmann::json ModelJson(const std::string& path, const ssm::ShapeModel& model) {
  const Eigen::VectorXd& var = model.variances();
  const double total = var.sum();
  nlohmann::json modes = nlohmann::json::array();
  double cumulative = 0;
  for (int k = 0; k < model.num_modes(); ++k) {
    cumulative += var(k);
    // RMS over vertices of the displacement of a +1 SD step along mode k.
    const double rms =
        std::sqrt(var(k) / static_cast<double>(model.num_vertices())) * model.basis().col(k).norm();
    modes.push_back({{"variance_mm2", var(k)},
                     {"rms_vertex_sd_mm", rms},
                     {"cumulative_fraction", total > 0 ? cumulative / total : 0.0}});
  }
  nlohmann::json builders = nlohmann::json::array();
  for (const ssm::ModelBuilderInfo& b : model.info().builders) {
    builders.push_back({{"builder_name", b.builder_name},
                        {"build_time", b.build_time},
                        {"data_info", b.data_info},
                        {"parameters", b.parameters}});
  }
  const Eigen::VectorXd pv = model.PerVertexVariance();
  const Bounds3d bounds = ComputeBounds(model.MeanMesh());
  nlohmann::json modes_for = nlohmann::json::object();
  for (double f : {0.9, 0.95, 0.98}) {
    modes_for[Fmt(f, 2)] = model.num_modes() > 0 ? model.ModesForVarianceFraction(f) : 0;
  }
  return {{"kind", "shape_model"},
          {"path", path},
          {"format", "statismo v0.9 HDF5"},
          {"vertices", model.num_vertices()},
          {"faces", model.faces().rows()},
          {"modes", model.num_modes()},
          {"noise_variance_mm2", model.noise_variance()},
          {"total_variance_mm2", total},
          {"modes_for_variance_fraction", modes_for},
          {"mean_bounds_mm",
           {{bounds.min.x(), bounds.min.y(), bounds.min.z()},
            {bounds.max.x(), bounds.max.y(), bounds.max.z()}}},
          {"per_vertex_sd_mm",
           {{"min", std::sqrt(pv.minCoeff())},
            {"mean", pv.cwiseSqrt().mean()},
            {"max", std::sqrt(pv.maxCoeff())}}},
          {"variances", modes},
          {"landmarks", model.landmarks()},
          {"build_time", model.info().build_time},
          {"training_shapes", model.info().scores.cols()},
          {"builders", builders}};
}

std::string ModelText(const nlohmann::json& j) {
  std::ostringstream os;
  os << j["path"].get<std::string>() << ": shape model (" << j["format"].get<std::string>() << ")\n"
     << "  vertices " << j["vertices"] << ", faces " << j["faces"] << ", modes " << j["modes"]
     << "\n"
     << "  total variance " << Fmt(j["total_variance_mm2"].get<double>())
     << " mm^2, noise variance " << Fmt(j["noise_variance_mm2"].get<double>(), 4) << " mm^2\n"
     << "  modes for 90 / 95 / 98 % of the variance: " << j["modes_for_variance_fraction"]["0.90"]
     << " / " << j["modes_for_variance_fraction"]["0.95"] << " / "
     << j["modes_for_variance_fraction"]["0.98"] << "\n"
     << "  per-vertex SD (mm): min " << Fmt(j["per_vertex_sd_mm"]["min"].get<double>()) << ", mean "
     << Fmt(j["per_vertex_sd_mm"]["mean"].get<double>()) << ", max "
     << Fmt(j["per_vertex_sd_mm"]["max"].get<double>()) << "\n";
  os << "  mode\tRMS vertex SD (mm)\tcumulative % of variance\n";
  const auto& modes = j["variances"];
  for (size_t k = 0; k < modes.size() && k < 10; ++k) {
    os << "  " << k + 1 << "\t" << Fmt(modes[k]["rms_vertex_sd_mm"].get<double>()) << "\t\t\t"
       << Fmt(100 * modes[k]["cumulative_fraction"].get<double>(), 1) << "\n";
  }
  if (modes.size() > 10) os << "  ... (" << modes.size() - 10 << " more; --json lists all)\n";
  if (!j["landmarks"].empty()) os << "  landmarks: " << j["landmarks"].size() << "\n";
  if (!j["build_time"].get<std::string>().empty()) {
    os << "  built " << j["build_time"].get<std::string>();
    if (j["training_shapes"].get<int64_t>() > 0)
      os << " from " << j["training_shapes"] << " shapes";
    os << "\n";
  }
  for (const auto& b : j["builders"])
    os << "  builder: " << b["builder_name"].get<std::string>() << "\n";
  return os.str();
}

}  // namespace

int RunBuildModel(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args(
      "build-model",
      "MESH... --out MODEL.h5 [--align rigid|similarity|none] [--variance F | --modes K]",
      "Builds a PCA shape model from meshes in correspondence (same vertex count and the same\n"
      "faces; vertex i the same anatomical point in every mesh, e.g. from ssmx phantom or ssmx\n"
      "correspond). The shapes are aligned by generalised Procrustes (default rigid), the\n"
      "model is the thin SVD of the centred data matrix, and it is written as a statismo v0.9\n"
      "HDF5 file that statismo and scalismo open (docs/model_format.md).",
      "ssmx build-model cohort/femur_*.ply --out femur.h5 --align rigid --variance 0.98");
  args.Option("out", "MODEL.h5", "the model file to write")
      .Option("align", "KIND", "rigid (default), similarity or none")
      .Option("variance", "F", "keep the fewest modes that explain this fraction (0 < F <= 1)")
      .Option("modes", "K", "keep K modes")
      .Option("noise", "MM2", "PPCA noise variance in mm^2 (default 0)");
  if (!args.Parse(argv)) return 0;
  if (args.positional().size() < 2) {
    throw UsageError("ssmx build-model: needs at least 2 meshes, got " +
                     std::to_string(args.positional().size()) + "; see ssmx build-model --help");
  }
  if (!args.Has("out")) throw UsageError("ssmx build-model: --out MODEL.h5 is required");
  if (args.Has("variance") && args.Has("modes")) {
    throw UsageError("ssmx build-model: give --variance or --modes, not both");
  }
  ssm::ShapeModelBuildOptions options;
  options.alignment = ssm::ParseAlignmentKind(args.Value("align", "rigid"), "--align");
  options.variance_fraction = args.Number("variance", 1.0);
  options.modes = args.Integer("modes", 0);
  if (args.Has("modes") && options.modes < 1) {
    throw UsageError("ssmx build-model: --modes must be >= 1, got " + args.Value("modes"));
  }
  options.noise_variance = args.Number("noise", 0.0);
  if (const std::string problem = options.IsValid(); !problem.empty()) {
    throw UsageError("ssmx build-model: " + problem);
  }
  std::vector<TriangleMesh> meshes;
  for (const std::string& path : args.positional()) {
    meshes.push_back(ssm::ReadMesh(path));
    options.names.push_back(path);
  }
  ssm::ShapeModelBuildReport report;
  const ssm::ShapeModel model = ssm::BuildShapeModel(meshes, options, &report);
  ssm::WriteStatismoModel(model, args.Value("out"));
  if (args.Flag("json")) {
    nlohmann::json out = ModelJson(args.Value("out"), model);
    out["modes_available"] = report.modes_available;
    out["variance_kept_mm2"] = report.variance_kept;
    out["variance_data_mm2"] = report.variance_total;
    out["procrustes_iterations"] = report.procrustes_iterations;
    std::cout << out.dump(2) << std::endl;
  } else if (!settings.quiet) {
    std::cout << report.BriefReport() << "\nmodel: " << args.Value("out") << std::endl;
  }
  return 0;
}

int RunModelInfo(const std::vector<std::string>& argv, const Settings&) {
  Arguments args("model-info", "MODEL.h5 [--json]",
                 "Describes a statismo shape model: size, modes and their variances, noise,\n"
                 "per-vertex standard deviation, landmarks and the build history.",
                 "ssmx model-info femur.h5 --json");
  if (!args.Parse(argv)) return 0;
  if (args.positional().size() != 1) {
    throw UsageError("ssmx model-info: expected exactly one MODEL.h5, got " +
                     std::to_string(args.positional().size()) + "; see ssmx model-info --help");
  }
  const std::string path = args.positional()[0];
  const nlohmann::json info = ModelJson(path, ssm::ReadStatismoModel(path));
  if (args.Flag("json")) {
    std::cout << info.dump(2) << std::endl;
  } else {
    std::cout << ModelText(info);
  }
  return 0;
}

int RunSample(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args("sample", "MODEL.h5 --out DIR [--n N] [--seed S] [--format ply|stl|obj|vtk|vtp]",
                 "Draws random shapes from a shape model: coefficients standard normal from\n"
                 "mt19937_64(seed) with an own Box-Muller transform (same seed, same bytes).\n"
                 "DIR gets sample_NNN.EXT and samples.json (the coefficients of each sample).",
                 "ssmx sample femur.h5 --n 5 --seed 1 --out samples/");
  args.Option("out", "DIR", "output folder (created when missing)")
      .Option("n", "N", "number of samples (default 5)")
      .Option("seed", "S", "random seed, a non-negative integer (default 1)")
      .Option("modes", "K", "use only the first K modes (default all)")
      .Option("noise", "", "add the model's isotropic noise to each vertex")
      .Option("format", "EXT", "mesh format: ply (default), stl, obj, vtk or vtp");
  if (!args.Parse(argv)) return 0;
  if (args.positional().size() != 1) {
    throw UsageError("ssmx sample: expected exactly one MODEL.h5; see ssmx sample --help");
  }
  if (!args.Has("out")) throw UsageError("ssmx sample: --out DIR is required");
  const int n = args.Integer("n", 5);
  if (n < 1 || n > 100000) {
    throw UsageError("ssmx sample: --n must be in 1..100000, got " + std::to_string(n));
  }
  const uint64_t seed = ParseSeed("sample", args.Value("seed", "1"));
  const std::string format = args.Value("format", "ply");
  if (!ssm::HasMeshExtension("x." + format)) {
    throw UsageError("ssmx sample: --format must be ply, stl, obj, vtk or vtp, got \"" + format +
                     "\"");
  }
  const std::string path = args.positional()[0];
  ssm::ShapeModel model = ssm::ReadStatismoModel(path);
  if (model.faces().rows() == 0) {
    throw InvalidInput(path + ": the model has no faces (a point-set model); cannot write meshes");
  }
  if (args.Has("modes")) {
    const int k = args.Integer("modes", 0);
    if (k < 1 || k > model.num_modes()) {
      throw UsageError("ssmx sample: --modes must be in 1.." + std::to_string(model.num_modes()) +
                       ", got " + args.Value("modes"));
    }
    model = model.Truncated(k);
  }
  const std::string out = args.Value("out");
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (!std::filesystem::is_directory(out, ec)) {
    throw IoError(out + ": cannot create the output folder");
  }
  Eigen::MatrixXd coefficients;
  const std::vector<MatrixX3dR> samples = model.Sample(n, seed, args.Flag("noise"), &coefficients);
  nlohmann::json list = nlohmann::json::array();
  for (int i = 0; i < n; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "sample_%03d.%s", i, format.c_str());
    TriangleMesh mesh;
    mesh.vertices = samples[i];
    mesh.faces = model.faces();
    ssm::WriteMesh(mesh, (std::filesystem::path(out) / name).string());
    std::vector<double> a(coefficients.cols());
    for (int k = 0; k < coefficients.cols(); ++k) a[k] = coefficients(i, k);
    list.push_back(
        {{"file", name}, {"coefficients", a}, {"mahalanobis", coefficients.row(i).norm()}});
  }
  const nlohmann::json summary = {{"model", path},
                                  {"seed", seed},
                                  {"n", n},
                                  {"modes", model.num_modes()},
                                  {"noise", args.Flag("noise")},
                                  {"samples", list}};
  WriteFileAtomically((std::filesystem::path(out) / "samples.json").string(),
                      summary.dump(2) + "\n");
  if (args.Flag("json")) {
    std::cout << summary.dump(2) << std::endl;
  } else if (!settings.quiet) {
    std::cout << n << " samples of " << path << " (" << model.num_modes() << " modes, seed " << seed
              << ") in " << out << std::endl;
  }
  return 0;
}

}  // namespace ssmx::cli
