// The implicit phantom femur: parameters, sampling, primitives, bending, world
// pose and the deformation from the mean femur. See docs/phantom.md.
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "internal/phantom_geometry.h"
#include "internal/random.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/phantom.h"

namespace ssmx::ssm {

namespace {

using Eigen::Matrix3d;
using Eigen::Vector3d;
using internal::Part;
using internal::Primitive;
using internal::PrimitiveKind;
using internal::TubeKnot;

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;
constexpr double kStraightBowMm = 1e8;  // bow radii at or above this give a straight shaft

// Mean dimensions the primitives are scaled from (mm).
constexpr double kMeanHeadRadius = 23.35;
constexpr double kMeanShaftDiameter = 27.5;
constexpr double kMeanCondylarWidth = 83.9;

double Clamp(double v, double lo, double hi) { return std::min(hi, std::max(lo, v)); }
double SmoothStep(double e0, double e1, double x) {
  const double t = Clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3.0 - 2.0 * t);
}
double Lerp(double a, double b, double t) { return a + (b - a) * t; }

// Quadratic smooth minimum (Quilez): equals min(a, b) when |a - b| >= k.
double SmoothMin(double a, double b, double k) {
  if (k <= 0) return std::min(a, b);
  const double h = std::max(k - std::abs(a - b), 0.0) / k;
  return std::min(a, b) - h * h * k * 0.25;
}
double SmoothMax(double a, double b, double k) { return -SmoothMin(-a, -b, k); }

// Distance to an ellipse with semi-axes (a, b), first-order (Quilez): exact
// zero set, unit gradient on it.
double EllipseDistance(double x, double y, double a, double b) {
  const double k0 = std::hypot(x / a, y / b);
  const double k1 = std::hypot(x / (a * a), y / (b * b));
  if (k1 < 1e-12) return -std::min(a, b);
  return k0 * (k0 - 1.0) / k1;
}

double EllipsoidDistance(const Vector3d& p, const Vector3d& r) {
  const double k0 = p.cwiseQuotient(r).norm();
  const double k1 = p.cwiseQuotient(r.cwiseProduct(r)).norm();
  if (k1 < 1e-12) return -r.minCoeff();
  return k0 * (k0 - 1.0) / k1;
}

// Piecewise-linear interpolation over sorted (t, value) knots, clamped.
double Interpolate(const std::vector<std::pair<double, double>>& knots, double t) {
  if (knots.empty()) return 1.0;
  if (t <= knots.front().first) return knots.front().second;
  for (size_t i = 1; i < knots.size(); ++i) {
    if (t <= knots[i].first) {
      const double w = (t - knots[i - 1].first) / (knots[i].first - knots[i - 1].first);
      return Lerp(knots[i - 1].second, knots[i].second, w);
    }
  }
  return knots.back().second;
}

Matrix3d RotationX(double a) {
  Matrix3d r;
  r << 1, 0, 0, 0, std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a);
  return r;
}
Matrix3d RotationY(double a) {
  Matrix3d r;
  r << std::cos(a), 0, std::sin(a), 0, 1, 0, -std::sin(a), 0, std::cos(a);
  return r;
}

double BoxDistance(const Vector3d& q, const Vector3d& lo, const Vector3d& hi) {
  const Vector3d d = (lo - q).cwiseMax(q - hi).cwiseMax(Vector3d::Zero());
  return d.norm();
}

// Extreme point of an ellipsoid (centre c, axes = columns of f, semi-axes r)
// in direction d.
Vector3d EllipsoidSupport(const Vector3d& c, const Matrix3d& f, const Vector3d& r,
                          const Vector3d& d) {
  const Vector3d dl = f.transpose() * d;
  const Vector3d r2 = r.cwiseProduct(r);
  const double h = std::sqrt((r2.cwiseProduct(dl.cwiseProduct(dl))).sum());
  return c + f * (r2.cwiseProduct(dl) / h);
}

}  // namespace

namespace internal {

double Primitive::Distance(const Vector3d& q) const {
  switch (kind) {
    case PrimitiveKind::kSphere: return (q - center).norm() - radius;
    case PrimitiveKind::kEllipsoid:
      return EllipsoidDistance(frame.transpose() * (q - center), radii);
    case PrimitiveKind::kRoundCone: {
      const Vector3d ba = end - center;
      const double h = Clamp((q - center).dot(ba) / ba.squaredNorm(), 0.0, 1.0);
      return (q - center - h * ba).norm() - Lerp(radius, radius2, h);
    }
    case PrimitiveKind::kTube: {
      const Vector3d l = frame.transpose() * (q - center);
      const double t = Clamp((l.x() - knot_origin) / knot_length, knots.front().t, knots.back().t);
      size_t i = 1;
      while (i + 1 < knots.size() && knots[i].t < t) ++i;
      const TubeKnot& k0 = knots[i - 1];
      const TubeKnot& k1 = knots[i];
      const double w = (t - k0.t) / (k1.t - k0.t);
      const double s = Interpolate(scale_knots, t);
      const double a1 = s * Lerp(k0.a1, k1.a1, w), a2 = s * Lerp(k0.a2, k1.a2, w);
      const double c1 = s * Lerp(k0.c1, k1.c1, w), c2 = s * Lerp(k0.c2, k1.c2, w);
      const double d_section = EllipseDistance(l.y() - c1, l.z() - c2, a1, a2);
      const double d_axial = std::max(-l.x(), l.x() - length);
      return std::hypot(std::max(d_section, 0.0), std::max(d_axial, 0.0)) +
             std::min(std::max(d_section, d_axial), 0.0);
    }
    case PrimitiveKind::kCondyle: {
      // A rounded elliptic cylinder: width along local x, elliptic profile in
      // the local (y, z) plane, edges rounded by `radius`.
      const Vector3d l = frame.transpose() * (q - center);
      const double r = radius;
      const double d_profile = EllipseDistance(l.y(), l.z(), radii.y() - r, radii.z() - r);
      const double d_width = std::abs(l.x()) - (radii.x() - r);
      return std::hypot(std::max(d_profile, 0.0), std::max(d_width, 0.0)) +
             std::min(std::max(d_profile, d_width), 0.0) - r;
    }
  }
  return std::numeric_limits<double>::infinity();
}

}  // namespace internal

