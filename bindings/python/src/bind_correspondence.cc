// ssmx.ssm: ICP without known correspondence and dense correspondence by
// non-rigid template registration (optimal-step non-rigid ICP).
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bindings.h"
#include "callbacks.h"
#include "holders.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/correspondence.h"
#include "ssmx/ssm/icp.h"
#include "ssmx/ssm/shape_model.h"

namespace ssmx::python {
namespace {

using namespace pybind11::literals;

// Pairs the names both dictionaries hold ({name: (x, y, z)} in LPS mm).
std::vector<ssm::CorrespondenceLandmark> PairLandmarks(
    const std::map<std::string, Eigen::Vector3d>& reference,
    const std::map<std::string, Eigen::Vector3d>& target) {
  std::vector<ssm::CorrespondenceLandmark> pairs;
  for (const auto& [name, p] : reference) {
    const auto it = target.find(name);
    if (it != target.end()) pairs.push_back({name, p, it->second});
  }
  if (pairs.empty() && !(reference.empty() && target.empty())) {
    throw InvalidInput(
        "correspond: reference_landmarks and target_landmarks share no name; name the same "
        "points in both");
  }
  return pairs;
}

}  // namespace

void BindCorrespondence(py::module_& m) {
  py::class_<ssm::IcpSummary>(m, "IcpSummary", "Result of icp().")
      .def_readonly("target_from_source", &ssm::IcpSummary::target_from_source)
      .def_readonly("iterations", &ssm::IcpSummary::iterations)
      .def_readonly("converged", &ssm::IcpSummary::converged)
      .def_readonly("points", &ssm::IcpSummary::points)
      .def_readonly("pairs_kept", &ssm::IcpSummary::pairs_kept)
      .def_readonly("rms_kept_mm", &ssm::IcpSummary::rms_kept_mm)
      .def_readonly("mean_mm", &ssm::IcpSummary::mean_mm)
      .def_readonly("seconds", &ssm::IcpSummary::seconds)
      .def("brief_report", &ssm::IcpSummary::BriefReport)
      .def("__repr__", &ssm::IcpSummary::BriefReport);
  m.def(
      "centroid_alignment",
      [](const TriangleMesh& source, const TriangleMesh& target, const std::string& kind) {
        return WithoutGil([&] {
          return ssm::CentroidAlignment(source, target, ssm::ParseAlignmentKind(kind, "kind"));
        });
      },
      "source"_a, "target"_a, "kind"_a = "rigid",
      "The start for icp(): centroids matched, no rotation; 'similarity' also equalises the "
      "RMS radii.");
  const ssm::IcpOptions icp0;
  m.def(
      "icp",
      [](const TriangleMesh& source, const TriangleMesh& target,
         std::optional<ssm::SimilarityTransform> initial, const std::string& kind,
         double trim_fraction, int max_iterations, double tolerance_mm, int max_points) {
        ssm::IcpOptions options;
        options.kind = ssm::ParseAlignmentKind(kind, "kind");
        options.trim_fraction = trim_fraction;
        options.max_iterations = max_iterations;
        options.tolerance_mm = tolerance_mm;
        options.max_points = max_points;
        return WithoutGil([&] {
          const ssm::SimilarityTransform start =
              initial ? *initial : ssm::CentroidAlignment(source, target, options.kind);
          return ssm::IterativeClosestPoint(source, target, start, options);
        });
      },
      "source"_a, "target"_a, py::kw_only(), "initial"_a = py::none(), "kind"_a = "rigid",
      "trim_fraction"_a = icp0.trim_fraction, "max_iterations"_a = icp0.max_iterations,
      "tolerance_mm"_a = icp0.tolerance_mm, "max_points"_a = icp0.max_points, R"doc(
Trimmed point-to-plane ICP of source onto target (no correspondence needed):
kind 'rigid' or 'similarity'; initial defaults to centroid_alignment. The
worst trim_fraction of the pairs is rejected each iteration. Returns an
IcpSummary whose target_from_source maps source points onto the target.)doc");

  py::class_<ssm::CorrespondenceSummary>(m, "CorrespondenceSummary", "Result of correspond().")
      .def_readonly("mesh", &ssm::CorrespondenceSummary::mesh,
                    "the reference's faces with vertices on the target")
      .def_readonly("initial", &ssm::CorrespondenceSummary::initial,
                    "target_from_reference of the rigid/similarity start")
      .def_readonly("initial_from_landmarks", &ssm::CorrespondenceSummary::initial_from_landmarks)
      .def_readonly("icp", &ssm::CorrespondenceSummary::icp)
      .def_readonly("stages", &ssm::CorrespondenceSummary::stages)
      .def_readonly("iterations", &ssm::CorrespondenceSummary::iterations)
      .def_readonly("solve_vertices", &ssm::CorrespondenceSummary::solve_vertices)
      .def_readonly("flipped_faces", &ssm::CorrespondenceSummary::flipped_faces)
      .def_readonly("limited_vertices", &ssm::CorrespondenceSummary::limited_vertices)
      .def_readonly("unprojected_vertices", &ssm::CorrespondenceSummary::unprojected_vertices)
      .def_readonly("max_vertex_distance_mm", &ssm::CorrespondenceSummary::max_vertex_distance_mm)
      .def_readonly("mean_distance_mm", &ssm::CorrespondenceSummary::mean_distance_mm)
      .def_readonly("rms_distance_mm", &ssm::CorrespondenceSummary::rms_distance_mm)
      .def_readonly("hausdorff_mm", &ssm::CorrespondenceSummary::hausdorff_mm)
      .def_readonly("landmark_mean_error_mm", &ssm::CorrespondenceSummary::landmark_mean_error_mm)
      .def_readonly("model_coefficients", &ssm::CorrespondenceSummary::model_coefficients,
                    "correspond_with_model: the fitted standardised coefficients (K,)")
      .def_readonly("model_mahalanobis", &ssm::CorrespondenceSummary::model_mahalanobis)
      .def_readonly("model_fit_mean_mm", &ssm::CorrespondenceSummary::model_fit_mean_mm,
                    "correspond_with_model: mean distance of the fitted instance to the target")
      .def_readonly("model_fit_stages", &ssm::CorrespondenceSummary::model_fit_stages)
      .def_readonly("model_fit_iterations", &ssm::CorrespondenceSummary::model_fit_iterations)
      .def_readonly("seconds", &ssm::CorrespondenceSummary::seconds)
      .def("brief_report", &ssm::CorrespondenceSummary::BriefReport)
      .def("__repr__", &ssm::CorrespondenceSummary::BriefReport);
  const ssm::CorrespondenceOptions c0;
  m.def(
      "correspond",
      [](const TriangleMesh& reference, const TriangleMesh& target,
         const std::map<std::string, Eigen::Vector3d>& reference_landmarks,
         const std::map<std::string, Eigen::Vector3d>& target_landmarks,
         const std::string& alignment, std::optional<std::vector<double>> stiffness,
         int max_iterations_per_stage, double landmark_weight, bool project_to_surface,
         int max_solve_vertices, double trim_fraction, double tangential_weight,
         double sliding_stiffness, py::handle progress) {
        GilFreeCall call;
        ssm::CorrespondenceOptions options;
        options.alignment = ssm::ParseAlignmentKind(alignment, "alignment");
        if (stiffness) options.stiffness = *stiffness;
        options.max_iterations_per_stage = max_iterations_per_stage;
        options.landmark_weight = landmark_weight;
        options.project_to_surface = project_to_surface;
        options.max_solve_vertices = max_solve_vertices;
        options.icp.trim_fraction = trim_fraction;
        options.tangential_weight = tangential_weight;
        options.sliding_stiffness = sliding_stiffness;
        options.progress = call.Progress(progress);
        const auto landmarks = PairLandmarks(reference_landmarks, target_landmarks);
        return call.Run(
            [&] { return ssm::RegisterTemplate(reference, target, landmarks, options); });
      },
      "reference"_a, "target"_a, py::kw_only(),
      "reference_landmarks"_a = std::map<std::string, Eigen::Vector3d>(),
      "target_landmarks"_a = std::map<std::string, Eigen::Vector3d>(), "alignment"_a = "similarity",
      "stiffness"_a = py::none(), "max_iterations_per_stage"_a = c0.max_iterations_per_stage,
      "landmark_weight"_a = c0.landmark_weight, "project_to_surface"_a = c0.project_to_surface,
      "max_solve_vertices"_a = c0.max_solve_vertices, "trim_fraction"_a = c0.icp.trim_fraction,
      "tangential_weight"_a = c0.tangential_weight, "sliding_stiffness"_a = c0.sliding_stiffness,
      "progress"_a = py::none(), R"doc(
Dense correspondence: the reference mesh deformed onto the target surface by
optimal-step non-rigid ICP (Amberg et al. 2007) after a similarity (or rigid)
ICP start, or Umeyama on >= 3 landmarks ({name: (x, y, z)} in both dicts; the
shared names are used). No face flips (a guard shortens folding steps). The
result's mesh has the reference's faces and vertex count. The closest-point
term is point-to-plane plus tangential_weight times point-to-point (1: plain
point-to-point), the tangential weight growing below sliding_stiffness. See
docs/correspondence.md.)doc");
  const ssm::ModelCorrespondenceOptions mc0;
  m.def(
      "correspond_with_model",
      [](const ssm::ShapeModel& model, const TriangleMesh& target,
         const std::map<std::string, Eigen::Vector3d>& reference_landmarks,
         const std::map<std::string, Eigen::Vector3d>& target_landmarks, const std::string& pose,
         std::optional<std::vector<double>> noise_mm,
         int max_iterations_per_stage, double tangential_weight, double landmark_noise_mm,
         bool refine_surface, std::optional<std::vector<double>> refine_stiffness,
         bool project_to_surface, double trim_fraction, py::handle progress) {
        GilFreeCall call;
        ssm::ModelCorrespondenceOptions options;
        if (pose != "auto") options.pose = ssm::ParseAlignmentKind(pose, "pose");
        if (noise_mm) options.noise_mm = *noise_mm;
        options.max_iterations_per_stage = max_iterations_per_stage;
        options.tangential_weight = tangential_weight;
        options.landmark_noise_mm = landmark_noise_mm;
        options.refine_surface = refine_surface;
        if (refine_stiffness) options.refine.stiffness = *refine_stiffness;
        options.refine.project_to_surface = project_to_surface;
        options.icp.trim_fraction = trim_fraction;
        options.progress = call.Progress(progress);
        const auto landmarks = PairLandmarks(reference_landmarks, target_landmarks);
        return call.Run([&] { return ssm::RegisterModel(model, target, landmarks, options); });
      },
      "model"_a, "target"_a, py::kw_only(),
      "reference_landmarks"_a = std::map<std::string, Eigen::Vector3d>(),
      "target_landmarks"_a = std::map<std::string, Eigen::Vector3d>(), "pose"_a = "auto",
      "noise_mm"_a = py::none(), "max_iterations_per_stage"_a = mc0.max_iterations_per_stage,
      "tangential_weight"_a = mc0.tangential_weight,
      "landmark_noise_mm"_a = mc0.landmark_noise_mm, "refine_surface"_a = mc0.refine_surface,
      "refine_stiffness"_a = py::none(), "project_to_surface"_a = mc0.refine.project_to_surface,
      "trim_fraction"_a = mc0.icp.trim_fraction, "progress"_a = py::none(), R"doc(
Model-based correspondence: the shape model (a ShapeModel, e.g. from
read_statismo_model) is fitted to the target surface (posterior mean given
closest-point observations, noise annealed through noise_mm; pose 'rigid',
'similarity' or 'auto': similarity when the model was built with similarity
alignment, else rigid), then refined onto the surface by point-to-point non-rigid ICP
(refine_stiffness) and projected. Vertex i of the result is what the model
calls vertex i; the result has the model's faces. reference_landmarks lie on
the model mean. Returns a CorrespondenceSummary with model_coefficients and
model_fit_mean_mm. See docs/correspondence.md.)doc");
  m.def(
      "count_flipped_faces",
      [](const TriangleMesh& reference, const TriangleMesh& mesh, const Eigen::Matrix3d& rotation) {
        return WithoutGil([&] { return ssm::CountFlippedFaces(reference, mesh, rotation); });
      },
      "reference"_a, "mesh"_a, "rotation"_a = Eigen::Matrix3d::Identity(),
      "Faces of mesh whose normal turned by >= 90 degrees against the same face of reference "
      "rotated by rotation.");
}

}  // namespace ssmx::python
