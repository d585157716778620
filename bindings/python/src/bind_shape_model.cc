// ssmx.ssm: shape models (PCA/PPCA), alignment (Umeyama, generalised
// Procrustes), statismo files, posterior models and model metrics.
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include "arrays.h"
#include "bindings.h"
#include "callbacks.h"
#include "holders.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/alignment.h"
#include "ssmx/ssm/model_metrics.h"
#include "ssmx/ssm/shape_model.h"
#include "ssmx/ssm/statismo_io.h"

namespace ssmx::python {
namespace {

using namespace pybind11::literals;

ssm::AlignmentKind Alignment(const std::string& name) {
  return ssm::ParseAlignmentKind(name, "alignment");
}

// A (rows, cols) float64 matrix, C- or Fortran-contiguous, copied into Eigen's
// column-major storage (the model owns its basis; the copy is documented).
Eigen::MatrixXd CopyMatrix(py::handle object, const std::string& what, py::ssize_t rows) {
  const std::string shape_text = "(" + std::to_string(rows) + ", K)";
  if (HasDtype<double>(object)) {
    const auto array = py::reinterpret_borrow<py::array>(object);
    if (array.ndim() == 2 && array.shape(0) == rows &&
        (py::detail::array_proxy(array.ptr())->flags &
         py::detail::npy_api::NPY_ARRAY_F_CONTIGUOUS_)) {
      return Eigen::Map<const Eigen::MatrixXd>(static_cast<const double*>(array.data()), rows,
                                               array.shape(1));
    }
  }
  const py::array_t<double> c = RequireArray<double>(object, what, {rows, -1}, shape_text);
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      c.data(), rows, c.shape(1));
}

Eigen::VectorXd CopyVector(py::handle object, const std::string& what, py::ssize_t size,
                           const std::string& shape_text) {
  const py::array_t<double> v = RequireArray<double>(object, what, {size}, shape_text);
  return Eigen::Map<const Eigen::VectorXd>(v.data(), v.shape(0));
}

// The (V, 3) points of a shape in correspondence with `model`, read in place.
Rows ShapePoints(py::handle points) { return RequireRows(points, "points", "(V, 3)"); }

// Shapes as (N, 3) float64 arrays, copied (the C++ functions take owned matrices).
std::vector<MatrixX3dR> CopyShapes(const py::sequence& shapes) {
  std::vector<MatrixX3dR> out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Rows rows = RequireRows(shapes[i], "shapes[" + std::to_string(i) + "]", "(N, 3)");
    out.emplace_back(rows.map());
  }
  return out;
}

}  // namespace