// ---------------------------------------------------------------------------
// Parameters

const char* BodySideName(BodySide side) { return side == BodySide::kLeft ? "left" : "right"; }

const std::vector<FemurParameterMode>& FemurParameterModes() {
  static const std::vector<FemurParameterMode> modes = {
      {"length_mm", 447.0, 28.0, 370.0, 530.0,
       "adult femoral length, sexes pooled (Trotter & Gleser 1952, Am J Phys Anthropol 10:463-514; "
       "the two real VSD femurs in shared/data measure 425 and 472 mm)"},
      {"neck_shaft_angle_deg", 124.7, 6.2, 105.0, 145.0,
       "3D CT of 628 hips: NSA 124.7 (SD 6.2) deg (Carmona et al. 2022, 'Upper femur anatomy "
       "depends on "
       "age and gender', hal-03553324)"},
      {"anteversion_deg", 14.5, 8.1, -10.0, 40.0,
       "same study: femoral neck version 14.5 (SD 8.1) deg"},
      {"head_radius_mm", 23.35, 1.9, 18.0, 29.0,
       "femoral head diameter 46.7 (SD 3.8) mm, 200 adult radiographs (Kour et al. 2023, "
       "NeuroQuantology "
       "21(2))"},
      {"neck_length_mm", 52.2, 8.3, 32.0, 75.0,
       "femoral offset 42.9 (SD 6.8) mm (Carmona et al. 2022) divided by sin(NSA): the distance "
       "from the "
       "shaft axis to the head centre along the neck axis"},
      {"bow_radius_mm", 1030.0, 240.0, 550.0, 2000.0,
       "anterior bow radius of curvature 1027 (SD 242) mm, CT of 150 femurs (PMID 36282333, 2022); "
       "943 mm mean in 1232 femurs (PLoS One 2018, PMC6177158)"},
      {"condylar_width_mm", 83.9, 6.2, 66.0, 100.0,
       "bicondylar width 88.6 (SD 4.2) mm in men, 78.5 (SD 3.0) in women, 360 femora, pooled "
       "(Terzidis et al. 2012, Anat Res Int 2012:679658)"},
      {"shaft_diameter_mm", 27.5, 2.2, 22.0, 34.0,
       "mid-shaft periosteal diameter of adult femurs (typical 25-30 mm AP and ML; approximate, "
       "see "
       "docs/phantom.md)"},
      {"bicondylar_angle_deg", 9.3, 2.2, 4.0, 15.0,
       "femoral bicondylar angle 9.31 (SD 2.13) deg, 100 dry femurs (Int J Anat Biol Clin Res, "
       "iabcr.org "
       "art. 564); adult 8-11 deg (Tardieu & Trinkaus 1994, Am J Phys Anthropol 95:183)"},
      {"cortical_thickness_mm", 5.5, 1.0, 3.0, 8.0,
       "mid-diaphysis cortical thickness; anterior cortex 2.2-7.0 mm (Buford et al. 2014, J Orthop "
       "Trauma "
       "28:10-16)"},
      {"cortical_hu", 1500.0, 120.0, 1200.0, 1800.0, "cortical bone 1200-1800 HU at 120 kVp"},
      {"trabecular_hu", 220.0, 35.0, 150.0, 300.0, "trabecular (cancellous) bone 150-300 HU"},
  };
  return modes;
}

std::map<std::string, double> FemurParametersToNamedValues(const FemurParameters& p) {
  return {{"length_mm", p.length_mm},
          {"neck_shaft_angle_deg", p.neck_shaft_angle / kDeg},
          {"anteversion_deg", p.anteversion / kDeg},
          {"head_radius_mm", p.head_radius_mm},
          {"neck_length_mm", p.neck_length_mm},
          {"bow_radius_mm", p.bow_radius_mm},
          {"condylar_width_mm", p.condylar_width_mm},
          {"shaft_diameter_mm", p.shaft_diameter_mm},
          {"bicondylar_angle_deg", p.bicondylar_angle / kDeg},
          {"cortical_thickness_mm", p.cortical_thickness_mm},
          {"cortical_hu", p.cortical_hu},
          {"trabecular_hu", p.trabecular_hu}};
}

