// ssmx.registration: the biplanar shape-model fit, its X-ray preprocessing and
// landmark start (docs/biplanar_fit.md). The Pose class is bound by
// bind_registration.cc, which module.cc calls first.
#include <pybind11/eigen.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "callbacks.h"
#include "holders.h"
#include "ssmx/core/error.h"
#include "ssmx/registration/biplanar_fit.h"
#include "ssmx/registration/xray_features.h"

namespace ssmx::python {
namespace {

using namespace pybind11::literals;
namespace reg = registration;

// (n, 2) float64 array of 2D points (copied: small).
py::array_t<double> Points2d(const std::vector<Eigen::Vector2d>& points) {
  py::array_t<double> out({static_cast<py::ssize_t>(points.size()), py::ssize_t{2}});
  auto view = out.mutable_unchecked<2>();
  for (size_t i = 0; i < points.size(); ++i) {
    view(i, 0) = points[i].x();
    view(i, 1) = points[i].y();
  }
  return out;
}

std::vector<reg::ViewLandmarks> ToLandmarks(const py::object& landmarks) {
  std::vector<reg::ViewLandmarks> out;
  if (landmarks.is_none()) return out;
  for (const py::handle view : landmarks) {
    reg::ViewLandmarks marks;
    for (const auto& [name, uv] : view.cast<py::dict>()) {
      const auto point = uv.cast<std::vector<double>>();
      if (point.size() != 2) {
        throw InvalidInput("landmarks: '" + name.cast<std::string>() +
                           "' must be two pixel coordinates (u, v)");
      }
      marks[name.cast<std::string>()] = Eigen::Vector2d(point[0], point[1]);
    }
    out.push_back(std::move(marks));
  }
  return out;
}

py::list FromLandmarks(const std::vector<reg::ViewLandmarks>& landmarks) {
  py::list out;
  for (const reg::ViewLandmarks& view : landmarks) {
    py::dict marks;
    for (const auto& [name, uv] : view) marks[py::str(name)] = py::make_tuple(uv.x(), uv.y());
    out.append(marks);
  }
  return out;
}

}  // namespace

void BindFit(py::module_& m) {
  // ---- Views and preprocessing ----------------------------------------------
  py::class_<reg::FitView>(m, "FitView", R"doc(
One calibrated X-ray for fitting: an ssmx.Image2D and its ProjectionGeometry.
polarity: 'auto' (bone dark in 'intensity' images, bright otherwise),
'bright', 'dark' or 'any'.)doc")
      .def(py::init([](Image2D image, drr::ProjectionGeometry geometry, std::string name,
                       const std::string& polarity) {
             return reg::FitView{std::move(image), std::move(geometry), std::move(name),
                                 reg::ParseEdgePolarity(polarity)};
           }),
           "image"_a, "geometry"_a, "name"_a = "", "polarity"_a = "auto")
      .def_readwrite("image", &reg::FitView::image)
      .def_readwrite("geometry", &reg::FitView::geometry)
      .def_readwrite("name", &reg::FitView::name)
      .def_property(
          "polarity", [](const reg::FitView& v) { return reg::EdgePolarityName(v.polarity); },
          [](reg::FitView& v, const std::string& p) { v.polarity = reg::ParseEdgePolarity(p); })
      .def("__repr__", [](const reg::FitView& v) {
        return "FitView('" + v.name + "', " + std::to_string(v.image.cols) + "x" +
               std::to_string(v.image.rows) + ")";
      });
  m.def("read_fit_view", &reg::ReadFitView, "path"_a, R"doc(
Reads an X-ray and its JSON sidecar: PNG/TIFF/MetaImage/NIfTI/NRRD as written
by ssmx.drr, or a DICOM radiograph (CR/DX) with a sidecar beside it.)doc");

  m.def(
      "extract_edges",
      [](const Image2D& image, int levels, double sigma_px, double high_quantile,
         double low_ratio) {
        reg::EdgeOptions options;
        options.levels = levels;
        options.smoothing_sigma_px = sigma_px;
        options.high_quantile = high_quantile;
        options.low_ratio = low_ratio;
        reg::EdgePyramid pyramid;
        {
          py::gil_scoped_release release;
          pyramid = reg::ExtractEdges(image, options);
        }
        py::list out;
        for (const reg::EdgeLevel& level : pyramid.levels) {
          py::array_t<uint8_t> edges({level.rows, level.cols});
          std::copy(level.edges.begin(), level.edges.end(), edges.mutable_data());
          py::array_t<float> distance({level.rows, level.cols});
          std::copy(level.distance_px.begin(), level.distance_px.end(), distance.mutable_data());
          out.append(py::dict("level"_a = level.level, "factor"_a = level.factor, "edges"_a = edges,
                              "distance_px"_a = distance, "num_edges"_a = level.num_edges));
        }
        return out;
      },
      "image"_a, py::kw_only(), "levels"_a = 3, "sigma_px"_a = 1.0, "high_quantile"_a = 0.9,
      "low_ratio"_a = 0.4, R"doc(
Canny edges of an X-ray on a pyramid (docs/biplanar_fit.md, "Preprocessing").
Returns one dict per level: level, factor (full-resolution pixels per level
pixel), edges ((rows, cols) uint8, 1 on edges), distance_px ((rows, cols)
float32, distance to the nearest edge in level pixels), num_edges. Copies.)doc");

  // ---- Landmarks -------------------------------------------------------------
  m.def(
      "read_landmarks_2d",
      [](const std::string& path, int num_views) {
        return FromLandmarks(reg::ReadLandmarks2d(path, num_views));
      },
      "path"_a, "num_views"_a,
      "2D landmarks per view: a list of {name: (u, v)} dicts (docs/biplanar_fit.md).");
  m.def(
      "triangulate_landmark",
      [](const std::vector<drr::ProjectionGeometry>& geometries,
         const std::vector<std::optional<Eigen::Vector2d>>& points,
         const std::string& name) { return reg::TriangulateLandmark(geometries, points, name); },
      "geometries"_a, "points"_a, "name"_a = "landmark",
      "(3,) LPS mm: the point closest to the rays through the (u, v) points (None: not seen).");
  m.def(
      "pose_from_landmarks",
      [](const ssm::ShapeModel& model, const std::vector<drr::ProjectionGeometry>& geometries,
         const py::object& landmarks, bool with_scale) {
        std::vector<std::string> used;
        const reg::Pose pose =
            reg::PoseFromLandmarks(model, geometries, ToLandmarks(landmarks), with_scale, &used);
        return py::make_tuple(pose, used);
      },
      "model"_a, "geometries"_a, "landmarks"_a, "with_scale"_a = false, R"doc(
The model-to-world pose from >= 3 named landmarks marked in >= 2 views
(triangulated, then Umeyama onto the model mean's landmark vertices).
landmarks: one {name: (u, v)} dict per view. Returns (Pose, names used).)doc");

  // ---- The fit ---------------------------------------------------------------
  py::class_<reg::FitOptions>(m, "FitOptions", "Options of fit_shape_model (docs/biplanar_fit.md).")
      .def(py::init<>())
      .def_readwrite("modes", &reg::FitOptions::modes)
      .def_readwrite("fit_scale", &reg::FitOptions::fit_scale)
      .def_property(
          "levels", [](const reg::FitOptions& o) { return o.edges.levels; },
          [](reg::FitOptions& o, int levels) { o.edges.levels = levels; })
      .def_property(
          "polarity", [](const reg::FitOptions& o) { return reg::EdgePolarityName(o.polarity); },
          [](reg::FitOptions& o, const std::string& p) { o.polarity = reg::ParseEdgePolarity(p); })
      .def_readwrite("outer_iterations", &reg::FitOptions::outer_iterations)
      .def_readwrite("solver_iterations", &reg::FitOptions::solver_iterations)
      .def_readwrite("edge_noise_px", &reg::FitOptions::edge_noise_px)
      .def_readwrite("robust_scale", &reg::FitOptions::robust_scale)
      .def_readwrite("capture_factor", &reg::FitOptions::capture_factor)
      .def_readwrite("capture_modes", &reg::FitOptions::capture_modes)
      .def_readwrite("intensity_capture", &reg::FitOptions::intensity_capture)
      .def_readwrite("intensity_roi_mm", &reg::FitOptions::intensity_roi_mm)
      .def_readwrite("restarts", &reg::FitOptions::restarts)
      .def_readwrite("landmark_sd_px", &reg::FitOptions::landmark_sd_px)
      .def_readwrite("symmetric_weight", &reg::FitOptions::symmetric_weight)
      .def_readwrite("roi_margin_mm", &reg::FitOptions::roi_margin_mm)
      .def_readwrite("search", &reg::FitOptions::search)
      .def_readwrite("search_translation_mm", &reg::FitOptions::search_translation_mm)
      .def_readwrite("search_rotation_deg", &reg::FitOptions::search_rotation_deg)
      .def_readwrite("max_median_residual_px", &reg::FitOptions::max_median_residual_px)
      .def_readwrite("max_mahalanobis", &reg::FitOptions::max_mahalanobis)
      .def_readwrite("max_pose_change_mm", &reg::FitOptions::max_pose_change_mm)
      .def_readwrite("max_view_residual_ratio", &reg::FitOptions::max_view_residual_ratio);

  py::class_<reg::FitResult>(m, "FitResult", R"doc(
The result of fit_shape_model. mesh: the reconstruction (LPS mm) with the
scalar 'posterior_std_mm'; pose: world_from_model; coefficients: (K,)
standardised shape coefficients; views: per-view residual statistics (full-
resolution pixels); flags: {name: {raised, value, threshold}}.)doc")
      .def_readonly("mesh", &reg::FitResult::mesh)
      .def_readonly("pose", &reg::FitResult::pose)
      .def_readonly("initial_pose", &reg::FitResult::initial_pose)
      .def_readonly("coefficients", &reg::FitResult::coefficients)
      .def_property_readonly("start",
                             [](const reg::FitResult& r) { return reg::FitStartName(r.start); })
      .def_readonly("landmarks_used", &reg::FitResult::landmarks_used)
      .def_readonly("initial_cost", &reg::FitResult::initial_cost)
      .def_readonly("final_cost", &reg::FitResult::final_cost)
      .def_readonly("iterations", &reg::FitResult::iterations)
      .def_readonly("solves", &reg::FitResult::solves)
      .def_readonly("restarts", &reg::FitResult::restarts)
      .def_readonly("seconds", &reg::FitResult::seconds)
      .def_readonly("mahalanobis", &reg::FitResult::mahalanobis)
      .def_readonly("edge_noise_px", &reg::FitResult::edge_noise_px)
      .def_property_readonly(
          "views",
          [](const reg::FitResult& r) {
            py::list out;
            for (const auto& v : r.views) {
              out.append(py::dict("name"_a = v.name, "contour_points"_a = v.contour_points,
                                  "mean_px"_a = v.mean_px, "median_px"_a = v.median_px,
                                  "p95_px"_a = v.p95_px, "rms_px"_a = v.rms_px));
            }
            return out;
          })
      .def_property_readonly("flags",
                             [](const reg::FitResult& r) {
                               py::dict out;
                               for (const auto& f : r.flags) {
                                 out[py::str(f.name)] =
                                     py::dict("raised"_a = f.raised, "value"_a = f.value,
                                              "threshold"_a = f.threshold);
                               }
                               return out;
                             })
      .def_property_readonly("ok", [](const reg::FitResult& r) { return !r.AnyFlagRaised(); })
      .def_property_readonly("initial_contours",
                             [](const reg::FitResult& r) {
                               py::list out;
                               for (const auto& c : r.initial_contours) out.append(Points2d(c));
                               return out;
                             })
      .def_property_readonly("final_contours",
                             [](const reg::FitResult& r) {
                               py::list out;
                               for (const auto& c : r.final_contours) out.append(Points2d(c));
                               return out;
                             })
      .def("summary_json", &reg::FitResult::SummaryJson, "The fit summary (fit.json) as text.");

  m.def(
      "fit_shape_model",
      [](const ssm::ShapeModel& model, const std::vector<reg::FitView>& views,
         const py::object& landmarks, const std::optional<reg::Pose>& pose,
         std::optional<reg::FitOptions> options, py::handle progress) {
        reg::FitInitialization init;
        init.landmarks = ToLandmarks(landmarks);
        init.pose = pose;
        reg::FitOptions o = options ? *options : reg::FitOptions{};
        GilFreeCall call;
        o.progress = call.Progress(progress);
        return call.Run([&] { return reg::FitShapeModel(model, views, init, o); });
      },
      "model"_a, "views"_a, py::kw_only(), "landmarks"_a = py::none(), "pose"_a = py::none(),
      "options"_a = py::none(), "progress"_a = py::none(), R"doc(
Fits a shape model (ssmx.ssm.ShapeModel with faces) to calibrated views
(FitView, e.g. from read_fit_view). Start: landmarks (one {name: (u, v)}
dict per view, >= 3 names the model knows, each in >= 2 views), else pose
(world_from_model), else a coarse search from the views' centres. Runs
without the GIL; progress(fraction, stage) may return False to cancel.)doc");

  m.def(
      "render_fit_overlay_png",
      [](const reg::FitView& view, const std::vector<Eigen::Vector2d>& initial,
         const std::vector<Eigen::Vector2d>& fitted) {
        return py::bytes(reg::RenderFitOverlayPng(view, initial, fitted));
      },
      "view"_a, "initial"_a, "fitted"_a,
      "PNG bytes: the X-ray with the start's (red) and fitted (green) contour points.");
}

}  // namespace ssmx::python
