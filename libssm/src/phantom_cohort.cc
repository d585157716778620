// A phantom femur cohort on disk: meshes in correspondence, optional remeshed
// surfaces and CTs, and cohort.json with every subject's true parameters.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ssmx/core/atomic_write.h"
#include "ssmx/core/error.h"
#include "ssmx/core/version.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/phantom.h"
#include "ssmx/ssm/surface_distance.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::ssm {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

const char* SidesName(CohortSides sides) {
  return sides == CohortSides::kLeft        ? "left"
         : sides == CohortSides::kAlternate ? "alternate"
                                            : "right";
}

Json Vector(const Eigen::Vector3d& v) { return Json::array({v.x(), v.y(), v.z()}); }

// SplitMix64: a per-subject noise seed derived from the cohort seed.
uint64_t SubjectSeed(uint64_t seed, uint64_t subject) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (subject + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

std::string PhantomCohortOptions::IsValid() const {
  if (n < 1 || n > 10000) return "cohort size " + std::to_string(n) + " outside 1..10000";
  if (!HasMeshExtension("x" + mesh_extension))
    return "mesh extension '" + mesh_extension + "' is not a mesh format";
  if (ct && !HasVolumeExtension("x" + ct_extension))
    return "CT extension '" + ct_extension + "' is not a volume format";
  std::string problem = mesh.IsValid();
  if (problem.empty() && ct) problem = ct_options.IsValid();
  return problem;
}

std::string PhantomCohortSummary::BriefReport() const {
  std::ostringstream s;
  double max_snap = 0, max_residual = 0, max_remesh = -1;
  int64_t flipped = 0;
  for (const PhantomSubjectSummary& subject : subjects) {
    max_snap = std::max(max_snap, subject.correspondence.max_snap_mm);
    max_residual = std::max(max_residual, subject.correspondence.max_residual_mm);
    max_remesh = std::max(max_remesh, subject.remeshed_mean_distance_mm);
    flipped += subject.correspondence.flipped_faces;
  }
  char line[400];
  std::snprintf(
      line, sizeof(line),
      "%zu femurs, template %lld vertices / %lld faces; corresponding meshes: max snap %.3f mm, "
      "max residual %.2g mm, %lld flipped faces",
      subjects.size(), static_cast<long long>(template_vertices),
      static_cast<long long>(template_faces), max_snap, max_residual,
      static_cast<long long>(flipped));
  s << line;
  if (max_remesh >= 0) {
    std::snprintf(line, sizeof(line), "; corresponding vs remeshed: worst mean distance %.3f mm",
                  max_remesh);
    s << line;
  }
  std::snprintf(line, sizeof(line), "; %.1f s", seconds);
  s << line;
  return s.str();
}

PhantomCohortSummary WritePhantomCohort(const std::string& out_dir,
                                        const PhantomCohortOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::string problem = options.IsValid();
  if (!problem.empty()) throw InvalidInput("phantom cohort: " + problem);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir)) {
    throw IoError(out_dir + ": cannot create the cohort folder (" +
                  (ec ? ec.message() : "not a folder") + ")");
  }
  const fs::path dir(out_dir);
  const std::vector<FemurParameters> cohort =
      SampleFemurParameters(options.n, options.seed, options.sides);
  const int steps = options.n + 1;
  ReportProgress(options.progress, 0.0, "template");
  PhantomMeshOptions mesh_options = options.mesh;
  mesh_options.progress = nullptr;
  const FemurTemplate femur_template = MakeFemurTemplate(mesh_options);
  WriteMesh(femur_template.mesh, (dir / ("template" + options.mesh_extension)).string());

  PhantomCohortSummary summary;
  summary.template_vertices = femur_template.mesh.num_vertices();
  summary.template_faces = femur_template.mesh.num_faces();
  Json json;
  json["format"] = "ssmx phantom femur cohort";
  json["format_version"] = 1;
  json["generator"] = std::string("ssmx ") + Version();
  json["seed"] = options.seed;
  json["n"] = options.n;
  json["sides"] = SidesName(options.sides);
  json["frame"] =
      "LPS mm, anatomical standing position: knee centre at the origin, transepicondylar axis "
      "along x, "
      "mechanical axis vertical in the sagittal plane, +z superior; a left femur mirrors x";
  Json modes = Json::array();
  for (const FemurParameterMode& m : FemurParameterModes()) {
    modes.push_back({{"name", m.name},
                     {"mean", m.mean},
                     {"sd", m.sd},
                     {"min", m.min},
                     {"max", m.max},
                     {"source", m.source}});
  }
  json["modes"] = modes;
  Json landmark_vertices = Json::object();
  for (const auto& [name, index] : femur_template.landmark_vertices)
    landmark_vertices[name] = index;
  json["template"] = {{"mesh", "template" + options.mesh_extension},
                      {"vertices", summary.template_vertices},
                      {"faces", summary.template_faces},
                      {"landmark_vertices", landmark_vertices},
                      {"head_vertices", femur_template.head_vertices}};
  json["mesh_options"] = {{"spacing_mm", options.mesh.spacing_mm},
                          {"target_faces", options.mesh.target_faces},
                          {"snap_iterations", options.mesh.snap_iterations}};
  if (options.ct) {
    const PhantomCtOptions& c = options.ct_options;
    json["ct_options"] = {{"spacing_mm", c.spacing_mm},
                          {"noise_sd_hu", c.noise_sd_hu},
                          {"air_hu", c.air_hu},
                          {"muscle_hu", c.muscle_hu},
                          {"fat_hu", c.fat_hu},
                          {"marrow_hu", c.marrow_hu},
                          {"fat_thickness_mm", c.fat_thickness_mm},
                          {"partial_volume", c.partial_volume}};
  }
  Json subjects = Json::array();
  for (int i = 0; i < options.n; ++i) {
    ReportProgress(options.progress, double(i + 1) / steps, "femur " + std::to_string(i + 1));
    char id[32];
    std::snprintf(id, sizeof(id), "femur_%03d", i);
    PhantomSubjectSummary s;
    s.id = id;
    s.parameters = cohort[i];
    const PhantomFemur femur(cohort[i]);
    const TriangleMesh mesh = CorrespondingFemurMesh(
        femur_template, femur, options.mesh.snap_iterations, &s.correspondence);
    s.mesh_path = (dir / (s.id + options.mesh_extension)).string();
    WriteMesh(mesh, s.mesh_path);
    Json subject;
    subject["id"] = s.id;
    subject["side"] = BodySideName(cohort[i].side);
    Json parameters = Json::object();
    for (const auto& [name, value] : FemurParametersToNamedValues(cohort[i]))
      parameters[name] = value;
    subject["parameters"] = parameters;
    Json derived = Json::object();
    for (const auto& [name, value] : femur.DerivedMeasures()) derived[name] = value;
    subject["derived"] = derived;
    const Eigen::Matrix4d m = femur.WorldFromFemur();
    Json matrix = Json::array();
    for (int r = 0; r < 4; ++r) matrix.push_back({m(r, 0), m(r, 1), m(r, 2), m(r, 3)});
    subject["world_from_femur"] = matrix;
    Json landmarks = Json::object();
    for (const auto& [name, point] : femur.Landmarks()) landmarks[name] = Vector(point);
    subject["landmarks_mm"] = landmarks;
    subject["mesh"] = s.id + options.mesh_extension;
    if (options.remeshed) {
      const TriangleMesh remeshed = MeshPhantomFemur(femur, mesh_options);
      s.remeshed_path = (dir / (s.id + "_remeshed" + options.mesh_extension)).string();
      WriteMesh(remeshed, s.remeshed_path);
      s.remeshed_mean_distance_mm = ComputeSurfaceDistance(mesh, remeshed).mean_mm;
      subject["remeshed"] = s.id + "_remeshed" + options.mesh_extension;
      subject["remeshed_mean_distance_mm"] = s.remeshed_mean_distance_mm;
    }
    if (options.ct) {
      PhantomCtOptions ct_options = options.ct_options;
      ct_options.noise_seed = SubjectSeed(options.seed, i);
      ct_options.progress = nullptr;
      const Volume ct = SynthesizePhantomCt(femur, ct_options);
      s.ct_path = (dir / (s.id + "_ct" + options.ct_extension)).string();
      WriteVolume(ct, s.ct_path);
      subject["ct"] = s.id + "_ct" + options.ct_extension;
      subject["ct_noise_seed"] = ct_options.noise_seed;
    }
    subject["correspondence"] = {{"max_snap_mm", s.correspondence.max_snap_mm},
                                 {"mean_snap_mm", s.correspondence.mean_snap_mm},
                                 {"max_residual_mm", s.correspondence.max_residual_mm},
                                 {"flipped_faces", s.correspondence.flipped_faces}};
    subjects.push_back(subject);
    summary.subjects.push_back(s);
  }
  json["subjects"] = subjects;
  summary.json_path = (dir / "cohort.json").string();
  WriteFileAtomically(summary.json_path, json.dump(2) + "\n");
  ReportProgress(options.progress, 1.0, "done");
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