FemurParameters FemurParametersFromNamedValues(const std::map<std::string, double>& values,
                                               BodySide side, const std::string& what) {
  FemurParameters p;
  p.side = side;
  const std::map<std::string, double*> fields = {
      {"length_mm", &p.length_mm},
      {"head_radius_mm", &p.head_radius_mm},
      {"neck_length_mm", &p.neck_length_mm},
      {"bow_radius_mm", &p.bow_radius_mm},
      {"condylar_width_mm", &p.condylar_width_mm},
      {"shaft_diameter_mm", &p.shaft_diameter_mm},
      {"cortical_thickness_mm", &p.cortical_thickness_mm},
      {"cortical_hu", &p.cortical_hu},
      {"trabecular_hu", &p.trabecular_hu},
      {"neck_shaft_angle_deg", &p.neck_shaft_angle},
      {"anteversion_deg", &p.anteversion},
      {"bicondylar_angle_deg", &p.bicondylar_angle}};
  for (const auto& [name, value] : values) {
    if (!fields.count(name)) throw InvalidInput(what + ": unknown femur parameter '" + name + "'");
  }
  for (const auto& [name, field] : fields) {
    const auto it = values.find(name);
    if (it == values.end())
      throw InvalidInput(what + ": femur parameter '" + name + "' is missing");
    const bool degrees = name.size() > 4 && name.compare(name.size() - 4, 4, "_deg") == 0;
    *field = degrees ? it->second * kDeg : it->second;
  }
  const std::string problem = p.Validate();
  if (!problem.empty()) throw InvalidInput(what + ": " + problem);
  return p;
}

std::string FemurParameters::Validate() const {
  struct Check {
    const char* name;
    double value, lo, hi;
  };
  const Check checks[] = {{"length_mm", length_mm, 250, 650},
                          {"neck_shaft_angle_deg", neck_shaft_angle / kDeg, 95, 165},
                          {"anteversion_deg", anteversion / kDeg, -40, 70},
                          {"head_radius_mm", head_radius_mm, 14, 35},
                          {"neck_length_mm", neck_length_mm, 25, 90},
                          {"bow_radius_mm", bow_radius_mm, 300, 1e12},
                          {"condylar_width_mm", condylar_width_mm, 55, 115},
                          {"shaft_diameter_mm", shaft_diameter_mm, 16, 42},
                          {"bicondylar_angle_deg", bicondylar_angle / kDeg, 0, 20},
                          {"cortical_thickness_mm", cortical_thickness_mm, 0.5, 10},
                          {"cortical_hu", cortical_hu, 400, 3000},
                          {"trabecular_hu", trabecular_hu, 0, 1000}};
  for (const Check& c : checks) {
    if (!std::isfinite(c.value) || c.value < c.lo || c.value > c.hi) {
      std::ostringstream s;
      s << c.name << " " << c.value << " outside the supported range " << c.lo << ".." << c.hi;
      return s.str();
    }
  }
  if (cortical_thickness_mm > 0.4 * shaft_diameter_mm) {
    return "cortical_thickness_mm " + std::to_string(cortical_thickness_mm) +
           " leaves no medullary canal: it must be at most 0.4 * shaft_diameter_mm";
  }
  if (neck_length_mm < head_radius_mm + 8) {
    return "neck_length_mm " + std::to_string(neck_length_mm) +
           " puts the head inside the shaft: it must exceed head_radius_mm + 8";
  }
  return "";
}

FemurParameters MeanFemurParameters(BodySide side) {
  std::map<std::string, double> values;
  for (const FemurParameterMode& m : FemurParameterModes()) values[m.name] = m.mean;
  return FemurParametersFromNamedValues(values, side, "mean femur parameters");
}

using ::ssmx::internal::StandardNormal;

std::vector<FemurParameters> SampleFemurParameters(int n, uint64_t seed, CohortSides sides) {
  if (n < 1 || n > 100000)
    throw InvalidInput("phantom cohort size must be in 1..100000, got " + std::to_string(n));
  std::mt19937_64 rng(seed);
  std::vector<FemurParameters> cohort;
  for (int i = 0; i < n; ++i) {
    std::map<std::string, double> values;
    for (const FemurParameterMode& m : FemurParameterModes()) {
      double v;
      do {
        v = m.mean + m.sd * StandardNormal(rng);
      } while (v < m.min || v > m.max);
      values[m.name] = v;
    }
    // Keep the cortex and the neck consistent with the other draws.
    values["cortical_thickness_mm"] =
        std::min(values["cortical_thickness_mm"], 0.3 * values["shaft_diameter_mm"]);
    values["neck_length_mm"] = std::max(values["neck_length_mm"], values["head_radius_mm"] + 12.0);
    const BodySide side = sides == CohortSides::kLeft                        ? BodySide::kLeft
                          : sides == CohortSides::kAlternate && (i % 2 == 1) ? BodySide::kLeft
                                                                             : BodySide::kRight;
    cohort.push_back(
        FemurParametersFromNamedValues(values, side, "sampled femur " + std::to_string(i)));
  }
  return cohort;
}

// ---------------------------------------------------------------------------
// Geometry

