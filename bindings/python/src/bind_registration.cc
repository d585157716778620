// ssmx.registration: the shared Pose type and rigid CT-to-X-ray registration
// (docs/rigid_registration.md). The biplanar shape-model fit binds itself in
// bind_fit.cc.
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include <sstream>

#include "bindings.h"
#include "callbacks.h"
#include "holders.h"
#include "ssmx/core/error.h"
#include "ssmx/drr/sidecar.h"
#include "ssmx/registration/pose.h"
#include "ssmx/registration/rigid_registration.h"

namespace ssmx::python {
namespace {

using namespace pybind11::literals;
using registration::Pose;

std::string PoseRepr(const Pose& pose) {
  std::ostringstream out;
  const Eigen::AngleAxisd aa(pose.RotationMatrix());
  out << "Pose(rotation_angle_deg=" << aa.angle() * 180.0 / 3.14159265358979323846
      << ", translation=[" << pose.translation.x() << ", " << pose.translation.y() << ", "
      << pose.translation.z() << "], scale=" << pose.scale << ", center=[" << pose.center.x()
      << ", " << pose.center.y() << ", " << pose.center.z() << "])";
  return out.str();
}

}  // namespace

void BindRegistration(py::module_& m) {
  // ---- Pose -----------------------------------------------------------------
  py::class_<Pose>(m, "Pose", R"doc(
A similarity transform from an object's frame (a CT's LPS mm, a model's frame)
into the world of the views: world = scale * R (x - center) + center + translation.
rotation: (3,) angle-axis vector in radians (|rotation| = angle); translation,
center: (3,) mm. matrix (4, 4) is world_from_object.)doc")
      .def(py::init([](const Eigen::Vector3d& rotation, const Eigen::Vector3d& translation,
                       double scale, const Eigen::Vector3d& center) {
             Pose p;
             p.rotation = rotation;
             p.translation = translation;
             p.scale = scale;
             p.center = center;
             return p;
           }),
           "rotation"_a = Eigen::Vector3d::Zero(), "translation"_a = Eigen::Vector3d::Zero(),
           "scale"_a = 1.0, "center"_a = Eigen::Vector3d::Zero())
      .def_readwrite("rotation", &Pose::rotation, "(3,) angle-axis vector, radians")
      .def_readwrite("translation", &Pose::translation, "(3,) mm")
      .def_readwrite("scale", &Pose::scale)
      .def_readwrite("center", &Pose::center, "(3,) mm, the rotation centre")
      .def_property_readonly("rotation_matrix", &Pose::RotationMatrix, "(3, 3) R")
      .def_property_readonly("matrix", &Pose::Matrix, "(4, 4) world_from_object")
      .def(
          "apply",
          [](const Pose& pose, const Eigen::MatrixX3d& points) { return pose.Apply(points); },
          "points"_a, "The (n, 3) points moved by the pose, (n, 3).")
      .def_static("from_matrix", &Pose::FromMatrix, "world_from_object"_a,
                  "center"_a = Eigen::Vector3d::Zero(), "what"_a = "pose",
                  "The pose whose matrix is the (4, 4) similarity `world_from_object`, about "
                  "`center`; raises InvalidInput for a matrix that is not a similarity.")
      .def("recentered", &registration::Recentered, "center"_a,
           "The same transform about another centre (matrix unchanged).")
      .def("to_json", &registration::PoseToJson, "extra_json"_a = "{}",
           "pose.json text (format ssmx-pose), with the members of `extra_json` added.")
      .def_static("from_json", &registration::PoseFromJson, "text"_a, "what"_a = "pose",
                  "Parses pose.json text; the matrix is authoritative.")
      .def("__repr__", &PoseRepr);
  m.def("write_pose", &registration::WritePose, "pose"_a, "path"_a, "extra_json"_a = "{}",
        "Writes pose.json atomically.");
  m.def("read_pose", &registration::ReadPose, "path"_a,
        "Reads pose.json (IoError when missing, InvalidInput when malformed).");
  m.def("mean_target_registration_error", &registration::MeanTargetRegistrationError, "estimated"_a,
        "truth"_a, "targets"_a,
        "Mean over the (n, 3) object-frame targets of |estimated(x) - truth(x)| in mm.");

  // ---- Rigid registration ---------------------------------------------------
  py::class_<registration::RegistrationView>(m, "RegistrationView", R"doc(
One X-ray view prepared for registration: its line-integral Image2D and its
ProjectionGeometry. Made by prepare_view().)doc")
      .def_property_readonly(
          "line_integral", [](const registration::RegistrationView& v) { return v.line_integral; },
          "Image2D")
      .def_readonly("geometry", &registration::RegistrationView::geometry, "ProjectionGeometry")
      .def_readonly("name", &registration::RegistrationView::name, "names the view in errors");
  m.def(
      "prepare_view",
      [](const Image2D& image, const drr::ProjectionGeometry& geometry, std::optional<double> i0,
         const std::string& what) {
        drr::XrayImage xray;
        xray.image = image;
        xray.sidecar.geometry = geometry;
        xray.sidecar.i0 = i0;
        return registration::PrepareView(xray, what);
      },
      "image"_a, "geometry"_a, "i0"_a = py::none(), "what"_a = "view", R"doc(
Checks an X-ray Image2D against its geometry and returns a RegistrationView.
Intensities become -log(I / i0) (i0 default: the image maximum; NCC and GC do
not depend on it). Raises InvalidInput for a mask, a size that disagrees with
the geometry, non-finite pixels or an image without contrast; `what` names the
view in the message. For a file: prepare_view(x.image, x.sidecar.geometry,
x.sidecar.i0, path) with x = ssmx.drr.read_xray_image(path).)doc");

  py::class_<registration::RigidRegistrationLevelSummary>(m, "RigidRegistrationLevelSummary")
      .def_property_readonly("detector_binning",
                             [](const registration::RigidRegistrationLevelSummary& s) {
                               return s.level.detector_binning;
                             })
      .def_property_readonly("volume_shrink",
                             [](const registration::RigidRegistrationLevelSummary& s) {
                               return s.level.volume_shrink;
                             })
      .def_readonly("iterations", &registration::RigidRegistrationLevelSummary::iterations)
      .def_readonly("initial_score", &registration::RigidRegistrationLevelSummary::initial_score)
      .def_readonly("final_score", &registration::RigidRegistrationLevelSummary::final_score)
      .def_readonly("seconds", &registration::RigidRegistrationLevelSummary::seconds)
      .def_readonly("mtre_mm", &registration::RigidRegistrationLevelSummary::mtre_mm);
  py::class_<registration::RigidRegistrationSummary>(m, "RigidRegistrationSummary", R"doc(
The result of register_rigid: the pose (world_from_ct about the CT centre),
scores (mean similarity over the views, finest level), iterations, DRRs
computed, seconds, per-level summaries and, with a truth, the mTRE in mm.)doc")
      .def_readonly("pose", &registration::RigidRegistrationSummary::pose)
      .def_property_readonly("similarity",
                             [](const registration::RigidRegistrationSummary& s) {
                               return std::string(registration::SimilarityName(s.similarity));
                             })
      .def_readonly("initial_score", &registration::RigidRegistrationSummary::initial_score)
      .def_readonly("final_score", &registration::RigidRegistrationSummary::final_score)
      .def_readonly("view_scores", &registration::RigidRegistrationSummary::view_scores)
      .def_readonly("iterations", &registration::RigidRegistrationSummary::iterations)
      .def_readonly("drr_count", &registration::RigidRegistrationSummary::drr_count)
      .def_readonly("seconds", &registration::RigidRegistrationSummary::seconds)
      .def_readonly("levels", &registration::RigidRegistrationSummary::levels)
      .def_readonly("initial_mtre_mm", &registration::RigidRegistrationSummary::initial_mtre_mm)
      .def_readonly("final_mtre_mm", &registration::RigidRegistrationSummary::final_mtre_mm)
      .def("brief_report", &registration::RigidRegistrationSummary::BriefReport)
      .def("__repr__", &registration::RigidRegistrationSummary::BriefReport);

  const registration::RigidRegistrationOptions options0;
  std::vector<std::pair<int, int>> levels0;
  for (const auto& level : options0.levels) {
    levels0.emplace_back(level.detector_binning, level.volume_shrink);
  }
  m.def(
      "register_rigid",
      [](const drr::PreparedVolume& volume,
         const std::vector<registration::RegistrationView>& views, std::optional<Pose> initial,
         const std::string& similarity, const std::vector<std::pair<int, int>>& levels,
         int max_iterations_per_level, double step_pixels, bool central_differences,
         const std::string& projector, int threads, std::optional<Pose> true_pose,
         std::optional<Eigen::MatrixX3d> targets, const drr::PreparedVolume* background,
         std::optional<Pose> background_pose, double roi_margin_mm, py::object progress) {
        registration::RigidRegistrationOptions options;
        options.similarity = registration::ParseSimilarity(similarity);
        options.levels.clear();
        for (const auto& [binning, shrink] : levels) options.levels.push_back({binning, shrink});
        options.max_iterations_per_level = max_iterations_per_level;
        options.step_pixels = step_pixels;
        options.central_differences = central_differences;
        options.projection.projector = drr::ParseProjectorKind(projector);
        options.projection.threads = threads;
        options.roi_margin_mm = roi_margin_mm;
        Pose start;
        start.center = registration::VolumeCenter(volume);
        if (initial) start = registration::Recentered(*initial, start.center);
        if (background) {
          options.background = background;
          options.background_pose = background_pose.value_or(start);
        }
        std::optional<registration::RegistrationTruth> truth;
        if (true_pose) {
          if (!targets) {
            throw InvalidInput(
                "register_rigid: true_pose needs targets, e.g. target_points(volume, mu)");
          }
          truth = registration::RegistrationTruth{*true_pose, *targets};
        }
        GilFreeCall call;
        options.progress = call.Progress(progress);
        return call.Run(
            [&] { return registration::RegisterRigid(volume, views, start, options, truth); });
      },
      "volume"_a, "views"_a, "initial"_a = py::none(), py::kw_only(),
      "similarity"_a = registration::SimilarityName(options0.similarity), "levels"_a = levels0,
      "max_iterations_per_level"_a = options0.max_iterations_per_level,
      "step_pixels"_a = options0.step_pixels,
      "central_differences"_a = options0.central_differences,
      "projector"_a = drr::ProjectorKindName(options0.projection.projector),
      "threads"_a = options0.projection.threads, "true_pose"_a = py::none(),
      "targets"_a = py::none(), "background"_a = py::none(), "background_pose"_a = py::none(),
      "roi_margin_mm"_a = options0.roi_margin_mm, "progress"_a = py::none(), R"doc(
Rigid 2D/3D registration of a PreparedVolume (a CT, or one bone of it from
PreparedVolume.from_hounsfield_masked) to a list of RegistrationView.
initial: start Pose (scale 1; re-expressed about the volume centre; default the
identity). similarity: "ncc" (default) or "gc" (gradient correlation), summed
over the views. levels: coarse to fine (detector binning, volume shrink) pairs.
Levenberg-Marquardt (Ceres) on finite-difference DRR derivatives with steps of
step_pixels detector pixels at the centre. With true_pose and targets ((n, 3)
CT-frame points), the mTRE is reported. background: a PreparedVolume drawn
behind the volume at background_pose (default: the start pose), e.g.
volume_outside_mask(ct, mask) at the whole CT's registered pose when
registering one bone. roi_margin_mm >= 0 compares only the pixels within that
distance of the volume's footprint. Releases the GIL; progress(fraction,
stage) may return False to cancel. Returns a RigidRegistrationSummary.)doc");

