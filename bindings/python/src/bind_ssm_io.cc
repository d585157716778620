// ssmx.ssm: volume IO and QA, DICOM series, mesh IO, primitives.
#include <pybind11/eigen.h>
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "arrays.h"
#include "bindings.h"
#include "callbacks.h"
#include "holders.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/dicom_series.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/primitives.h"
#include "ssmx/ssm/qa_finding.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::python {
namespace {

using namespace pybind11::literals;

ssm::Severity ParseSeverity(const std::string& name) {
  for (ssm::Severity s : {ssm::Severity::kInfo, ssm::Severity::kWarning, ssm::Severity::kError}) {
    if (name == ssm::SeverityName(s)) return s;
  }
  throw InvalidInput("severity \"" + name + "\": expected info, warning or error");
}

// VolumeReadResult with the volume as an ssmx.Volume (a view of the C++ buffer).
struct ReadResult {
  py::object volume;
  std::string format;
  std::vector<ssm::QaFinding> findings;
  std::map<std::string, std::string> technical;
  bool resampled = false;
};

}  // namespace

void BindSsmIo(py::module_& m) {
  // ---- QA findings ----------------------------------------------------------
  py::class_<ssm::QaFinding>(m, "QaFinding",
                             "One observation about an input (a gantry tilt, a missing slice...).")
      .def_property_readonly(
          "severity", [](const ssm::QaFinding& f) { return ssm::SeverityName(f.severity); },
          "\"info\", \"warning\" or \"error\"")
      .def_readonly("code", &ssm::QaFinding::code,
                    "stable machine name, e.g. \"gantry_tilt\" (docs/cli.md)")
      .def_readonly("message", &ssm::QaFinding::message, "one line for a person")
      .def_readonly("corrected", &ssm::QaFinding::corrected,
                    "the reader repaired it (resampling, interpolation)")
      .def("__repr__", [](const ssm::QaFinding& f) {
        return std::string("QaFinding(") + ssm::SeverityName(f.severity) + ", " + f.code + ": " +
               f.message + (f.corrected ? ", corrected" : "") + ")";
      });
  m.def(
      "findings_at_least",
      [](const std::vector<ssm::QaFinding>& findings, const std::string& severity) {
        return ssm::FindingsAtLeast(findings, ParseSeverity(severity));
      },
      "findings"_a, "severity"_a,
      "The findings of at least this severity (info < warning < error).");

  // ---- Volumes --------------------------------------------------------------
  py::class_<ReadResult>(m, "VolumeReadResult", "A volume and what the reader found out about it.")
      .def_readonly("volume", &ReadResult::volume, "the ssmx.Volume (LPS mm; HU for CT)")
      .def_readonly("format", &ReadResult::format, "\"DICOM\", \"NIfTI\", \"MetaImage\", \"NRRD\"")
      .def_readonly("findings", &ReadResult::findings, "list of QaFinding")
      .def_readonly("technical", &ReadResult::technical,
                    "acquisition fields that identify no one (modality, kVp, ...)")
      .def_readonly("resampled", &ReadResult::resampled,
                    "the stored grid was irregular and was resampled");
  m.def(
      "read_volume",
      [](const std::string& path, const std::string& series, bool allow_gaps, py::handle progress) {
        GilFreeCall call;
        const ssm::VolumeReadOptions options =
            VolumeReadOptionsFor(series, allow_gaps, call, progress);
        ssm::VolumeReadResult result = call.Run([&] { return ssm::ReadVolume(path, options); });
        ReadResult out;
        out.volume = VolumeHolder::FromCpp(std::move(result.volume));
        out.format = result.format;
        out.findings = result.findings;
        out.technical = result.technical;
        out.resampled = result.resampled;
        return out;
      },
      "path"_a, py::kw_only(), "series"_a = "", "allow_gaps"_a = false, "progress"_a = py::none(),
      R"doc(
Reads a CT or label volume into LPS mm: a DICOM folder (any transfer syntax GDCM
decodes; rescaled to HU; the stack checked for tilt, gaps, uneven spacing and
resampled or refused), or a NIfTI / MetaImage / NRRD / single DICOM file.

series: key of the series to read in a folder holding several (list_dicom_series).
allow_gaps: interpolate across missing slices instead of refusing.
progress: callable(fraction, stage) -> bool | None; False cancels (ssmx.Cancelled).
Returns a VolumeReadResult; result.volume.array is (k, j, i) int16 or float32,
a view of the C++ buffer. Raises IoError (unreadable) or InvalidInput (refused).)doc");
  m.def(
      "read_volume_in_slabs",
      [](const std::string& path, int slices_per_slab, py::function consume,
         const std::string& series, bool allow_gaps, py::handle progress) {
        GilFreeCall call;
        const ssm::VolumeReadOptions options =
            VolumeReadOptionsFor(series, allow_gaps, call, progress);
        const ssm::SlabConsumer consumer = [&](const VolumeGeometry& whole, const Volume& slab,
                                               int k_begin) {
          const bool ok = call.WithGil([&] { consume(whole, slab, k_begin); });
          if (!ok) throw Cancelled("read_volume_in_slabs: the consumer raised an exception");
        };
        return call.Run(
            [&] { return ssm::ReadVolumeInSlabs(path, slices_per_slab, consumer, options); });
      },
      "path"_a, "slices_per_slab"_a, "consume"_a, py::kw_only(), "series"_a = "",
      "allow_gaps"_a = false, "progress"_a = py::none(), R"doc(
Reads a volume slab by slab and calls consume(whole, slab, k_begin) for each:
whole is the VolumeGeometry of the entire volume, slab a float32 Volume of at
most `slices_per_slab` slices (k_begin .. k_begin + n - 1; a copy that stays
valid). MetaImage, NRRD and uncompressed NIfTI stream; others come as one slab.
An exception raised by consume stops the reading and is re-raised.
Returns the whole volume's VolumeGeometry.)doc");
  m.def("write_volume", &ssm::WriteVolume, py::call_guard<py::gil_scoped_release>(), "volume"_a,
        "path"_a,
        "Writes MetaImage (.mha, .mhd), NIfTI (.nii, .nii.gz) or NRRD (.nrrd) by extension, "
        "atomically, in LPS (NIfTI stores RAS as usual).");
  m.def("has_volume_extension", &ssm::HasVolumeExtension, "path"_a,
        "True when read_volume understands the file extension.");

  // ---- DICOM ----------------------------------------------------------------
  py::class_<ssm::DicomSeriesSummary>(m, "DicomSeriesSummary", "One image series of a folder.")
      .def_readonly("key", &ssm::DicomSeriesSummary::key, "what read_volume(series=...) accepts")
      .def_readonly("series_uid", &ssm::DicomSeriesSummary::series_uid)
      .def_readonly("modality", &ssm::DicomSeriesSummary::modality)
      .def_readonly("sop_class", &ssm::DicomSeriesSummary::sop_class)
      .def_readonly("num_files", &ssm::DicomSeriesSummary::num_files)
      .def_readonly("num_slices", &ssm::DicomSeriesSummary::num_slices)
      .def_readonly("rows", &ssm::DicomSeriesSummary::rows)
      .def_readonly("cols", &ssm::DicomSeriesSummary::cols)
      .def("__repr__", [](const ssm::DicomSeriesSummary& s) {
        return "DicomSeriesSummary(" + s.key + ", " + s.modality + ", " +
               std::to_string(s.num_slices) + " slices of " + std::to_string(s.rows) + "x" +
               std::to_string(s.cols) + ")";
      });
  m.def("list_dicom_series", &ssm::ListDicomSeries, py::call_guard<py::gil_scoped_release>(),
        "folder"_a,
        "The image series in a folder (not recursive). Raises IoError for an unreadable "
        "folder, InvalidInput when it holds no DICOM image.");

  py::class_<ssm::SliceGeometry>(m, "SliceGeometry",
                                 "Geometry of one stored 2D slice, as DICOM gives it (LPS mm).")
      .def(py::init<>())
      .def_readwrite("position_mm", &ssm::SliceGeometry::position_mm,
                     "(3,) centre of the first pixel (ImagePositionPatient)")
      .def_readwrite("row_direction", &ssm::SliceGeometry::row_direction,
                     "(3,) unit vector along a row (column index increases)")
      .def_readwrite("column_direction", &ssm::SliceGeometry::column_direction,
                     "(3,) unit vector down a column")
      .def_readwrite("rows", &ssm::SliceGeometry::rows)
      .def_readwrite("cols", &ssm::SliceGeometry::cols)
      .def_readwrite("row_spacing_mm", &ssm::SliceGeometry::row_spacing_mm,
                     "between rows (DICOM PixelSpacing[0])")
      .def_readwrite("column_spacing_mm", &ssm::SliceGeometry::column_spacing_mm,
                     "between columns (DICOM PixelSpacing[1])")
      .def_readwrite("thickness_mm", &ssm::SliceGeometry::thickness_mm, "0 when absent")
      .def_readwrite("source", &ssm::SliceGeometry::source)
      .def_readwrite("frame", &ssm::SliceGeometry::frame);
  py::class_<ssm::StackAnalysis>(m, "StackAnalysis", "Result of analyze_stack.")
      .def_readonly("findings", &ssm::StackAnalysis::findings)
      .def_readonly("order", &ssm::StackAnalysis::order, "slice indices sorted along the normal")
      .def_readonly("positions_mm", &ssm::StackAnalysis::positions_mm,
                    "signed distances of the sorted slices along the normal")
      .def_readonly("normal", &ssm::StackAnalysis::normal, "(3,) row x column direction")
      .def_readonly("median_spacing_mm", &ssm::StackAnalysis::median_spacing_mm)
      .def_readonly("gantry_tilt_deg", &ssm::StackAnalysis::gantry_tilt_deg)
      .def_readonly("tilted", &ssm::StackAnalysis::tilted)
      .def_readonly("uneven", &ssm::StackAnalysis::uneven)
      .def_readonly("has_gaps", &ssm::StackAnalysis::has_gaps)
      .def_readonly("refused", &ssm::StackAnalysis::refused);
  const ssm::StackCheckOptions stack_defaults;
  m.def(
      "analyze_stack",
      [](const std::vector<ssm::SliceGeometry>& slices, double gap_factor, double uneven_tolerance,
         double tilt_tolerance_deg, bool allow_gaps) {
        ssm::StackCheckOptions options;
        options.gap_factor = gap_factor;
        options.uneven_tolerance = uneven_tolerance;
        options.tilt_tolerance_deg = tilt_tolerance_deg;
        options.allow_gaps = allow_gaps;
        return ssm::AnalyzeStack(slices, options);
      },
      "slices"_a, "gap_factor"_a = stack_defaults.gap_factor,
      "uneven_tolerance"_a = stack_defaults.uneven_tolerance,
      "tilt_tolerance_deg"_a = stack_defaults.tilt_tolerance_deg,
      "allow_gaps"_a = stack_defaults.allow_gaps, R"doc(
Checks a stack of slices (list of SliceGeometry) for missing slices (a step >
gap_factor x median spacing), uneven spacing (relative uneven_tolerance), gantry
tilt (above tilt_tolerance_deg), mixed orientations or sizes, duplicates and
overlaps. Pure geometry: no file is read.)doc");

  // ---- Meshes ---------------------------------------------------------------
  py::class_<ssm::MeshReadReport>(m, "MeshReadReport", "What reading a mesh found and repaired.")
      .def_readonly("format", &ssm::MeshReadReport::format, "e.g. \"STL (binary)\"")
      .def_readonly("polygons_triangulated", &ssm::MeshReadReport::polygons_triangulated)
      .def_readonly("degenerate_faces_removed", &ssm::MeshReadReport::degenerate_faces_removed)
      .def_readonly("notes", &ssm::MeshReadReport::notes, "the repairs, in words");
  m.def(
      "read_mesh", [](const std::string& path) { return ssm::ReadMesh(path); },
      py::call_guard<py::gil_scoped_release>(), "path"_a, R"doc(
Reads STL (ASCII/binary), PLY (ASCII/binary; extra vertex properties become
scalars), OBJ, legacy VTK or VTP by extension into a TriangleMesh (LPS mm, a
view of the C++ buffers). Raises IoError (cannot open) or InvalidInput
(malformed; the message names the file and what is wrong).)doc");
  m.def(
      "read_mesh_with_report",
      [](const std::string& path) {
        ssm::MeshReadReport report;
        TriangleMesh mesh = ssm::ReadMesh(path, &report);
        return std::make_pair(std::move(mesh), report);
      },
      py::call_guard<py::gil_scoped_release>(), "path"_a,
      "read_mesh, and a MeshReadReport of the format and the repairs: (mesh, report).");
  m.def(
      "write_mesh",
      [](const TriangleMesh& mesh, const std::string& path, const std::string& stl_encoding,
         bool write_normals, bool write_scalars) {
        ssm::MeshWriteOptions options;
        if (stl_encoding != "binary" && stl_encoding != "ascii") {
          throw InvalidInput("stl_encoding \"" + stl_encoding + "\": expected binary or ascii");
        }
        options.stl_encoding =
            stl_encoding == "ascii" ? ssm::StlEncoding::kAscii : ssm::StlEncoding::kBinary;
        options.write_normals = write_normals;
        options.write_scalars = write_scalars;
        ssm::WriteMesh(mesh, path, options);
      },
      py::call_guard<py::gil_scoped_release>(), "mesh"_a, "path"_a, "stl_encoding"_a = "binary",
      "write_normals"_a = true, "write_scalars"_a = true,
      "Writes .stl (float32), .ply, .obj, .vtk or .vtp by extension, atomically. "
      "stl_encoding: \"binary\" or \"ascii\".");
  m.def("has_mesh_extension", &ssm::HasMeshExtension, "path"_a,
        "True when read_mesh/write_mesh understand the file extension.");
  m.def("make_icosphere", &ssm::MakeIcosphere, py::call_guard<py::gil_scoped_release>(),
        "radius_mm"_a, "subdivisions"_a, "center_mm"_a = Eigen::Vector3d::Zero(),
        "A geodesic sphere: 10*4^s + 2 vertices, 20*4^s faces, outward, watertight, with unit "
        "normals. subdivisions in 0..8; center_mm (3,) LPS mm.");
}

}  // namespace ssmx::python