PhantomFemur::Geometry::Geometry(const FemurParameters& parameters) : p(parameters) {
  s_head = p.head_radius_mm / kMeanHeadRadius;
  s_shaft = p.shaft_diameter_mm / kMeanShaftDiameter;
  s_distal = p.condylar_width_mm / kMeanCondylarWidth;
  s_prox = std::sqrt(s_head * s_shaft);
  const double theta = p.neck_shaft_angle, phi = p.anteversion;
  n = Vector3d(std::sin(theta) * std::cos(phi), -std::sin(theta) * std::sin(phi), -std::cos(theta));
  e1 = Vector3d(std::sin(phi), std::cos(phi), 0.0);
  e2 = n.cross(e1);
  head_center = p.neck_length_mm * n;
  femur_from_distal = RotationY(p.bicondylar_angle);
  straight = p.bow_radius_mm >= kStraightBowMm;
  bend_radius = p.bow_radius_mm;
  mirror = p.side == BodySide::kLeft ? -1.0 : 1.0;
  // The chord (neck-shaft point to knee centre) that gives the requested
  // physiological length; the length grows monotonically with it (slope ~1).
  chord_mm = p.length_mm - 60.0;
  for (int iteration = 0; iteration < 30; ++iteration) {
    PlaceInWorld();
    const double f0 = MeasuredLength() - p.length_mm;
    if (std::abs(f0) < 1e-10) break;
    const double c0 = chord_mm;
    chord_mm = c0 + 1e-3;
    PlaceInWorld();
    const double slope = (MeasuredLength() - p.length_mm - f0) / 1e-3;
    chord_mm = c0 - f0 / slope;
  }
  PlaceInWorld();
  BuildPrimitives();
}

double PhantomFemur::Geometry::ShaftScale(double t) const {
  return Interpolate({{0.0, s_prox},
                      {0.1, s_prox},
                      {0.3, s_shaft},
                      {0.7, s_shaft},
                      {0.9, s_distal},
                      {1.0, s_distal}},
                     t);
}

double PhantomFemur::Geometry::NeckScale(double t) const {
  return Lerp(s_prox, s_head, SmoothStep(0.15, 0.85, t));
}

Vector3d PhantomFemur::Geometry::DistalToStraight(const Vector3d& d) const {
  return Vector3d(0, 0, -chord_mm) + femur_from_distal * (s_distal * d);
}

// The bend: the shaft between z0 and z1 is wound onto a circle of radius R
// whose centre lies posterior (+y), so the shaft bows anteriorly. Above z0
// nothing moves; below z1 the distal part follows rigidly.
Vector3d PhantomFemur::Geometry::Bend(const Vector3d& q) const {
  if (straight || q.z() >= bend_z0) return q;
  const double R = bend_radius;
  if (q.z() >= bend_z1) {
    const double a = (bend_z0 - q.z()) / R;
    return Vector3d(q.x(), R - (R - q.y()) * std::cos(a), bend_z0 - (R - q.y()) * std::sin(a));
  }
  const double a = bend_angle;
  const Vector3d end(0, R - R * std::cos(a), bend_z0 - R * std::sin(a));
  return end + RotationX(a) * (q - Vector3d(0, 0, bend_z1));
}

Vector3d PhantomFemur::Geometry::Unbend(const Vector3d& b) const {
  if (straight || b.z() >= bend_z0) return b;
  const double R = bend_radius;
  const double a = std::atan2(bend_z0 - b.z(), R - b.y());
  if (a <= bend_angle) {
    const double rho = std::hypot(R - b.y(), bend_z0 - b.z());
    return Vector3d(b.x(), R - rho, bend_z0 - R * a);
  }
  const Vector3d end(0, R - R * std::cos(bend_angle), bend_z0 - R * std::sin(bend_angle));
  return Vector3d(0, 0, bend_z1) + RotationX(bend_angle).transpose() * (b - end);
}

Vector3d PhantomFemur::Geometry::WorldFromStraight(const Vector3d& q) const {
  Vector3d w = world_rotation * (Bend(q) - knee_bent);
  w.x() *= mirror;
  return w;
}

Vector3d PhantomFemur::Geometry::StraightFromWorld(const Vector3d& w) const {
  Vector3d m = w;
  m.x() *= mirror;
  return Unbend(world_rotation.transpose() * m + knee_bent);
}

void PhantomFemur::Geometry::PlaceInWorld() {
  bend_z0 = -0.15 * chord_mm;
  bend_z1 = -0.85 * chord_mm;
  bend_angle = straight ? 0.0 : (bend_z0 - bend_z1) / bend_radius;
  knee_bent = Bend(Vector3d(0, 0, -chord_mm));
  const Matrix3d bent_from_distal = RotationX(bend_angle) * femur_from_distal;
  const Vector3d v = bent_from_distal.transpose() * (head_center - knee_bent);
  sagittal_tilt = std::atan2(v.y(), v.z());
  world_rotation = RotationX(sagittal_tilt) * bent_from_distal.transpose();
}

namespace {
// Condyle layout in the distal frame at mean size (mm): centre (y, z) of the
// sagittal ellipse, its semi-axes and the edge rounding.
constexpr double kCondyleY = 11.0, kCondyleZ = -2.0, kCondyleAy = 31.0, kCondyleAz = 26.0,
                 kCondyleRound = 10.0;
}  // namespace

double PhantomFemur::Geometry::MeasuredLength() const {
  const double head_top = (world_rotation * (head_center - knee_bent)).z() + p.head_radius_mm;
  const double g = sagittal_tilt, s = s_distal;
  const double cz = std::sin(g) * kCondyleY * s + std::cos(g) * kCondyleZ * s;
  const double ay = (kCondyleAy - kCondyleRound) * s, az = (kCondyleAz - kCondyleRound) * s;
  const double lowest =
      cz - std::sqrt(ay * ay * std::sin(g) * std::sin(g) + az * az * std::cos(g) * std::cos(g)) -
      kCondyleRound * s;
  return head_top - lowest;
}

