// Errors, the core value types and logging: ssmx.Error..., ssmx.VolumeGeometry,
// ssmx.Volume, ssmx.TriangleMesh, ssmx.MeshCheck, ssmx.Image2D.
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include <array>
#include <sstream>

#include "arrays.h"
#include "bindings.h"
#include "callbacks.h"
#include "holders.h"
#include "ssmx/core/atomic_write.h"
#include "ssmx/core/error.h"
#include "ssmx/core/log.h"

namespace ssmx::python {
namespace {

using namespace pybind11::literals;

PyObject* NewError(py::module_& m, const char* name, py::handle bases, const char* doc) {
  const std::string qualified = std::string("ssmx.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (type == nullptr) throw py::error_already_set();
  m.add_object(name, py::handle(type));
  return type;
}

LogLevel ParseLogLevel(const std::string& name) {
  for (LogLevel level :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError, LogLevel::kOff}) {
    if (name == LogLevelName(level)) return level;
  }
  throw InvalidInput("log level \"" + name + "\": expected debug, info, warning, error or off");
}

std::string Vector3Text(const Eigen::Vector3d& v) {
  std::ostringstream out;
  out << "(" << v.x() << ", " << v.y() << ", " << v.z() << ")";
  return out.str();
}

}  // namespace

void BindErrors(py::module_& m) {
  // Created once per process; the translator below refers to them.
  static PyObject* error = NewError(m, "Error", PyExc_RuntimeError,
                                    "Base class of every error ssmx raises from its C++ core.");
  static PyObject* invalid_input =
      NewError(m, "InvalidInput", py::make_tuple(py::handle(error), py::handle(PyExc_ValueError)),
               "The input is unusable: a malformed file, an out-of-range parameter, inconsistent "
               "arrays. Also a ValueError.");
  static PyObject* io_error =
      NewError(m, "IoError", py::make_tuple(py::handle(error), py::handle(PyExc_OSError)),
               "A file could not be opened, read or written. Also an OSError.");
  static PyObject* not_converged = NewError(
      m, "NotConverged", error, "An iterative method stopped without meeting its criterion.");
  static PyObject* cancelled =
      NewError(m, "Cancelled", error, "A progress callback returned False: the call stopped.");
  static PyObject* internal_error =
      NewError(m, "InternalError", error, "A broken invariant inside ssmx: please report it.");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InvalidInput& e) {
      PyErr_SetString(invalid_input, e.what());
    } catch (const IoError& e) {
      PyErr_SetString(io_error, e.what());
    } catch (const NotConverged& e) {
      PyErr_SetString(not_converged, e.what());
    } catch (const Cancelled& e) {
      PyErr_SetString(cancelled, e.what());
    } catch (const InternalError& e) {
      PyErr_SetString(internal_error, e.what());
    } catch (const Error& e) {
      PyErr_SetString(error, e.what());
    }
  });
}

