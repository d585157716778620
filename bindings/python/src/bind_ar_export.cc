// ssmx.ar_export: scenes of named structures, the AR frame, GLB, USDZ, OBJ,
// merged STL/PLY, decimation for phones and the offline viewer.
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include <cmath>

#include "arrays.h"
#include "bindings.h"
#include "callbacks.h"
#include "holders.h"
#include "ssmx/ar_export/colormap.h"
#include "ssmx/ar_export/decimate.h"
#include "ssmx/ar_export/export.h"
#include "ssmx/ar_export/frame.h"
#include "ssmx/ar_export/gltf_writer.h"
#include "ssmx/ar_export/interchange.h"
#include "ssmx/ar_export/scene.h"
#include "ssmx/ar_export/usdz_writer.h"
#include "ssmx/ar_export/viewer.h"
#include "ssmx/core/error.h"

namespace ssmx::python {
namespace {

// ssmx.ar_export.Structure: like ar_export::Structure, with the mesh as an
// ssmx.TriangleMesh (copied into C++ when the scene is used).
struct StructureHolder {
  std::string name;
  py::object mesh;
  Eigen::Vector3d color_srgb;
  std::string side;

  void set_mesh(py::object value) {
    if (!py::isinstance<Mesh>(value)) {
      throw py::type_error("Structure.mesh: expected an ssmx.TriangleMesh, got " +
                           std::string(py::str(py::type::of(value).attr("__name__"))));
    }
    mesh = std::move(value);
  }
};

// ssmx.ar_export.Scene: a list of Structure, an optional HeatMap, place_on_origin.
struct SceneHolder {
  py::list structures;
  std::optional<ar_export::HeatMap> heat_map;
  bool place_on_origin = true;

  ar_export::Scene ToCpp() const {
    ar_export::Scene scene;
    scene.place_on_origin = place_on_origin;
    scene.has_heat_map = heat_map.has_value();
    if (heat_map) scene.heat_map = *heat_map;
    for (py::handle item : structures) {
      if (!py::isinstance<StructureHolder>(item)) {
        throw py::type_error("Scene.structures: expected ssmx.ar_export.Structure items, got " +
                             std::string(py::str(py::type::of(item).attr("__name__"))));
      }
      const auto& s = item.cast<const StructureHolder&>();
      ar_export::Structure cpp;
      cpp.name = s.name;
      cpp.mesh = s.mesh.cast<const Mesh&>().ToCpp();
      cpp.color_srgb = s.color_srgb;
      cpp.side = s.side;
      scene.structures.push_back(std::move(cpp));
    }
    return scene;
  }

  static py::object FromCpp(ar_export::Scene&& scene) {
    SceneHolder out;
    out.place_on_origin = scene.place_on_origin;
    if (scene.has_heat_map) out.heat_map = scene.heat_map;
    for (ar_export::Structure& s : scene.structures) {
      out.structures.append(py::cast(
          StructureHolder{s.name, Mesh::FromCpp(std::move(s.mesh)), s.color_srgb, s.side}));
    }
    return py::cast(std::move(out));
  }
};

}  // namespace
}  // namespace ssmx::python

namespace pybind11::detail {
template <>
struct type_caster<ssmx::ar_export::Scene>
    : HolderCaster<ssmx::ar_export::Scene, ssmx::python::SceneHolder> {
  static constexpr auto name = const_name("Scene");
};
}  // namespace pybind11::detail

