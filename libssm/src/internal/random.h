#ifndef SSMX_SSM_INTERNAL_RANDOM_H_
#define SSMX_SSM_INTERNAL_RANDOM_H_

// Byte-reproducible random numbers: std::mt19937_64 is specified exactly by
// the standard, the std:: distributions are not (their output differs between
// standard libraries), so ssmx draws its own uniforms and normals from it.

#include <cmath>
#include <random>

namespace ssmx::internal {

// Uniform in (0, 1) from 53 random bits of mt19937_64 (never 0).
inline double Uniform01(std::mt19937_64& rng) {
  return (static_cast<double>(rng() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

// Standard normal by the Box-Muller transform, one value per call.
inline double StandardNormal(std::mt19937_64& rng) {
  constexpr double kTwoPi = 6.28318530717958647692;
  const double u1 = Uniform01(rng), u2 = Uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

}  // namespace ssmx::internal

#endif  // SSMX_SSM_INTERNAL_RANDOM_H_
