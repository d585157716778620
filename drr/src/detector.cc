#include "ssmx/drr/detector.h"

#include <cmath>
#include <string>

#include "ssmx/core/error.h"

namespace ssmx::drr {
namespace {

// SplitMix64 (Steele, Lea and Flood 2014): a counter-based generator, so the
// random stream of each pixel is independent of the order of evaluation.
uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

class PixelStream {
 public:
  PixelStream(uint64_t seed, uint64_t index) : state_(SplitMix64(seed ^ SplitMix64(index))) {}
  // Uniform in (0, 1): 53 random bits, never exactly 0.
  double Uniform() {
    state_ += 0x9E3779B97F4A7C15ull;
    const uint64_t bits = SplitMix64(state_) >> 11;
    return (static_cast<double>(bits) + 0.5) * (1.0 / 9007199254740992.0);
  }

 private:
  uint64_t state_;
};

// log(k!) exactly for small k, Stirling's series above.
double LogFactorial(double k) {
  if (k < 10) {
    double r = 0;
    for (int i = 2; i <= static_cast<int>(k); ++i) r += std::log(static_cast<double>(i));
    return r;
  }
  const double k1 = k + 1;
  return (k1 - 0.5) * std::log(k1) - k1 + 0.5 * std::log(2 * M_PI) + 1 / (12 * k1) -
         1 / (360 * k1 * k1 * k1);
}

void RequireQuantity(const Image2D& image, ImageQuantity quantity, const char* what) {
  if (image.quantity != quantity) {
    throw InvalidInput(std::string(what) + " expects a " + ImageQuantityName(quantity) +
                       " image, got " + ImageQuantityName(image.quantity));
  }
}

void RequireI0(double i0) {
  if (!(i0 > 0) || !std::isfinite(i0)) {
    throw InvalidInput("i0 (unattenuated counts per pixel) must be positive, e.g. 1e5");
  }
}

}  // namespace

uint64_t PoissonDraw(double mean, uint64_t seed, uint64_t index) {
  if (!(mean >= 0) || !std::isfinite(mean)) throw InvalidInput("Poisson mean must be >= 0");
  if (mean == 0) return 0;
  PixelStream stream(seed, index);
  if (mean < 10) {
    // Inversion by sequential search.
    double p = std::exp(-mean), cumulative = p, u = stream.Uniform();
    uint64_t k = 0;
    while (u > cumulative && k < 1000) {
      ++k;
      p *= mean / static_cast<double>(k);
      cumulative += p;
    }
    return k;
  }
  // PTRS: W. Hormann, "The transformed rejection method for generating Poisson
  // random variables", Insurance: Mathematics and Economics 12 (1993) 39-45.
  const double slam = std::sqrt(mean), loglam = std::log(mean);
  const double b = 0.931 + 2.53 * slam;
  const double a = -0.059 + 0.02483 * b;
  const double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
  const double vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const double u = stream.Uniform() - 0.5;
    const double v = stream.Uniform();
    const double us = 0.5 - std::abs(u);
    const double k = std::floor((2 * a / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= vr) return static_cast<uint64_t>(k);
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <=
        -mean + k * loglam - LogFactorial(k)) {
      return static_cast<uint64_t>(k);
    }
  }
}

Image2D IntensityFromLineIntegral(const Image2D& line_integral, double i0,
                                  std::optional<uint64_t> noise_seed) {
  RequireQuantity(line_integral, ImageQuantity::kLineIntegral, "the intensity conversion");
  RequireI0(i0);
  Image2D out = line_integral;
  out.quantity = ImageQuantity::kIntensity;
  for (size_t n = 0; n < out.pixels.size(); ++n) {
    const double expected = i0 * std::exp(-static_cast<double>(line_integral.pixels[n]));
    out.pixels[n] = static_cast<float>(
        noise_seed ? static_cast<double>(PoissonDraw(expected, *noise_seed, n)) : expected);
  }
  return out;
}

Image2D LineIntegralFromIntensity(const Image2D& intensity, double i0) {
  RequireQuantity(intensity, ImageQuantity::kIntensity, "the line-integral conversion");
  RequireI0(i0);
  Image2D out = intensity;
  out.quantity = ImageQuantity::kLineIntegral;
  for (float& p : out.pixels)
    p = static_cast<float>(-std::log(std::max(0.5, static_cast<double>(p)) / i0));
  return out;
}

Image2D MaskFromPathLength(const Image2D& path_length, double threshold) {
  Image2D out = path_length;
  out.quantity = ImageQuantity::kMask;
  for (float& p : out.pixels) p = p > threshold ? 1.0f : 0.0f;
  return out;
}

}  // namespace ssmx::drr