std::vector<FemurParameters> ReadPhantomCohortParameters(const std::string& json_path) {
  std::ifstream in(json_path);
  if (!in) throw IoError(json_path + ": cannot open the cohort file");
  nlohmann::json json;
  try {
    in >> json;
  } catch (const std::exception& e) {
    throw InvalidInput(json_path + ": not valid JSON (" + e.what() + ")");
  }
  if (!json.is_object() || !json.contains("subjects") || !json["subjects"].is_array()) {
    throw InvalidInput(json_path + ": not a phantom cohort file (no \"subjects\" array)");
  }
  std::vector<FemurParameters> result;
  for (size_t i = 0; i < json["subjects"].size(); ++i) {
    const nlohmann::json& subject = json["subjects"][i];
    const std::string what = json_path + ": subject " + std::to_string(i);
    if (!subject.is_object() || !subject.contains("parameters") ||
        !subject["parameters"].is_object()) {
      throw InvalidInput(what + " has no \"parameters\" object");
    }
    std::map<std::string, double> values;
    for (const auto& [name, value] : subject["parameters"].items()) {
      if (!value.is_number())
        throw InvalidInput(what + ": parameter '" + name + "' is not a number");
      values[name] = value.get<double>();
    }
    const std::string side = subject.value("side", "right");
    if (side != "right" && side != "left")
      throw InvalidInput(what + ": side must be \"right\" or \"left\"");
    result.push_back(FemurParametersFromNamedValues(
        values, side == "left" ? BodySide::kLeft : BodySide::kRight, what));
  }
  return result;
}

}  // namespace ssmx::ssm
