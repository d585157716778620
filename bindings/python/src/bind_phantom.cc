// ssmx.ssm: the parametric phantom femur, its cohort and its synthetic CT.
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include <memory>

#include "arrays.h"
#include "bindings.h"
#include "callbacks.h"
#include "holders.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/phantom.h"

namespace ssmx::python {
namespace {

using namespace pybind11::literals;

ssm::BodySide ParseSide(const std::string& name) {
  if (name == "right") return ssm::BodySide::kRight;
  if (name == "left") return ssm::BodySide::kLeft;
  throw InvalidInput("side \"" + name + "\": expected right or left");
}

ssm::CohortSides ParseCohortSides(const std::string& name) {
  if (name == "right") return ssm::CohortSides::kRight;
  if (name == "left") return ssm::CohortSides::kLeft;
  if (name == "alternate") return ssm::CohortSides::kAlternate;
  throw InvalidInput("sides \"" + name + "\": expected right, left or alternate");
}

const char* CohortSidesName(ssm::CohortSides sides) {
  switch (sides) {
    case ssm::CohortSides::kRight: return "right";
    case ssm::CohortSides::kLeft: return "left";
    case ssm::CohortSides::kAlternate: return "alternate";
  }
  return "right";
}

void RequireValid(const std::string& problem, const char* what) {
  if (!problem.empty()) throw InvalidInput(std::string(what) + ": " + problem);
}

// ssmx.ssm.FemurTemplate: the C++ template, immutable and shared; Python sees
// read-only views of its arrays, held by this object.
struct Template {
  std::shared_ptr<const ssm::FemurTemplate> cpp;
};

template <typename T>
py::array ReadOnlyIntView(const std::vector<T>& values, py::handle owner) {
  return ViewOf(values.data(), {static_cast<py::ssize_t>(values.size())}, owner, true);
}

}  // namespace

void BindPhantom(py::module_& m) {
  // ---- Parameters -----------------------------------------------------------
  py::class_<ssm::FemurParameters>(m, "FemurParameters", R"doc(
The true parameters of one phantom femur (docs/phantom.md). Lengths in mm,
angles in radians (femur_parameters_to_named_values gives degrees).)doc")
      .def(py::init([](const std::string& side) {
             ssm::FemurParameters p;
             p.side = ParseSide(side);
             return p;
           }),
           "side"_a = "right", "The defaults (a typical right femur); set fields to change it.")
      .def_readwrite("length_mm", &ssm::FemurParameters::length_mm)
      .def_readwrite("neck_shaft_angle", &ssm::FemurParameters::neck_shaft_angle, "radians")
      .def_readwrite("anteversion", &ssm::FemurParameters::anteversion, "radians")
      .def_readwrite("head_radius_mm", &ssm::FemurParameters::head_radius_mm)
      .def_readwrite("neck_length_mm", &ssm::FemurParameters::neck_length_mm)
      .def_readwrite("bow_radius_mm", &ssm::FemurParameters::bow_radius_mm,
                     ">= 1e8: straight shaft")
      .def_readwrite("condylar_width_mm", &ssm::FemurParameters::condylar_width_mm)
      .def_readwrite("shaft_diameter_mm", &ssm::FemurParameters::shaft_diameter_mm)
      .def_readwrite("bicondylar_angle", &ssm::FemurParameters::bicondylar_angle, "radians")
      .def_readwrite("cortical_thickness_mm", &ssm::FemurParameters::cortical_thickness_mm)
      .def_readwrite("cortical_hu", &ssm::FemurParameters::cortical_hu)
      .def_readwrite("trabecular_hu", &ssm::FemurParameters::trabecular_hu)
      .def_property(
          "side", [](const ssm::FemurParameters& p) { return ssm::BodySideName(p.side); },
          [](ssm::FemurParameters& p, const std::string& side) { p.side = ParseSide(side); },
          "\"right\" or \"left\"")
      .def("validate", &ssm::FemurParameters::Validate, "Empty when valid, else what is wrong.")
      .def("__repr__", [](const ssm::FemurParameters& p) {
        std::string out = std::string("FemurParameters(side=") + ssm::BodySideName(p.side);
        for (const auto& [name, value] : ssm::FemurParametersToNamedValues(p)) {
          out += ", " + name + "=" + std::to_string(value);
        }
        return out + ")";
      });
  py::class_<ssm::FemurParameterMode>(m, "FemurParameterMode",
                                      "One varying parameter of the cohort, in edge units.")
      .def_readonly("name", &ssm::FemurParameterMode::name, "e.g. \"neck_shaft_angle_deg\"")
      .def_readonly("mean", &ssm::FemurParameterMode::mean)
      .def_readonly("sd", &ssm::FemurParameterMode::sd)
      .def_readonly("min", &ssm::FemurParameterMode::min)
      .def_readonly("max", &ssm::FemurParameterMode::max)
      .def_readonly("source", &ssm::FemurParameterMode::source, "literature source");
  m.def("femur_parameter_modes", &ssm::FemurParameterModes,
        "The varying parameters in sampling order (list of FemurParameterMode).");
  m.def(
      "mean_femur_parameters",
      [](const std::string& side) { return ssm::MeanFemurParameters(ParseSide(side)); },
      "side"_a = "right", "The mean of every mode.");
  m.def("femur_parameters_to_named_values", &ssm::FemurParametersToNamedValues, "parameters"_a,
        "{name: value} in edge units (degrees for angles), as in cohort.json.");
  m.def(
      "femur_parameters_from_named_values",
      [](const std::map<std::string, double>& values, const std::string& side,
         const std::string& what) {
        return ssm::FemurParametersFromNamedValues(values, ParseSide(side), what);
      },
      "values"_a, "side"_a = "right", "what"_a = "parameters",
      "FemurParameters from {name: value} in edge units; raises InvalidInput naming a missing, "
      "unknown or invalid value.");
  m.def(
      "sample_femur_parameters",
      [](int n, uint64_t seed, const std::string& sides) {
        return ssm::SampleFemurParameters(n, seed, ParseCohortSides(sides));
      },
      "n"_a, "seed"_a, "sides"_a = "right",
      "n subjects, every mode normal(mean, sd) truncated to [min, max]; byte-reproducible for a "
      "seed. sides: \"right\", \"left\" or \"alternate\".");

  // ---- The implicit femur ---------------------------------------------------
  py::class_<ssm::PhantomFemur::Interior>(m, "FemurInterior",
                                          "Tissue classes at a point (PhantomFemur.interior_at).")
      .def_readonly("cortical_thickness_mm", &ssm::PhantomFemur::Interior::cortical_thickness_mm)
      .def_readonly("trabecular_fraction", &ssm::PhantomFemur::Interior::trabecular_fraction);
  py::class_<ssm::PhantomFemur>(m, "PhantomFemur", R"doc(
The implicit (signed-distance) femur of one subject, placed in LPS mm in
standing position (docs/phantom.md). Immutable; methods release the GIL.
Point arguments are one (3,) point or an (N, 3) float64 array, mm.)doc")
      .def(py::init<const ssm::FemurParameters&>(), py::call_guard<py::gil_scoped_release>(),
           "parameters"_a)
      .def_property_readonly("parameters", &ssm::PhantomFemur::parameters)
      .def(
          "signed_distance",
          [](const ssm::PhantomFemur& femur, py::handle points) {
            return MapPoints<1>(RequirePoints(points, "points_mm"), [&](const Eigen::Vector3d& p) {
              return Eigen::Matrix<double, 1, 1>(femur.SignedDistance(p));
            });
          },
          "points_mm"_a, "Signed distance to the bone surface, mm, negative inside: float or (N,).")
      .def(
          "gradient",
          [](const ssm::PhantomFemur& femur, py::handle points, double h) {
            return MapPoints<3>(RequirePoints(points, "points_mm"),
                                [&](const Eigen::Vector3d& p) { return femur.Gradient(p, h); });
          },
          "points_mm"_a, "h"_a = 0.05, "Central-difference gradient (step h mm): (3,) or (N, 3).")
      .def("bounds", &ssm::PhantomFemur::bounds, "A Bounds3d that contains the bone, mm.")
      .def("world_from_femur", &ssm::PhantomFemur::WorldFromFemur,
           "(4, 4) femur frame -> LPS (with the x mirror for a left femur).")
      .def("landmarks", &ssm::PhantomFemur::Landmarks,
           "{name: (3,) LPS mm}: femoral_head_center, greater_trochanter_tip, knee_center, ...")
      .def("derived_measures", &ssm::PhantomFemur::DerivedMeasures,
           "{name: value} in mm and degrees (offset, bow sagitta, ...).")
      .def(
          "map_from_mean",
          [](const ssm::PhantomFemur& femur, py::handle points) {
            return MapPoints<3>(RequirePoints(points, "points_mm"),
                                [&](const Eigen::Vector3d& p) { return femur.MapFromMean(p); });
          },
          "points_mm"_a,
          "Maps points of the mean right femur to the corresponding points of this femur, mm.")
      .def(
          "project_to_surface",
          [](const ssm::PhantomFemur& femur, py::handle points, int max_iterations) {
            const Points in = RequirePoints(points, "points_mm");
            const py::ssize_t n = in.count();
            py::array_t<double> projected(std::vector<py::ssize_t>{n, 3});
            py::array_t<double> moved(std::vector<py::ssize_t>{n});
            double* q_out = projected.mutable_data();
            double* d_out = moved.mutable_data();
            {
              py::gil_scoped_release release;
              for (py::ssize_t i = 0; i < n; ++i) {
                Eigen::Vector3d q = Eigen::Map<const Eigen::Vector3d>(in.row(i));
                d_out[i] = femur.ProjectToSurface(&q, max_iterations);
                Eigen::Map<Eigen::Vector3d>(q_out + 3 * i) = q;
              }
            }
            if (in.single) {
              return py::make_tuple(projected.reshape({3}), py::float_(d_out[0]));
            }
            return py::make_tuple(projected, moved);
          },
          "points_mm"_a, "max_iterations"_a = 8,
          "Newton steps onto the surface: (projected points (3,) or (N, 3), distance moved mm).")
      .def("interior_at", &ssm::PhantomFemur::InteriorAt, "point_mm"_a,
           "FemurInterior (cortical thickness, trabecular fraction) at one point.");

  // ---- Meshing --------------------------------------------------------------
  py::class_<ssm::PhantomMeshOptions>(m, "PhantomMeshOptions", "How phantom femurs are meshed.")
      .def(py::init([](double spacing_mm, int target_faces, int snap_iterations) {
             ssm::PhantomMeshOptions o;
             o.spacing_mm = spacing_mm;
             o.target_faces = target_faces;
             o.snap_iterations = snap_iterations;
             return o;
           }),
           "spacing_mm"_a = ssm::PhantomMeshOptions{}.spacing_mm,
           "target_faces"_a = ssm::PhantomMeshOptions{}.target_faces,
           "snap_iterations"_a = ssm::PhantomMeshOptions{}.snap_iterations)
      .def_readwrite("spacing_mm", &ssm::PhantomMeshOptions::spacing_mm,
                     "grid of the signed distance, mm")
      .def_readwrite("target_faces", &ssm::PhantomMeshOptions::target_faces,
                     "decimation target (0: none)")
      .def_readwrite("snap_iterations", &ssm::PhantomMeshOptions::snap_iterations,
                     "Newton steps onto the exact surface")
      .def("is_valid", &ssm::PhantomMeshOptions::IsValid, "Empty when valid.");
  py::class_<Template>(m, "FemurTemplate", R"doc(
The shared template: the mean right femur mesh with named landmark vertices,
the head-cap vertices and a part label per vertex. Read-only (its arrays are
views of the C++ template held by this object).)doc")
      .def_property_readonly(
          "mesh",
          [](py::object self) {
            const ssm::FemurTemplate& t = *self.cast<const Template&>().cpp;
            const py::ssize_t nv = t.mesh.num_vertices();
            py::dict scalars;
            return py::cast(Mesh(ViewOf(t.mesh.vertices.data(), {nv, 3}, self, true),
                                 ViewOf(t.mesh.faces.data(), {t.mesh.num_faces(), 3}, self, true),
                                 t.mesh.normals.rows() ? py::object(ViewOf(t.mesh.normals.data(),
                                                                           {nv, 3}, self, true))
                                                       : py::object(py::none()),
                                 scalars));
          },
          "TriangleMesh of the mean right femur (read-only views).")
      .def_property_readonly(
          "landmark_vertices", [](const Template& t) { return t.cpp->landmark_vertices; },
          "{name: vertex index}")
      .def_property_readonly(
          "head_vertices",
          [](py::object self) {
            return ReadOnlyIntView(self.cast<const Template&>().cpp->head_vertices, self);
          },
          "(H,) int32 vertices of the spherical head cap")
      .def_property_readonly(
          "part",
          [](py::object self) {
            return ReadOnlyIntView(self.cast<const Template&>().cpp->part, self);
          },
          "(V,) int32 part per vertex: 0 head, 1 neck, 2 proximal, 3 shaft, 4 distal");
  m.def(
      "make_femur_template",
      [](std::optional<ssm::PhantomMeshOptions> options, py::handle progress) {
        GilFreeCall call;
        ssm::PhantomMeshOptions o = options.value_or(ssm::PhantomMeshOptions{});
        RequireValid(o.IsValid(), "PhantomMeshOptions");
        o.progress = call.Progress(progress);
        return Template{std::make_shared<const ssm::FemurTemplate>(
            call.Run([&] { return ssm::MakeFemurTemplate(o); }))};
      },
      "options"_a = py::none(), py::kw_only(), "progress"_a = py::none(),
      "Meshes the mean right femur into the shared FemurTemplate.");
  m.def(
      "mesh_phantom_femur",
      [](const ssm::PhantomFemur& femur, std::optional<ssm::PhantomMeshOptions> options,
         py::handle progress) {
        GilFreeCall call;
        ssm::PhantomMeshOptions o = options.value_or(ssm::PhantomMeshOptions{});
        RequireValid(o.IsValid(), "PhantomMeshOptions");
        o.progress = call.Progress(progress);
        return call.Run([&] { return ssm::MeshPhantomFemur(femur, o); });
      },
      "femur"_a, "options"_a = py::none(), py::kw_only(), "progress"_a = py::none(),
      "The independently meshed (\"remeshed\") surface of one femur: TriangleMesh, LPS mm.");
  py::class_<ssm::CorrespondenceReport>(m, "CorrespondenceReport",
                                        "How well a corresponding mesh fits the implicit surface.")
      .def_readonly("max_snap_mm", &ssm::CorrespondenceReport::max_snap_mm)
      .def_readonly("mean_snap_mm", &ssm::CorrespondenceReport::mean_snap_mm)
      .def_readonly("max_residual_mm", &ssm::CorrespondenceReport::max_residual_mm)
      .def_readonly("flipped_faces", &ssm::CorrespondenceReport::flipped_faces);
  m.def(
      "corresponding_femur_mesh",
      [](const Template& t, const ssm::PhantomFemur& femur, int snap_iterations) {
        return WithoutGil(
            [&] { return ssm::CorrespondingFemurMesh(*t.cpp, femur, snap_iterations); });
      },
      "template"_a, "femur"_a, "snap_iterations"_a = 8,
      "The template mapped onto `femur`: same vertices and faces as the template, vertex i the "
      "same anatomical point in every subject.");
  m.def(
      "corresponding_femur_mesh_with_report",
      [](const Template& t, const ssm::PhantomFemur& femur, int snap_iterations) {
        ssm::CorrespondenceReport report;
        TriangleMesh mesh = WithoutGil(
            [&] { return ssm::CorrespondingFemurMesh(*t.cpp, femur, snap_iterations, &report); });
        return std::make_pair(std::move(mesh), report);
      },
      "template"_a, "femur"_a, "snap_iterations"_a = 8,
      "corresponding_femur_mesh and its CorrespondenceReport: (mesh, report).");

  // ---- CT -------------------------------------------------------------------
  const ssm::PhantomCtOptions ct;
  py::class_<ssm::PhantomCtOptions>(m, "PhantomCtOptions", R"doc(
How a phantom CT is synthesised: isotropic spacing_mm, air margin_mm (left-right,
anterior-posterior), scan_extension_mm (the scan range beyond both ends of the
bone, filled by the thigh), tissue HU
(air, muscle, fat, marrow), fat layer and thigh margin in mm, seeded Gaussian
noise (noise_sd_hu, noise_seed), partial-volume anti-aliasing, threads (0 =
all cores; the result does not depend on it).)doc")
      .def(py::init([](double spacing_mm, double margin_mm, double air_hu, double muscle_hu,
                       double fat_hu, double marrow_hu, double fat_thickness_mm,
                       double thigh_margin_mm, double noise_sd_hu, uint64_t noise_seed,
                       bool partial_volume, int threads, double scan_extension_mm) {
             ssm::PhantomCtOptions o;
             o.spacing_mm = spacing_mm;
             o.margin_mm = margin_mm;
             o.air_hu = air_hu;
             o.muscle_hu = muscle_hu;
             o.fat_hu = fat_hu;
             o.marrow_hu = marrow_hu;
             o.fat_thickness_mm = fat_thickness_mm;
             o.thigh_margin_mm = thigh_margin_mm;
             o.noise_sd_hu = noise_sd_hu;
             o.noise_seed = noise_seed;
             o.partial_volume = partial_volume;
             o.threads = threads;
             o.scan_extension_mm = scan_extension_mm;
             return o;
           }),
           "spacing_mm"_a = ct.spacing_mm, "margin_mm"_a = ct.margin_mm, "air_hu"_a = ct.air_hu,
           "muscle_hu"_a = ct.muscle_hu, "fat_hu"_a = ct.fat_hu, "marrow_hu"_a = ct.marrow_hu,
           "fat_thickness_mm"_a = ct.fat_thickness_mm, "thigh_margin_mm"_a = ct.thigh_margin_mm,
           "noise_sd_hu"_a = ct.noise_sd_hu, "noise_seed"_a = ct.noise_seed,
           "partial_volume"_a = ct.partial_volume, "threads"_a = ct.threads,
           "scan_extension_mm"_a = ct.scan_extension_mm)
      .def_readwrite("spacing_mm", &ssm::PhantomCtOptions::spacing_mm)
      .def_readwrite("margin_mm", &ssm::PhantomCtOptions::margin_mm)
      .def_readwrite("air_hu", &ssm::PhantomCtOptions::air_hu)
      .def_readwrite("muscle_hu", &ssm::PhantomCtOptions::muscle_hu)
      .def_readwrite("fat_hu", &ssm::PhantomCtOptions::fat_hu)
      .def_readwrite("marrow_hu", &ssm::PhantomCtOptions::marrow_hu)
      .def_readwrite("fat_thickness_mm", &ssm::PhantomCtOptions::fat_thickness_mm)
      .def_readwrite("thigh_margin_mm", &ssm::PhantomCtOptions::thigh_margin_mm)
      .def_readwrite("noise_sd_hu", &ssm::PhantomCtOptions::noise_sd_hu)
      .def_readwrite("noise_seed", &ssm::PhantomCtOptions::noise_seed)
      .def_readwrite("partial_volume", &ssm::PhantomCtOptions::partial_volume)
      .def_readwrite("threads", &ssm::PhantomCtOptions::threads)
      .def_readwrite("scan_extension_mm", &ssm::PhantomCtOptions::scan_extension_mm)
      .def("is_valid", &ssm::PhantomCtOptions::IsValid, "Empty when valid.");
  m.def(
      "synthesize_phantom_ct",
      [](const ssm::PhantomFemur& femur, std::optional<ssm::PhantomCtOptions> options,
         py::handle progress) {
        GilFreeCall call;
        ssm::PhantomCtOptions o = options.value_or(ssm::PhantomCtOptions{});
        RequireValid(o.IsValid(), "PhantomCtOptions");
        o.progress = call.Progress(progress);
        return call.Run([&] { return ssm::SynthesizePhantomCt(femur, o); });
      },
      "femur"_a, "options"_a = py::none(), py::kw_only(), "progress"_a = py::none(),
      "An int16 HU Volume of the femur in a thigh (identity direction, LPS mm).");

  // ---- Cohorts on disk ------------------------------------------------------
  py::class_<ssm::PhantomSubjectSummary>(m, "PhantomSubjectSummary", "One subject written.")
      .def_readonly("id", &ssm::PhantomSubjectSummary::id)
      .def_readonly("parameters", &ssm::PhantomSubjectSummary::parameters)
      .def_readonly("mesh_path", &ssm::PhantomSubjectSummary::mesh_path)
      .def_readonly("remeshed_path", &ssm::PhantomSubjectSummary::remeshed_path)
      .def_readonly("ct_path", &ssm::PhantomSubjectSummary::ct_path)
      .def_readonly("correspondence", &ssm::PhantomSubjectSummary::correspondence)
      .def_readonly("remeshed_mean_distance_mm",
                    &ssm::PhantomSubjectSummary::remeshed_mean_distance_mm,
                    "corresponding vs remeshed, symmetric mean; -1 when not remeshed");
  py::class_<ssm::PhantomCohortSummary>(m, "PhantomCohortSummary",
                                        "What write_phantom_cohort wrote.")
      .def_readonly("json_path", &ssm::PhantomCohortSummary::json_path)
      .def_readonly("template_vertices", &ssm::PhantomCohortSummary::template_vertices)
      .def_readonly("template_faces", &ssm::PhantomCohortSummary::template_faces)
      .def_readonly("subjects", &ssm::PhantomCohortSummary::subjects)
      .def_readonly("seconds", &ssm::PhantomCohortSummary::seconds)
      .def("brief_report", &ssm::PhantomCohortSummary::BriefReport);
  const ssm::PhantomCohortOptions cohort;
  m.def(
      "write_phantom_cohort",
      [](const std::string& out_dir, int n, uint64_t seed, const std::string& sides, bool remeshed,
         bool ct, const std::string& mesh_extension, const std::string& ct_extension,
         std::optional<ssm::PhantomMeshOptions> mesh_options,
         std::optional<ssm::PhantomCtOptions> ct_options, py::handle progress) {
        GilFreeCall call;
        ssm::PhantomCohortOptions o;
        o.n = n;
        o.seed = seed;
        o.sides = ParseCohortSides(sides);
        o.remeshed = remeshed;
        o.ct = ct;
        o.mesh_extension = mesh_extension;
        o.ct_extension = ct_extension;
        if (mesh_options) o.mesh = *mesh_options;
        if (ct_options) o.ct_options = *ct_options;
        RequireValid(o.IsValid(), "write_phantom_cohort");
        o.progress = call.Progress(progress);
        return call.Run([&] { return ssm::WritePhantomCohort(out_dir, o); });
      },
      "out_dir"_a, "n"_a = cohort.n, "seed"_a = cohort.seed, py::kw_only(),
      "sides"_a = CohortSidesName(cohort.sides), "remeshed"_a = cohort.remeshed, "ct"_a = cohort.ct,
      "mesh_extension"_a = cohort.mesh_extension, "ct_extension"_a = cohort.ct_extension,
      "mesh_options"_a = py::none(), "ct_options"_a = py::none(), "progress"_a = py::none(), R"doc(
Writes a cohort: <out_dir>/cohort.json and femur_NNN<mesh_extension>
(corresponding meshes); with remeshed=True femur_NNN_remeshed<mesh_extension>;
with ct=True femur_NNN_ct<ct_extension>. Same arguments, same bytes.
Returns a PhantomCohortSummary.)doc");
  m.def("read_phantom_cohort_parameters", &ssm::ReadPhantomCohortParameters, "json_path"_a,
        "The FemurParameters of every subject of a cohort.json.");
}

}  // namespace ssmx::python