void PhantomFemur::Geometry::BuildPrimitives() {
  primitives.clear();
  const double sp = s_prox, sd = s_distal;
  auto ellipsoid = [&](Part part, const Vector3d& c, const Vector3d& r, const Matrix3d& f,
                       double blend) {
    Primitive e;
    e.kind = PrimitiveKind::kEllipsoid;
    e.part = part;
    e.center = c;
    e.radii = r;
    e.frame = f;
    e.blend_mm = blend;
    primitives.push_back(e);
  };
  auto round_cone = [&](Part part, const Vector3d& a, const Vector3d& b, double ra, double rb,
                        double blend) {
    Primitive c;
    c.kind = PrimitiveKind::kRoundCone;
    c.part = part;
    c.center = a;
    c.end = b;
    c.radius = ra;
    c.radius2 = rb;
    c.blend_mm = blend;
    primitives.push_back(c);
  };
  const Matrix3d I = Matrix3d::Identity();

  // Shaft: a tube down the straight z axis with an elliptic section that
  // flares into the trochanters and the condyles.
  {
    Primitive t;
    t.kind = PrimitiveKind::kTube;
    t.part = internal::kShaft;
    const double top = 8.0 * sp, bottom = -chord_mm + 24.0 * sd;
    t.center = Vector3d(0, 0, top);
    t.frame << 0, 1, 0, 0, 0, 1, -1, 0, 0;  // axis -z, e1 = x (ML), e2 = y (AP)
    t.length = top - bottom;
    t.knot_origin = top;
    t.knot_length = chord_mm;
    t.knots = {{-0.1, 18.0, 15.0, 0, 1.0}, {0.0, 18.0, 15.0, 0, 1.0},   {0.08, 16.8, 14.5, 0, 1.0},
               {0.2, 15.2, 14.0, 0, 0.5},  {0.5, 13.75, 13.75, 0, 0.0}, {0.75, 14.3, 14.0, 0, 0.0},
               {0.82, 17.5, 14.8, 0, 1.0}, {0.9, 23.0, 16.5, 0, 2.5},   {0.96, 29.0, 18.5, 0, 4.0},
               {1.0, 31.0, 19.0, 0, 5.0}};
    t.scale_knots = {{0.0, s_prox},  {0.1, s_prox},   {0.3, s_shaft},
                     {0.7, s_shaft}, {0.9, s_distal}, {1.0, s_distal}};
    t.blend_mm = 0;
    primitives.push_back(t);
  }
  // Proximal block: intertrochanteric core, greater trochanter (body and
  // posterosuperior tip), lesser trochanter, intertrochanteric crest.
  ellipsoid(internal::kProximal, sp * Vector3d(0.0, 2.0, -6.0), sp * Vector3d(18.0, 15.0, 24.0), I,
            10.0);
  ellipsoid(internal::kProximal, sp * Vector3d(-15.5, 5.0, 8.0), sp * Vector3d(12.0, 16.0, 23.0),
            RotationY(-12.0 * kDeg), 8.0);
  ellipsoid(internal::kProximal, sp * Vector3d(-8.0, 9.0, 25.0), sp * Vector3d(8.0, 9.0, 7.5), I,
            6.0);
  round_cone(internal::kProximal, sp * Vector3d(3.0, 5.0, -28.0), sp * Vector3d(15.0, 14.0, -36.0),
             10.0 * sp, 5.0 * sp, 9.0);
  round_cone(internal::kProximal, sp * Vector3d(-14.0, 12.0, 12.0), sp * Vector3d(7.0, 13.0, -30.0),
             5.0 * sp, 4.5 * sp, 6.0);
  // Neck: an elliptic tube from the neck-shaft point to the head centre,
  // narrowest just lateral of the head; e1 ~ AP, e2 ~ SI.
  {
    Primitive t;
    t.kind = PrimitiveKind::kTube;
    t.part = internal::kNeck;
    t.center = Vector3d::Zero();
    t.frame.col(0) = n;
    t.frame.col(1) = e1;
    t.frame.col(2) = e2;
    t.length = p.neck_length_mm;
    t.knot_origin = 0;
    t.knot_length = p.neck_length_mm;
    t.knots = {{0.0, 17.0, 23.0, 0, -2.0},
               {0.35, 14.5, 18.5, 0, -0.5},
               {0.62, 12.8, 15.5, 0, 0.0},
               {0.85, 14.5, 16.5, 0, 0.0},
               {1.0, 14.5, 16.5, 0, 0.0}};
    for (double t_knot : {0.0, 0.15, 0.3, 0.5, 0.7, 0.85, 1.0})
      t.scale_knots.push_back({t_knot, NeckScale(t_knot)});
    t.blend_mm = 12.0;
    primitives.push_back(t);
  }
  // Head: a sphere, blended only a little so that it stays spherical.
  {
    Primitive s;
    s.kind = PrimitiveKind::kSphere;
    s.part = internal::kHead;
    s.center = head_center;
    s.radius = p.head_radius_mm;
    s.blend_mm = 3.0;
    primitives.push_back(s);
  }
  // Linea aspera: a low posterior ridge along the middle of the shaft.
  round_cone(internal::kShaft, Vector3d(1.0, 11.0 * s_shaft, -0.28 * chord_mm),
             Vector3d(0.0, 11.2 * s_shaft, -0.72 * chord_mm), 4.5 * s_shaft, 4.5 * s_shaft, 8.0);

  // Distal block, built in the distal frame (x medial, y posterior, z up;
  // origin = knee centre) at mean size and scaled by the condylar width.
  const Matrix3d fd = femur_from_distal;
  auto distal_ellipsoid = [&](const Vector3d& c, const Vector3d& r, double blend) {
    ellipsoid(internal::kDistal, DistalToStraight(c), sd * r, fd, blend);
  };
  auto condyle = [&](const Vector3d& c, double half_width, double ay, double az, double round,
                     double blend) {
    Primitive k;
    k.kind = PrimitiveKind::kCondyle;
    k.part = internal::kDistal;
    k.center = DistalToStraight(c);
    k.frame = fd;
    k.radii = sd * Vector3d(half_width, ay, az);
    k.radius = sd * round;
    k.blend_mm = blend;
    primitives.push_back(k);
  };
  distal_ellipsoid(Vector3d(0.0, 4.0, 30.0), Vector3d(32.0, 20.0, 34.0), 12.0);  // metaphysis
  condyle(Vector3d(22.0, kCondyleY, kCondyleZ), 12.5, kCondyleAy, kCondyleAz, kCondyleRound,
          8.0);  // medial
  condyle(Vector3d(-21.0, kCondyleY, kCondyleZ), 13.5, kCondyleAy, kCondyleAz, kCondyleRound,
          8.0);                                                   // lateral
  condyle(Vector3d(0.0, -2.0, 4.0), 29.0, 21.0, 20.0, 8.0, 6.0);  // trochlear (patellar) block
  const double half_width = 0.5 * kMeanCondylarWidth;
  distal_ellipsoid(Vector3d(half_width - 6.0, 8.0, 2.0), Vector3d(6.0, 18.0, 17.0),
                   6.0);  // medial epicondyle
  distal_ellipsoid(Vector3d(-(half_width - 5.0), 7.0, 3.0), Vector3d(5.0, 16.0, 15.0),
                   6.0);                                                       // lateral epicondyle
  distal_ellipsoid(Vector3d(33.0, 12.0, 22.0), Vector3d(5.0, 5.0, 5.0), 4.0);  // adductor tubercle
  // Trochlear groove: a smooth subtraction along the patellar surface.
  {
    Primitive g;
    g.kind = PrimitiveKind::kRoundCone;
    g.part = internal::kDistal;
    g.subtract = true;
    g.center = DistalToStraight(Vector3d(1.0, -27.5, 14.0));
    g.end = DistalToStraight(Vector3d(1.0, -25.5, -6.0));
    g.radius = g.radius2 = 8.0 * sd;
    g.blend_mm = 3.0;
    primitives.push_back(g);
  }

  // Bounds for culling: generous boxes around each primitive.
  box_min = Vector3d::Constant(std::numeric_limits<double>::infinity());
  box_max = -box_min;
  for (Primitive& q : primitives) {
    Vector3d lo, hi;
    switch (q.kind) {
      case PrimitiveKind::kSphere:
        lo = q.center.array() - q.radius;
        hi = q.center.array() + q.radius;
        break;
      case PrimitiveKind::kEllipsoid:
      case PrimitiveKind::kCondyle:
        lo = q.center.array() - q.radii.maxCoeff() * 1.25;
        hi = q.center.array() + q.radii.maxCoeff() * 1.25;
        break;
      case PrimitiveKind::kRoundCone: {
        const double r = std::max(q.radius, q.radius2) * 1.1;
        lo = q.center.cwiseMin(q.end).array() - r;
        hi = q.center.cwiseMax(q.end).array() + r;
        break;
      }
      case PrimitiveKind::kTube: {
        double r = 0;
        for (const TubeKnot& k : q.knots)
          r = std::max(r, std::max(k.a1, k.a2) + std::abs(k.c1) + std::abs(k.c2));
        double s = 1;
        for (const auto& [t, f] : q.scale_knots) s = std::max(s, f);
        r *= s * 1.1;
        const Vector3d a = q.center, b = q.center + q.length * q.frame.col(0);
        lo = a.cwiseMin(b).array() - r;
        hi = a.cwiseMax(b).array() + r;
        break;
      }
    }
    q.box_min = lo;
    q.box_max = hi;
    if (!q.subtract) {
      box_min = box_min.cwiseMin(lo);
      box_max = box_max.cwiseMax(hi);
    }
  }
}

