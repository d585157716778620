// ssmx.ssm: surface extraction, smoothing, decimation, components, surface
// distances, label maps and voxelisation.
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include "arrays.h"
#include "bindings.h"
#include "callbacks.h"
#include "holders.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/label_map.h"
#include "ssmx/ssm/surface.h"
#include "ssmx/ssm/surface_distance.h"
#include "ssmx/ssm/voxelize.h"

namespace ssmx::python {
namespace {

using namespace pybind11::literals;

// The keyword arguments of SurfaceOptions, shared by the two extractors.
struct SurfaceArguments {
  int smooth_iterations;
  double smooth_passband;
  int64_t target_faces;
  std::string keep;
  bool fill_holes;

  ssm::SurfaceOptions ToOptions(GilFreeCall& call, py::handle progress) const {
    ssm::SurfaceOptions options;
    options.smooth_iterations = smooth_iterations;
    options.smooth_passband = smooth_passband;
    options.target_faces = target_faces;
    options.keep = ssm::ParseKeepComponents(keep);
    options.fill_holes = fill_holes;
    options.progress = call.Progress(progress);
    return options;
  }
};

// Binds an extractor f(volume, value, options) with the SurfaceOptions keywords.
template <typename Value, typename Extract>
void DefExtractor(py::module_& m, const char* name, const char* volume_name, const char* value_name,
                  Extract extract, const char* doc) {
  const ssm::SurfaceOptions defaults;
  m.def(
      name,
      [extract](const Volume& volume, Value value, int smooth_iterations, double smooth_passband,
                int64_t target_faces, const std::string& keep, bool fill_holes,
                py::handle progress) {
        GilFreeCall call;
        const ssm::SurfaceOptions options =
            SurfaceArguments{smooth_iterations, smooth_passband, target_faces, keep, fill_holes}
                .ToOptions(call, progress);
        return call.Run([&] { return extract(volume, value, options); });
      },
      py::arg(volume_name), py::arg(value_name), py::kw_only(),
      "smooth_iterations"_a = defaults.smooth_iterations,
      "smooth_passband"_a = defaults.smooth_passband, "target_faces"_a = defaults.target_faces,
      "keep"_a = ssm::KeepComponentsName(defaults.keep), "fill_holes"_a = defaults.fill_holes,
      "progress"_a = py::none(), doc);
}

// `mesh` with ValidateMesh applied: for the functions that index vertices
// through faces without checking them.
TriangleMesh Usable(const Mesh& mesh, const char* what) {
  TriangleMesh cpp = mesh.ToCpp();
  ValidateMesh(cpp, what);
  return cpp;
}

}  // namespace

void BindSurface(py::module_& m) {
  // ---- Extraction -----------------------------------------------------------
  DefExtractor<double>(m, "extract_iso_surface", "volume", "iso_value", &ssm::ExtractIsoSurface,
                       R"doc(
The surface of {value > iso_value} of a volume (HU threshold, probability map,
negated distance field) by flying edges, watertight (closed at the volume
border), outward, with unit normals, in LPS mm.

Keywords: smooth_iterations (windowed-sinc, 0 = none), smooth_passband in
(0, 2] (smaller = smoother), target_faces (quadric decimation, 0 = none),
keep ("largest" or "all" components), fill_holes (close inner cavities),
progress (callable(fraction, stage); False cancels).
The volume is copied into C++. Raises InvalidInput when no voxel exceeds
iso_value (the message gives the value range).)doc");
  DefExtractor<int>(m, "extract_label_surface", "labels", "label", &ssm::ExtractLabelSurface, R"doc(
The surface of the voxels equal to `label` (a 0/1 mask: label=1), with the same
keywords and guarantees as extract_iso_surface. Raises InvalidInput when no
voxel has the label (the message lists those present).)doc");
  m.def("smooth_surface", &ssm::SmoothSurface, py::call_guard<py::gil_scoped_release>(), "mesh"_a,
        "iterations"_a, "passband"_a,
        "Windowed-sinc smoothing (VTK): iterations >= 0, passband in (0, 2]; connectivity "
        "kept, normals recomputed, open boundaries and tiny components stay put.");
  m.def("decimate_surface", &ssm::DecimateSurface, py::call_guard<py::gil_scoped_release>(),
        "mesh"_a, "target_faces"_a,
        "Quadric edge-collapse decimation to about target_faces (>= 4) faces; topology kept, "
        "scalars dropped, normals recomputed. Deterministic.");
  m.def(
      "compute_vertex_normals",
      [](const Mesh& mesh) {
        const TriangleMesh cpp = Usable(mesh, "compute_vertex_normals");
        return WithoutGil([&] { return ssm::ComputeVertexNormals(cpp); });
      },
      "mesh"_a, "(V, 3) float64 unit area-weighted vertex normals; (0, 0, 0) for unused vertices.");
  m.def(
      "orient_outward",
      [](Mesh& mesh) {
        TriangleMesh cpp = Usable(mesh, "orient_outward");
        const bool flipped = WithoutGil([&] { return ssm::OrientOutward(&cpp); });
        mesh.Assign(std::move(cpp));
        return flipped;
      },
      "mesh"_a,
      "Flips every face, in place, when the enclosed volume is negative; returns whether it "
      "flipped.");
  m.def("split_components", &ssm::SplitComponents, py::call_guard<py::gil_scoped_release>(),
        "mesh"_a, "The connected components as meshes, largest |enclosed volume| first.");
  m.def("keep_largest_component", &ssm::KeepLargestComponent,
        py::call_guard<py::gil_scoped_release>(), "mesh"_a,
        "The component with the largest |enclosed volume|.");

  // ---- Distances ------------------------------------------------------------
  py::class_<ssm::ClosestPointResult>(m, "ClosestPointResult",
                                      "The point of a surface closest to a query.")
      .def_readonly("point", &ssm::ClosestPointResult::point, "(3,) LPS mm")
      .def_readonly("face", &ssm::ClosestPointResult::face, "row of the mesh's faces")
      .def_readonly("distance", &ssm::ClosestPointResult::distance, "mm, unsigned");
  py::class_<ssm::SurfaceLocator>(m, "SurfaceLocator", R"doc(
Exact closest-point and signed-distance queries on a triangle mesh (a bounding
volume hierarchy; sign from angle-weighted pseudonormals: negative inside).
Keeps its own copy of the mesh. Thread safe; queries release the GIL.)doc")
      .def(py::init<const TriangleMesh&>(), py::call_guard<py::gil_scoped_release>(), "mesh"_a)
      .def("closest_point", &ssm::SurfaceLocator::ClosestPoint,
           py::call_guard<py::gil_scoped_release>(), "point_mm"_a,
           "The closest surface point to one (3,) LPS point.")
      .def(
          "signed_distance",
          [](const ssm::SurfaceLocator& locator, py::handle points) {
            return MapPoints<1>(RequirePoints(points, "points_mm"),
                                [&locator](const Eigen::Vector3d& p) {
                                  return Eigen::Matrix<double, 1, 1>(locator.SignedDistance(p));
                                });
          },
          "points_mm"_a,
          "Signed distance (mm, negative inside) of one (3,) point -> float, or of an (N, 3) "
          "float64 array -> (N,) (one query after another).")
      .def(
          "signed_distances",
          [](const ssm::SurfaceLocator& locator, py::handle points) {
            const py::array_t<double> array =
                RequireArray<double>(points, "points_mm", {-1, 3}, "(N, 3)");
            const Eigen::Map<const MatrixX3dR> map(array.data(), array.shape(0), 3);
            return WithoutGil([&] { return locator.SignedDistances(map); });
          },
          "points_mm"_a,
          "Signed distances of an (N, 3) float64 C-contiguous array (read in place, no copy) "
          "in parallel -> (N,) float64, mm.")
      .def_property_readonly("num_faces", &ssm::SurfaceLocator::num_faces);

  py::class_<ssm::DirectedDistance>(m, "DirectedDistance",
                                    "Area-weighted distances from one surface to another, mm.")
      .def_readonly("mean_mm", &ssm::DirectedDistance::mean_mm)
      .def_readonly("rms_mm", &ssm::DirectedDistance::rms_mm)
      .def_readonly("p95_mm", &ssm::DirectedDistance::p95_mm)
      .def_readonly("max_mm", &ssm::DirectedDistance::max_mm);
  py::class_<ssm::SurfaceDistanceSummary>(m, "SurfaceDistanceSummary", R"doc(
Distances between two surfaces (docs/surfaces.md): directed a_to_b / b_to_a,
symmetric mean (ASSD), RMS, p95 (HD95) and Hausdorff in mm, areas (mm^2),
signed volumes (mm^3), Dice on a grid of dice_spacing_mm (NaN when not computed),
and per-vertex signed distances: signed_distance_a_mm (V_a,) to surface B and
signed_distance_b_mm (V_b,) to surface A (read-only views held by the summary).)doc")
      .def_readonly("a_to_b", &ssm::SurfaceDistanceSummary::a_to_b)
      .def_readonly("b_to_a", &ssm::SurfaceDistanceSummary::b_to_a)
      .def_readonly("mean_mm", &ssm::SurfaceDistanceSummary::mean_mm)
      .def_readonly("rms_mm", &ssm::SurfaceDistanceSummary::rms_mm)
      .def_readonly("p95_mm", &ssm::SurfaceDistanceSummary::p95_mm)
      .def_readonly("hausdorff_mm", &ssm::SurfaceDistanceSummary::hausdorff_mm)
      .def_readonly("area_a_mm2", &ssm::SurfaceDistanceSummary::area_a_mm2)
      .def_readonly("area_b_mm2", &ssm::SurfaceDistanceSummary::area_b_mm2)
      .def_readonly("volume_a_mm3", &ssm::SurfaceDistanceSummary::volume_a_mm3)
      .def_readonly("volume_b_mm3", &ssm::SurfaceDistanceSummary::volume_b_mm3)
      .def_readonly("dice", &ssm::SurfaceDistanceSummary::dice)
      .def_readonly("dice_spacing_mm", &ssm::SurfaceDistanceSummary::dice_spacing_mm)
      .def_readonly("signed_distance_a_mm", &ssm::SurfaceDistanceSummary::signed_distance_a_mm)
      .def_readonly("signed_distance_b_mm", &ssm::SurfaceDistanceSummary::signed_distance_b_mm)
      .def_readonly("seconds", &ssm::SurfaceDistanceSummary::seconds)
      .def("brief_report", &ssm::SurfaceDistanceSummary::BriefReport)
      .def("__repr__", &ssm::SurfaceDistanceSummary::BriefReport);
  const ssm::SurfaceDistanceOptions distance_defaults;
  m.def(
      "compute_surface_distance",
      [](const TriangleMesh& a, const TriangleMesh& b, double dice_spacing_mm, bool compute_dice,
         py::handle progress) {
        GilFreeCall call;
        ssm::SurfaceDistanceOptions options;
        options.dice_spacing_mm = dice_spacing_mm;
        options.compute_dice = compute_dice;
        options.progress = call.Progress(progress);
        return call.Run([&] { return ssm::ComputeSurfaceDistance(a, b, options); });
      },
      "a"_a, "b"_a, py::kw_only(), "dice_spacing_mm"_a = distance_defaults.dice_spacing_mm,
      "compute_dice"_a = distance_defaults.compute_dice, "progress"_a = py::none(),
      "Distances between two meshes in the same frame -> SurfaceDistanceSummary. Dice and "
      "volumes are meaningful for closed meshes.");
  m.def(
      "vertex_areas",
      [](const Mesh& mesh) {
        const TriangleMesh cpp = Usable(mesh, "vertex_areas");
        return WithoutGil([&] { return ssm::VertexAreas(cpp); });
      },
      "mesh"_a, "(V,) float64, a third of the area of the faces around each vertex, mm^2.");
  m.def(
      "add_diverging_colors",
      [](py::handle values, double range_mm, Mesh& mesh) {
        const py::array_t<double> v = RequireArray<double>(values, "values", {-1}, "(V,)");
        const Eigen::VectorXd copy = Eigen::Map<const Eigen::VectorXd>(v.data(), v.shape(0));
        TriangleMesh cpp = mesh.ToCpp();
        ssm::AddDivergingColors(copy, range_mm, &cpp);
        mesh.Assign(std::move(cpp));
      },
      "values"_a, "range_mm"_a, "mesh"_a,
      "Adds, in place, scalars \"red\", \"green\", \"blue\" (0..255) mapping values (V,) "
      "float64 onto blue (-range_mm) - white (0) - red (+range_mm); write_mesh stores them as "
      "PLY colours.");

  // ---- Label maps -----------------------------------------------------------
  py::class_<ssm::LabelEntry>(m, "LabelEntry", "One named label of a segmentation.")
      .def_readonly("id", &ssm::LabelEntry::id,
                    "voxel value (label map) or position in the sorted masks, from 1")
      .def_readonly("name", &ssm::LabelEntry::name)
      .def_readonly("file", &ssm::LabelEntry::file)
      .def("__repr__", [](const ssm::LabelEntry& e) {
        return "LabelEntry(" + std::to_string(e.id) + ", " + e.name + ")";
      });
  m.def("list_labels", &ssm::ListLabels, py::call_guard<py::gil_scoped_release>(), "path"_a,
        "label_table"_a = "", R"doc(
The labels of a segmentation: a folder of binary masks (<name>.nii.gz...,
TotalSegmentator's layout) or an integer label-map file with a label table
(JSON, ITK-SNAP, 3D Slicer; `label_table` or found next to it).)doc");
  m.def(
      "read_label_mask",
      [](const std::string& path, py::handle label, const std::string& label_table) {
        const std::string text = py::str(label);
        return WithoutGil([&] { return ssm::ReadLabelMask(path, text, label_table); });
      },
      "path"_a, "label"_a, "label_table"_a = "",
      "A 0/1 int16 Volume of one label, by name (str) or numeric id (int, label-map files), "
      "with the segmentation's geometry. Raises InvalidInput listing the labels available.");

  // ---- Voxelisation ---------------------------------------------------------
  m.def("voxelize", py::overload_cast<const TriangleMesh&, const VolumeGeometry&>(&ssm::Voxelize),
        py::call_guard<py::gil_scoped_release>(), "mesh"_a, "grid"_a,
        "0/1 int16 Volume on `grid` (a VolumeGeometry): 1 where the voxel centre is inside "
        "the closed mesh (nonzero winding number).");
  m.def("voxelize", py::overload_cast<const TriangleMesh&, double, double>(&ssm::Voxelize),
        py::call_guard<py::gil_scoped_release>(), "mesh"_a, "spacing_mm"_a, "margin_mm"_a = 1.0,
        "voxelize(mesh, grid_around_mesh(mesh, spacing_mm, margin_mm)).");
  m.def("grid_around_mesh", &ssm::GridAroundMesh, "mesh"_a, "spacing_mm"_a, "margin_mm"_a,
        "An axis-aligned grid of cubic voxels (centres on multiples of spacing_mm) covering the "
        "mesh bounds grown by margin_mm.");
}

}  // namespace ssmx::python