  m.def(
      "project_posed",
      [](const drr::PreparedVolume& volume, const Pose& pose,
         const drr::ProjectionGeometry& geometry, const std::string& projector, int threads) {
        drr::ProjectionOptions options;
        options.projector = drr::ParseProjectorKind(projector);
        options.threads = threads;
        return WithoutGil(
            [&] { return registration::ProjectPosed(volume, pose, geometry, options); });
      },
      "volume"_a, "pose"_a, "geometry"_a, py::kw_only(), "projector"_a = "exact", "threads"_a = 0,
      "The line-integral DRR of the volume moved by `pose`: the projection with "
      "geometry.matrix @ pose.matrix.");
  m.def(
      "image_similarity",
      [](const Image2D& a, const Image2D& b, const std::string& similarity) {
        return registration::ImageSimilarity(a, b, registration::ParseSimilarity(similarity));
      },
      "a"_a, "b"_a, "similarity"_a = "ncc",
      "NCC (\"ncc\") or gradient correlation (\"gc\") of two same-size images; 0 without "
      "contrast.");
  m.def("volume_outside_mask", &registration::VolumeOutsideMask, "ct"_a, "mask"_a,
        "mu_water_per_mm"_a = drr::kDefaultMuWaterPerMm,
        "The PreparedVolume of the CT (HU) outside `mask`: the background for one bone.");
  m.def("volume_center", &registration::VolumeCenter, "volume"_a,
        "(3,) LPS centre of the volume's non-zero voxel box: the default pose centre.");
  m.def("target_points", &registration::TargetPoints, "volume"_a, "min_mu_per_mm"_a,
        "max_points"_a = 20000,
        "(n, 3) centres of the voxels with mu >= min_mu_per_mm, thinned to at most max_points: "
        "mTRE targets.");
  m.def("move_volume", &registration::MoveVolume, "volume"_a, "pose"_a,
        "The Volume moved by a rigid pose through its header (origin and direction).");
  m.def("perturb_pose", &registration::PerturbPose, "pose"_a, "translation_mm"_a, "rotation_rad"_a,
        "seed"_a,
        "`pose` moved by exactly translation_mm along and rotation_rad about random (seeded) "
        "directions.");
  m.def("binned_geometry", &registration::BinnedGeometry, "geometry"_a, "binning"_a,
        "The ProjectionGeometry of the detector binned by `binning` (docs/geometry.md).");
  m.def("shrink_volume", &registration::ShrinkVolume, "volume"_a, "shrink"_a,
        "The PreparedVolume averaged over shrink^3 voxel blocks (a coarse level's volume).");
  m.def("bin_image", &registration::BinImage, "image"_a, "binning"_a,
        "The Image2D averaged over binning x binning blocks.");
}

}  // namespace ssmx::python
