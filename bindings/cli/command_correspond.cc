// `ssmx correspond`: dense correspondence by deforming a reference mesh onto
// each target surface (optimal-step non-rigid ICP), or by fitting a shape
// model to it (docs/correspondence.md).
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "arguments.h"
#include "commands.h"
#include "ssmx/core/atomic_write.h"
#include "ssmx/ssm/correspondence.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/statismo_io.h"

namespace ssmx::cli {
namespace {

namespace fs = std::filesystem;
using NamedPoints = std::map<std::string, Eigen::Vector3d>;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Named points from a landmark file: JSON {"name": [x, y, z], ...} (optionally
// under a "landmarks" key) or CSV lines "name,x,y,z" ('#' starts a comment).
NamedPoints ReadLandmarks(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open the landmark file");
  NamedPoints points;
  if (Lower(fs::path(path).extension().string()) == ".csv") {
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      std::stringstream ss(line);
      std::string name, value;
      std::getline(ss, name, ',');
      Eigen::Vector3d p;
      int k = 0;
      bool ok = !name.empty();
      for (; ok && k < 3 && std::getline(ss, value, ','); ++k) {
        char* end = nullptr;
        p(k) = std::strtod(value.c_str(), &end);
        ok = end != value.c_str() && std::isfinite(p(k));
      }
      if (!ok || k != 3 || std::getline(ss, value, ',')) {
        throw InvalidInput(path + ": line " + std::to_string(number) +
                           " is not \"name,x,y,z\" with three finite numbers (mm)");
      }
      if (!points.emplace(name, p).second) {
        throw InvalidInput(path + ": landmark \"" + name + "\" appears twice");
      }
    }
  } else {
    try {
      nlohmann::json j = nlohmann::json::parse(in);
      if (j.is_object() && j.contains("landmarks")) j = j["landmarks"];
      if (!j.is_object()) throw nlohmann::json::type_error::create(302, "not an object", nullptr);
      for (const auto& [name, value] : j.items()) {
        const std::vector<double> v = value.get<std::vector<double>>();
        if (v.size() != 3 || !std::isfinite(v[0]) || !std::isfinite(v[1]) || !std::isfinite(v[2])) {
          throw InvalidInput(path + ": landmark \"" + name +
                             "\" needs three finite coordinates [x, y, z] in mm");
        }
        points[name] = Eigen::Vector3d(v[0], v[1], v[2]);
      }
    } catch (const nlohmann::json::exception&) {
      throw InvalidInput(path +
                         ": expected a JSON object {\"name\": [x, y, z], ...} (LPS mm) or CSV "
                         "lines name,x,y,z");
    }
  }
  if (points.empty()) throw InvalidInput(path + ": the landmark file holds no landmarks");
  return points;
}

// The landmarks both files name, in name order; at least one.
std::vector<ssm::CorrespondenceLandmark> PairLandmarks(const NamedPoints& reference,
                                                       const std::string& reference_path,
                                                       const NamedPoints& target,
                                                       const std::string& target_path) {
  std::vector<ssm::CorrespondenceLandmark> pairs;
  for (const auto& [name, p] : reference) {
    const auto it = target.find(name);
    if (it != target.end()) pairs.push_back({name, p, it->second});
  }
  if (pairs.empty()) {
    throw InvalidInput(target_path + ": shares no landmark name with " + reference_path +
                       "; name the same points in both files");
  }
  return pairs;
}

nlohmann::json TransformJson(const ssm::SimilarityTransform& t) {
  nlohmann::json m = nlohmann::json::array();
  const Eigen::Matrix4d h = t.Matrix();
  for (int r = 0; r < 4; ++r) m.push_back({h(r, 0), h(r, 1), h(r, 2), h(r, 3)});
  return {{"scale", t.scale}, {"matrix", m}};
}

}  // namespace

int RunCorrespond(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args(
      "correspond",
      "(--reference REF | --model MODEL.h5) --out DIR MESH... [--landmarks REF_LM "
      "--target-landmarks LM ...] [--align similarity|rigid] [--json]",
      "Deforms the reference mesh onto every MESH so that each output has the reference's\n"
      "vertices and faces, placed on its own target surface (vertex i is the same point in\n"
      "all outputs; then ssmx build-model). Start: similarity (or rigid) ICP, or Umeyama on\n"
      "landmarks when given; then optimal-step non-rigid ICP (Amberg et al. 2007; point-to-plane\n"
      "data term) with a guard that keeps every triangle from flipping, and a final\n"
      "projection onto the target.\n"
      "With --model (a statismo/scalismo shape model) the model is fitted to every MESH\n"
      "instead (posterior mean given the closest points, noise annealed), refined by\n"
      "point-to-point non-rigid ICP and projected: vertex i is what the model calls vertex i.\n"
      "Landmark files: JSON {\"name\": [x, y, z], ...} or CSV lines name,x,y,z (LPS mm); the\n"
      "names both files share are used. Writes DIR/<mesh name>.<ext> and DIR/correspondence.json\n"
      "(docs/correspondence.md).",
      "ssmx correspond --reference femur_ref.stl --out corr/ scans/*.stl --json");
  args.Option("reference", "REF", "the template mesh (its vertices and faces are kept)")
      .Option("model", "MODEL.h5",
              "a statismo shape model: fit it instead of deforming a reference (its mean's "
              "vertices and faces are kept)")
      .Option("out", "DIR", "output folder (created when missing)")
      .Option("landmarks", "FILE", "named points on the reference or model mean (.json or .csv)")
      .Option("target-landmarks", "FILE",
              "named points on a target; repeat once per MESH, in the same order")
      .Option("align", "KIND",
              "start alignment: similarity (default) or rigid; with --model the pose of the "
              "fit (default: similarity if the model was built so, else rigid)")
      .Option("format", "EXT",
              "output extension (.ply, .stl, .obj, .vtk, .vtp; default: REF's, .ply with --model)")
      .Option("trim", "F", "fraction of pairs ICP rejects (default 0.1; raise for partial scans)")
      .Option("solve-vertices", "N",
              "solve on at most N vertices, carry the result to the rest (default 4000; 0: all)")
      .Option("tangential-weight", "W",
              "share of point-to-point in the closest-point term (default 0.001: point-to-plane, "
              "vertices slide along the target; 1: point-to-point as in Amberg et al.; with "
              "--model the model fit's share, default 0.1)")
      .Option("noise", "MM,MM,...",
              "--model: observation noise SD per stage, decreasing (default 8,4,2,1,0.5,0.3)")
      .Option("no-refine", "", "--model: no non-rigid refinement after the fit, only projection")
      .Option("no-project", "", "leave the vertices where the deformation put them");
  if (!args.Parse(argv)) return 0;
  const bool with_model = args.Has("model");
  if (args.Has("reference") == with_model) {
    throw UsageError("give either --reference REF or --model MODEL.h5");
  }
  if (!with_model && (args.Has("noise") || args.Flag("no-refine"))) {
    throw UsageError("--noise and --no-refine apply to --model only");
  }
  if (!args.Has("out")) throw UsageError("--out DIR is required");
  const std::vector<std::string>& meshes = args.positional();
  if (meshes.empty()) throw UsageError("give at least one MESH to register");
  const std::vector<std::string> target_lm_files = args.Values("target-landmarks");
  if (args.Has("landmarks") != !target_lm_files.empty()) {
    throw UsageError("--landmarks and --target-landmarks go together");
  }
  if (!target_lm_files.empty() && target_lm_files.size() != meshes.size()) {
    throw UsageError(std::to_string(target_lm_files.size()) + " --target-landmarks for " +
                     std::to_string(meshes.size()) +
                     " meshes; give one per MESH, in the same order");
  }
  const std::string reference_path = args.Value(with_model ? "model" : "reference");
  std::string ext =
      Lower(args.Value("format", with_model ? std::string(".ply")
                                            : fs::path(reference_path).extension().string()));
  if (!ext.empty() && ext[0] != '.') ext = "." + ext;
  if (!ssm::HasMeshExtension("x" + ext)) {
    throw UsageError("--format " + ext +
                     " is not a mesh format; use .ply, .stl, .obj, .vtk or .vtp");
  }
  ssm::CorrespondenceOptions options;
  options.alignment = ssm::ParseAlignmentKind(args.Value("align", "similarity"), "--align");
  if (options.alignment == ssm::AlignmentKind::kNone) {
    throw UsageError("--align must be similarity or rigid");
  }
  options.icp.trim_fraction = args.Number("trim", options.icp.trim_fraction);
  options.max_solve_vertices = args.Integer("solve-vertices", options.max_solve_vertices);
  options.project_to_surface = !args.Flag("no-project");
  ssm::ModelCorrespondenceOptions model_options;
  if (with_model && args.Has("align")) model_options.pose = options.alignment;
  model_options.icp.trim_fraction = options.icp.trim_fraction;
  model_options.refine.max_solve_vertices = options.max_solve_vertices;
  model_options.refine.project_to_surface = options.project_to_surface;
  model_options.refine_surface = !args.Flag("no-refine");
  if (args.Has("noise")) model_options.noise_mm = NumberList("noise", args.Value("noise"), 0);
  double& tangential = with_model ? model_options.tangential_weight : options.tangential_weight;
  tangential = args.Number("tangential-weight", tangential);
  if (!(tangential <= 1 && (with_model ? tangential >= 0 : tangential > 0))) {
    throw UsageError(with_model ? "--tangential-weight must be in [0, 1] (1: point-to-point)"
                                : "--tangential-weight must be in (0, 1] (1: point-to-point)");
  }
  std::string error;
  if (!options.IsValid(&error)) throw UsageError("correspondence options: " + error);
  if (!model_options.IsValid(&error)) throw UsageError("--model options: " + error);

  // Output names: one per mesh, distinct.
  const fs::path out_dir = args.Value("out");
  std::vector<std::string> outputs;
  std::set<std::string> seen;
  for (const std::string& m : meshes) {
    const std::string name = fs::path(m).stem().string() + ext;
    if (!seen.insert(name).second) {
      throw UsageError(m + ": another MESH has the same name; outputs would overwrite each other");
    }
    outputs.push_back((out_dir / name).string());
  }

  // Read everything before writing anything.
  ssm::ShapeModel model;
  if (with_model) model = ssm::ReadStatismoModel(reference_path);
  const TriangleMesh reference = with_model ? model.MeanMesh() : ssm::ReadMesh(reference_path);
  NamedPoints reference_lm;
  if (args.Has("landmarks")) reference_lm = ReadLandmarks(args.Value("landmarks"));
  std::vector<std::vector<ssm::CorrespondenceLandmark>> landmarks(meshes.size());
  for (size_t i = 0; i < target_lm_files.size(); ++i) {
    landmarks[i] = PairLandmarks(reference_lm, args.Value("landmarks"),
                                 ReadLandmarks(target_lm_files[i]), target_lm_files[i]);
  }
  std::vector<TriangleMesh> targets;
  for (const std::string& m : meshes) targets.push_back(ssm::ReadMesh(m));
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (!fs::is_directory(out_dir, ec)) {
    throw IoError(out_dir.string() + ": cannot create the output folder");
  }

  const ProgressCallback bar = TerminalProgress(settings);
  nlohmann::json results = nlohmann::json::array();
  double total_seconds = 0;
  for (size_t i = 0; i < meshes.size(); ++i) {
    if (bar) {
      options.progress = [&, i](double f, const std::string& stage) {
        return bar((static_cast<double>(i) + f) / static_cast<double>(meshes.size()),
                   fs::path(meshes[i]).filename().string() + ": " + stage);
      };
      model_options.progress = options.progress;
    }
    ssm::CorrespondenceSummary s;
    try {
      s = with_model ? ssm::RegisterModel(model, targets[i], landmarks[i], model_options)
                     : ssm::RegisterTemplate(reference, targets[i], landmarks[i], options);
    } catch (const InvalidInput& e) {
      throw InvalidInput(meshes[i] + ": " + e.what());
    } catch (const NotConverged& e) {
      throw InvalidInput(meshes[i] + ": " + e.what() +
                         "; give landmarks (--landmarks/--target-landmarks) for a better start");
    }
    ssm::WriteMesh(s.mesh, outputs[i]);
    total_seconds += s.seconds;
    nlohmann::json names = nlohmann::json::array();
    for (const auto& l : landmarks[i]) names.push_back(l.name);
    results.push_back(
        {{"input", meshes[i]},
         {"output", outputs[i]},
         {"target_vertices", targets[i].num_vertices()},
         {"mean_distance_mm", s.mean_distance_mm},
         {"rms_distance_mm", s.rms_distance_mm},
         {"hausdorff_mm", s.hausdorff_mm},
         {"max_vertex_distance_mm", s.max_vertex_distance_mm},
         {"flipped_faces", s.flipped_faces},
         {"limited_vertices", s.limited_vertices},
         {"unprojected_vertices", s.unprojected_vertices},
         {"start", s.initial_from_landmarks ? "landmarks+icp" : "centroids+icp"},
         {"target_from_reference", TransformJson(s.initial)},
         {"icp_converged", s.icp.converged},
         {"icp_iterations", s.icp.iterations},
         {"icp_mean_mm", s.icp.mean_mm},
         {"landmarks", names},
         {"landmark_mean_error_mm",
          names.empty() ? nlohmann::json() : nlohmann::json(s.landmark_mean_error_mm)},
         {"stages", s.stages},
         {"solves", s.iterations},
         {"solve_vertices", s.solve_vertices},
         {"seconds", s.seconds}});
    if (with_model) {
      nlohmann::json& r = results.back();
      r["model_fit_mean_mm"] = s.model_fit_mean_mm;
      r["model_mahalanobis"] = s.model_mahalanobis;
      r["model_fit_iterations"] = s.model_fit_iterations;
      r["model_coefficients"] = std::vector<double>(
          s.model_coefficients.data(), s.model_coefficients.data() + s.model_coefficients.size());
    }
  }
  const nlohmann::json summary = {
      {with_model ? "model" : "reference", reference_path},
      {"vertices", reference.num_vertices()},
      {"faces", reference.num_faces()},
      {"alignment", ssm::AlignmentKindName(with_model ? (model_options.pose ? *model_options.pose
                                                                           : ssm::ModelPoseKind(model))
                                                      : options.alignment)},
      {"tangential_weight", tangential},
      {"method", with_model ? "shape model fit (posterior mean given closest points, Luethi et al. "
                              "2018), point-to-point non-rigid ICP refinement, "
                              "docs/correspondence.md"
                            : "optimal-step non-rigid ICP (Amberg et al. 2007), point-to-plane "
                              "data term, docs/correspondence.md"},
      {"flipped_definition",
       "faces whose normal turned by >= 90 degrees against the aligned reference"},
      {"distance_definition",
       "symmetric area-weighted mean surface distance output<->target (docs/surfaces.md)"},
      {"meshes", results},
      {"seconds", total_seconds}};
  const std::string summary_path = (out_dir / "correspondence.json").string();
  WriteFileAtomically(summary_path, summary.dump(2) + "\n");
  if (args.Flag("json")) {
    std::cout << summary.dump(2) << std::endl;
    return 0;
  }
  std::cout << (with_model ? "model " : "reference ") << reference_path << ": "
            << reference.num_vertices() << " vertices, "
            << reference.num_faces() << " faces\n";
  for (const auto& r : results) {
    std::cout << r["input"].get<std::string>() << " -> " << r["output"].get<std::string>()
              << ": mean distance " << Fmt(r["mean_distance_mm"].get<double>()) << " mm, Hausdorff "
              << Fmt(r["hausdorff_mm"].get<double>()) << " mm, flipped faces " << r["flipped_faces"]
              << ", " << Fmt(r["seconds"].get<double>(), 1) << " s\n";
  }
  std::cout << "summary: " << summary_path << "\n";
  return 0;
}

}  // namespace ssmx::cli
