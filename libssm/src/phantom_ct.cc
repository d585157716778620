// CT synthesis of a phantom femur: the implicit bone voxelised with a cortical
// shell of the femur's cortical thickness, a trabecular interior, a medullary
// canal in the diaphysis, inside a thigh of muscle and subcutaneous fat, with
// partial-volume anti-aliasing and optional seeded noise. See docs/phantom.md.
#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "ssmx/core/error.h"
#include "ssmx/ssm/phantom.h"

namespace ssmx::ssm {

namespace {

using Eigen::Vector3d;
constexpr double kPi = 3.14159265358979323846;

double Clamp(double v, double lo, double hi) { return std::min(hi, std::max(lo, v)); }

// Fraction of a voxel inside a surface at signed distance d (negative inside)
// when the surface crosses the voxel over the width w along its normal.
double InsideFraction(double d, double w) { return Clamp(0.5 - d / w, 0.0, 1.0); }

// The thigh: an elliptic cylinder whose axis runs from the knee centre up to
// the middle of the proximal femur, and whose semi-axes grow from the knee to
// the hip; the outer `fat_thickness_mm` of it is fat.
struct Thigh {
  Vector3d bottom, top;  // axis end points, world
  double a_bottom, b_bottom, a_top, b_top;

  // Approximate signed distance to the thigh surface (negative inside).
  double Distance(const Vector3d& p) const {
    const double t = Clamp((p.z() - bottom.z()) / (top.z() - bottom.z()), 0.0, 1.0);
    const Vector3d c = bottom + t * (top - bottom);
    const double a = a_bottom + t * (a_top - a_bottom), b = b_bottom + t * (b_top - b_bottom);
    const double x = p.x() - c.x(), y = p.y() - c.y();
    const double k0 = std::hypot(x / a, y / b), k1 = std::hypot(x / (a * a), y / (b * b));
    return k1 < 1e-12 ? -std::min(a, b) : k0 * (k0 - 1.0) / k1;
  }
};

}  // namespace

std::string PhantomCtOptions::IsValid() const {
  std::ostringstream s;
  if (!(spacing_mm >= 0.2 && spacing_mm <= 5.0))
    s << "CT spacing " << spacing_mm << " mm outside 0.2..5";
  else if (!(margin_mm >= 0 && margin_mm <= 200))
    s << "CT margin " << margin_mm << " mm outside 0..200";
  else if (!(scan_extension_mm >= 0 && scan_extension_mm <= 300))
    s << "CT scan extension " << scan_extension_mm << " mm outside 0..300";
  else if (!(noise_sd_hu >= 0 && noise_sd_hu <= 500))
    s << "CT noise SD " << noise_sd_hu << " HU outside 0..500";
  else if (!(fat_thickness_mm >= 0 && fat_thickness_mm <= 60))
    s << "fat thickness outside 0..60 mm";
  else if (!(thigh_margin_mm >= 5 && thigh_margin_mm <= 200))
    s << "thigh margin outside 5..200 mm";
  else if (threads < 0 || threads > 256)
    s << "threads " << threads << " outside 0..256";
  return s.str();
}

Volume SynthesizePhantomCt(const PhantomFemur& femur, const PhantomCtOptions& options) {
  const std::string problem = options.IsValid();
  if (!problem.empty()) throw InvalidInput("phantom CT: " + problem);
  const FemurParameters& p = femur.parameters();
  const LandmarkMap landmarks = femur.Landmarks();
  const Bounds3d bone = femur.bounds();

  // Thigh around the bone: from below the knee to above the head, wide enough
  // to hold the trochanters with `thigh_margin_mm` of soft tissue.
  Thigh thigh;
  const Vector3d knee = landmarks.at("knee_center");
  const Vector3d hip =
      0.5 * (landmarks.at("femoral_head_center") + landmarks.at("greater_trochanter_tip"));
  thigh.bottom = Vector3d(knee.x(), knee.y() + 8.0, bone.min.z());
  thigh.top = Vector3d(hip.x(), hip.y() + 8.0, bone.max.z());
  const double half_knee = 0.5 * p.condylar_width_mm;
  thigh.a_bottom = half_knee + 0.7 * options.thigh_margin_mm;
  thigh.b_bottom = half_knee + 0.6 * options.thigh_margin_mm;
  const double half_hip = 0.5 * std::abs(landmarks.at("femoral_head_center").x() -
                                         landmarks.at("greater_trochanter_tip").x()) +
                          p.head_radius_mm;
  thigh.a_top = half_hip + options.thigh_margin_mm;
  thigh.b_top = half_hip + 0.9 * options.thigh_margin_mm;

  const double h = options.spacing_mm;
  const double a_max = std::max(thigh.a_bottom, thigh.a_top),
               b_max = std::max(thigh.b_bottom, thigh.b_top);
  Vector3d lo(std::min(thigh.bottom.x(), thigh.top.x()) - a_max,
              std::min(thigh.bottom.y(), thigh.top.y()) - b_max, bone.min.z());
  Vector3d hi(std::max(thigh.bottom.x(), thigh.top.x()) + a_max,
              std::max(thigh.bottom.y(), thigh.top.y()) + b_max, bone.max.z());
  const Vector3d margin(options.margin_mm, options.margin_mm, options.scan_extension_mm);
  lo -= margin;
  hi += margin;
  VolumeGeometry geometry;
  geometry.spacing_mm = Vector3d::Constant(h);
  geometry.size = ((hi - lo) / h).array().ceil().cast<int>() + 1;
  // Centre the grid on the box so that the margins are symmetric.
  geometry.origin_mm =
      0.5 * (lo + hi) - 0.5 * h * (geometry.size.cast<double>() - Vector3d::Ones());
  Volume ct(geometry, VoxelType::kInt16);
  int16_t* out = ct.data<int16_t>();

  const int nx = geometry.size.x(), ny = geometry.size.y(), nz = geometry.size.z();
  const double t_max = p.cortical_thickness_mm;
  // A voxel further than this from the bone surface (in SignedDistance units,
  // Lipschitz constant <= 1.25) is in one tissue only.
  const double band = 1.25 * h;

  auto voxel_value = [&](const Vector3d& x) -> double {
    // Soft tissue or air around the bone.
    double outside;
    {
      const double dt = thigh.Distance(x);
      const double w = h * 1.5;
      const double in_thigh = options.partial_volume ? InsideFraction(dt, w) : (dt < 0 ? 1.0 : 0.0);
      const double in_muscle = options.partial_volume
                                   ? InsideFraction(dt + options.fat_thickness_mm, w)
                                   : (dt < -options.fat_thickness_mm ? 1.0 : 0.0);
      outside = options.air_hu * (1 - in_thigh) + options.fat_hu * (in_thigh - in_muscle) +
                options.muscle_hu * in_muscle;
    }
    const double f = femur.SignedDistance(x);
    if (f > band) return outside;
    const PhantomFemur::Interior interior = femur.InteriorAt(x);
    const double core_hu = p.trabecular_hu * interior.trabecular_fraction +
                           options.marrow_hu * (1 - interior.trabecular_fraction);
    const double tc = interior.cortical_thickness_mm;
    if (f < -(tc + band)) return core_hu;
    double d = f, w = h;
    if (options.partial_volume) {
      const Vector3d g = femur.Gradient(x, 0.25 * h);
      const double gn = g.norm();
      if (gn > 1e-6) {
        d = f / gn;
        w = h * (g.cwiseAbs().sum() / gn);
      }
    }
    const double a = options.partial_volume ? InsideFraction(d, w) : (d < 0 ? 1.0 : 0.0);
    const double b = options.partial_volume ? InsideFraction(d + tc, w) : (d < -tc ? 1.0 : 0.0);
    return outside * (1 - a) + p.cortical_hu * (a - b) + core_hu * b;
  };

  // Blocks of 4x4x4 voxels whose centre lies far from the bone surface take
  // the cheap path for each voxel (no gradient); the value of every voxel is a
  // pure function of its position, so threads do not change the result.
  (void)t_max;
  int threads =
      options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(1, std::min(threads, 16));
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(threads);
  for (int w = 0; w < threads; ++w) {
    pool.emplace_back([&, w] {
      try {
        for (int k = w; k < nz; k += threads) {
          for (int j = 0; j < ny; ++j) {
            for (int i = 0; i < nx; ++i) {
              const Vector3d x = geometry.IndexToWorld(Vector3d(i, j, k));
              const double v = std::round(Clamp(voxel_value(x), -1024.0, 3071.0));
              out[ct.LinearIndex(i, j, k)] = static_cast<int16_t>(v);
            }
          }
        }
      } catch (...) {
        errors[w] = std::current_exception();
      }
    });
  }
  for (std::thread& t : pool) t.join();
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  if (options.noise_sd_hu > 0) {
    // Gaussian noise in memory order from one seeded generator: Box-Muller
    // pairs, own transform (std::normal_distribution is implementation-defined).
    std::mt19937_64 rng(options.noise_seed);
    auto uniform = [&] {
      return (static_cast<double>(rng() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    };
    const int64_t count = ct.num_voxels();
    for (int64_t n = 0; n < count; n += 2) {
      const double r = options.noise_sd_hu * std::sqrt(-2.0 * std::log(uniform()));
      const double phi = 2.0 * kPi * uniform();
      for (int m = 0; m < 2 && n + m < count; ++m) {
        const double z = m == 0 ? r * std::cos(phi) : r * std::sin(phi);
        out[n + m] = static_cast<int16_t>(std::round(Clamp(out[n + m] + z, -1024.0, 3071.0)));
      }
    }
  }
  ReportProgress(options.progress, 1.0, "phantom CT");
  return ct;
}

}  // namespace ssmx::ssm
