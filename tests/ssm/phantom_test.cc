// Tests of the phantom femur: parameters and sampler, the implicit shape
// measured against its parameters, the deformation (correspondence), and the
// synthetic CT. Meshing tests are in phantom_mesh_test.cc.
#include "ssmx/ssm/phantom.h"

#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <cmath>
#include <functional>

#include "ssmx/core/error.h"

namespace ssmx::ssm {
namespace {

using Eigen::Vector3d;
constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;

// Root of f along p0 + s * dir for s in [lo, hi] (f changes sign), by bisection.
double Root(const std::function<double(const Vector3d&)>& f, const Vector3d& p0,
            const Vector3d& dir, double lo, double hi) {
  double flo = f(p0 + lo * dir);
  for (int i = 0; i < 80; ++i) {
    const double mid = 0.5 * (lo + hi);
    const double fm = f(p0 + mid * dir);
    if ((fm > 0) == (flo > 0)) {
      lo = mid;
      flo = fm;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

Vector3d ToFemur(const PhantomFemur& femur, const Vector3d& w) {
  const Eigen::Matrix4d m = femur.WorldFromFemur().inverse();
  return m.topLeftCorner<3, 3>() * w + m.topRightCorner<3, 1>();
}

// Points on the mean femur's surface near `center`: a ring of directions
// around it, each projected onto the surface.
std::vector<Vector3d> SurfacePointsNear(const PhantomFemur& femur, const Vector3d& center,
                                        double radius, int count) {
  std::vector<Vector3d> points;
  for (int i = 0; i < count; ++i) {
    const double z = 1.0 - 2.0 * (i + 0.5) / count, r = std::sqrt(1 - z * z),
                 a = i * 2.399963229728653;
    Vector3d p = center + radius * Vector3d(r * std::cos(a), r * std::sin(a), z);
    femur.ProjectToSurface(&p, 30);
    if (std::abs(femur.SignedDistance(p)) < 1e-6) points.push_back(p);
  }
  return points;
}

TEST(PhantomParameters, SamplerIsReproducibleAndFollowsTheModes) {
  const auto a = SampleFemurParameters(3000, 42);
  const auto b = SampleFemurParameters(3000, 42);
  const auto c = SampleFemurParameters(3, 43);
  ASSERT_EQ(a.size(), 3000u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(FemurParametersToNamedValues(a[i]), FemurParametersToNamedValues(b[i]));
  }
  EXPECT_NE(FemurParametersToNamedValues(a[0]), FemurParametersToNamedValues(c[0]));
  // Sample mean and SD of each mode against the table (truncation at about
  // 3 SD shrinks the SD by a few per cent at most).
  for (const FemurParameterMode& mode : FemurParameterModes()) {
    if (mode.name == "neck_length_mm" || mode.name == "cortical_thickness_mm")
      continue;  // clamped by design
    double sum = 0, sum2 = 0;
    for (const auto& p : a) {
      const double v = FemurParametersToNamedValues(p).at(mode.name);
      EXPECT_GE(v, mode.min);
      EXPECT_LE(v, mode.max);
      sum += v;
      sum2 += v * v;
    }
    const double mean = sum / a.size(), sd = std::sqrt(sum2 / a.size() - mean * mean);
    EXPECT_NEAR(mean, mode.mean, 4 * mode.sd / std::sqrt(3000.0)) << mode.name;
    EXPECT_NEAR(sd, mode.sd, 0.1 * mode.sd) << mode.name;
  }
}

TEST(PhantomParameters, NamedValuesRoundTripAndBadValuesAreRefused) {
  const FemurParameters p = SampleFemurParameters(1, 5)[0];
  const FemurParameters q =
      FemurParametersFromNamedValues(FemurParametersToNamedValues(p), p.side, "test");
  EXPECT_NEAR(q.neck_shaft_angle, p.neck_shaft_angle, 1e-15);
  EXPECT_EQ(q.length_mm, p.length_mm);
  auto values = FemurParametersToNamedValues(p);
  values["neck_shaft_angle_deg"] = 200;
  EXPECT_THROW(FemurParametersFromNamedValues(values, BodySide::kRight, "test"), InvalidInput);
  values = FemurParametersToNamedValues(p);
  values.erase("length_mm");
  try {
    FemurParametersFromNamedValues(values, BodySide::kRight, "cohort.json: subject 3");
    FAIL() << "a missing parameter was accepted";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("length_mm"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("subject 3"), std::string::npos) << e.what();
  }
  FemurParameters bad = p;
  bad.head_radius_mm = -3;
  EXPECT_THROW(PhantomFemur{bad}, InvalidInput);
}

// The implicit surface measured by root finding agrees with the parameters
// that built it: physiological length, head radius, epicondylar width.
TEST(PhantomFemur, SurfaceMeasuresMatchTheParameters) {
  for (const FemurParameters& p : SampleFemurParameters(4, 11, CohortSides::kAlternate)) {
    const PhantomFemur femur(p);
    const auto f = [&](const Vector3d& x) { return femur.SignedDistance(x); };
    const LandmarkMap l = femur.Landmarks();
    const Vector3d head = l.at("femoral_head_center");
    // Head: a sphere of the given radius (probe 20 directions of the cap).
    for (int i = 0; i < 20; ++i) {
      const double a = i * 0.7, z = 0.2 + 0.04 * i;
      const Vector3d dir =
          Vector3d(std::cos(a) * std::sqrt(1 - z * z), std::sin(a) * std::sqrt(1 - z * z), z);
      EXPECT_NEAR(Root(f, head, dir, 0, 40), p.head_radius_mm, 0.02);
    }
    // Length: highest point of the head to the lowest point of the condyles.
    const double top = Root(f, head, Vector3d::UnitZ(), 0, 60);
    const Vector3d condyle = l.at("medial_condyle_distal");
    const double bottom = Root(f, Vector3d(condyle.x(), condyle.y(), 0), -Vector3d::UnitZ(), 0, 80);
    EXPECT_NEAR(head.z() + top + bottom, p.length_mm, 0.05);
    // The condyles are level: the lateral one reaches the same plane.
    const Vector3d lateral = l.at("lateral_condyle_distal");
    EXPECT_NEAR(Root(f, Vector3d(lateral.x(), lateral.y(), 0), -Vector3d::UnitZ(), 0, 80), bottom,
                0.05);
    // Epicondylar width along x through the epicondyles.
    const Vector3d me = l.at("medial_epicondyle"), le = l.at("lateral_epicondyle");
    const double sign = p.side == BodySide::kLeft ? -1 : 1;
    const double medial = Root(f, Vector3d(0, me.y(), me.z()), sign * Vector3d::UnitX(), 0, 80);
    const double lateral_x = Root(f, Vector3d(0, le.y(), le.z()), -sign * Vector3d::UnitX(), 0, 80);
    EXPECT_NEAR(medial + lateral_x, p.condylar_width_mm, 0.6);
    // Head medial of the greater trochanter, anterior bow, knee at the origin.
    EXPECT_GT(sign * (head.x() - l.at("greater_trochanter_tip").x()), 20.0);
    EXPECT_NEAR(l.at("knee_center").norm(), 0.0, 1e-9);
  }
}

// The neck axis of the femur frame has the parameters' neck-shaft angle and
// anteversion; the mechanical axis is vertical in the sagittal plane.
TEST(PhantomFemur, FrameAnglesMatchTheParameters) {
  for (const FemurParameters& p : SampleFemurParameters(5, 3)) {
    const PhantomFemur femur(p);
    const LandmarkMap l = femur.Landmarks();
    const Vector3d n =
        (ToFemur(femur, l.at("femoral_head_center")) - ToFemur(femur, l.at("neck_shaft_point")))
            .normalized();
    EXPECT_NEAR(std::acos(-n.z()), p.neck_shaft_angle, 1e-9);
    EXPECT_NEAR(std::atan2(-n.y(), n.x()), p.anteversion, 1e-9);
    EXPECT_NEAR((l.at("femoral_head_center") - l.at("knee_center")).y(), 0.0, 1e-9);
  }
}

TEST(PhantomFemur, LeftIsTheMirrorOfRight) {
  FemurParameters right = SampleFemurParameters(1, 9)[0];
  FemurParameters left = right;
  left.side = BodySide::kLeft;
  const PhantomFemur r(right), l(left);
  for (int i = 0; i < 50; ++i) {
    const Vector3d x(-60 + 2.4 * i, 10 - 0.5 * i, 8.7 * i);
    EXPECT_NEAR(l.SignedDistance(Vector3d(-x.x(), x.y(), x.z())), r.SignedDistance(x), 1e-12);
  }
}

// The deformation: the mean maps to itself; changing the neck-shaft angle
// alone rotates the head about the axis (sin phi, cos phi, 0) through the
// neck-shaft point by the change; changing the length alone translates the
// distal femur along the shaft axis and leaves the head where it was.
TEST(PhantomCorrespondence, MeanMapsToItself) {
  const PhantomFemur mean(MeanFemurParameters());
  const auto l = mean.Landmarks();
  for (const Vector3d& p : SurfacePointsNear(mean, l.at("greater_trochanter_tip"), 25, 60)) {
    EXPECT_LT((mean.MapFromMean(p) - p).norm(), 1e-9);
  }
}

TEST(PhantomCorrespondence, NeckShaftAngleRotatesTheHeadAboutTheKnownAxis) {
  const FemurParameters a_params = MeanFemurParameters();
  FemurParameters b_params = a_params;
  b_params.neck_shaft_angle += 5 * kDeg;
  const PhantomFemur mean(a_params), b(b_params);
  const Vector3d head = mean.Landmarks().at("femoral_head_center");
  const Vector3d top = head + a_params.head_radius_mm *
                                  (head - mean.Landmarks().at("neck_shaft_point")).normalized();
  const auto points = SurfacePointsNear(mean, top, 12, 80);
  ASSERT_GT(points.size(), 60u);
  const double phi = a_params.anteversion;
  const Vector3d axis(std::sin(phi), std::cos(phi), 0);
  // The neck axis the parameters define: n(theta) = (sin t cos phi, -sin t sin phi, -cos t).
  const double theta = b_params.neck_shaft_angle;
  const Vector3d n1(std::sin(theta) * std::cos(phi), -std::sin(theta) * std::sin(phi),
                    -std::cos(theta));
  const Vector3d n0 =
      (ToFemur(mean, head) - ToFemur(mean, mean.Landmarks().at("neck_shaft_point"))).normalized();
  Eigen::Matrix3d expected = Eigen::AngleAxisd(5 * kDeg, axis).toRotationMatrix();
  if ((expected * n0 - n1).norm() > 1e-9)
    expected = Eigen::AngleAxisd(-5 * kDeg, axis).toRotationMatrix();
  ASSERT_LT((expected * n0 - n1).norm(), 1e-9);
  for (const Vector3d& p : points) {
    const Vector3d q = b.MapFromMean(p);
    EXPECT_LT((ToFemur(b, q) - expected * ToFemur(mean, p)).norm(), 0.01);
    EXPECT_LT(std::abs(b.SignedDistance(q)), 0.01);  // lands on the new surface
  }
}

TEST(PhantomCorrespondence, LengthTranslatesTheCondylesAlongTheShaft) {
  FemurParameters a_params = MeanFemurParameters();
  a_params.bow_radius_mm = 1e9;  // straight shaft: the femur frame is rigid
  FemurParameters b_params = a_params;
  b_params.length_mm += 20;
  const PhantomFemur a(a_params), b(b_params);
  // Correspondence is defined from the mean femur: map mean surface points
  // into a and b and compare them in their femur frames.
  const PhantomFemur mean(MeanFemurParameters());
  const auto lm = mean.Landmarks();
  Vector3d shift = Vector3d::Zero();
  int count = 0;
  // Points of the condyles (away from the blend with the shaft, where the
  // shaft's stretch mixes in) move rigidly.
  for (const char* name : {"medial_epicondyle", "lateral_epicondyle", "medial_condyle_distal",
                           "lateral_condyle_distal"}) {
    for (const Vector3d& p : SurfacePointsNear(mean, lm.at(name), 6, 20)) {
      const Vector3d d = ToFemur(b, b.MapFromMean(p)) - ToFemur(a, a.MapFromMean(p));
      EXPECT_NEAR(d.x(), 0, 0.05);
      EXPECT_NEAR(d.y(), 0, 0.05);
      if (count++ == 0) shift = d;
      EXPECT_NEAR(d.z(), shift.z(), 0.05);
    }
  }
  // The chord grows by the length change over cos(bicondylar angle), to the
  // small sagittal tilt of the mechanical axis.
  EXPECT_NEAR(-shift.z(), 20 / std::cos(a_params.bicondylar_angle), 0.2);
  for (const Vector3d& p : SurfacePointsNear(mean, lm.at("femoral_head_top"), 10, 20)) {
    EXPECT_LT((ToFemur(b, b.MapFromMean(p)) - ToFemur(a, a.MapFromMean(p))).norm(), 1e-6);
  }
}

// Every vertex-like surface point of the mean lands close to the surface of
// a random subject before the snap, so the snap is a small correction.
TEST(PhantomCorrespondence, MappedPointsLandNearTheSubjectSurface) {
  const PhantomFemur mean(MeanFemurParameters());
  const auto lm = mean.Landmarks();
  for (const FemurParameters& p : SampleFemurParameters(6, 21, CohortSides::kAlternate)) {
    const PhantomFemur subject(p);
    double worst = 0;
    for (const auto& [name, point] : lm) {
      for (const Vector3d& x : SurfacePointsNear(mean, point, 15, 30)) {
        worst = std::max(worst, std::abs(subject.SignedDistance(subject.MapFromMean(x))));
      }
    }
    EXPECT_LT(worst, 3.0);
  }
}

TEST(PhantomCt, TissuesHaveTheirValuesAndTheResultIsReproducible) {
  FemurParameters p = MeanFemurParameters();
  const PhantomFemur femur(p);
  PhantomCtOptions options;
  options.spacing_mm = 1.5;
  options.threads = 2;
  const Volume ct = SynthesizePhantomCt(femur, options);
  const VolumeGeometry& g = ct.geometry();
  auto hu = [&](const Vector3d& x) {
    const Vector3d ijk = g.WorldToIndex(x);
    return ct.At(int(std::lround(ijk.x())), int(std::lround(ijk.y())), int(std::lround(ijk.z())));
  };
  const auto l = femur.Landmarks();
  EXPECT_NEAR(hu(l.at("femoral_head_center")), p.trabecular_hu, 1.0);
  EXPECT_NEAR(ct.At(0, 0, 0), options.air_hu, 1.0);
  // Mid-shaft: canal (marrow) at the centre, cortex under the surface,
  // muscle outside.
  const Vector3d mid = 0.5 * (l.at("knee_center") + l.at("neck_shaft_point"));
  const auto f = [&](const Vector3d& x) { return femur.SignedDistance(x); };
  Vector3d centre = mid;
  for (int axis = 1; axis >= 0; --axis) {  // centre the probe in the section, y then x
    const Vector3d e = Vector3d::Unit(axis);
    centre += 0.5 * (Root(f, centre, e, 0, 40) - Root(f, centre, -e, 0, 40)) * e;
  }
  const Vector3d surface = centre + Root(f, centre, Vector3d::UnitX(), 0, 40) * Vector3d::UnitX();
  EXPECT_NEAR(hu(surface - 0.5 * p.cortical_thickness_mm * Vector3d::UnitX()), p.cortical_hu, 60.0);
  EXPECT_NEAR(hu(surface + 8.0 * Vector3d::UnitX()), options.muscle_hu, 1.0);
  EXPECT_NEAR(hu(surface - (p.cortical_thickness_mm + 2.5) * Vector3d::UnitX()), options.marrow_hu,
              30.0);
  // Same options, other thread count, noise from the same seed: same voxels.
  options.noise_sd_hu = 20;
  options.noise_seed = 77;
  const Volume a = SynthesizePhantomCt(femur, options);
  options.threads = 1;
  const Volume b = SynthesizePhantomCt(femur, options);
  ASSERT_EQ(a.num_voxels(), b.num_voxels());
  EXPECT_TRUE(std::equal(a.data<int16_t>(), a.data<int16_t>() + a.num_voxels(), b.data<int16_t>()));
  double sum = 0, sum2 = 0;
  int64_t n = 0;
  for (int64_t v = 0; v < a.num_voxels(); ++v) {
    if (ct.data<int16_t>()[v] != static_cast<int16_t>(options.muscle_hu))
      continue;  // away from the clamp
    const double d = a.data<int16_t>()[v] - ct.data<int16_t>()[v];
    sum += d;
    sum2 += d * d;
    ++n;
  }
  ASSERT_GT(n, 1000);
  EXPECT_NEAR(sum / n, 0.0, 1.0);
  EXPECT_NEAR(std::sqrt(sum2 / n), 20.0, 1.0);
}

TEST(PhantomCt, ScanExtensionSetsTheSuperiorInferiorRangeAndTheThighFillsIt) {
  const PhantomFemur femur(MeanFemurParameters());
  const Bounds3d bone = femur.bounds();
  PhantomCtOptions options;
  options.spacing_mm = 2.0;
  options.scan_extension_mm = 50.0;
  const Volume ct = SynthesizePhantomCt(femur, options);
  const VolumeGeometry& g = ct.geometry();
  // The grid is centred on the box [bone z - 50, bone z + 50] and covers it
  // by whole voxels: the first and last slice centres lie within a voxel of its ends.
  const double z0 = g.IndexToWorld(Vector3d(0, 0, 0)).z();
  const double z1 = g.IndexToWorld(Vector3d(0, 0, g.size.z() - 1)).z();
  EXPECT_NEAR(z0, bone.min.z() - 50.0, options.spacing_mm);
  EXPECT_NEAR(z1, bone.max.z() + 50.0, options.spacing_mm);
  EXPECT_NEAR(0.5 * (z0 + z1), 0.5 * (bone.min.z() + bone.max.z()), 1e-6);
  // 40 mm above the head, on the thigh's axis: soft tissue, not air.
  const auto l = femur.Landmarks();
  const Vector3d above(l.at("femoral_head_center").x(), l.at("femoral_head_center").y(),
                       bone.max.z() + 40.0);
  const Vector3d ijk = g.WorldToIndex(above);
  const double hu =
      ct.At(int(std::lround(ijk.x())), int(std::lround(ijk.y())), int(std::lround(ijk.z())));
  EXPECT_TRUE(hu == options.muscle_hu || hu == options.fat_hu) << hu;
  options.scan_extension_mm = -1;
  EXPECT_NE(options.IsValid().find("scan extension"), std::string::npos);
  EXPECT_THROW(SynthesizePhantomCt(femur, options), InvalidInput);
}

}  // namespace
}  // namespace ssmx::ssm
