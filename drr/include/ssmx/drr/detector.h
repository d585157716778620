#ifndef SSMX_DRR_DETECTOR_H_
#define SSMX_DRR_DETECTOR_H_

#include <cstdint>
#include <optional>

#include "ssmx/core/image2d.h"

namespace ssmx::drr {

// I = I0 * exp(-L) for every pixel of a line-integral image, and with a seed,
// each pixel replaced by a Poisson draw of mean I. The draw of pixel n depends
// only on (seed, n), so the image is the same bytes for any thread count and on
// any machine. Throws InvalidInput when `line_integral` is not a line integral
// or i0 is not positive.
Image2D IntensityFromLineIntegral(const Image2D& line_integral, double i0,
                                  std::optional<uint64_t> noise_seed = std::nullopt);

// The inverse, L = -log(I / I0), with I clamped to at least 0.5 counts (a pixel
// that counted nothing has no finite line integral).
Image2D LineIntegralFromIntensity(const Image2D& intensity, double i0);

// A 0/1 mask: 1 where a path-length (or line-integral) image is > threshold.
Image2D MaskFromPathLength(const Image2D& path_length, double threshold = 0.0);

// One Poisson draw of mean `mean` >= 0 from the counter-based stream (seed, index):
// inversion for small means, Hormann's PTRS transformed rejection (1993) above 10.
uint64_t PoissonDraw(double mean, uint64_t seed, uint64_t index);

}  // namespace ssmx::drr

#endif  // SSMX_DRR_DETECTOR_H_