void BindShapeModel(py::module_& m) {
  // ---- Alignment ------------------------------------------------------------
  py::class_<ssm::SimilarityTransform>(m, "SimilarityTransform",
                                       "y = scale * rotation @ x + translation (LPS mm).")
      .def(py::init([](double scale, const Eigen::Matrix3d& rotation,
                       const Eigen::Vector3d& translation) {
             return ssm::SimilarityTransform{scale, rotation, translation};
           }),
           "scale"_a = 1.0, "rotation"_a = Eigen::Matrix3d::Identity(),
           "translation"_a = Eigen::Vector3d::Zero())
      .def_readwrite("scale", &ssm::SimilarityTransform::scale)
      .def_readwrite("rotation", &ssm::SimilarityTransform::rotation, "(3, 3), det +1")
      .def_readwrite("translation", &ssm::SimilarityTransform::translation, "(3,) mm")
      .def("matrix", &ssm::SimilarityTransform::Matrix, "(4, 4) homogeneous matrix")
      .def(
          "apply",
          [](const ssm::SimilarityTransform& t, py::handle points) {
            const Rows rows = RequireRows(points, "points", "(N, 3)");
            return WithoutGil([&] { return t.Apply(rows.map()); });
          },
          "points"_a, "The (N, 3) float64 points transformed: a new (N, 3) array.");
  m.def(
      "umeyama",
      [](py::handle source, py::handle target, bool with_scaling) {
        const Rows s = RequireRows(source, "source", "(N, 3)");
        const Rows t = RequireRows(target, "target", "(N, 3)");
        return WithoutGil([&] { return ssm::Umeyama(s.map(), t.map(), with_scaling); });
      },
      "source"_a, "target"_a, "with_scaling"_a, R"doc(
The rigid (or, with_scaling, similarity) transform T minimising
mean ||target_i - T(source_i)||^2 in closed form (Umeyama 1991); never a
reflection. source, target: (N, 3) float64, row i corresponds to row i.)doc");
  py::class_<ssm::ProcrustesResult>(m, "ProcrustesResult", "Result of generalized_procrustes.")
      .def_readonly("aligned", &ssm::ProcrustesResult::aligned,
                    "list of (N, 3) aligned shapes, in the frame of shapes[0]")
      .def_readonly("transforms", &ssm::ProcrustesResult::transforms,
                    "aligned[i] = transforms[i].apply(shapes[i])")
      .def_readonly("mean", &ssm::ProcrustesResult::mean, "(N, 3) Procrustes mean")
      .def_readonly("iterations", &ssm::ProcrustesResult::iterations)
      .def_readonly("mean_change_mm", &ssm::ProcrustesResult::mean_change_mm);
  const ssm::ProcrustesOptions procrustes0;
  m.def(
      "generalized_procrustes",
      [](const py::sequence& shapes, const std::string& kind, int max_iterations,
         double tolerance_mm) {
        ssm::ProcrustesOptions options;
        options.kind = Alignment(kind);
        options.max_iterations = max_iterations;
        options.tolerance_mm = tolerance_mm;
        const std::vector<MatrixX3dR> copies = CopyShapes(shapes);
        return WithoutGil([&] { return ssm::GeneralizedProcrustes(copies, options); });
      },
      "shapes"_a, "kind"_a = ssm::AlignmentKindName(procrustes0.kind),
      "max_iterations"_a = procrustes0.max_iterations, "tolerance_mm"_a = procrustes0.tolerance_mm,
      R"doc(
Generalised Procrustes analysis (Gower 1975) of shapes in correspondence, a
list of (N, 3) float64 arrays (copied): each aligned to the mean by Umeyama
until the mean moves less than tolerance_mm. kind: "none", "rigid",
"similarity". The result stays in the frame and millimetres of shapes[0].)doc");

  // ---- The model ------------------------------------------------------------
  py::class_<ssm::ModelBuilderInfo>(m, "ModelBuilderInfo", "One step of the build history.")
      .def_readonly("builder_name", &ssm::ModelBuilderInfo::builder_name)
      .def_readonly("build_time", &ssm::ModelBuilderInfo::build_time)
      .def_readonly("data_info", &ssm::ModelBuilderInfo::data_info)
      .def_readonly("parameters", &ssm::ModelBuilderInfo::parameters);
  py::class_<ssm::ModelInfo>(m, "ModelInfo", "How the model was made (statismo /modelinfo).")
      .def_readonly("build_time", &ssm::ModelInfo::build_time)
      .def_readonly("scores", &ssm::ModelInfo::scores,
                    "(K, n) coefficients of the training shapes; (0, 0) when unknown")
      .def_readonly("builders", &ssm::ModelInfo::builders);
  py::class_<ssm::ShapeModel>(m, "ShapeModel", R"doc(
A linear shape model (probabilistic PCA, statismo / scalismo):
x = mean + W a + e, a ~ N(0, I_K), e ~ N(0, noise_variance I), with
W = basis @ diag(sqrt(variances)). Shape vectors stack the vertices,
(x0, y0, z0, x1, ...), LPS mm: mean is (3V,), mean.reshape(-1, 3) the (V, 3)
points. The arrays are read-only views of the C++ model (no copy), kept alive
by the arrays themselves. Methods that take a shape want (V, 3) float64
C-contiguous points in correspondence with the model.)doc")
      .def(py::init([](py::handle mean, py::handle basis, py::handle variances,
                       double noise_variance, py::handle faces) {
             Eigen::VectorXd mu = CopyVector(mean, "mean", -1, "(3V,)");
             Eigen::MatrixXd w = CopyMatrix(basis, "basis", mu.size());
             Eigen::VectorXd var = CopyVector(variances, "variances", w.cols(), "(K,)");
             MatrixX3iR f(0, 3);
             if (!faces.is_none()) {
               const py::array_t<int32_t> a =
                   RequireArray<int32_t>(faces, "faces", {-1, 3}, "(F, 3)");
               f = Eigen::Map<const MatrixX3iR>(a.data(), a.shape(0), 3);
             }
             return ssm::ShapeModel(std::move(mu), std::move(w), std::move(var), noise_variance,
                                    std::move(f));
           }),
           "mean"_a, "basis"_a, "variances"_a, "noise_variance"_a = 0.0, "faces"_a = py::none(),
           "mean (3V,), basis (3V, K) C- or Fortran-contiguous, variances (K,), all float64; "
           "faces (F, 3) int32 or None. The arrays are copied into the model.")
      .def_property_readonly("num_vertices", &ssm::ShapeModel::num_vertices)
      .def_property_readonly("num_modes", &ssm::ShapeModel::num_modes)
      .def_property_readonly("mean", &ssm::ShapeModel::mean, "(3V,) float64, read-only view")
      .def_property_readonly("basis", &ssm::ShapeModel::basis,
                             "(3V, K) float64 orthonormal columns, read-only (Fortran-order) view")
      .def_property_readonly("variances", &ssm::ShapeModel::variances, "(K,) mm^2, read-only view")
      .def_property_readonly("noise_variance", &ssm::ShapeModel::noise_variance, "mm^2")
      .def_property_readonly("faces", &ssm::ShapeModel::faces, "(F, 3) int32, read-only view")
      .def_property_readonly("landmarks", &ssm::ShapeModel::landmarks, "{name: vertex index}")
      .def("set_landmarks", &ssm::ShapeModel::SetLandmarks, "landmarks"_a,
           "Replaces the named landmarks {name: vertex index}; InvalidInput for a bad index.")
      .def_property_readonly("info", &ssm::ShapeModel::info, "ModelInfo: the build history")
      .def("scaled_basis", &ssm::ShapeModel::ScaledBasis, py::call_guard<py::gil_scoped_release>(),
           "W = basis @ diag(sqrt(variances)), (3V, K)")
      .def("mean_mesh", &ssm::ShapeModel::MeanMesh, py::call_guard<py::gil_scoped_release>(),
           "The mean as a TriangleMesh.")
      .def("instance", &ssm::ShapeModel::Instance, py::call_guard<py::gil_scoped_release>(),
           "coefficients"_a,
           "mean + W a for the first len(a) <= K coefficients (any sequence): (V, 3) float64.")
      .def("instance_mesh", &ssm::ShapeModel::InstanceMesh,
           py::call_guard<py::gil_scoped_release>(), "coefficients"_a,
           "instance(coefficients) as a TriangleMesh with the model's faces.")
      .def(
          "coefficients",
          [](const ssm::ShapeModel& model, py::handle points) {
            const Rows rows = ShapePoints(points);
            return WithoutGil([&] { return model.Coefficients(rows.map()); });
          },
          "points"_a,
          "The most probable coefficients (K,) of a (V, 3) shape: (W^T W + noise I)^-1 W^T "
          "(x - mean).")
      .def(
          "reconstruct",
          [](const ssm::ShapeModel& model, py::handle points, int modes) {
            const Rows rows = ShapePoints(points);
            return WithoutGil([&] { return model.Reconstruct(rows.map(), modes); });
          },
          "points"_a, "modes"_a = -1,
          "The model's reconstruction (V, 3) of a shape with its first `modes` modes (-1: all).")
      .def(
          "mahalanobis_distance",
          [](const ssm::ShapeModel& model, py::handle points) {
            const Rows rows = ShapePoints(points);
            return WithoutGil([&] { return model.MahalanobisDistance(rows.map()); });
          },
          "points"_a, "sqrt(sum a_k^2) of the shape's coefficients.")
      .def(
          "sample",
          [](const ssm::ShapeModel& model, int n, uint64_t seed, bool add_noise) {
            return WithoutGil([&] { return model.Sample(n, seed, add_noise); });
          },
          "n"_a, "seed"_a, "add_noise"_a = false,
          "n random instances, a list of (V, 3) arrays; the same seed gives the same bytes.")
      .def(
          "sample_with_coefficients",
          [](const ssm::ShapeModel& model, int n, uint64_t seed, bool add_noise) {
            Eigen::MatrixXd coefficients;
            std::vector<MatrixX3dR> shapes =
                WithoutGil([&] { return model.Sample(n, seed, add_noise, &coefficients); });
            return std::make_pair(std::move(shapes), std::move(coefficients));
          },
          "n"_a, "seed"_a, "add_noise"_a = false,
          "sample() and the (n, K) coefficients of the samples: (shapes, coefficients).")
      .def("vertex_covariance", &ssm::ShapeModel::VertexCovariance, "vertex"_a,
           "(3, 3) covariance of one vertex, mm^2: W_v W_v^T + noise I.")
      .def("per_vertex_variance", &ssm::ShapeModel::PerVertexVariance,
           py::call_guard<py::gil_scoped_release>(), "(V,) trace of every vertex covariance, mm^2.")
      .def("truncated", &ssm::ShapeModel::Truncated, py::call_guard<py::gil_scoped_release>(),
           "modes"_a, "The first `modes` modes (1..K) as a new model.")
      .def("modes_for_variance_fraction", &ssm::ShapeModel::ModesForVarianceFraction, "fraction"_a,
           "The fewest modes that explain `fraction` of the variance (>= 1).")
      .def("__repr__", [](const ssm::ShapeModel& model) {
        return "ShapeModel(" + std::to_string(model.num_vertices()) + " vertices, " +
               std::to_string(model.faces().rows()) + " faces, " +
               std::to_string(model.num_modes()) + " modes)";
      });

  // ---- Building -------------------------------------------------------------
  const ssm::ShapeModelBuildOptions build0;
  py::class_<ssm::ShapeModelBuildOptions>(m, "ShapeModelBuildOptions", R"doc(
How build_shape_model works: alignment ("none", "rigid", "similarity"
generalised Procrustes), truncation (`modes` > 0, else the fewest modes that
explain variance_fraction), PPCA noise_variance (mm^2) and optional names of
the shapes (recorded in the build history).)doc")
      .def(py::init([](const std::string& alignment, int modes, double variance_fraction,
                       double noise_variance, std::vector<std::string> names) {
             ssm::ShapeModelBuildOptions o;
             o.alignment = Alignment(alignment);
             o.modes = modes;
             o.variance_fraction = variance_fraction;
             o.noise_variance = noise_variance;
             o.names = std::move(names);
             return o;
           }),
           "alignment"_a = ssm::AlignmentKindName(build0.alignment), "modes"_a = build0.modes,
           "variance_fraction"_a = build0.variance_fraction,
           "noise_variance"_a = build0.noise_variance, "names"_a = build0.names)
      .def_property(
          "alignment",
          [](const ssm::ShapeModelBuildOptions& o) { return ssm::AlignmentKindName(o.alignment); },
          [](ssm::ShapeModelBuildOptions& o, const std::string& name) {
            o.alignment = Alignment(name);
          })
      .def_readwrite("modes", &ssm::ShapeModelBuildOptions::modes)
      .def_readwrite("variance_fraction", &ssm::ShapeModelBuildOptions::variance_fraction)
      .def_readwrite("noise_variance", &ssm::ShapeModelBuildOptions::noise_variance)
      .def_readwrite("names", &ssm::ShapeModelBuildOptions::names)
      .def("is_valid", &ssm::ShapeModelBuildOptions::IsValid, "Empty when valid.");
  py::class_<ssm::ShapeModelBuildReport>(m, "ShapeModelBuildReport", "What building found.")
      .def_readonly("shapes", &ssm::ShapeModelBuildReport::shapes)
      .def_readonly("modes_available", &ssm::ShapeModelBuildReport::modes_available)
      .def_readonly("modes_kept", &ssm::ShapeModelBuildReport::modes_kept)
      .def_readonly("variance_total", &ssm::ShapeModelBuildReport::variance_total, "mm^2")
      .def_readonly("variance_kept", &ssm::ShapeModelBuildReport::variance_kept, "mm^2")
      .def_readonly("procrustes_iterations", &ssm::ShapeModelBuildReport::procrustes_iterations)
      .def_readonly("alignment", &ssm::ShapeModelBuildReport::alignment,
                    "per shape, the SimilarityTransform into the model frame")
      .def("brief_report", &ssm::ShapeModelBuildReport::BriefReport);
  const auto build = [](const std::vector<TriangleMesh>& meshes,
                        std::optional<ssm::ShapeModelBuildOptions> options,
                        ssm::ShapeModelBuildReport* report) {
    const ssm::ShapeModelBuildOptions o = options.value_or(ssm::ShapeModelBuildOptions{});
    const std::string problem = o.IsValid();
    if (!problem.empty()) throw InvalidInput("ShapeModelBuildOptions: " + problem);
    return WithoutGil([&] { return ssm::BuildShapeModel(meshes, o, report); });
  };
  m.def(
      "build_shape_model",
      [build](const std::vector<TriangleMesh>& meshes,
              std::optional<ssm::ShapeModelBuildOptions> options) {
        return build(meshes, options, nullptr);
      },
      "meshes"_a, "options"_a = py::none(), R"doc(
A PCA model from meshes in correspondence (same vertex count and faces; a list
of TriangleMesh, copied): optional generalised Procrustes, then the thin SVD of
the centred data matrix. Raises InvalidInput naming the shape that differs.)doc");
  m.def(
      "build_shape_model_with_report",
      [build](const std::vector<TriangleMesh>& meshes,
              std::optional<ssm::ShapeModelBuildOptions> options) {
        ssm::ShapeModelBuildReport report;
        ssm::ShapeModel model = build(meshes, options, &report);
        return std::make_pair(std::move(model), std::move(report));
      },
      "meshes"_a, "options"_a = py::none(),
      "build_shape_model and its ShapeModelBuildReport: (model, report).");

  // ---- Posterior ------------------------------------------------------------
  py::class_<ssm::PointObservation>(m, "PointObservation",
                                    "Vertex `vertex` observed at `position` (mm), noise in mm^2.")
      .def(py::init([](int64_t vertex, const Eigen::Vector3d& position, double noise_variance) {
             return ssm::PointObservation{vertex, position, noise_variance};
           }),
           "vertex"_a, "position"_a, "noise_variance"_a = 1.0)
      .def_readwrite("vertex", &ssm::PointObservation::vertex)
      .def_readwrite("position", &ssm::PointObservation::position, "(3,) LPS mm")
      .def_readwrite("noise_variance", &ssm::PointObservation::noise_variance, "mm^2, > 0");
  m.def("posterior_model", &ssm::PosteriorModel, py::call_guard<py::gil_scoped_release>(),
        "prior"_a, "observations"_a, R"doc(
The posterior model given observed points (a list of PointObservation):
posterior mean = mean + W a_hat with a_hat = M^-1 W_o^T S^-1 (y - mean_o),
M = I + W_o^T S^-1 W_o; covariance W M^-1 W^T. A new ShapeModel.)doc");

  // ---- Files ----------------------------------------------------------------
  m.def("read_statismo_model", &ssm::ReadStatismoModel, py::call_guard<py::gil_scoped_release>(),
        "path"_a,
        "Reads a statismo v0.8/v0.9 HDF5 shape model (statismo, scalismo, ssmx). Raises IoError "
        "(cannot open) or InvalidInput naming the file and dataset.");
  m.def("write_statismo_model", &ssm::WriteStatismoModel, py::call_guard<py::gil_scoped_release>(),
        "model"_a, "path"_a,
        "Writes a statismo v0.9 file (float32, as scalismo writes them), atomically.");

  // ---- Metrics --------------------------------------------------------------
  py::class_<ssm::MetricCurve>(m, "MetricCurve", "A model metric over the number of modes (mm).")
      .def_readonly("modes", &ssm::MetricCurve::modes)
      .def_readonly("mean_mm", &ssm::MetricCurve::mean_mm)
      .def_readonly("sd_mm", &ssm::MetricCurve::sd_mm);
  const ssm::MetricOptions metric0;
  py::class_<ssm::MetricOptions>(m, "MetricOptions", R"doc(
Options of the model metrics: `modes` to evaluate (empty: 1..K); generalisation
by corresponding-vertex distance or, with surface_distance, the symmetric
surface distance; alignment of test shapes onto the mean; specificity
`samples` drawn with `seed`.)doc")
      .def(py::init([](std::vector<int> modes, bool surface_distance, const std::string& alignment,
                       int samples, uint64_t seed) {
             ssm::MetricOptions o;
             o.modes = std::move(modes);
             o.surface_distance = surface_distance;
             o.alignment = Alignment(alignment);
             o.samples = samples;
             o.seed = seed;
             return o;
           }),
           "modes"_a = metric0.modes, "surface_distance"_a = metric0.surface_distance,
           "alignment"_a = ssm::AlignmentKindName(metric0.alignment), "samples"_a = metric0.samples,
           "seed"_a = metric0.seed)
      .def_readwrite("modes", &ssm::MetricOptions::modes)
      .def_readwrite("surface_distance", &ssm::MetricOptions::surface_distance)
      .def_property(
          "alignment",
          [](const ssm::MetricOptions& o) { return ssm::AlignmentKindName(o.alignment); },
          [](ssm::MetricOptions& o, const std::string& name) { o.alignment = Alignment(name); })
      .def_readwrite("samples", &ssm::MetricOptions::samples)
      .def_readwrite("seed", &ssm::MetricOptions::seed)
      .def("is_valid", &ssm::MetricOptions::IsValid, "Empty when valid.");
  const auto metric_options = [](std::optional<ssm::MetricOptions> options) {
    ssm::MetricOptions o = options.value_or(ssm::MetricOptions{});
    const std::string problem = o.IsValid();
    if (!problem.empty()) throw InvalidInput("MetricOptions: " + problem);
    return o;
  };
  m.def("compactness", &ssm::Compactness, "model"_a,
        "C(k) = sum_{j<=k} variance_j / sum_j variance_j for k = 1..K.");
  m.def(
      "generalization",
      [metric_options](const ssm::ShapeModel& model, const std::vector<TriangleMesh>& test,
                       std::optional<ssm::MetricOptions> options) {
        const ssm::MetricOptions o = metric_options(options);
        return WithoutGil([&] { return ssm::Generalization(model, test, o); });
      },
      "model"_a, "test"_a, "options"_a = py::none(),
      "G(k): test meshes aligned to the mean, reconstructed with k modes, compared with "
      "themselves -> MetricCurve.");
  m.def(
      "leave_one_out_generalization",
      [metric_options](const std::vector<TriangleMesh>& shapes,
                       std::optional<ssm::ShapeModelBuildOptions> build,
                       std::optional<ssm::MetricOptions> options) {
        const ssm::MetricOptions o = metric_options(options);
        const ssm::ShapeModelBuildOptions b = build.value_or(ssm::ShapeModelBuildOptions{});
        return WithoutGil([&] { return ssm::LeaveOneOutGeneralization(shapes, b, o); });
      },
      "shapes"_a, "build"_a = py::none(), "options"_a = py::none(),
      "Leave-one-out G(k): each shape measured against a model of the others (k up to n - 2).");
  m.def(
      "specificity",
      [metric_options](const ssm::ShapeModel& model, const std::vector<TriangleMesh>& reference,
                       std::optional<ssm::MetricOptions> options) {
        const ssm::MetricOptions o = metric_options(options);
        return WithoutGil([&] { return ssm::Specificity(model, reference, o); });
      },
      "model"_a, "reference"_a, "options"_a = py::none(),
      "S(k): seeded samples with k modes, each against the closest reference mesh -> "
      "MetricCurve.");
}

}  // namespace ssmx::python
