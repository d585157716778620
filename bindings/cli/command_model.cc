// `ssmx build-model`, `ssmx model-info` and `ssmx sample`: statistical shape
// models in statismo v0.9 HDF5 files (see docs/model_format.md).
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "arguments.h"
#include "commands.h"
#include "ssmx/core/atomic_write.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/model_metrics.h"
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
  if (!j["landmarks"].empty()) {
    os << "  landmarks:";
    for (const auto& [name, vertex] : j["landmarks"].items()) os << " " << name << "=" << vertex;
    os << "\n";
  }
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

// Mesh files: the arguments, with a folder replaced by its mesh files (sorted).
std::vector<std::string> MeshFiles(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const std::string& p : paths) {
    if (!std::filesystem::is_directory(p, ec)) {
      files.push_back(p);
      continue;
    }
    std::vector<std::string> in_dir;
    for (const auto& entry : std::filesystem::directory_iterator(p, ec)) {
      if (entry.is_regular_file() && ssm::HasMeshExtension(entry.path().string())) {
        in_dir.push_back(entry.path().string());
      }
    }
    if (in_dir.empty())
      throw InvalidInput(p + ": the folder holds no mesh files (.ply, .stl, ...)");
    std::sort(in_dir.begin(), in_dir.end());
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  return files;
}

std::vector<TriangleMesh> ReadMeshes(const std::vector<std::string>& files) {
  std::vector<TriangleMesh> meshes;
  for (const std::string& f : files) meshes.push_back(ssm::ReadMesh(f));
  return meshes;
}

// {"name": vertex} from a JSON file: such an object, or a phantom cohort.json
// (its template.landmark_vertices).
std::map<std::string, int> ReadLandmarkVertices(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open the landmark file");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
    if (j.contains("template") && j["template"].contains("landmark_vertices")) {
      j = j["template"]["landmark_vertices"];
    }
    return j.get<std::map<std::string, int>>();
  } catch (const nlohmann::json::exception&) {
    throw InvalidInput(path +
                       ": expected a JSON object {\"name\": vertex_index, ...} or a phantom "
                       "cohort.json");
  }
}

