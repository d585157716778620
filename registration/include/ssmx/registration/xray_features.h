#ifndef SSMX_REGISTRATION_XRAY_FEATURES_H_
#define SSMX_REGISTRATION_XRAY_FEATURES_H_

// X-ray preprocessing for contour-based fitting (docs/biplanar_fit.md,
// "Preprocessing"): intensity normalisation, a Gaussian pyramid, Canny edges
// and their distance maps at every level.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ssmx/core/image2d.h"

namespace ssmx::registration {

struct EdgeOptions {
  int levels = 3;                   // pyramid levels; level 0 is the full resolution
  double smoothing_sigma_px = 1.0;  // Gaussian before the gradients, at every level
  // Canny's hysteresis thresholds from the gradient magnitudes inside the
  // region of interest: high = this quantile, low = low_ratio * high.
  double high_quantile = 0.90;
  double low_ratio = 0.4;
  // Region of interest in full-resolution pixels {u0, v0, width, height}:
  // edges outside it are dropped. Empty: the whole image.
  std::optional<std::array<int, 4>> roi;
  std::string IsValid() const;  // empty when valid
};

// One pyramid level. Level pixel (u_l, v_l) has its centre at full-resolution
// pixel coordinates u = factor * u_l + (factor - 1) / 2 (the same for v), so
// the level's pixels tile the full image (2x2 box per step).
struct EdgeLevel {
  int level = 0;
  int rows = 0;
  int cols = 0;
  double factor = 1.0;             // 2^level
  std::vector<uint8_t> edges;      // rows * cols, 1 at edge pixels (row-major)
  std::vector<float> distance_px;  // rows * cols, distance to the nearest edge, level pixels
  int64_t num_edges = 0;
  // Direction of the intensity gradient at each edge pixel, in 8 bins of 45
  // degrees (bin b: atan2(dv, du) near b * 45 degrees); 255 off the edges.
  std::vector<uint8_t> edge_bin;
  // oriented_distance_px[b]: distance to the nearest edge whose gradient lies
  // within +-67.5 degrees of bin b's direction (bins b-1, b, b+1); 8 maps.
  std::vector<std::vector<float>> oriented_distance_px;

  double ToLevel(double full) const { return (full - (factor - 1) / 2) / factor; }
  double ToFull(double at_level) const { return factor * at_level + (factor - 1) / 2; }
};

struct EdgePyramid {
  Image2D normalized;             // the input mapped to [0, 1] (see NormalizeXray)
  std::vector<EdgeLevel> levels;  // levels[0] is the full resolution
};

// Maps an X-ray to [0, 1] by the [low, high] percentiles of its values
// (clipped outside). Intensities (quantity kIntensity) with a known i0 should
// be turned into line integrals first (drr::LineIntegralFromIntensity).
// Throws InvalidInput for an empty or constant image.
Image2D NormalizeXray(const Image2D& image, double low_percentile = 0.5,
                      double high_percentile = 99.5);

// Normalises, builds the pyramid (OpenCV pyrDown), and at each level smooths,
// takes Sobel gradients, runs Canny on them and computes the Euclidean
// distance map of the edges. Throws InvalidInput for bad options or an image
// too small for the levels asked for.
EdgePyramid ExtractEdges(const Image2D& image, const EdgeOptions& options = {});

// Recomputes a level's distance maps (plain and oriented) from its edges and
// edge_bin, e.g. after edges were removed. Counts num_edges again.
void ComputeDistanceMaps(EdgeLevel* level);

// A picture of the edges for people: the normalised X-ray in grey with the
// level's edges in colour, as PNG bytes (8-bit RGB, full resolution).
std::string RenderEdgesPng(const EdgePyramid& pyramid, int level = 0);

}  // namespace ssmx::registration

#endif  // SSMX_REGISTRATION_XRAY_FEATURES_H_