double PhantomFemur::Geometry::StraightDistance(const Vector3d& q) const {
  const double outside = BoxDistance(q, box_min, box_max);
  if (outside > 4.0) return outside;  // a lower bound: far from the bone only the sign matters
  double d = std::numeric_limits<double>::infinity();
  for (const Primitive& prim : primitives) {
    const double lower = BoxDistance(q, prim.box_min, prim.box_max);
    if (prim.subtract) {
      // smax(d, -d_i, k) == d when d + d_i >= k.
      if (d + lower >= prim.blend_mm) continue;
      d = SmoothMax(d, -prim.Distance(q), prim.blend_mm);
    } else {
      if (lower - d >= prim.blend_mm) continue;
      d = std::isinf(d) ? prim.Distance(q) : SmoothMin(d, prim.Distance(q), prim.blend_mm);
    }
  }
  return d;
}

std::array<double, internal::kNumParts> PhantomFemur::Geometry::PartDistances(
    const Vector3d& q) const {
  std::array<double, internal::kNumParts> d;
  d.fill(std::numeric_limits<double>::infinity());
  for (const Primitive& prim : primitives) {
    if (prim.subtract) continue;
    if (BoxDistance(q, prim.box_min, prim.box_max) >= d[prim.part]) continue;
    d[prim.part] = std::min(d[prim.part], prim.Distance(q));
  }
  return d;
}