namespace ssmx::python {

using namespace pybind11::literals;

void BindArExport(py::module_& m) {
  m.attr("METRES_PER_MILLIMETRE") = ar_export::kMetresPerMillimetre;

  // ---- Colours --------------------------------------------------------------
  m.def("colormap_names", &ar_export::ColormapNames,
        "The colormaps: viridis, magma, inferno, plasma (matplotlib's tables).");
  m.def(
      "sample_colormap",
      [](const std::string& name, py::handle t) -> py::object {
        const ar_export::Colormap colormap = ar_export::ParseColormap(name);
        if (!py::isinstance<py::array>(t)) {
          return py::cast(ar_export::SampleColormap(colormap, t.cast<double>()));
        }
        const py::array_t<double> values = RequireArray<double>(t, "t", {-1}, "(N,)");
        py::array_t<double> out(std::vector<py::ssize_t>{values.shape(0), 3});
        for (py::ssize_t i = 0; i < values.shape(0); ++i) {
          Eigen::Map<Eigen::Vector3d>(out.mutable_data(i, 0)) =
              ar_export::SampleColormap(colormap, values.data()[i]);
        }
        return std::move(out);
      },
      "name"_a, "t"_a,
      "sRGB colour (components 0..1) at t in [0, 1] (clamped): (3,) for a float, (N, 3) for an "
      "(N,) float64 array.");
  m.def("parse_color", &ar_export::ParseColor, "text"_a,
        "(3,) sRGB in 0..1 from \"#rrggbb\", \"rrggbb\", \"#rgb\" or a name (\"bone\", ...).");
  m.def("color_hex", &ar_export::ColorHex, "srgb"_a, "\"#rrggbb\" of a (3,) sRGB colour.");
  m.def("srgb_to_linear", py::vectorize(py::overload_cast<double>(&ar_export::SrgbToLinear)), "c"_a,
        "IEC 61966-2-1 sRGB -> linear, elementwise over any array-like.");
  m.def("linear_to_srgb", py::vectorize(&ar_export::LinearToSrgb), "c"_a,
        "Linear -> sRGB, elementwise over any array-like.");

  // ---- Scenes ---------------------------------------------------------------
  const ar_export::HeatMap heat0;
  py::class_<ar_export::HeatMap>(m, "HeatMap", R"doc(
Colours vertices by the per-vertex scalar `scalar` through a colormap; min/max
map to its ends (NaN: the data's range); units for the legend.)doc")
      .def(py::init([](const std::string& scalar, const std::string& colormap, double min,
                       double max, const std::string& units) {
             ar_export::HeatMap h;
             h.scalar = scalar;
             h.colormap = ar_export::ParseColormap(colormap);
             h.min = min;
             h.max = max;
             h.units = units;
             return h;
           }),
           "scalar"_a, "colormap"_a = ar_export::ColormapName(heat0.colormap), "min"_a = heat0.min,
           "max"_a = heat0.max, "units"_a = heat0.units)
      .def_readwrite("scalar", &ar_export::HeatMap::scalar)
      .def_property(
          "colormap",
          [](const ar_export::HeatMap& h) { return ar_export::ColormapName(h.colormap); },
          [](ar_export::HeatMap& h, const std::string& name) {
            h.colormap = ar_export::ParseColormap(name);
          })
      .def_readwrite("min", &ar_export::HeatMap::min)
      .def_readwrite("max", &ar_export::HeatMap::max)
      .def_readwrite("units", &ar_export::HeatMap::units);
  const ar_export::Structure structure0;
  py::class_<StructureHolder>(m, "Structure", R"doc(
One named structure of an export: its mesh (TriangleMesh in LPS mm; normals and
scalars optional), display colour (3,) sRGB 0..1 and side ("left", "right" or "";
None infers it from the name).)doc")
      .def(py::init([](const std::string& name, py::object mesh, const Eigen::Vector3d& color,
                       std::optional<std::string> side) {
             StructureHolder s{name, py::none(), color, side ? *side : ar_export::InferSide(name)};
             s.set_mesh(std::move(mesh));
             return s;
           }),
           "name"_a, "mesh"_a, "color_srgb"_a = structure0.color_srgb, "side"_a = py::none())
      .def_readwrite("name", &StructureHolder::name)
      .def_property(
          "mesh", [](const StructureHolder& s) { return s.mesh; }, &StructureHolder::set_mesh)
      .def_readwrite("color_srgb", &StructureHolder::color_srgb)
      .def_readwrite("side", &StructureHolder::side);
  py::class_<SceneHolder>(m, "Scene", R"doc(
What goes into every AR file: `structures` (a list of Structure), an optional
`heat_map` (HeatMap or None) and place_on_origin (stand the model's bounding-box
bottom centre on the origin). Meshes are copied into C++ when the scene is used.)doc")
      .def(py::init([](std::optional<py::list> structures,
                       std::optional<ar_export::HeatMap> heat_map, bool place_on_origin) {
             SceneHolder s;
             s.structures = structures ? *structures : py::list();
             s.heat_map = heat_map;
             s.place_on_origin = place_on_origin;
             return s;
           }),
           "structures"_a = py::none(), "heat_map"_a = py::none(), "place_on_origin"_a = true)
      .def_readwrite("structures", &SceneHolder::structures)
      .def_readwrite("heat_map", &SceneHolder::heat_map)
      .def_readwrite("place_on_origin", &SceneHolder::place_on_origin);
  m.def("infer_side", &ar_export::InferSide, "name"_a,
        "\"left\" / \"right\" when a word of the name says so (left, l, lt, links / right, r, "
        "rt), else \"\".");
  m.def("default_structure_color", &ar_export::DefaultStructureColor, "index"_a,
        "(3,) sRGB: bone for 0, then distinguishable muted tones.");
  m.def("validate_scene", &ar_export::ValidateScene, py::call_guard<py::gil_scoped_release>(),
        "scene"_a, "Raises InvalidInput naming the structure that cannot be exported.");
  m.def("heat_map_range", &ar_export::HeatMapRange, "scene"_a,
        "(2,) the heat map's (min, max) after defaults; the scene needs a heat_map.");

  // ---- Frame ----------------------------------------------------------------
  m.def("ar_from_lps", &ar_export::ArFromLps,
        "(3, 3) 0.001 * [[1,0,0],[0,0,1],[0,-1,0]]: LPS mm -> AR metres, +Y superior, +Z "
        "anterior.");
  m.def("to_ar_frame", &ar_export::ToArFrame, py::call_guard<py::gil_scoped_release>(),
        "mesh_lps_mm"_a, "The mesh in the AR frame (metres): vertices and normals converted.");

  // ---- Writers --------------------------------------------------------------
  m.def(
      "glb_bytes",
      [](const ar_export::Scene& scene) {
        return py::bytes(WithoutGil([&] { return ar_export::GlbBytes(scene); }));
      },
      "scene"_a, "The binary glTF 2.0 file as bytes.");
  m.def("write_glb", &ar_export::WriteGlb, py::call_guard<py::gil_scoped_release>(), "scene"_a,
        "path"_a,
        "Binary glTF (ARCore Scene Viewer, model-viewer, Blender), atomically; one node, mesh "
        "and material per structure, COLOR_0 for a heat map.");
  m.def("usda_text", &ar_export::UsdaText, py::call_guard<py::gil_scoped_release>(), "scene"_a,
        "texture_path"_a = "textures/colormap.png", "The flattened USD layer (usda text).");
  m.def(
      "colormap_png",
      [](const std::string& name) {
        return py::bytes(ar_export::ColormapPng(ar_export::ParseColormap(name)));
      },
      "name"_a, "The 256 x 4 sRGB PNG of a colormap (heat-map texture), as bytes.");
  m.def(
      "usdz_bytes",
      [](const ar_export::Scene& scene) {
        return py::bytes(WithoutGil([&] { return ar_export::UsdzBytes(scene); }));
      },
      "scene"_a, "The USDZ package (AR Quick Look) as bytes; byte-for-byte reproducible.");
  m.def("write_usdz", &ar_export::WriteUsdz, py::call_guard<py::gil_scoped_release>(), "scene"_a,
        "path"_a, "USDZ for iOS AR Quick Look, atomically.");
  m.def("write_obj", &ar_export::WriteObj, py::call_guard<py::gil_scoped_release>(), "scene"_a,
        "obj_path"_a, "OBJ + MTL (+ colormap PNG) in the AR frame; returns the paths written.");
  m.def("merge_structures", &ar_export::MergeStructures, py::call_guard<py::gil_scoped_release>(),
        "scene"_a,
        "All structures in one TriangleMesh in LPS mm (for STL/PLY); scalar \"structure_index\" "
        "with several structures.");
  m.def("decimate_for_ar", &ar_export::DecimateForAr, py::call_guard<py::gil_scoped_release>(),
        "mesh_lps_mm"_a, "target_faces"_a,
        "At most target_faces (>= 4) faces; scalars carried over from the nearest vertex.");
  m.def("decimate_scene", &ar_export::DecimateScene, py::call_guard<py::gil_scoped_release>(),
        "scene"_a, "total_faces"_a,
        "A new Scene with at most total_faces faces in all (<= 0 keeps every face).");

  // ---- Viewer and the one-call export ---------------------------------------
  m.def("find_viewer_assets", &ar_export::FindViewerAssets,
        "The folder of the viewer's static files; raises IoError naming the places searched.");
  const ar_export::ViewerOptions viewer0;
  m.def(
      "write_viewer",
      [](const ar_export::Scene& scene, const std::string& dir, const std::string& assets_dir,
         const std::string& title) {
        ar_export::ViewerOptions options;
        options.assets_dir = assets_dir;
        options.title = title;
        return WithoutGil([&] { return ar_export::WriteViewer(scene, dir, options); });
      },
      "scene"_a, "dir"_a, "assets_dir"_a = viewer0.assets_dir, "title"_a = viewer0.title,
      "An offline viewer folder (index.html, model.glb, model.usdz, ...); serve it with "
      "`python3 -m http.server`. Returns the paths written.");
  py::class_<ar_export::ExportedFile>(m, "ExportedFile", "One file written by export_scene.")
      .def_readonly("path", &ar_export::ExportedFile::path)
      .def_readonly("format", &ar_export::ExportedFile::format,
                    "\"glb\", \"usdz\", \"obj\", \"mtl\", \"png\", \"stl\", \"ply\", \"viewer\"")
      .def_readonly("bytes", &ar_export::ExportedFile::bytes)
      .def_readonly("seconds", &ar_export::ExportedFile::seconds)
      .def_readonly("faces", &ar_export::ExportedFile::faces)
      .def("__repr__", [](const ar_export::ExportedFile& f) {
        return "ExportedFile(" + f.format + ", " + f.path + ", " + std::to_string(f.bytes) +
               " bytes)";
      });
  m.def(
      "export_scene",
      [](const ar_export::Scene& scene, const std::string& glb, const std::string& usdz,
         const std::string& obj, const std::string& stl, const std::string& ply,
         const std::string& viewer_dir, int64_t target_faces, const std::string& viewer_title) {
        ar_export::ExportRequest request;
        request.glb = glb;
        request.usdz = usdz;
        request.obj = obj;
        request.stl = stl;
        request.ply = ply;
        request.viewer_dir = viewer_dir;
        request.target_faces = target_faces;
        request.viewer.title = viewer_title;
        return WithoutGil([&] { return ar_export::ExportScene(scene, request); });
      },
      "scene"_a, py::kw_only(), "glb"_a = "", "usdz"_a = "", "obj"_a = "", "stl"_a = "",
      "ply"_a = "", "viewer_dir"_a = "", "target_faces"_a = 0, "viewer_title"_a = viewer0.title,
      R"doc(
Validates the scene once and writes every requested file (an empty path skips
it): GLB, USDZ and OBJ in the AR frame, decimated to target_faces in all (<= 0
keeps every face); STL and PLY in LPS mm with every face; an offline viewer
folder. Returns a list of ExportedFile.)doc");
}

}  // namespace ssmx::python
