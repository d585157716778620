#ifndef SSMX_SSM_MODEL_METRICS_H_
#define SSMX_SSM_MODEL_METRICS_H_

// Quality of a shape model as curves over the number of modes k: compactness,
// generalisation and specificity (Davies 2002; Styner et al. 2003). The exact
// definitions used here, and how other tools differ, are in
// docs/model_format.md.

#include <cstdint>
#include <vector>

#include "ssmx/core/triangle_mesh.h"
#include "ssmx/ssm/shape_model.h"

namespace ssmx::ssm {

// One value per number of modes: modes[i] modes give mean_mm[i] (mean over the
// shapes or samples) and sd_mm[i] (their sample standard deviation).
struct MetricCurve {
  std::vector<int> modes;
  std::vector<double> mean_mm;
  std::vector<double> sd_mm;
};

// C(k) = sum_{j<=k} variance_j / sum_j variance_j, k = 1..K (K values).
std::vector<double> Compactness(const ShapeModel& model);

struct MetricOptions {
  std::vector<int> modes;  // the k to evaluate; empty: 1..K
  // Generalisation error per shape: false, the mean distance between
  // corresponding vertices; true, the mean symmetric surface distance (ASSD,
  // surface_distance.h) between reconstruction and shape (slower).
  bool surface_distance = false;
  AlignmentKind alignment = AlignmentKind::kRigid;  // of a test shape onto the model mean
  int samples = 1000;                               // specificity
  uint64_t seed = 1;                                // specificity
  std::string IsValid() const;
};

// G(k): each test shape (in correspondence with the model) is aligned to the
// model mean (options.alignment, Umeyama), reconstructed from its first k
// coefficients (ShapeModel::Reconstruct), and compared with itself.
MetricCurve Generalization(const ShapeModel& model, const std::vector<TriangleMesh>& test,
                           const MetricOptions& options = {});

// Leave-one-out G(k): for each shape i a model is built from the others with
// `build` options (all modes) and G is measured on shape i; k runs up to n - 2.
MetricCurve LeaveOneOutGeneralization(const std::vector<TriangleMesh>& shapes,
                                      const ShapeModelBuildOptions& build,
                                      const MetricOptions& options = {});

// S(k): options.samples instances drawn with the first k modes (seeded,
// without noise); for each, the mean corresponding-vertex distance to the
// closest of `reference` (aligned to the model mean like test shapes).
MetricCurve Specificity(const ShapeModel& model, const std::vector<TriangleMesh>& reference,
                        const MetricOptions& options = {});

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_MODEL_METRICS_H_