// ---------------------------------------------------------------------------
// PhantomFemur

namespace {
std::shared_ptr<const PhantomFemur::Geometry> MeanGeometry() {
  static const std::shared_ptr<const PhantomFemur::Geometry> mean =
      std::make_shared<const PhantomFemur::Geometry>(MeanFemurParameters(BodySide::kRight));
  return mean;
}
}  // namespace

PhantomFemur::PhantomFemur(const FemurParameters& parameters) : parameters_(parameters) {
  const std::string problem = parameters.Validate();
  if (!problem.empty()) throw InvalidInput("phantom femur: " + problem);
  geometry_ = std::make_shared<const Geometry>(parameters);
  mean_geometry_ = MeanGeometry();
}

double PhantomFemur::SignedDistance(const Vector3d& p_world) const {
  return geometry_->StraightDistance(geometry_->StraightFromWorld(p_world));
}

Vector3d PhantomFemur::Gradient(const Vector3d& p, double h) const {
  Vector3d g;
  for (int a = 0; a < 3; ++a) {
    Vector3d dp = Vector3d::Zero();
    dp[a] = h;
    g[a] = (SignedDistance(p + dp) - SignedDistance(p - dp)) / (2 * h);
  }
  return g;
}

Bounds3d PhantomFemur::bounds() const {
  const Geometry& g = *geometry_;
  Bounds3d b;
  b.min = Vector3d::Constant(std::numeric_limits<double>::infinity());
  b.max = -b.min;
  // Corners of the straight box, and the points along the bent shaft.
  for (int c = 0; c < 8; ++c) {
    const Vector3d q((c & 1) ? g.box_max.x() : g.box_min.x(),
                     (c & 2) ? g.box_max.y() : g.box_min.y(),
                     (c & 4) ? g.box_max.z() : g.box_min.z());
    for (int s = 0; s <= 20; ++s) {
      Vector3d r = q;
      r.z() = Lerp(g.box_min.z(), g.box_max.z(), s / 20.0);
      const Vector3d w = g.WorldFromStraight(r);
      b.min = b.min.cwiseMin(w);
      b.max = b.max.cwiseMax(w);
    }
  }
  return b;
}

Eigen::Matrix4d PhantomFemur::WorldFromFemur() const {
  // Exact only above the bend (the femur frame is straight; below z0 the bend
  // applies, see Geometry::Bend). The rigid part: rotation and translation.
  const Geometry& g = *geometry_;
  Eigen::Matrix4d m = Eigen::Matrix4d::Identity();
  Matrix3d mirror = Matrix3d::Identity();
  mirror(0, 0) = g.mirror;
  m.topLeftCorner<3, 3>() = mirror * g.world_rotation;
  m.topRightCorner<3, 1>() = -(mirror * g.world_rotation * g.knee_bent);
  return m;
}

LandmarkMap PhantomFemur::Landmarks() const {
  const Geometry& g = *geometry_;
  LandmarkMap l;
  auto world = [&](const Vector3d& q) { return g.WorldFromStraight(q); };
  l["femoral_head_center"] = world(g.head_center);
  l["femoral_head_top"] = world(g.head_center) + Vector3d(0, 0, g.p.head_radius_mm);
  l["neck_shaft_point"] = world(Vector3d::Zero());
  l["knee_center"] = world(Vector3d(0, 0, -g.chord_mm));
  // Greater trochanter: the proximal extreme of its body along the shaft axis.
  const Primitive& gt = g.primitives[2];
  l["greater_trochanter_tip"] =
      world(EllipsoidSupport(gt.center, gt.frame, gt.radii, Vector3d(0, 0, 1)));
  const Primitive& lt = g.primitives[4];
  l["lesser_trochanter"] = world(lt.end + lt.radius2 * (lt.end - lt.center).normalized());
  const double sd = g.s_distal, half_width = 0.5 * kMeanCondylarWidth;
  l["medial_epicondyle"] = world(g.DistalToStraight(Vector3d(half_width, 8.0, 2.0)));
  l["lateral_epicondyle"] = world(g.DistalToStraight(Vector3d(-half_width, 7.0, 3.0)));
  // Distal-most points of the condyles in the world (the condyles are level).
  const double gamma = g.sagittal_tilt;
  const Eigen::Vector2d dir(-std::sin(gamma),
                            -std::cos(gamma));  // world down in the distal (y, z) plane
  const double ay = kCondyleAy - kCondyleRound, az = kCondyleAz - kCondyleRound;
  const double h = std::sqrt(ay * ay * dir.x() * dir.x() + az * az * dir.y() * dir.y());
  const Eigen::Vector2d yz = Eigen::Vector2d(kCondyleY, kCondyleZ) +
                             Eigen::Vector2d(ay * ay * dir.x(), az * az * dir.y()) / h +
                             kCondyleRound * dir;
  l["medial_condyle_distal"] = world(g.DistalToStraight(Vector3d(22.0, yz.x(), yz.y())));
  l["lateral_condyle_distal"] = world(g.DistalToStraight(Vector3d(-21.0, yz.x(), yz.y())));
  // Intercondylar notch: the roof of the notch straight above a point between
  // the condyles, found by bisection on the signed distance.
  {
    double lo = -30.0, hi = 20.0;  // distal-frame z at mean size
    auto at = [&](double z) { return g.DistalToStraight(Vector3d(1.0, 22.0, z)); };
    if (g.StraightDistance(at(lo)) > 0 && g.StraightDistance(at(hi)) < 0) {
      for (int i = 0; i < 60; ++i) {
        const double mid = 0.5 * (lo + hi);
        (g.StraightDistance(at(mid)) > 0 ? lo : hi) = mid;
      }
    }
    l["intercondylar_notch"] = world(at(0.5 * (lo + hi)));
  }
  (void)sd;
  return l;
}

