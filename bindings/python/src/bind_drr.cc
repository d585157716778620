// ssmx.drr: projection geometry, the JSON sidecar, prepared volumes and the
// projectors, the detector model, mesh projection and X-ray image IO.
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include <sstream>

#include "arrays.h"
#include "bindings.h"
#include "callbacks.h"
#include "holders.h"
#include "ssmx/core/error.h"
#include "ssmx/drr/detector.h"
#include "ssmx/drr/mesh_projection.h"
#include "ssmx/drr/projection_geometry.h"
#include "ssmx/drr/projector.h"
#include "ssmx/drr/sidecar.h"
#include "ssmx/drr/xray_image_io.h"

namespace ssmx::python {
namespace {

using namespace pybind11::literals;

drr::ProjectionOptions MakeProjectionOptions(const std::string& projector, double step_voxels,
                                             int threads) {
  drr::ProjectionOptions options;
  options.projector = drr::ParseProjectorKind(projector);
  options.step_voxels = step_voxels;
  options.threads = threads;
  std::string problem;
  if (!options.IsValid(&problem)) throw InvalidInput("projection options: " + problem);
  return options;
}

// XrayImage with the image as an ssmx.Image2D (a view of the C++ buffer).
struct XrayImageResult {
  py::object image;
  drr::Sidecar sidecar;
};

std::string MatrixText(const drr::Matrix34d& p) {
  std::ostringstream out;
  out << "[";
  for (int r = 0; r < 3; ++r) {
    out << (r ? ", [" : "[");
    for (int c = 0; c < 4; ++c) out << (c ? ", " : "") << p(r, c);
    out << "]";
  }
  out << "]";
  return out.str();
}

}  // namespace

void BindDrr(py::module_& m) {
  m.attr("DEFAULT_MU_WATER_PER_MM") = drr::kDefaultMuWaterPerMm;

  // ---- Projection geometry --------------------------------------------------
  const drr::CarmGeometry carm0;
  py::class_<drr::CarmGeometry>(m, "CarmGeometry", R"doc(
The C-arm description of one X-ray view (docs/geometry.md, section 4): the
source at isocenter_mm - source_to_isocenter_mm * d, the detector plane at
source_to_detector_mm from the source along d, detector pixel (u, v) at
s + SID d + (u - u0) du e_u + (v - v0) dv e_v. `rotation` (3, 3) has columns
e_u, e_v, d (a proper rotation). principal_point_px NaN = detector centre.)doc")
      .def(py::init([](int rows, int cols, double du, double dv, double sid, double sad,
                       const Eigen::Vector2d& principal_point, const Eigen::Matrix3d& rotation,
                       const Eigen::Vector3d& isocenter) {
             drr::CarmGeometry c;
             c.rows = rows;
             c.cols = cols;
             c.pixel_spacing_u_mm = du;
             c.pixel_spacing_v_mm = dv;
             c.source_to_detector_mm = sid;
             c.source_to_isocenter_mm = sad;
             c.principal_point_px = principal_point;
             c.rotation = rotation;
             c.isocenter_mm = isocenter;
             return c;
           }),
           "rows"_a = carm0.rows, "cols"_a = carm0.cols,
           "pixel_spacing_u_mm"_a = carm0.pixel_spacing_u_mm,
           "pixel_spacing_v_mm"_a = carm0.pixel_spacing_v_mm,
           "source_to_detector_mm"_a = carm0.source_to_detector_mm,
           "source_to_isocenter_mm"_a = carm0.source_to_isocenter_mm,
           "principal_point_px"_a = carm0.principal_point_px, "rotation"_a = carm0.rotation,
           "isocenter_mm"_a = carm0.isocenter_mm)
      .def_readwrite("rows", &drr::CarmGeometry::rows)
      .def_readwrite("cols", &drr::CarmGeometry::cols)
      .def_readwrite("pixel_spacing_u_mm", &drr::CarmGeometry::pixel_spacing_u_mm,
                     "du, between column centres")
      .def_readwrite("pixel_spacing_v_mm", &drr::CarmGeometry::pixel_spacing_v_mm,
                     "dv, between row centres")
      .def_readwrite("source_to_detector_mm", &drr::CarmGeometry::source_to_detector_mm, "SID")
      .def_readwrite("source_to_isocenter_mm", &drr::CarmGeometry::source_to_isocenter_mm, "SAD")
      .def_readwrite("principal_point_px", &drr::CarmGeometry::principal_point_px,
                     "(2,) (u0, v0) pixels; NaN = detector centre")
      .def_readwrite("rotation", &drr::CarmGeometry::rotation,
                     "(3, 3) world_from_carm rotation, columns e_u, e_v, d")
      .def_readwrite("isocenter_mm", &drr::CarmGeometry::isocenter_mm, "(3,) LPS mm")
      .def("__repr__",
           [](const drr::CarmGeometry& c) {
             std::ostringstream out;
             out << "CarmGeometry(" << c.cols << "x" << c.rows << ", pixel_spacing_mm=("
                 << c.pixel_spacing_u_mm << ", " << c.pixel_spacing_v_mm
                 << "), sid=" << c.source_to_detector_mm << ", sad=" << c.source_to_isocenter_mm
                 << ")";
             return out.str();
           })
      .def("principal_point", &drr::CarmGeometry::PrincipalPoint,
           "(2,) principal point with the NaN default resolved")
      .def("validate", &drr::CarmGeometry::Validate, "Empty when valid, else what is wrong.");

  m.def(
      "named_view_rotation",
      [](const std::string& view) { return drr::NamedViewRotation(drr::ParseNamedView(view)); },
      "view"_a,
      "(3, 3) rotation (columns e_u, e_v, d) of \"AP\" (d = +y, e_u = +x, e_v = -z) or \"LAT\" "
      "(d = +x, e_u = -y, e_v = -z).");
  m.def("default_isocenter", &drr::DefaultIsocenter, "geometry"_a,
        "(3,) the centre of a VolumeGeometry's voxel grid, LPS mm.");

  py::class_<drr::ProjectionGeometry>(m, "ProjectionGeometry", R"doc(
One X-ray view: the normalised 3x4 matrix P (pixel_from_world: w (u, v, 1) =
P (x, y, z, 1) with x in LPS mm, u = column, v = row), the detector size, the
pixel pitch and the source-to-isocentre distance. Immutable.)doc")
      .def_static("from_carm", &drr::ProjectionGeometry::FromCarm, "carm"_a,
                  "P = K [R^T | -R^T s] from a CarmGeometry. Raises InvalidInput when invalid.")
      .def_static("from_matrix", &drr::ProjectionGeometry::FromMatrix, "projection"_a, "rows"_a,
                  "cols"_a, "pixel_spacing_u_mm"_a, "pixel_spacing_v_mm"_a,
                  "source_to_isocenter_mm"_a,
                  "From a (3, 4) P written by any tool (rescaled to a unit third row). Raises "
                  "InvalidInput when P is singular, mirrored, skewed or disagrees with the pitch.")
      .def_static(
          "named",
          [](const std::string& view, const Eigen::Vector3d& isocenter,
             const drr::CarmGeometry& detector) {
            return drr::ProjectionGeometry::Named(drr::ParseNamedView(view), isocenter, detector);
          },
          "view"_a, "isocenter_mm"_a, "detector"_a = drr::CarmGeometry{},
          "The named view \"AP\" or \"LAT\" around isocenter_mm (3,) with the detector size, "
          "pitch and distances of `detector` (its rotation and isocentre are replaced).")
      .def_property_readonly("matrix", &drr::ProjectionGeometry::matrix, "(3, 4) P")
      .def_property_readonly("rows", &drr::ProjectionGeometry::rows)
      .def_property_readonly("cols", &drr::ProjectionGeometry::cols)
      .def_property_readonly("pixel_spacing_u_mm", &drr::ProjectionGeometry::pixel_spacing_u_mm)
      .def_property_readonly("pixel_spacing_v_mm", &drr::ProjectionGeometry::pixel_spacing_v_mm)
      .def_property_readonly("source_to_isocenter_mm",
                             &drr::ProjectionGeometry::source_to_isocenter_mm)
      .def_property_readonly("source_to_detector_mm",
                             &drr::ProjectionGeometry::source_to_detector_mm)
      .def("to_carm", &drr::ProjectionGeometry::ToCarm, "RQ decomposition back to a CarmGeometry.")
      .def("intrinsics", &drr::ProjectionGeometry::Intrinsics, "(3, 3) K, k33 = 1")
      .def("source_position", &drr::ProjectionGeometry::SourcePosition, "(3,) LPS mm")
      .def("beam_direction", &drr::ProjectionGeometry::BeamDirection,
           "(3,) unit central-beam direction d")
      .def(
          "project",
          [](const drr::ProjectionGeometry& g, py::handle points) {
            const Points in = RequirePoints(points, "points_mm");
            py::object all = MapPoints<3>(in, [&g](const Eigen::Vector3d& p) {
              double depth = 0;
              const Eigen::Vector2d uv = g.Project(p, &depth);
              return Eigen::Vector3d(uv.x(), uv.y(), depth);
            });
            const py::array_t<double> a = all;
            const py::ssize_t n = in.count();
            py::array_t<double> uv(std::vector<py::ssize_t>{n, 2});
            py::array_t<double> depth(std::vector<py::ssize_t>{n});
            for (py::ssize_t i = 0; i < n; ++i) {
              uv.mutable_at(i, 0) = a.data()[3 * i];
              uv.mutable_at(i, 1) = a.data()[3 * i + 1];
              depth.mutable_at(i) = a.data()[3 * i + 2];
            }
            if (in.single) return py::make_tuple(uv.reshape({2}), py::float_(depth.at(0)));
            return py::make_tuple(uv, depth);
          },
          "points_mm"_a,
          "Pixel coordinates of LPS points: one (3,) point -> ((2,) uv, depth) or (N, 3) float64 "
          "-> ((N, 2) uv, (N,) depth). depth = d.(x - s) mm; points with depth <= 0 do not "
          "project.")
      .def("detector_point", &drr::ProjectionGeometry::DetectorPoint, "u"_a, "v"_a,
           "(3,) LPS mm of detector pixel (u, v) (fractional allowed)")
      .def("ray_direction", &drr::ProjectionGeometry::RayDirection, "u"_a, "v"_a,
           "(3,) unit direction from the source through pixel (u, v)")
      .def("__repr__", [](const drr::ProjectionGeometry& g) {
        return "ProjectionGeometry(" + std::to_string(g.cols()) + "x" + std::to_string(g.rows()) +
               ", P=" + MatrixText(g.matrix()) + ")";
      });

  // ---- Sidecar --------------------------------------------------------------
  py::class_<drr::Sidecar>(m, "Sidecar", R"doc(
The JSON sidecar of an X-ray image (docs/geometry.md, section 6). The
projection matrix of `geometry` is authoritative.)doc")
      .def(py::init([](const drr::ProjectionGeometry& geometry, std::optional<std::string> quantity,
                       const std::string& view, std::optional<double> mu_water,
                       std::optional<double> i0, std::optional<std::array<double, 2>> png_window,
                       const std::string& projector) {
             drr::Sidecar s;
             s.geometry = geometry;
             if (quantity) s.quantity = ParseImageQuantity(*quantity);
             s.view = view;
             s.mu_water_per_mm = mu_water;
             s.i0 = i0;
             s.png_window = png_window;
             s.projector = projector;
             return s;
           }),
           "geometry"_a, "quantity"_a = py::none(), "view"_a = "custom",
           "mu_water_per_mm"_a = py::none(), "i0"_a = py::none(), "png_window"_a = py::none(),
           "projector"_a = "")
      .def_readwrite("geometry", &drr::Sidecar::geometry)
      .def_property(
          "quantity",
          [](const drr::Sidecar& s) -> std::optional<std::string> {
            if (!s.quantity) return std::nullopt;
            return std::string(ImageQuantityName(*s.quantity));
          },
          [](drr::Sidecar& s, std::optional<std::string> q) {
            s.quantity = q ? std::optional<ImageQuantity>(ParseImageQuantity(*q)) : std::nullopt;
          },
          "\"line_integral\", \"intensity\", \"mask\", \"path_length_mm\" or None")
      .def_readwrite("view", &drr::Sidecar::view, "\"AP\", \"LAT\" or \"custom\"")
      .def_readwrite("mu_water_per_mm", &drr::Sidecar::mu_water_per_mm)
      .def_readwrite("i0", &drr::Sidecar::i0, "unattenuated counts (intensity images)")
      .def_property(
          "png_window",
          [](const drr::Sidecar& s) -> py::object {
            if (!s.png_window) return py::none();
            return py::make_tuple((*s.png_window)[0], (*s.png_window)[1]);
          },
          [](drr::Sidecar& s, std::optional<std::array<double, 2>> window) {
            s.png_window = window;
          },
          "(low, high) or None: PNG value p means low + (high - low) p / 65535")
      .def_readwrite("projector", &drr::Sidecar::projector, "\"exact\" or \"trilinear\" for DRRs");
  m.def("sidecar_path", &drr::SidecarPath, "image_path"_a,
        "views/ap.png -> views/ap.json (double extensions such as .nii.gz replaced whole).");
  m.def("sidecar_to_json", &drr::SidecarToJson, "sidecar"_a, "JSON text (17 significant digits).");
  m.def("sidecar_from_json", &drr::SidecarFromJson, "text"_a, "what"_a = "sidecar",
        "Parses and checks a sidecar; raises InvalidInput naming the key that is missing, "
        "malformed or inconsistent with the projection matrix.");
  m.def("write_sidecar", &drr::WriteSidecar, "sidecar"_a, "path"_a, "Atomic write.");
  m.def("read_sidecar", &drr::ReadSidecar, "path"_a,
        "Reads and checks a sidecar file; raises IoError when it is missing.");

  // ---- Prepared volumes and projectors --------------------------------------
  py::class_<drr::PreparedVolume>(m, "PreparedVolume", R"doc(
An attenuation volume (float32 mu in 1/mm) ready to be projected for any number
of views; rays are clipped to the box of its non-zero voxels. Immutable:
project() may run on one PreparedVolume from several Python threads at once
(the GIL is released). Build it with the from_... / read_hounsfield factories.)doc")
      .def_static("from_hounsfield", &drr::PreparedVolume::FromHounsfield,
                  py::call_guard<py::gil_scoped_release>(), "ct"_a,
                  "mu_water_per_mm"_a = drr::kDefaultMuWaterPerMm,
                  "From a CT Volume in HU: mu = mu_water * max(0, 1 + HU/1000). The CT is copied "
                  "into C++ for the conversion.")
      .def_static("from_hounsfield_masked", &drr::PreparedVolume::FromHounsfieldMasked,
                  py::call_guard<py::gil_scoped_release>(), "ct"_a, "mask"_a,
                  "mu_water_per_mm"_a = drr::kDefaultMuWaterPerMm,
                  "The CT only where `mask` (same grid) is non-zero: a bone-only DRR.")
      .def_static("from_attenuation", &drr::PreparedVolume::FromAttenuation,
                  py::call_guard<py::gil_scoped_release>(), "mu"_a,
                  "Values taken as mu in 1/mm (a 0/1 mask gives path lengths in mm). Raises "
                  "InvalidInput for negative or non-finite values.")
      .def_static("from_mask", &drr::PreparedVolume::FromMask,
                  py::call_guard<py::gil_scoped_release>(), "labels"_a,
                  "1 where labels is non-zero: line integrals are path lengths in mm.")
      .def_static(
          "read_hounsfield",
          [](const std::string& path, double mu_water, const std::string& series, bool allow_gaps,
             py::handle progress) {
            GilFreeCall call;
            const ssm::VolumeReadOptions options =
                VolumeReadOptionsFor(series, allow_gaps, call, progress);
            return call.Run(
                [&] { return drr::PreparedVolume::ReadHounsfield(path, mu_water, options); });
          },
          "path"_a, "mu_water_per_mm"_a = drr::kDefaultMuWaterPerMm, py::kw_only(), "series"_a = "",
          "allow_gaps"_a = false, "progress"_a = py::none(),
          "Reads a CT file or DICOM folder in HU slab by slab, so the CT and its float volume are "
          "never both in memory.")
      .def_property_readonly("geometry", &drr::PreparedVolume::geometry)
      .def_property_readonly("empty", &drr::PreparedVolume::empty)
      .def_property_readonly("size_bytes", &drr::PreparedVolume::size_bytes)
      .def_property_readonly(
          "mu",
          [](py::object self) {
            const auto& v = self.cast<const drr::PreparedVolume&>();
            return ViewOf(v.data(), NumpyShape(v.geometry()), self, /*read_only=*/true);
          },
          "(k, j, i) float32 attenuation, 1/mm: a read-only view of the C++ buffer, kept alive "
          "by the array.")
      .def_property_readonly("nonzero_min", &drr::PreparedVolume::nonzero_min,
                             "(3,) int (i, j, k) lowest corner of the non-zero box")
      .def_property_readonly_static(
          "BLOCK_SIZE", [](py::object) { return drr::PreparedVolume::kBlockSize; },
          "Edge of the empty-space blocks, voxels.")
      .def("block_counts", &drr::PreparedVolume::block_counts,
           "(3,) int blocks along (i, j, k) of the empty-space map.")
      .def_property_readonly(
          "nonzero_blocks",
          [](py::object self) {
            const auto& v = self.cast<const drr::PreparedVolume&>();
            const Eigen::Vector3i n = v.block_counts();
            return ViewOf(v.nonzero_blocks().data(), {n.z(), n.y(), n.x()}, self,
                          /*read_only=*/true);
          },
          "(nb_k, nb_j, nb_i) uint8 empty-space map: 1 for a block of BLOCK_SIZE^3 voxels "
          "holding a non-zero voxel; a read-only view.")
      .def_property_readonly("nonzero_max", &drr::PreparedVolume::nonzero_max,
                             "(3,) int (i, j, k) highest corner (inclusive); min > max when empty");
  py::class_<drr::PreparedVolume::Builder>(m, "PreparedVolumeBuilder", R"doc(
Builds a PreparedVolume slab by slab from HU slabs (for example from
ssmx.ssm.read_volume_in_slabs): add every slab of k once, then finish().)doc")
      .def(py::init<const VolumeGeometry&, double>(), "geometry"_a,
           "mu_water_per_mm"_a = drr::kDefaultMuWaterPerMm)
      .def("add_hounsfield_slab", &drr::PreparedVolume::Builder::AddHounsfieldSlab,
           py::call_guard<py::gil_scoped_release>(), "slab_hu"_a, "k_begin"_a,
           "slab_hu: a Volume of size_i x size_j x n slices of HU, slices k_begin .. k_begin+n-1.")
      .def("finish", &drr::PreparedVolume::Builder::Finish,
           py::call_guard<py::gil_scoped_release>(),
           "The PreparedVolume; raises InvalidInput when a slice is missing or when called twice.");

  m.def(
      "projector_kinds",
      [] {
        return std::vector<std::string>{drr::ProjectorKindName(drr::ProjectorKind::kExact),
                                        drr::ProjectorKindName(drr::ProjectorKind::kTrilinear)};
      },
      "The projector names: \"exact\" (Siddon-Jacobs voxel traversal), \"trilinear\".");
  const drr::ProjectionOptions projection0;
  m.def(
      "project",
      [](const drr::PreparedVolume& volume, const drr::ProjectionGeometry& geometry,
         const std::string& projector, double step_voxels, int threads) {
        const drr::ProjectionOptions options =
            MakeProjectionOptions(projector, step_voxels, threads);
        return WithoutGil([&] { return drr::Project(volume, geometry, options); });
      },
      "volume"_a, "geometry"_a, py::kw_only(),
      "projector"_a = drr::ProjectorKindName(projection0.projector),
      "step_voxels"_a = projection0.step_voxels, "threads"_a = projection0.threads, R"doc(
The line-integral DRR: for each pixel, the integral of mu along the segment
from the source to the pixel centre (no unit). Returns an Image2D of quantity
"line_integral" whose pixels (rows, cols) float32 are a view of the C++ buffer.
projector: "exact" (voxel traversal) or "trilinear" (sampling every
step_voxels of the smallest spacing); threads: 0 = all cores. Releases the GIL.)doc");
  m.def(
      "integrate_segment",
      [](const drr::PreparedVolume& volume, const Eigen::Vector3d& from_mm,
         const Eigen::Vector3d& to_mm, const std::string& projector, double step_voxels) {
        const drr::ProjectionOptions options = MakeProjectionOptions(projector, step_voxels, 0);
        return drr::IntegrateSegment(volume, from_mm, to_mm, options);
      },
      "volume"_a, "from_mm"_a, "to_mm"_a, py::kw_only(),
      "projector"_a = drr::ProjectorKindName(projection0.projector),
      "step_voxels"_a = projection0.step_voxels,
      "The integral of mu along one segment between two (3,) LPS points, with the kernels of "
      "project().");
  m.def("attenuation_from_hounsfield", py::vectorize(&drr::AttenuationFromHounsfield), "hu"_a,
        "mu_water_per_mm"_a = drr::kDefaultMuWaterPerMm,
        "mu (1/mm) = mu_water * max(0, 1 + HU/1000), elementwise over any array-like (a new "
        "float32 array).");

  // ---- Detector -------------------------------------------------------------
  m.def("intensity_from_line_integral", &drr::IntensityFromLineIntegral,
        py::call_guard<py::gil_scoped_release>(), "line_integral"_a, "i0"_a,
        "noise_seed"_a = py::none(),
        "I = i0 exp(-L); with noise_seed, each pixel a Poisson draw of mean I (same seed, same "
        "image on any machine and thread count). Returns an intensity Image2D.");
  m.def("line_integral_from_intensity", &drr::LineIntegralFromIntensity,
        py::call_guard<py::gil_scoped_release>(), "intensity"_a, "i0"_a,
        "L = -log(I / i0), I clamped to at least 0.5 counts.");
  m.def("mask_from_path_length", &drr::MaskFromPathLength, py::call_guard<py::gil_scoped_release>(),
        "path_length"_a, "threshold"_a = 0.0,
        "A 0/1 mask Image2D: 1 where the path length (or line integral) > threshold.");
  m.def("poisson_draw", &drr::PoissonDraw, "mean"_a, "seed"_a, "index"_a,
        "One Poisson draw of `mean` from the counter-based stream (seed, index).");

  // ---- Meshes ---------------------------------------------------------------
  m.def("project_mesh_path_length", &drr::ProjectMeshPathLength,
        py::call_guard<py::gil_scoped_release>(), "mesh"_a, "geometry"_a, "threads"_a = 0,
        "Path length (mm) of each pixel's ray through a closed, outward mesh: an Image2D of "
        "quantity \"path_length_mm\". Raises InvalidInput for an open or inward mesh.");

  // ---- X-ray image files ----------------------------------------------------
  py::class_<XrayImageResult>(m, "XrayImage", "An X-ray image and its sidecar.")
      .def_readonly("image", &XrayImageResult::image, "Image2D")
      .def_readonly("sidecar", &XrayImageResult::sidecar, "Sidecar");
  m.def(
      "default_png_window",
      [](const Image2D& image, std::optional<double> i0) {
        const std::array<double, 2> window = drr::DefaultPngWindow(image, i0);
        return py::make_tuple(window[0], window[1]);
      },
      "image"_a, "i0"_a = py::none(),
      "The (low, high) window a 16-bit PNG uses when none is given.");
  m.def("write_xray_image", &drr::WriteXrayImage, py::call_guard<py::gil_scoped_release>(),
        "image"_a, "sidecar"_a, "path"_a, "png_window"_a = py::none(), R"doc(
Writes an Image2D and its sidecar (sidecar_path(path)), both atomically. By
extension: .png (16-bit, window recorded in the sidecar), .tif/.tiff (float32),
.mha/.mhd/.nii/.nii.gz/.nrrd (float32). The sidecar's quantity is set from the
image.)doc");
  m.def(
      "read_xray_image",
      [](const std::string& path) {
        drr::XrayImage read = WithoutGil([&] { return drr::ReadXrayImage(path); });
        return XrayImageResult{ImageHolder::FromCpp(std::move(read.image)), read.sidecar};
      },
      "path"_a,
      "Reads an image written by write_xray_image (or another tool, with a sidecar): PNG "
      "(mapped through png_window), TIFF, MetaImage, NIfTI, NRRD -> XrayImage.");
}

}  // namespace ssmx::python