void BindCore(py::module_& m) {
  // ---- VolumeGeometry -------------------------------------------------------
  py::class_<VolumeGeometry>(m, "VolumeGeometry", R"doc(
Where the voxels of a volume lie in patient LPS millimetres (as ITK and DICOM):

    p_lps = origin_mm + direction @ diag(spacing_mm) @ ijk

ijk = (i, j, k) are continuous indices, (0, 0, 0) the centre of the first
voxel; i runs fastest in memory, so the numpy array of a volume has shape
(k, j, i) = `shape`. `direction` holds the unit LPS directions of the i, j and k
axes as its columns. See docs/geometry.md.)doc")
      .def(py::init([](std::array<int, 3> size, const Eigen::Vector3d& spacing,
                       const Eigen::Vector3d& origin, const Eigen::Matrix3d& direction) {
             VolumeGeometry g;
             g.size = Eigen::Vector3i(size[0], size[1], size[2]);
             g.spacing_mm = spacing;
             g.origin_mm = origin;
             g.direction = direction;
             return g;
           }),
           "size"_a = std::array<int, 3>{0, 0, 0}, "spacing_mm"_a = Eigen::Vector3d::Ones(),
           "origin_mm"_a = Eigen::Vector3d::Zero(), "direction"_a = Eigen::Matrix3d::Identity(),
           "size: voxels along (i, j, k); spacing_mm: (3,) mm between voxel centres; origin_mm: "
           "(3,) LPS mm of voxel (0, 0, 0); direction: (3, 3) orthonormal columns.")
      .def_property(
          "size",
          [](const VolumeGeometry& g) {
            return py::make_tuple(g.size.x(), g.size.y(), g.size.z());
          },
          [](VolumeGeometry& g, std::array<int, 3> size) {
            g.size = Eigen::Vector3i(size[0], size[1], size[2]);
          },
          "Voxels along (i, j, k): the reverse of the numpy shape.")
      .def_property_readonly(
          "shape",
          [](const VolumeGeometry& g) {
            return py::make_tuple(g.size.z(), g.size.y(), g.size.x());
          },
          "(k, j, i): the shape of the numpy array of a volume with this geometry.")
      .def_readwrite("spacing_mm", &VolumeGeometry::spacing_mm,
                     "(3,) float64, mm between voxel centres along i, j, k (> 0).")
      .def_readwrite("origin_mm", &VolumeGeometry::origin_mm,
                     "(3,) float64, LPS mm of the centre of voxel (0, 0, 0).")
      .def_readwrite("direction", &VolumeGeometry::direction,
                     "(3, 3) float64, unit LPS directions of the i, j, k axes as columns.")
      .def("world_from_index", &VolumeGeometry::WorldFromIndex,
           "(4, 4) affine from continuous index (i, j, k, 1) to LPS mm.")
      .def("index_from_world", &VolumeGeometry::IndexFromWorld,
           "(4, 4) affine from LPS mm to continuous index; the inverse of world_from_index().")
      .def(
          "index_to_world",
          [](const VolumeGeometry& g, py::handle ijk) {
            return MapPoints<3>(RequirePoints(ijk, "ijk"),
                                [&g](const Eigen::Vector3d& p) { return g.IndexToWorld(p); });
          },
          "ijk"_a,
          "LPS mm of continuous indices: ijk is one (i, j, k) or an (N, 3) float64 array; "
          "returns (3,) or (N, 3).")
      .def(
          "world_to_index",
          [](const VolumeGeometry& g, py::handle points) {
            return MapPoints<3>(RequirePoints(points, "points_mm"),
                                [&g](const Eigen::Vector3d& p) { return g.WorldToIndex(p); });
          },
          "points_mm"_a,
          "Continuous (i, j, k) of LPS points: one (3,) point or an (N, 3) float64 array (mm).")
      .def("num_voxels", &VolumeGeometry::NumVoxels)
      .def("center", &VolumeGeometry::Center,
           "(3,) LPS mm, midpoint of the first and last voxel centres.")
      .def("validate", &VolumeGeometry::Validate,
           "Empty string when valid, else what is wrong (size, spacing, direction).")
      .def("__repr__", [](const VolumeGeometry& g) {
        std::ostringstream out;
        out << "VolumeGeometry(size=(" << g.size.x() << ", " << g.size.y() << ", " << g.size.z()
            << "), spacing_mm=" << Vector3Text(g.spacing_mm)
            << ", origin_mm=" << Vector3Text(g.origin_mm) << ")";
        return out.str();
      });

  // ---- Volume ---------------------------------------------------------------
  py::class_<VolumeHolder>(m, "Volume", R"doc(
A 3D image: `array`, a C-contiguous numpy array of shape (k, j, i) = geometry.shape
with dtype int16 (CT in HU, labels) or float32, and `geometry`, which places
its voxels in LPS mm. Index with array[k, j, i].

Volumes returned by ssmx are views of the C++ buffer (no copy). A Volume made
from your array keeps a reference to it (no copy); it is copied into C++ when
passed to an ssmx function.)doc")
      .def(py::init([](py::handle array, std::optional<VolumeGeometry> geometry) {
             if (!geometry) {
               if (!py::isinstance<py::array>(array)) {
                 throw py::type_error(
                     "Volume.array: expected a (k, j, i) numpy array of int16 or float32, got " +
                     std::string(py::str(py::type::of(array).attr("__name__"))));
               }
               const py::array checked = RequireArrayOf(array, true, "int16 or float32", "array",
                                                        {-1, -1, -1}, "(k, j, i)");
               geometry.emplace();
               geometry->size = Eigen::Vector3i(static_cast<int>(checked.shape(2)),
                                                static_cast<int>(checked.shape(1)),
                                                static_cast<int>(checked.shape(0)));
             }
             return VolumeHolder(array, *geometry);
           }),
           "array"_a, "geometry"_a = py::none(),
           "array: (k, j, i) int16 or float32, C-contiguous (kept, not copied). geometry: "
           "VolumeGeometry whose shape equals array.shape; default: 1 mm voxels at the origin.")
      .def_static(
          "zeros",
          [](const VolumeGeometry& geometry, const std::string& voxel_type) {
            if (voxel_type != "int16" && voxel_type != "float32") {
              throw InvalidInput("voxel_type \"" + voxel_type + "\": expected int16 or float32");
            }
            return Volume(geometry,
                          voxel_type == "int16" ? VoxelType::kInt16 : VoxelType::kFloat32);
          },
          "geometry"_a, "voxel_type"_a = "float32", "A zero-filled volume.")
      .def_property("array", &VolumeHolder::array, &VolumeHolder::set_array,
                    "(k, j, i) int16 or float32 voxels, C-contiguous.")
      .def_property(
          "geometry",
          [](VolumeHolder& v) -> VolumeGeometry& {
            return const_cast<VolumeGeometry&>(v.geometry());
          },
          &VolumeHolder::set_geometry,
          "The VolumeGeometry (edits in place are checked against the array when the volume is "
          "used).")
      .def_property_readonly(
          "voxel_type", [](const VolumeHolder& v) { return VoxelTypeName(v.voxel_type()); },
          "\"int16\" or \"float32\".")
      .def_property_readonly(
          "shape", [](const VolumeHolder& v) { return v.array().attr("shape"); }, "(k, j, i).")
      .def("__repr__", [](const VolumeHolder& v) {
        const VolumeGeometry& g = v.geometry();
        std::ostringstream out;
        out << "Volume(" << VoxelTypeName(v.voxel_type()) << ", shape=(" << g.size.z() << ", "
            << g.size.y() << ", " << g.size.x() << "), spacing_mm=" << Vector3Text(g.spacing_mm)
            << ", origin_mm=" << Vector3Text(g.origin_mm) << ")";
        return out.str();
      });

  // ---- TriangleMesh ---------------------------------------------------------
  py::class_<Mesh>(m, "TriangleMesh", R"doc(
A triangle surface in patient LPS millimetres:
  vertices: (V, 3) float64, one vertex per row, mm
  faces:    (F, 3) int32, zero-based vertex indices, counter-clockwise seen from outside
  normals:  (V, 3) float64 unit vertex normals, or (0, 3) when absent
  scalars:  dict {name: (V,) float64}, e.g. "distance_mm"

Meshes returned by ssmx are views of the C++ buffers (no copy). A mesh made from
your arrays keeps references to them (no copy); it is copied into C++ when passed
to an ssmx function. Arrays must have exactly these dtypes and be C-contiguous:
ssmx raises TypeError instead of converting.)doc")
      .def(py::init<py::handle, py::handle, py::handle, py::handle>(), "vertices"_a, "faces"_a,
           "normals"_a = py::none(), "scalars"_a = py::none())
      .def_property("vertices", &Mesh::vertices, &Mesh::set_vertices, "(V, 3) float64, LPS mm.")
      .def_property("faces", &Mesh::faces, &Mesh::set_faces, "(F, 3) int32 vertex indices.")
      .def_property("normals", &Mesh::normals, &Mesh::set_normals,
                    "(V, 3) float64 unit normals or (0, 3); assign None to drop them.")
      .def_property("scalars", &Mesh::scalars, &Mesh::set_scalars,
                    "dict {name: (V,) float64}; the dict may be edited in place.")
      .def_property_readonly("num_vertices",
                             [](const Mesh& mesh) { return mesh.vertices().shape(0); })
      .def_property_readonly("num_faces", [](const Mesh& mesh) { return mesh.faces().shape(0); })
      .def(
          "copy", [](const Mesh& mesh) { return Mesh::FromCpp(mesh.ToCpp()); },
          "A deep copy (new buffers).")
      .def("__repr__", [](const Mesh& mesh) {
        std::string scalars;
        for (auto item : mesh.scalars()) {
          scalars += (scalars.empty() ? "" : ", ") + std::string(py::str(item.first));
        }
        return "TriangleMesh(" + std::to_string(mesh.vertices().shape(0)) + " vertices, " +
               std::to_string(mesh.faces().shape(0)) + " faces" +
               (mesh.normals().shape(0) ? ", normals" : "") +
               (scalars.empty() ? "" : ", scalars: " + scalars) + ")";
      });

  py::class_<Bounds3d>(m, "Bounds3d", "Axis-aligned box, LPS mm.")
      .def_readonly("min", &Bounds3d::min, "(3,) lowest corner, mm")
      .def_readonly("max", &Bounds3d::max, "(3,) highest corner, mm")
      .def("extent", &Bounds3d::Extent, "(3,) max - min, mm");
  m.def("compute_bounds", &ComputeBounds, "mesh"_a,
        "Bounds of the vertices. Raises InvalidInput for a mesh without vertices.");

  py::class_<MeshCheck>(m, "MeshCheck", "Structural defects of a mesh (see check_mesh).")
      .def_readonly("non_finite_vertices", &MeshCheck::non_finite_vertices)
      .def_readonly("out_of_range_indices", &MeshCheck::out_of_range_indices)
      .def_readonly("degenerate_faces", &MeshCheck::degenerate_faces)
      .def_readonly("unreferenced_vertices", &MeshCheck::unreferenced_vertices)
      .def_readonly("boundary_edges", &MeshCheck::boundary_edges)
      .def_readonly("non_manifold_edges", &MeshCheck::non_manifold_edges)
      .def_readonly("inconsistent_edges", &MeshCheck::inconsistent_edges)
      .def_readonly("connected_components", &MeshCheck::connected_components)
      .def_readonly("surface_area_mm2", &MeshCheck::surface_area_mm2)
      .def_readonly("enclosed_volume_mm3", &MeshCheck::enclosed_volume_mm3,
                    "Signed volume by the divergence theorem (negative: faces point inwards).")
      .def("watertight", &MeshCheck::watertight,
           "Closed two-manifold, consistently oriented, valid indices.")
      .def("problems", &MeshCheck::Problems, "The problems found, in words; empty when none.")
      .def("__repr__", [](const MeshCheck& c) {
        std::ostringstream out;
        out << "MeshCheck(watertight=" << (c.watertight() ? "True" : "False")
            << ", area_mm2=" << c.surface_area_mm2 << ", volume_mm3=" << c.enclosed_volume_mm3
            << ", components=" << c.connected_components << ")";
        return out.str();
      });
  m.def("check_mesh", &CheckMesh, py::call_guard<py::gil_scoped_release>(), "mesh"_a,
        "Counts defects (NaN, bad indices, degenerate faces, boundary and non-manifold edges, "
        "orientation, components) and measures area (mm^2) and enclosed volume (mm^3). "
        "Works on broken meshes too.");
  m.def("validate_mesh", &ValidateMesh, py::call_guard<py::gil_scoped_release>(), "mesh"_a,
        "what"_a = "mesh",
        "Raises InvalidInput naming `what` when the mesh cannot be used at all (no faces, "
        "non-finite coordinates, indices out of range, normals or scalars of the wrong length).");
  m.def(
      "remove_repeated_index_faces",
      [](Mesh& mesh) {
        TriangleMesh cpp = mesh.ToCpp();
        const int64_t removed = RemoveRepeatedIndexFaces(&cpp);
        mesh.Assign(std::move(cpp));
        return removed;
      },
      "mesh"_a,
      "Removes, in place, faces that repeat a vertex index; returns how many were removed.");

  // ---- Image2D --------------------------------------------------------------
  py::class_<ImageHolder>(m, "Image2D", R"doc(
One 2D (X-ray) image: `pixels`, a (rows, cols) float32 array, row 0 at the top,
pixel (u, v) = pixels[v, u] with u the column; the pixel pitch in mm along u and
v; and `quantity`, what the values mean: "line_integral" (no unit),
"intensity" (counts), "mask" (0/1) or "path_length_mm". The projection geometry
travels beside it (ssmx.drr.Sidecar). Images returned by ssmx are views of the
C++ buffer (no copy).)doc")
      .def(py::init([](py::handle pixels, const std::string& quantity, double du, double dv) {
             return ImageHolder(pixels, ParseImageQuantity(quantity), du, dv);
           }),
           "pixels"_a, "quantity"_a = "intensity", "pixel_spacing_u_mm"_a = 1.0,
           "pixel_spacing_v_mm"_a = 1.0, "pixels: (rows, cols) float32, C-contiguous (kept).")
      .def_property("pixels", &ImageHolder::pixels, &ImageHolder::set_pixels,
                    "(rows, cols) float32.")
      .def_property_readonly("rows", [](const ImageHolder& i) { return i.pixels().shape(0); })
      .def_property_readonly("cols", [](const ImageHolder& i) { return i.pixels().shape(1); })
      .def_property(
          "quantity", [](const ImageHolder& i) { return ImageQuantityName(i.quantity); },
          [](ImageHolder& i, const std::string& name) { i.quantity = ParseImageQuantity(name); },
          "\"line_integral\", \"intensity\", \"mask\" or \"path_length_mm\".")
      .def_readwrite("pixel_spacing_u_mm", &ImageHolder::pixel_spacing_u_mm,
                     "mm between column centres")
      .def_readwrite("pixel_spacing_v_mm", &ImageHolder::pixel_spacing_v_mm,
                     "mm between row centres")
      .def("__repr__", [](const ImageHolder& i) {
        std::ostringstream out;
        out << "Image2D(" << ImageQuantityName(i.quantity) << ", rows=" << i.pixels().shape(0)
            << ", cols=" << i.pixels().shape(1) << ", pixel_spacing_mm=(" << i.pixel_spacing_u_mm
            << ", " << i.pixel_spacing_v_mm << "))";
        return out.str();
      });

  // ---- Logging and files ----------------------------------------------------
  m.def(
      "set_log_level", [](const std::string& level) { SetLogLevel(ParseLogLevel(level)); },
      "level"_a,
      "Threshold of the C++ library's messages on stderr: \"debug\", \"info\", \"warning\" "
      "(default), \"error\" or \"off\". Process-wide.");
  m.def(
      "get_log_level", [] { return std::string(LogLevelName(GetLogLevel())); },
      "The current log threshold.");
  m.def(
      "write_file_atomically",
      [](const std::string& path, const py::bytes& data) {
        std::string bytes = data;
        WithoutGil([&] { WriteFileAtomically(path, bytes); });
      },
      "path"_a, "data"_a,
      "Writes bytes through a temporary file in the same folder renamed over `path`, so "
      "readers never see a partial file. Raises IoError when the folder is missing.");
}

}  // namespace ssmx::python