std::map<std::string, double> PhantomFemur::DerivedMeasures() const {
  const Geometry& g = *geometry_;
  const double arc = g.bend_z0 - g.bend_z1;
  const double sagitta =
      g.straight ? 0.0 : g.bend_radius * (1 - std::cos(0.5 * arc / g.bend_radius));
  return {{"shaft_chord_mm", g.chord_mm},
          {"femoral_offset_mm", g.p.neck_length_mm * std::sin(g.p.neck_shaft_angle)},
          {"bow_arc_length_mm", arc},
          {"bow_sagitta_mm", sagitta},
          {"bow_angle_deg", g.bend_angle / kDeg},
          {"sagittal_tilt_deg", g.sagittal_tilt / kDeg}};
}

Vector3d PhantomFemur::MapFromMean(const Vector3d& p_mean_world) const {
  const Geometry& m = *mean_geometry_;
  const Geometry& s = *geometry_;
  const Vector3d q = m.StraightFromWorld(p_mean_world);
  const auto d = m.PartDistances(q);
  const double d_min = *std::min_element(d.begin(), d.end());
  constexpr double kFalloffMm = 2.5;
  Vector3d sum = Vector3d::Zero();
  double weight_sum = 0;
  for (int part = 0; part < internal::kNumParts; ++part) {
    const double w = std::exp(-(d[part] - d_min) / kFalloffMm);
    if (w < 1e-9) continue;
    Vector3d r;
    switch (part) {
      case internal::kHead: {
        Matrix3d from, to;
        from << m.n, m.e1, m.e2;
        to << s.n, s.e1, s.e2;
        r = s.head_center + (s.p.head_radius_mm / m.p.head_radius_mm) *
                                (to * from.transpose() * (q - m.head_center));
        break;
      }
      case internal::kNeck: {
        const double u = q.dot(m.n), v1 = q.dot(m.e1), v2 = q.dot(m.e2);
        const double t = Clamp(u / m.p.neck_length_mm, 0.0, 1.0);
        const double k = s.NeckScale(t) / m.NeckScale(t);
        r = (u * s.p.neck_length_mm / m.p.neck_length_mm) * s.n + k * (v1 * s.e1 + v2 * s.e2);
        break;
      }
      case internal::kProximal: r = (s.s_prox / m.s_prox) * q; break;
      case internal::kShaft: {
        const double t = -q.z() / m.chord_mm;
        const double tc = Clamp(t, 0.0, 1.0);
        const double k = s.ShaftScale(tc) / m.ShaftScale(tc);
        // Above the neck-shaft point the shaft merges with the proximal block
        // and scales like it.
        const double z = t < 0 ? q.z() * s.s_prox / m.s_prox : -t * s.chord_mm;
        r = Vector3d(k * q.x(), k * q.y(), z);
        break;
      }
      default: {
        const Vector3d local =
            m.femur_from_distal.transpose() * (q - Vector3d(0, 0, -m.chord_mm)) / m.s_distal;
        r = s.DistalToStraight(local);
        break;
      }
    }
    sum += w * r;
    weight_sum += w;
  }
  return s.WorldFromStraight(sum / weight_sum);
}

double PhantomFemur::ProjectToSurface(Vector3d* p, int max_iterations) const {
  const Vector3d start = *p;
  for (int i = 0; i < max_iterations; ++i) {
    const double d = SignedDistance(*p);
    if (std::abs(d) < 1e-7) break;
    const Vector3d g = Gradient(*p);
    const double g2 = g.squaredNorm();
    if (g2 < 1e-12) break;
    // Damped Newton step, never more than 2 mm at once.
    Vector3d step = -(d / g2) * g;
    if (step.norm() > 2.0) step *= 2.0 / step.norm();
    *p += step;
  }
  return (*p - start).norm();
}

PhantomFemur::Interior PhantomFemur::InteriorAt(const Vector3d& p_world) const {
  const Geometry& g = *geometry_;
  const Vector3d q = g.StraightFromWorld(p_world);
  const double t = -q.z() / g.chord_mm;
  const double diaphysis = SmoothStep(0.06, 0.3, t) * (1.0 - SmoothStep(0.7, 0.9, t));
  const double canal = SmoothStep(0.15, 0.35, t) * (1.0 - SmoothStep(0.65, 0.85, t));
  const double t_mid = g.p.cortical_thickness_mm;
  const double t_end = std::max(1.0, 0.22 * t_mid);
  return {Lerp(t_end, t_mid, diaphysis), 1.0 - canal};
}

}  // namespace ssmx::ssm
