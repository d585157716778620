#include "ssmx/ssm/model_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "internal/parallel.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/surface_distance.h"

namespace ssmx::ssm {

namespace {

std::vector<int> ModesToEvaluate(const MetricOptions& options, int available) {
  if (options.modes.empty()) {
    std::vector<int> all(available);
    for (int k = 0; k < available; ++k) all[k] = k + 1;
    return all;
  }
  for (int k : options.modes) {
    if (k < 1 || k > available) {
      throw InvalidInput("model metrics: " + std::to_string(k) +
                         " modes requested, the model has " + std::to_string(available));
    }
  }
  return options.modes;
}

MetricCurve Summarise(const std::vector<int>& modes,
                      const std::vector<std::vector<double>>& values) {
  MetricCurve curve;
  curve.modes = modes;
  for (const std::vector<double>& v : values) {
    const double n = static_cast<double>(v.size());
    double mean = 0;
    for (double x : v) mean += x;
    mean /= n;
    double ss = 0;
    for (double x : v) ss += (x - mean) * (x - mean);
    curve.mean_mm.push_back(mean);
    curve.sd_mm.push_back(v.size() > 1 ? std::sqrt(ss / (n - 1)) : 0.0);
  }
  return curve;
}

double MeanVertexDistance(const MatrixX3dR& a, const MatrixX3dR& b) {
  return (a - b).rowwise().norm().mean();
}

// The shape aligned onto the model mean (or as it is for kNone).
MatrixX3dR AlignToMean(const ShapeModel& model, const MatrixX3dR& mean, const TriangleMesh& shape,
                       AlignmentKind kind, const std::string& what) {
  if (shape.num_vertices() != model.num_vertices()) {
    throw InvalidInput(what + ": has " + std::to_string(shape.num_vertices()) +
                       " vertices but the model has " + std::to_string(model.num_vertices()) +
                       "; test shapes must be in correspondence with the model");
  }
  if (kind == AlignmentKind::kNone) return shape.vertices;
  return Umeyama(shape.vertices, mean, kind == AlignmentKind::kSimilarity).Apply(shape.vertices);
}

// Errors of one shape for every k in `modes`.
std::vector<double> ShapeErrors(const ShapeModel& model, const MatrixX3dR& x,
                                const std::vector<int>& modes, bool surface) {
  const Eigen::VectorXd a = model.Coefficients(x);
  std::vector<double> errors;
  SurfaceDistanceOptions sd;
  sd.compute_dice = false;
  TriangleMesh shape_mesh;
  if (surface) {
    shape_mesh.vertices = x;
    shape_mesh.faces = model.faces();
  }
  for (int k : modes) {
    const MatrixX3dR r = model.Instance(a.head(std::min(k, model.num_modes())));
    if (surface) {
      TriangleMesh rm;
      rm.vertices = r;
      rm.faces = model.faces();
      errors.push_back(ComputeSurfaceDistance(rm, shape_mesh, sd).mean_mm);
    } else {
      errors.push_back(MeanVertexDistance(r, x));
    }
  }
  return errors;
}

}  // namespace

std::string MetricOptions::IsValid() const {
  if (samples < 1) return "specificity needs at least 1 sample";
  return "";
}

std::vector<double> Compactness(const ShapeModel& model) {
  std::vector<double> c;
  const double total = model.variances().sum();
  double cumulative = 0;
  for (int k = 0; k < model.num_modes(); ++k) {
    cumulative += model.variances()(k);
    c.push_back(total > 0 ? cumulative / total : 0.0);
  }
  return c;
}

MetricCurve Generalization(const ShapeModel& model, const std::vector<TriangleMesh>& test,
                           const MetricOptions& options) {
  if (test.empty()) throw InvalidInput("generalisation: no test shapes");
  if (options.surface_distance && model.faces().rows() == 0) {
    throw InvalidInput("generalisation: surface distances need a model with faces");
  }
  const std::vector<int> modes = ModesToEvaluate(options, model.num_modes());
  const MatrixX3dR mean = model.MeanMesh().vertices;
  std::vector<std::vector<double>> values(modes.size());
  for (size_t i = 0; i < test.size(); ++i) {
    const MatrixX3dR x =
        AlignToMean(model, mean, test[i], options.alignment, "test shape " + std::to_string(i));
    const std::vector<double> e = ShapeErrors(model, x, modes, options.surface_distance);
    for (size_t j = 0; j < modes.size(); ++j) values[j].push_back(e[j]);
  }
  return Summarise(modes, values);
}

MetricCurve LeaveOneOutGeneralization(const std::vector<TriangleMesh>& shapes,
                                      const ShapeModelBuildOptions& build,
                                      const MetricOptions& options) {
  const int n = static_cast<int>(shapes.size());
  if (n < 3) throw InvalidInput("leave-one-out: needs at least 3 shapes, got " + std::to_string(n));
  ShapeModelBuildOptions all_modes = build;
  all_modes.modes = 0;
  all_modes.variance_fraction = 1.0;
  all_modes.names.clear();
  const std::vector<int> modes = ModesToEvaluate(options, n - 2);
  std::vector<std::vector<double>> per_shape(n);
  internal::ParallelFor(n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      std::vector<TriangleMesh> rest;
      for (int j = 0; j < n; ++j) {
        if (j != i) rest.push_back(shapes[j]);
      }
      const ShapeModel model = BuildShapeModel(rest, all_modes);
      MetricOptions one = options;
      one.modes = modes;
      for (int& k : one.modes) k = std::min(k, model.num_modes());
      const MatrixX3dR x = AlignToMean(model, model.MeanMesh().vertices, shapes[i],
                                       options.alignment, "shape " + std::to_string(i));
      per_shape[i] = ShapeErrors(model, x, one.modes, options.surface_distance);
    }
  });
  std::vector<std::vector<double>> values(modes.size());
  for (int i = 0; i < n; ++i) {
    for (size_t j = 0; j < modes.size(); ++j) values[j].push_back(per_shape[i][j]);
  }
  return Summarise(modes, values);
}

MetricCurve Specificity(const ShapeModel& model, const std::vector<TriangleMesh>& reference,
                        const MetricOptions& options) {
  if (const std::string e = options.IsValid(); !e.empty()) throw InvalidInput("specificity: " + e);
  if (reference.empty()) throw InvalidInput("specificity: no reference shapes");
  const std::vector<int> modes = ModesToEvaluate(options, model.num_modes());
  const MatrixX3dR mean = model.MeanMesh().vertices;
  std::vector<MatrixX3dR> refs;
  for (size_t i = 0; i < reference.size(); ++i) {
    refs.push_back(AlignToMean(model, mean, reference[i], options.alignment,
                               "reference shape " + std::to_string(i)));
  }
  // The same standard-normal coefficients for every k: the curve then varies
  // with k only, not with the draw.
  Eigen::MatrixXd coefficients;
  model.Sample(options.samples, options.seed, false, &coefficients);
  std::vector<std::vector<double>> values(modes.size(), std::vector<double>(options.samples));
  internal::ParallelFor(options.samples, 16, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) {
      for (size_t j = 0; j < modes.size(); ++j) {
        const MatrixX3dR x = model.Instance(coefficients.row(s).head(modes[j]).transpose());
        double best = std::numeric_limits<double>::infinity();
        for (const MatrixX3dR& r : refs) best = std::min(best, MeanVertexDistance(x, r));
        values[j][s] = best;
      }
    }
  });
  return Summarise(modes, values);
}

}  // namespace ssmx::ssm
