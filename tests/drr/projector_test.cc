// Projector accuracy against truth computed without the projectors: analytic
// chords through boxes and partial-volume ellipsoids, and brute-force sampling
// of a real CT.
#include "ssmx/drr/projector.h"

#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <random>

#include "../ssm/test_data.h"
#include "analytic.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::drr {
namespace {

using ssmx::testing::BoxChord;
using ssmx::testing::Ellipsoid;

ProjectionGeometry View(const Eigen::Matrix3d& rotation, const Eigen::Vector3d& iso, int size,
                        double spacing) {
  CarmGeometry carm;
  carm.rows = carm.cols = size;
  carm.pixel_spacing_u_mm = carm.pixel_spacing_v_mm = spacing;
  carm.rotation = rotation;
  carm.isocenter_mm = iso;
  return ProjectionGeometry::FromCarm(carm);
}

std::vector<ProjectionGeometry> TestViews(const Eigen::Vector3d& iso, int size, double spacing) {
  const Eigen::Matrix3d oblique =
      Eigen::AngleAxisd(0.6, Eigen::Vector3d(0.3, -0.5, 0.8).normalized()).toRotationMatrix() *
      NamedViewRotation(NamedView::kAP);
  return {View(NamedViewRotation(NamedView::kAP), iso, size, spacing),
          View(NamedViewRotation(NamedView::kLAT), iso, size, spacing),
          View(oblique, iso, size, spacing)};
}

// A box whose faces lie on voxel boundaries, on an anisotropic grid.
struct BoxPhantom {
  Volume volume;
  Eigen::Vector3d lo, hi;  // world box (direction = identity)
  float mu = 0.03f;
  BoxPhantom() {
    VolumeGeometry g;
    g.size = Eigen::Vector3i(64, 48, 40);
    g.spacing_mm = Eigen::Vector3d(1.0, 1.25, 2.0);
    g.origin_mm = Eigen::Vector3d(-31, -29, -37);
    volume = Volume(g, VoxelType::kFloat32);
    const Eigen::Vector3i first(10, 8, 5), last(50, 38, 30);
    for (int k = first.z(); k <= last.z(); ++k)
      for (int j = first.y(); j <= last.y(); ++j)
        for (int i = first.x(); i <= last.x(); ++i) volume.Set(i, j, k, mu);
    lo = g.IndexToWorld(first.cast<double>() - Eigen::Vector3d::Constant(0.5));
    hi = g.IndexToWorld(last.cast<double>() + Eigen::Vector3d::Constant(0.5));
  }
  // True when the segment crosses the box and passes every one of its 12 edges
  // at more than half a voxel (the largest spacing).
  bool AwayFromEdges(const Eigen::Vector3d& a, const Eigen::Vector3d& b) const {
    if (BoxChord(a, b, lo, hi) < 1.0) return false;
    const double margin = 0.5 * volume.geometry().spacing_mm.maxCoeff();
    for (int axis = 0; axis < 3; ++axis) {
      for (int corner = 0; corner < 4; ++corner) {
        Eigen::Vector3d p = lo, q;
        const int o1 = (axis + 1) % 3, o2 = (axis + 2) % 3;
        p[o1] = (corner & 1) ? hi[o1] : lo[o1];
        p[o2] = (corner & 2) ? hi[o2] : lo[o2];
        q = p;
        q[axis] = hi[axis];
        if (ssmx::testing::SegmentDistance(a, b, p, q) <= margin) return false;
      }
    }
    return true;
  }
};

void CheckBox(ProjectorKind kind, double tolerance) {
  const BoxPhantom box;
  const PreparedVolume prepared = PreparedVolume::FromAttenuation(box.volume);
  ProjectionOptions options;
  options.projector = kind;
  options.step_voxels = 0.5;
  int checked = 0;
  double worst = 0;
  for (const ProjectionGeometry& view : TestViews(0.5 * (box.lo + box.hi), 128, 1.2)) {
    const Image2D image = Project(prepared, view, options);
    for (int v = 0; v < image.rows; ++v) {
      for (int u = 0; u < image.cols; ++u) {
        const Eigen::Vector3d s = view.SourcePosition(), p = view.DetectorPoint(u, v);
        if (!box.AwayFromEdges(s, p)) continue;
        const double truth = box.mu * BoxChord(s, p, box.lo, box.hi);
        const double error = std::abs(image.at(v, u) - truth) / truth;
        worst = std::max(worst, error);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 5000);
  EXPECT_LE(worst, tolerance) << ProjectorKindName(kind) << ": worst relative error " << worst;
}

TEST(Projector, ExactMatchesAnalyticBoxChordsTo1e4) { CheckBox(ProjectorKind::kExact, 1e-4); }
TEST(Projector, TrilinearMatchesAnalyticBoxChordsTo1Percent) {
  CheckBox(ProjectorKind::kTrilinear, 0.01);
}

// Sphere or ellipsoid voxelised with partial volume against its analytic image.
struct PsnrResult {
  double psnr_db;
  double worst_central;  // relative error for rays within half the radius of the centre
};

PsnrResult EllipsoidPsnr(const Ellipsoid& e, double voxel_mm, ProjectorKind kind) {
  VolumeGeometry g;
  const int n = static_cast<int>(std::ceil(2 * (e.radii.maxCoeff() + 3) / voxel_mm));
  g.size = Eigen::Vector3i::Constant(n);
  g.spacing_mm = Eigen::Vector3d::Constant(voxel_mm);
  g.origin_mm = e.center - Eigen::Vector3d::Constant((n - 1) * voxel_mm / 2);
  Volume volume(g, VoxelType::kFloat32);
  ssmx::testing::AddEllipsoid(&volume, e, 1.0f);
  const PreparedVolume prepared = PreparedVolume::FromAttenuation(volume);
  ProjectionOptions options;
  options.projector = kind;
  const ProjectionGeometry view = View(NamedViewRotation(NamedView::kAP), e.center, 256, 0.8);
  const Image2D image = Project(prepared, view, options);
  std::vector<double> truth(image.pixels.size()), test(image.pixels.size());
  double worst = 0;
  for (int v = 0; v < image.rows; ++v) {
    for (int u = 0; u < image.cols; ++u) {
      const size_t idx = static_cast<size_t>(v) * image.cols + u;
      const Eigen::Vector3d s = view.SourcePosition(), p = view.DetectorPoint(u, v);
      truth[idx] = e.Chord(s, p);
      test[idx] = image.pixels[idx];
      // Distance of the ray from the centre.
      const Eigen::Vector3d dir = (p - s).normalized();
      const double dist = ((e.center - s) - (e.center - s).dot(dir) * dir).norm();
      if (dist <= 0.5 * e.radii.minCoeff())
        worst = std::max(worst, std::abs(test[idx] - truth[idx]) / truth[idx]);
    }
  }
  return {ssmx::testing::Psnr(truth, test), worst};
}

TEST(Projector, PartialVolumeSphereReachesPsnrTargets) {
  Ellipsoid sphere;
  sphere.center = Eigen::Vector3d(3.3, -7.1, 11.7);
  sphere.radii = Eigen::Vector3d::Constant(45);
  const PsnrResult exact1 = EllipsoidPsnr(sphere, 1.0, ProjectorKind::kExact);
  EXPECT_GE(exact1.psnr_db, 43.0);
  EXPECT_LE(exact1.worst_central, 0.01);
  const PsnrResult exact05 = EllipsoidPsnr(sphere, 0.5, ProjectorKind::kExact);
  EXPECT_GE(exact05.psnr_db, 48.0);
  EXPECT_LE(exact05.worst_central, 0.01);
  const PsnrResult trilinear1 = EllipsoidPsnr(sphere, 1.0, ProjectorKind::kTrilinear);
  EXPECT_GE(trilinear1.psnr_db, 43.0);
  EXPECT_LE(trilinear1.worst_central, 0.01);
  std::printf("sphere r=45: exact %.2f dB (1 mm), %.2f dB (0.5 mm); trilinear %.2f dB (1 mm)\n",
              exact1.psnr_db, exact05.psnr_db, trilinear1.psnr_db);
}

TEST(Projector, PartialVolumeEllipsoidReachesPsnrTarget) {
  Ellipsoid e;
  e.center = Eigen::Vector3d(-4, 2, 5);
  e.radii = Eigen::Vector3d(40, 25, 55);
  e.axes = Eigen::AngleAxisd(0.5, Eigen::Vector3d(1, 1, 0).normalized()).toRotationMatrix();
  const PsnrResult exact = EllipsoidPsnr(e, 1.0, ProjectorKind::kExact);
  EXPECT_GE(exact.psnr_db, 43.0);
  EXPECT_LE(exact.worst_central, 0.01);
  const PsnrResult trilinear = EllipsoidPsnr(e, 1.0, ProjectorKind::kTrilinear);
  EXPECT_GE(trilinear.psnr_db, 43.0);
  std::printf("ellipsoid: exact %.2f dB, trilinear %.2f dB\n", exact.psnr_db, trilinear.psnr_db);
}

// ---- Real CT against brute force ----------------------------------------------

// The test's own integrators over the same voxel grid: mu from HU by the
// documented formula, samples every 0.002 voxel (nearest voxel: its error is
// below 1e-4 of the integral) or 0.01 voxel (trilinear, which is continuous).
struct BruteForce {
  const Volume& ct;
  double mu_water;
  float Mu(int i, int j, int k) const {
    const double mu = mu_water * (1.0 + ct.At(i, j, k) / 1000.0);
    return mu > 0 ? static_cast<float>(mu) : 0.0f;
  }
  double Nearest(const Eigen::Vector3d& ijk) const {
    const Eigen::Vector3i n = ct.geometry().size;
    const Eigen::Vector3i r(static_cast<int>(std::floor(ijk.x() + 0.5)),
                            static_cast<int>(std::floor(ijk.y() + 0.5)),
                            static_cast<int>(std::floor(ijk.z() + 0.5)));
    if ((r.array() < 0).any() || (r.array() >= n.array()).any()) return 0;
    return Mu(r.x(), r.y(), r.z());
  }
  double Trilinear(const Eigen::Vector3d& ijk) const {
    const Eigen::Vector3i n = ct.geometry().size;
    for (int a = 0; a < 3; ++a) {
      if (ijk[a] < -0.5 || ijk[a] > n[a] - 0.5) return 0;
    }
    const Eigen::Vector3d c = ijk.cwiseMax(Eigen::Vector3d::Zero())
                                  .cwiseMin((n - Eigen::Vector3i::Ones()).cast<double>());
    const Eigen::Vector3i i0 =
        c.array().floor().cast<int>().min((n - Eigen::Vector3i::Constant(2)).array());
    const Eigen::Vector3d f = c - i0.cast<double>();
    double sum = 0;
    for (int dz = 0; dz < 2; ++dz)
      for (int dy = 0; dy < 2; ++dy)
        for (int dx = 0; dx < 2; ++dx) {
          const double w =
              (dx ? f.x() : 1 - f.x()) * (dy ? f.y() : 1 - f.y()) * (dz ? f.z() : 1 - f.z());
          sum += w * Mu(i0.x() + dx, i0.y() + dy, i0.z() + dz);
        }
    return sum;
  }
  // Midpoint rule with a step of `step_voxels` of the smallest spacing.
  double Integrate(const Eigen::Vector3d& a, const Eigen::Vector3d& b, bool trilinear,
                   double step_voxels) const {
    const VolumeGeometry& g = ct.geometry();
    const double length = (b - a).norm();
    const double step = step_voxels * g.spacing_mm.minCoeff();
    const int64_t count = static_cast<int64_t>(std::ceil(length / step));
    const double h = length / count;
    const Eigen::Vector3d ia = g.WorldToIndex(a), ib = g.WorldToIndex(b);
    double sum = 0;
    for (int64_t s = 0; s < count; ++s) {
      const Eigen::Vector3d ijk = ia + ((s + 0.5) / count) * (ib - ia);
      sum += trilinear ? Trilinear(ijk) : Nearest(ijk);
    }
    return sum * h;
  }
};

TEST(Projector, RandomRaysThroughRealCtMatchBruteForce) {
  SSMX_REQUIRE_DATA("ct/totalseg_abdomen/example_ct.nii.gz");
  const Volume ct =
      ssm::ReadVolume(ssmx::testing::DataPath("ct/totalseg_abdomen/example_ct.nii.gz")).volume;
  const PreparedVolume prepared = PreparedVolume::FromHounsfield(ct);
  const BruteForce brute{ct, kDefaultMuWaterPerMm};
  const VolumeGeometry& g = ct.geometry();
  const Eigen::Vector3d centre = g.Center();
  const double radius = 0.6 * (g.size.cast<double>().cwiseProduct(g.spacing_mm)).norm();
  std::mt19937_64 rng(2024);
  std::normal_distribution<double> normal;
  auto random_on_sphere = [&]() -> Eigen::Vector3d {
    Eigen::Vector3d p(normal(rng), normal(rng), normal(rng));
    return centre + radius * p.normalized();
  };
  ProjectionOptions exact, trilinear;
  trilinear.projector = ProjectorKind::kTrilinear;
  trilinear.step_voxels = 0.25;
  int rays = 0;
  double worst_exact = 0, worst_trilinear = 0;
  while (rays < 1000) {
    const Eigen::Vector3d a = random_on_sphere(), b = random_on_sphere();
    const double truth = brute.Integrate(a, b, false, 0.002);
    if (!(truth >= 0.5)) continue;  // grazing rays: no meaningful relative error
    ++rays;
    worst_exact =
        std::max(worst_exact, std::abs(IntegrateSegment(prepared, a, b, exact) - truth) / truth);
    const double truth_trilinear = brute.Integrate(a, b, true, 0.01);
    worst_trilinear = std::max(
        worst_trilinear,
        std::abs(IntegrateSegment(prepared, a, b, trilinear) - truth_trilinear) / truth_trilinear);
  }
  EXPECT_LE(worst_exact, 1e-3);
  EXPECT_LE(worst_trilinear, 5e-3);
  std::printf("1000 CT rays: worst relative error exact %.2e, trilinear %.2e\n", worst_exact,
              worst_trilinear);
}

// ---- Direction cosines ---------------------------------------------------------

TEST(Projector, SignedPermutationDirectionGivesTheSameImage) {
  // Volume A: identity direction. Volume B: the same voxels stored along other
  // axes (i_B = k_A, j_B = n_i - 1 - i_A, k_B = j_A) with the direction and origin
  // that put every voxel at the same world position.
  VolumeGeometry ga;
  ga.size = Eigen::Vector3i(30, 24, 20);
  ga.spacing_mm = Eigen::Vector3d(1.5, 2.0, 2.5);
  ga.origin_mm = Eigen::Vector3d(-20, -25, -30);
  Volume a(ga, VoxelType::kFloat32);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(0, 0.05f);
  for (int k = 0; k < 20; ++k)
    for (int j = 0; j < 24; ++j)
      for (int i = 0; i < 30; ++i) a.Set(i, j, k, uniform(rng));
  VolumeGeometry gb;
  gb.size = Eigen::Vector3i(20, 30, 24);
  gb.spacing_mm = Eigen::Vector3d(2.5, 1.5, 2.0);
  // ijk_A = (n_i - 1 - j_B, k_B, i_B): world = o_A + S_A ijk_A.
  gb.direction << 0, -1, 0,  //
      0, 0, 1,               //
      1, 0, 0;
  gb.origin_mm = ga.IndexToWorld(Eigen::Vector3d(29, 0, 0));
  Volume b(gb, VoxelType::kFloat32);
  for (int k = 0; k < 24; ++k)
    for (int j = 0; j < 30; ++j)
      for (int i = 0; i < 20; ++i) b.Set(i, j, k, a.At(29 - j, k, i));
  // The geometry itself maps voxels to the same places.
  ASSERT_LT((gb.IndexToWorld(Eigen::Vector3d(3, 4, 5)) - ga.IndexToWorld(Eigen::Vector3d(25, 5, 3)))
                .norm(),
            1e-9);
  const PreparedVolume pa = PreparedVolume::FromAttenuation(a),
                       pb = PreparedVolume::FromAttenuation(b);
  for (const ProjectionGeometry& view : TestViews(ga.Center(), 64, 1.0)) {
    for (ProjectorKind kind : {ProjectorKind::kExact, ProjectorKind::kTrilinear}) {
      ProjectionOptions options;
      options.projector = kind;
      const Image2D ia = Project(pa, view, options), ib = Project(pb, view, options);
      double max_diff = 0, max_value = 0;
      for (size_t n = 0; n < ia.pixels.size(); ++n) {
        max_diff = std::max(max_diff, static_cast<double>(std::abs(ia.pixels[n] - ib.pixels[n])));
        max_value = std::max(max_value, static_cast<double>(ia.pixels[n]));
      }
      EXPECT_GT(max_value, 0.5);
      // Trilinear samples sit at other positions along each ray; exact is exact.
      EXPECT_LE(max_diff, (kind == ProjectorKind::kExact ? 1e-5 : 2e-2) * max_value)
          << ProjectorKindName(kind);
    }
  }
}

TEST(Projector, ObliqueVolumeMatchesItsAxisAlignedTwin) {
  // One smooth object (a sum of Gaussian blobs, mu in 1/mm) sampled at the voxel
  // centres of an oblique grid and of an axis-aligned grid: the two volumes are
  // resampled twins, and their DRRs must agree.
  const Eigen::Vector3d centre(5, -3, 8);
  struct Blob {
    Eigen::Vector3d c;
    double sigma, mu;
  };
  const std::vector<Blob> blobs = {{centre + Eigen::Vector3d(0, 0, 0), 14, 0.03},
                                   {centre + Eigen::Vector3d(10, -8, 16), 8, 0.05},
                                   {centre + Eigen::Vector3d(-12, 9, -14), 10, 0.02}};
  auto sample = [&](const Eigen::Matrix3d& direction) {
    VolumeGeometry g;
    g.size = Eigen::Vector3i::Constant(144);
    g.spacing_mm = Eigen::Vector3d(1.0, 0.8, 1.2);
    g.direction = direction;
    g.origin_mm = centre - direction * g.spacing_mm.cwiseProduct(Eigen::Vector3d::Constant(71.5));
    Volume v(g, VoxelType::kFloat32);
    for (int k = 0; k < 144; ++k)
      for (int j = 0; j < 144; ++j)
        for (int i = 0; i < 144; ++i) {
          const Eigen::Vector3d p = g.IndexToWorld(Eigen::Vector3d(i, j, k));
          double mu = 0;
          for (const Blob& b : blobs)
            mu += b.mu * std::exp(-(p - b.c).squaredNorm() / (2 * b.sigma * b.sigma));
          v.Set(i, j, k, static_cast<float>(mu));
        }
    return PreparedVolume::FromAttenuation(v);
  };
  const PreparedVolume oblique =
      sample(Eigen::AngleAxisd(0.5, Eigen::Vector3d(1, 2, 3).normalized()).toRotationMatrix());
  const PreparedVolume aligned = sample(Eigen::Matrix3d::Identity());
  for (const ProjectionGeometry& view : TestViews(centre, 128, 1.0)) {
    for (ProjectorKind kind : {ProjectorKind::kExact, ProjectorKind::kTrilinear}) {
      ProjectionOptions options;
      options.projector = kind;
      const Image2D a = Project(oblique, view, options), b = Project(aligned, view, options);
      double se = 0, peak = 0;
      for (size_t n = 0; n < a.pixels.size(); ++n) {
        se += std::pow(a.pixels[n] - b.pixels[n], 2);
        peak = std::max(peak, static_cast<double>(b.pixels[n]));
      }
      // RMS difference relative to the peak of the image. (Rays parallel to
      // the axis-aligned grid see the piecewise-constant voxels column by
      // column; that model error, not the direction handling, sets the floor.)
      const double relative_rms = std::sqrt(se / a.pixels.size()) / peak;
      EXPECT_LE(relative_rms, 0.005) << ProjectorKindName(kind);
    }
  }
}

// ---- Labels ----------------------------------------------------------------------

TEST(Projector, LabelMaskLinesUpWithTheDrrOfItsVoxels) {
  SSMX_REQUIRE_DATA("ct/totalseg_abdomen/labels/femur_left.nii.gz");
  const Volume ct =
      ssm::ReadVolume(ssmx::testing::DataPath("ct/totalseg_abdomen/example_ct.nii.gz")).volume;
  const Volume label =
      ssm::ReadVolume(ssmx::testing::DataPath("ct/totalseg_abdomen/labels/femur_left.nii.gz"))
          .volume;
  const PreparedVolume bone = PreparedVolume::FromHounsfieldMasked(ct, label);
  const PreparedVolume mask = PreparedVolume::FromMask(label);
  for (NamedView which : {NamedView::kAP, NamedView::kLAT}) {
    CarmGeometry detector;
    detector.rows = detector.cols = 256;
    detector.pixel_spacing_u_mm = detector.pixel_spacing_v_mm = 1.5;
    const ProjectionGeometry view =
        ProjectionGeometry::Named(which, ct.geometry().Center(), detector);
    const Image2D drr = Project(bone, view), path = Project(mask, view);
    int64_t both = 0, either = 0;
    for (size_t n = 0; n < drr.pixels.size(); ++n) {
      const bool a = drr.pixels[n] > 0, b = path.pixels[n] > 0;
      both += a && b;
      either += a || b;
    }
    ASSERT_GT(either, 500);
    EXPECT_GE(static_cast<double>(both) / either, 0.99);
  }
}

TEST(Projector, RejectsBadInput) {
  VolumeGeometry g;
  g.size = Eigen::Vector3i(4, 4, 4);
  Volume v(g, VoxelType::kFloat32);
  v.Set(1, 1, 1, -1.0f);
  EXPECT_THROW(PreparedVolume::FromAttenuation(v), InvalidInput);
  EXPECT_THROW(PreparedVolume::FromHounsfield(v, -0.02), InvalidInput);
  EXPECT_THROW(PreparedVolume::FromHounsfield(Volume()), InvalidInput);
  ProjectionOptions options;
  options.step_voxels = 0;
  const PreparedVolume prepared = PreparedVolume::FromMask(v);
  EXPECT_THROW(Project(prepared, ProjectionGeometry::Named(NamedView::kAP, Eigen::Vector3d::Zero()),
                       options),
               InvalidInput);
  EXPECT_THROW(ParseProjectorKind("siddon"), InvalidInput);
}

TEST(Projector, ThreadCountDoesNotChangeTheImage) {
  const BoxPhantom box;
  const PreparedVolume prepared = PreparedVolume::FromAttenuation(box.volume);
  const ProjectionGeometry view = TestViews(Eigen::Vector3d::Zero(), 100, 1.3)[2];
  ProjectionOptions one, many;
  one.threads = 1;
  many.threads = 7;
  EXPECT_EQ(Project(prepared, view, one).pixels, Project(prepared, view, many).pixels);
}

}  // namespace
}  // namespace ssmx::drr
