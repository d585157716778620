// ssmx.drr.generate_pairs: synthetic X-ray / CT training pairs (docs/pairs.md),
// whole or by partition (volume, sample range) for dask and other schedulers.
#include <pybind11/stl.h>

#include <array>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "bindings.h"
#include "callbacks.h"
#include "ssmx/core/error.h"
#include "ssmx/drr/training_pairs.h"

namespace ssmx::python {
namespace {

using namespace pybind11::literals;
using Spacing = std::variant<double, std::array<double, 2>>;

}  // namespace

void BindPairs(py::module_& m) {
  py::class_<drr::TrainingPairSummary>(m, "PairsSummary",
                                       "What generate_pairs did (counts, files, timings).")
      .def_readonly("volumes", &drr::TrainingPairSummary::volumes)
      .def_readonly("samples_total", &drr::TrainingPairSummary::samples_total)
      .def_readonly("samples_written", &drr::TrainingPairSummary::samples_written)
      .def_readonly("samples_skipped", &drr::TrainingPairSummary::samples_skipped)
      .def_readonly("files_written", &drr::TrainingPairSummary::files_written)
      .def_readonly("clipped_pixels", &drr::TrainingPairSummary::clipped_pixels)
      .def_readonly("manifest_csv", &drr::TrainingPairSummary::manifest_csv)
      .def_readonly("manifest_json", &drr::TrainingPairSummary::manifest_json)
      .def_readonly("seconds_read", &drr::TrainingPairSummary::seconds_read)
      .def_readonly("seconds_generate", &drr::TrainingPairSummary::seconds_generate)
      .def_readonly("seconds_manifest", &drr::TrainingPairSummary::seconds_manifest)
      .def_readonly("warnings", &drr::TrainingPairSummary::warnings)
      .def("brief_report", &drr::TrainingPairSummary::BriefReport)
      .def("__repr__", [](const drr::TrainingPairSummary& s) {
        return "<PairsSummary " + s.BriefReport() + ">";
      });

  m.def(
      "generate_pairs",
      [](const std::vector<std::string>& volumes, const std::string& out, int per_volume,
         const std::vector<std::string>& views, std::array<int, 2> size, Spacing pixel_spacing_mm,
         double source_to_detector_mm, double source_to_isocenter_mm, double pose_jitter_mm,
         double pose_jitter_deg, const std::vector<std::string>& label_maps,
         const std::vector<std::string>& labels, const std::string& label_table,
         const std::vector<std::string>& landmarks, std::optional<double> i0, uint64_t seed,
         int workers, const std::string& format, std::optional<std::array<double, 2>> window,
         const std::string& projector, double step_voxels, double mu_water_per_mm,
         const std::string& series, bool allow_gaps, std::optional<std::array<int, 3>> partition,
         bool manifest_only, py::handle progress) {
        drr::TrainingPairOptions o;
        o.volumes = volumes;
        o.per_volume = per_volume;
        o.views.clear();
        for (const std::string& v : views) o.views.push_back(drr::ParseNamedView(v));
        o.detector.cols = size[0];
        o.detector.rows = size[1];
        if (const double* d = std::get_if<double>(&pixel_spacing_mm)) {
          o.detector.pixel_spacing_u_mm = o.detector.pixel_spacing_v_mm = *d;
        } else {
          const auto& uv = std::get<std::array<double, 2>>(pixel_spacing_mm);
          o.detector.pixel_spacing_u_mm = uv[0];
          o.detector.pixel_spacing_v_mm = uv[1];
        }
        o.detector.source_to_detector_mm = source_to_detector_mm;
        o.detector.source_to_isocenter_mm = source_to_isocenter_mm;
        o.pose_jitter_mm = pose_jitter_mm;
        o.pose_jitter_rad = pose_jitter_deg * M_PI / 180.0;
        o.label_maps = label_maps;
        o.labels = labels;
        o.label_table = label_table;
        o.landmarks = landmarks;
        o.i0 = i0;
        o.seed = seed;
        o.workers = workers;
        o.format = drr::ParsePairImageFormat(format);
        o.png_window = window;
        o.projection.projector = drr::ParseProjectorKind(projector);
        o.projection.step_voxels = step_voxels;
        o.mu_water_per_mm = mu_water_per_mm;
        o.dicom_series = series;
        o.allow_gaps = allow_gaps;
        if (partition && manifest_only) {
          throw InvalidInput("generate_pairs: give partition or manifest_only, not both");
        }
        GilFreeCall call;
        o.progress = call.Progress(progress);
        return call.Run([&] {
          if (manifest_only) return drr::WriteTrainingPairManifest(out, o);
          if (partition) {
            return drr::GenerateTrainingPairSamples(out, o, (*partition)[0], (*partition)[1],
                                                    (*partition)[2]);
          }
          return drr::GenerateTrainingPairs(out, o);
        });
      },
      "volumes"_a, "out"_a, py::kw_only(), "per_volume"_a = 100,
      "views"_a = std::vector<std::string>{"AP", "LAT"}, "size"_a = std::array<int, 2>{256, 256},
      "pixel_spacing_mm"_a = Spacing(1.6), "source_to_detector_mm"_a = 1000.0,
      "source_to_isocenter_mm"_a = 700.0, "pose_jitter_mm"_a = 10.0, "pose_jitter_deg"_a = 10.0,
      "label_maps"_a = std::vector<std::string>{}, "labels"_a = std::vector<std::string>{},
      "label_table"_a = "", "landmarks"_a = std::vector<std::string>{}, "i0"_a = py::none(),
      "seed"_a = 7, "workers"_a = 0, "format"_a = "png", "window"_a = py::none(),
      "projector"_a = "exact", "step_voxels"_a = 0.5,
      "mu_water_per_mm"_a = drr::kDefaultMuWaterPerMm, "series"_a = "", "allow_gaps"_a = false,
      "partition"_a = py::none(), "manifest_only"_a = false, "progress"_a = py::none(),
      R"doc(Writes a training set of synthetic X-rays of CTs into the folder `out`.

For every CT (file or DICOM folder, HU) and sample: a seeded random pose, one DRR
per view (16-bit PNG or float TIFF, with its geometry sidecar), optional Poisson
noise (i0), the projected 0/1 mask of each label of `label_maps` (one per CT) and
the landmarks (one JSON per CT, LPS mm) in pixels; then manifest.csv,
manifest.json and README.txt. Same arguments -> same bytes, for any `workers`.
A second call with the same arguments resumes (complete samples are verified by
SHA-256 and skipped); other arguments into the same folder raise InvalidInput.

`size` is (cols, rows). `partition=(volume, begin, end)` writes only samples
begin..end-1 of one volume and no manifest (any number of processes may write
into one folder at once); `manifest_only=True` then checks that every sample is
complete and writes the manifest: the result is the single call's bytes.
docs/pairs.md has the layout and conventions.)doc");
}

}  // namespace ssmx::python