nlohmann::json CurveJson(const ssm::MetricCurve& c) {
  return {{"modes", c.modes}, {"mean_mm", c.mean_mm}, {"sd_mm", c.sd_mm}};
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
      .Option("noise", "MM2", "PPCA noise variance in mm^2 (default 0)")
      .Option("landmarks", "JSON",
              "named landmark vertices to carry in the model: {\"name\": index} or a cohort.json");
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
  const std::vector<TriangleMesh> meshes = ReadMeshes(args.positional());
  options.names = args.positional();
  std::map<std::string, int> landmarks;
  if (args.Has("landmarks")) landmarks = ReadLandmarkVertices(args.Value("landmarks"));
  ssm::ShapeModelBuildReport report;
  ssm::ShapeModel model = ssm::BuildShapeModel(meshes, options, &report);
  try {
    model.SetLandmarks(landmarks);
  } catch (const InvalidInput& e) {
    throw InvalidInput(args.Value("landmarks") + ": " + e.what());
  }
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

int RunModelEval(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args(
      "model-eval",
      "MODEL.h5 --test MESH... | --leave-one-out MESH|DIR... [--samples N] [--seed S] [--json]",
      "Measures a shape model as curves over the number of modes k (docs/model_format.md):\n"
      "compactness (cumulative variance fraction), generalisation (test shapes aligned to the\n"
      "mean and reconstructed from k modes; mean corresponding-vertex distance, or with\n"
      "--surface-distance the mean symmetric surface distance) and specificity (N seeded\n"
      "samples with k modes, mean vertex distance to the closest reference shape). With\n"
      "MODEL.h5 the test shapes are also the specificity references; with --leave-one-out\n"
      "(meshes or folders of meshes in correspondence) generalisation is leave-one-out and\n"
      "compactness and specificity use the model of all shapes.",
      "ssmx model-eval --leave-one-out cohort/ --align rigid --json");
  args.Option("test", "", "the positional meshes are test shapes for MODEL.h5 (first positional)")
      .Option("leave-one-out", "", "the positional arguments are the training meshes or folders")
      .Option("align", "KIND", "rigid (default), similarity or none: building and test alignment")
      .Option("modes", "LIST", "comma-separated numbers of modes to evaluate (default all)")
      .Option("samples", "N", "specificity samples (default 1000)")
      .Option("seed", "S", "specificity seed (default 1)")
      .Option("surface-distance", "", "generalisation by mean symmetric surface distance");
  if (!args.Parse(argv)) return 0;
  if (args.Flag("test") == args.Flag("leave-one-out")) {
    throw UsageError("ssmx model-eval: give exactly one of --test and --leave-one-out; see --help");
  }
  ssm::MetricOptions options;
  options.alignment = ssm::ParseAlignmentKind(args.Value("align", "rigid"), "--align");
  options.samples = args.Integer("samples", 1000);
  if (options.samples < 1) throw UsageError("ssmx model-eval: --samples must be >= 1");
  options.seed = ParseSeed("model-eval", args.Value("seed", "1"));
  options.surface_distance = args.Flag("surface-distance");
  if (args.Has("modes")) {
    std::stringstream list(args.Value("modes"));
    std::string item;
    while (std::getline(list, item, ',')) {
      char* end = nullptr;
      const long k = std::strtol(item.c_str(), &end, 10);
      if (item.empty() || *end != '\0' || k < 1) {
        throw UsageError("ssmx model-eval: --modes expects numbers >= 1 like 1,2,5; got \"" +
                         args.Value("modes") + "\"");
      }
      options.modes.push_back(static_cast<int>(k));
    }
  }
  ssm::ShapeModel model;
  std::vector<TriangleMesh> shapes;
  ssm::MetricCurve generalisation;
  nlohmann::json out;
  if (args.Flag("test")) {
    if (args.positional().size() < 2) {
      throw UsageError("ssmx model-eval: --test needs MODEL.h5 and at least one mesh");
    }
    model = ssm::ReadStatismoModel(args.positional()[0]);
    const std::vector<std::string> files =
        MeshFiles({args.positional().begin() + 1, args.positional().end()});
    shapes = ReadMeshes(files);
    for (size_t i = 0; i < shapes.size(); ++i) {
      if (shapes[i].num_vertices() != model.num_vertices()) {
        throw InvalidInput(files[i] + ": has " + std::to_string(shapes[i].num_vertices()) +
                           " vertices, the model " + std::to_string(model.num_vertices()) +
                           "; test meshes must be in correspondence with the model");
      }
    }
    generalisation = ssm::Generalization(model, shapes, options);
    out["model"] = args.positional()[0];
  } else {
    const std::vector<std::string> files = MeshFiles(args.positional());
    if (files.size() < 3)
      throw UsageError("ssmx model-eval: --leave-one-out needs at least 3 meshes");
    shapes = ReadMeshes(files);
    ssm::ShapeModelBuildOptions build;
    build.alignment = options.alignment;
    build.names = files;
    model = ssm::BuildShapeModel(shapes, build);
    ssm::MetricOptions loo = options;
    for (int& k : loo.modes) k = std::min(k, static_cast<int>(files.size()) - 2);
    generalisation = ssm::LeaveOneOutGeneralization(shapes, build, loo);
    out["shapes"] = files.size();
  }
  ssm::MetricOptions spec = options;
  for (int& k : spec.modes) k = std::min(k, model.num_modes());
  const ssm::MetricCurve specificity = ssm::Specificity(model, shapes, spec);
  out["compactness"] = ssm::Compactness(model);
  out["generalisation"] = CurveJson(generalisation);
  out["generalisation"]["distance"] = options.surface_distance
                                          ? "mean symmetric surface distance"
                                          : "mean corresponding-vertex distance";
  out["generalisation"]["kind"] = args.Flag("test") ? "test shapes" : "leave-one-out";
  out["specificity"] = CurveJson(specificity);
  out["specificity"]["samples"] = options.samples;
  out["specificity"]["seed"] = options.seed;
  out["alignment"] = ssm::AlignmentKindName(options.alignment);
  if (args.Flag("json")) {
    std::cout << out.dump(2) << std::endl;
  } else if (!settings.quiet) {
    const std::vector<double> c = out["compactness"];
    std::cout << "modes\tcompactness %\tgeneralisation mm (" << generalisation.mean_mm.size()
              << " k)\tspecificity mm\n";
    for (size_t j = 0; j < generalisation.modes.size(); ++j) {
      const int k = generalisation.modes[j];
      std::cout << k << "\t" << Fmt(100 * c[std::min<size_t>(k, c.size()) - 1], 1) << "\t\t"
                << Fmt(generalisation.mean_mm[j]) << " +- " << Fmt(generalisation.sd_mm[j]);
      for (size_t s = 0; s < specificity.modes.size(); ++s) {
        if (specificity.modes[s] == k) {
          std::cout << "\t\t" << Fmt(specificity.mean_mm[s]) << " +- " << Fmt(specificity.sd_mm[s]);
        }
      }
      std::cout << "\n";
    }
  }
  return 0;
}

}  // namespace ssmx::cli
