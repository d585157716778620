// Surface distances against analytic truth (spheres: concentric, translated,
// identical, and a pair whose directed Hausdorff distances differ by a known
// amount), the locator against an independent brute-force search, signs
// against the exact sphere, and voxelisation against exact counts.
#include "ssmx/ssm/surface_distance.h"

#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <cmath>
#include <fstream>
#include <random>

#include "ssmx/core/error.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/primitives.h"
#include "ssmx/ssm/voxelize.h"
#include "test_data.h"
#include "test_meshes.h"

namespace ssmx::ssm {
namespace {

constexpr double kPi = 3.14159265358979323846;

double SphereVolume(double r) { return 4.0 / 3.0 * kPi * r * r * r; }

TriangleMesh Transformed(TriangleMesh mesh, const Eigen::Matrix3d& rotation,
                         const Eigen::Vector3d& translation) {
  for (Eigen::Index v = 0; v < mesh.num_vertices(); ++v) {
    mesh.vertices.row(v) = (rotation * mesh.vertices.row(v).transpose() + translation).transpose();
  }
  mesh.normals.resize(0, 3);
  return mesh;
}

// A known rotation, so that the vertices of two icospheres do not line up.
Eigen::Matrix3d SomeRotation() {
  return (Eigen::AngleAxisd(0.7, Eigen::Vector3d(1, 2, 3).normalized())).toRotationMatrix();
}

// Sag of a geodesic sphere's faces below the true sphere, bounded generously.
constexpr double kFacetTolerance = 0.02;

TEST(ComputeSurfaceDistance, ConcentricSpheresAreTheirRadiusDifferenceApart) {
  const double ra = 20, rb = 23;
  const Eigen::Vector3d c(10, -5, 30);
  const TriangleMesh a = MakeIcosphere(ra, 5, c);
  const TriangleMesh b = Transformed(MakeIcosphere(rb, 5), SomeRotation(), c);
  const SurfaceDistanceSummary s = ComputeSurfaceDistance(a, b);
  // A lies inside B: every vertex of A is 3 mm inside, every vertex of B 3 mm outside A.
  ASSERT_EQ(s.signed_distance_a_mm.size(), a.num_vertices());
  EXPECT_LT(s.signed_distance_a_mm.maxCoeff(), -(rb - ra) + kFacetTolerance);
  EXPECT_GT(s.signed_distance_a_mm.minCoeff(), -(rb - ra) - 1e-9);
  EXPECT_GT(s.signed_distance_b_mm.minCoeff(), (rb - ra) - 1e-9);
  EXPECT_LT(s.signed_distance_b_mm.maxCoeff(), (rb - ra) + kFacetTolerance);
  for (const DirectedDistance& d : {s.a_to_b, s.b_to_a}) {
    EXPECT_NEAR(d.mean_mm, 3.0, kFacetTolerance);
    EXPECT_NEAR(d.rms_mm, 3.0, kFacetTolerance);
    EXPECT_NEAR(d.p95_mm, 3.0, kFacetTolerance);
    EXPECT_NEAR(d.max_mm, 3.0, kFacetTolerance);
  }
  EXPECT_NEAR(s.mean_mm, 3.0, kFacetTolerance);
  EXPECT_NEAR(s.hausdorff_mm, 3.0, kFacetTolerance);
  EXPECT_NEAR(s.volume_a_mm3 / SphereVolume(ra), 1.0, 0.002);
  EXPECT_NEAR(s.volume_b_mm3 / SphereVolume(rb), 1.0, 0.002);
  EXPECT_NEAR(s.area_a_mm2 / (4 * kPi * ra * ra), 1.0, 0.002);
  const double dice = 2 * SphereVolume(ra) / (SphereVolume(ra) + SphereVolume(rb));
  EXPECT_NEAR(s.dice, dice, 0.003);
}

// Mean over a sphere of radius r of the distance to the same sphere moved by
// d: with cos(theta) uniform on [-1, 1], | sqrt(r^2 + d^2 - 2 r d c) - r |,
// integrated by the midpoint rule (independent of the code under test).
double MeanDistanceToTranslatedSphere(double r, double d) {
  const int n = 200000;
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    const double cos_theta = -1 + (i + 0.5) * 2.0 / n;
    sum += std::abs(std::sqrt(r * r + d * d - 2 * r * d * cos_theta) - r);
  }
  return sum / n;
}

TEST(ComputeSurfaceDistance, SphereAgainstItsTranslatedCopyMatchesTheAnalyticDistances) {
  const double r = 20;
  const Eigen::Vector3d t(3, 4, 0);  // 5 mm
  const TriangleMesh a = MakeIcosphere(r, 5);
  const TriangleMesh b = MakeIcosphere(r, 5, t);
  const SurfaceDistanceSummary s = ComputeSurfaceDistance(a, b);
  // Per vertex: the signed distance of p to the sphere around t.
  for (Eigen::Index v = 0; v < a.num_vertices(); ++v) {
    const double truth = (a.vertices.row(v).transpose() - t).norm() - r;
    ASSERT_NEAR(s.signed_distance_a_mm[v], truth, kFacetTolerance) << "vertex " << v;
  }
  const double mean = MeanDistanceToTranslatedSphere(r, t.norm());
  EXPECT_NEAR(s.a_to_b.mean_mm / mean, 1.0, 0.01) << "analytic mean " << mean;
  EXPECT_NEAR(s.b_to_a.mean_mm / mean, 1.0, 0.01);
  EXPECT_NEAR(s.mean_mm / mean, 1.0, 0.01);
  EXPECT_NEAR(s.hausdorff_mm, t.norm(), kFacetTolerance);
  EXPECT_NEAR(s.a_to_b.max_mm, t.norm(), kFacetTolerance);
  // Lens of two spheres of radius r whose centres are d apart: pi (4r + d)(2r - d)^2 / 12.
  const double d = t.norm();
  const double lens = kPi * (4 * r + d) * (2 * r - d) * (2 * r - d) / 12;
  EXPECT_NEAR(s.dice, lens / SphereVolume(r), 0.004);
}

TEST(ComputeSurfaceDistance, MeshAgainstItselfIsZeroWithDiceOne) {
  SSMX_REQUIRE_DATA("meshes/femur_vsd/VSD001_femur.vtk");
  const TriangleMesh femur = ReadMesh(testing::DataPath("meshes/femur_vsd/VSD001_femur.vtk"));
  const SurfaceDistanceSummary s = ComputeSurfaceDistance(femur, femur);
  EXPECT_EQ(s.hausdorff_mm, 0.0);
  EXPECT_EQ(s.mean_mm, 0.0);
  EXPECT_EQ(s.signed_distance_a_mm.cwiseAbs().maxCoeff(), 0.0);
  EXPECT_EQ(s.dice, 1.0);
  EXPECT_EQ(s.volume_a_mm3, s.volume_b_mm3);
}

TEST(ComputeSurfaceDistance, DirectedHausdorffDistancesDifferByTheKnownAmount) {
  // A: a ball of radius 10 at the origin. B: the same ball plus a ball of
  // radius 5 at x = 40. Every point of A lies on B (A -> B is 0), while the
  // far side of the second ball is |p| - 10 from A: 35 mm at x = 45.
  const TriangleMesh a = MakeIcosphere(10, 4);
  const TriangleMesh extra = MakeIcosphere(5, 4, Eigen::Vector3d(40, 0, 0));
  const TriangleMesh b = testing::Concatenate(a, extra);
  const SurfaceDistanceSummary s = ComputeSurfaceDistance(a, b);
  double farthest = 0;  // over the vertices of the second ball, to the exact sphere
  for (Eigen::Index v = 0; v < extra.num_vertices(); ++v)
    farthest = std::max(farthest, extra.vertices.row(v).norm() - 10);
  EXPECT_NEAR(farthest, 35.0, 0.05);
  EXPECT_EQ(s.a_to_b.max_mm, 0.0);
  EXPECT_NEAR(s.b_to_a.max_mm, farthest, kFacetTolerance);
  EXPECT_NEAR(s.b_to_a.max_mm - s.a_to_b.max_mm, 35.0, 0.05);
  EXPECT_NEAR(s.hausdorff_mm, farthest, kFacetTolerance);
  // Every vertex of the second ball is outside A.
  EXPECT_GT(s.signed_distance_b_mm.tail(extra.num_vertices()).minCoeff(),
            40 - 5 - 10 - kFacetTolerance);
  const double dice = 2 * SphereVolume(10) / (2 * SphereVolume(10) + SphereVolume(5));
  EXPECT_NEAR(s.dice, dice, 0.005);
}

TEST(ComputeSurfaceDistance, SymmetricStatisticsFollowTheirDefinitions) {
  const TriangleMesh a = MakeIcosphere(20, 4);
  const TriangleMesh b =
      Transformed(MakeIcosphere(18, 3), SomeRotation(), Eigen::Vector3d(2, 0, 1));
  const SurfaceDistanceSummary s = ComputeSurfaceDistance(a, b);
  const double wa = s.area_a_mm2, wb = s.area_b_mm2;
  EXPECT_NEAR(s.mean_mm, (s.a_to_b.mean_mm * wa + s.b_to_a.mean_mm * wb) / (wa + wb), 1e-12);
  EXPECT_EQ(s.p95_mm, std::max(s.a_to_b.p95_mm, s.b_to_a.p95_mm));
  EXPECT_EQ(s.hausdorff_mm, std::max(s.a_to_b.max_mm, s.b_to_a.max_mm));
  EXPECT_LE(s.a_to_b.mean_mm, s.a_to_b.rms_mm);
  EXPECT_LE(s.a_to_b.p95_mm, s.a_to_b.max_mm);
  // Swapping the meshes swaps the directions and keeps Dice.
  const SurfaceDistanceSummary t = ComputeSurfaceDistance(b, a);
  EXPECT_EQ(t.a_to_b.mean_mm, s.b_to_a.mean_mm);
  EXPECT_EQ(t.hausdorff_mm, s.hausdorff_mm);
  EXPECT_EQ(t.dice, s.dice);
  SurfaceDistanceOptions no_dice;
  no_dice.compute_dice = false;
  EXPECT_TRUE(std::isnan(ComputeSurfaceDistance(a, b, no_dice).dice));
  EXPECT_FALSE(ComputeSurfaceDistance(a, b).BriefReport().empty());
}

// Vertex areas: a third of the faces around each vertex; they sum to the area.
TEST(VertexAreas, SumToTheSurfaceArea) {
  const TriangleMesh cube_sphere = MakeIcosphere(7, 3);
  EXPECT_NEAR(VertexAreas(cube_sphere).sum(), CheckMesh(cube_sphere).surface_area_mm2, 1e-9);
}

// ---- The locator ------------------------------------------------------------------

// Independent closest-point distance: the plane when the projection falls
// inside the triangle, else the nearest of the three edges as segments.
double BruteForceDistance(const TriangleMesh& mesh, const Eigen::Vector3d& p) {
  double best = std::numeric_limits<double>::infinity();
  const auto segment = [&](const Eigen::Vector3d& u, const Eigen::Vector3d& v) {
    const double t = std::clamp((p - u).dot(v - u) / (v - u).squaredNorm(), 0.0, 1.0);
    return (u + t * (v - u) - p).norm();
  };
  for (Eigen::Index f = 0; f < mesh.num_faces(); ++f) {
    const Eigen::Vector3d a = mesh.vertices.row(mesh.faces(f, 0)),
                          b = mesh.vertices.row(mesh.faces(f, 1)),
                          c = mesh.vertices.row(mesh.faces(f, 2));
    const Eigen::Vector3d n = (b - a).cross(c - a);
    if (n.squaredNorm() == 0) continue;
    const Eigen::Vector3d q = p - (p - a).dot(n) / n.squaredNorm() * n;
    const bool inside = (b - a).cross(q - a).dot(n) >= 0 && (c - b).cross(q - b).dot(n) >= 0 &&
                        (a - c).cross(q - c).dot(n) >= 0;
    best = std::min(
        best, inside ? (q - p).norm() : std::min({segment(a, b), segment(b, c), segment(c, a)}));
  }
  return best;
}

TEST(SurfaceLocator, ClosestPointsEqualABruteForceSearchOnARealFemur) {
  SSMX_REQUIRE_DATA("meshes/femur_vsd/VSD002_femur.vtk");
  const TriangleMesh femur = ReadMesh(testing::DataPath("meshes/femur_vsd/VSD002_femur.vtk"));
  const SurfaceLocator locator(femur);
  const Bounds3d b = ComputeBounds(femur);
  std::mt19937_64 rng(7);
  for (int q = 0; q < 300; ++q) {
    Eigen::Vector3d p;
    for (int k = 0; k < 3; ++k) {
      const double u = static_cast<double>(rng() >> 11) / 9007199254740992.0;
      p[k] = b.min[k] - 20 + u * (b.max[k] - b.min[k] + 40);
    }
    const ClosestPointResult r = locator.ClosestPoint(p);
    const double truth = BruteForceDistance(femur, p);
    ASSERT_NEAR(r.distance, truth, 1e-9) << "query " << q;
    ASSERT_NEAR((r.point - p).norm(), r.distance, 1e-9);
    // The reported face holds the closest point.
    const Eigen::Vector3d a = femur.vertices.row(femur.faces(r.face, 0)),
                          bb = femur.vertices.row(femur.faces(r.face, 1)),
                          c = femur.vertices.row(femur.faces(r.face, 2));
    ASSERT_NEAR((r.point - a).dot((bb - a).cross(c - a).normalized()), 0.0, 1e-9);
  }
}

TEST(SurfaceLocator, SignsAgreeWithTheExactSphereIncludingAtVerticesAndEdges) {
  const double r = 10;
  const TriangleMesh sphere = MakeIcosphere(r, 3);
  const SurfaceLocator locator(sphere);
  std::mt19937_64 rng(3);
  const auto uniform = [&]() { return static_cast<double>(rng() >> 11) / 9007199254740992.0; };
  for (int q = 0; q < 2000; ++q) {
    const Eigen::Vector3d p(30 * uniform() - 15, 30 * uniform() - 15, 30 * uniform() - 15);
    const double truth = p.norm() - r;
    if (std::abs(truth) < 0.2)
      continue;  // within the facets' sag the faceted and true spheres differ
    ASSERT_EQ(locator.SignedDistance(p) > 0, truth > 0) << p.transpose();
  }
  // Points just off the vertices and edge midpoints, whose closest feature is
  // that vertex or edge: the pseudonormals must give the right side.
  for (Eigen::Index f = 0; f < sphere.num_faces(); ++f) {
    const Eigen::Vector3d a = sphere.vertices.row(sphere.faces(f, 0)),
                          b = sphere.vertices.row(sphere.faces(f, 1));
    for (const Eigen::Vector3d& x : {a, Eigen::Vector3d(0.5 * (a + b))}) {
      ASSERT_GT(locator.SignedDistance(1.02 * x), 0);
      ASSERT_LT(locator.SignedDistance(0.98 * x), 0);
    }
  }
  // Batch queries equal single ones.
  MatrixX3dR points = sphere.vertices * 1.1;
  const Eigen::VectorXd batch = locator.SignedDistances(points);
  for (Eigen::Index v = 0; v < points.rows(); ++v) {
    ASSERT_EQ(batch[v], locator.SignedDistance(points.row(v).transpose()));
  }
}

TEST(SurfaceLocator, RejectsUnusableMeshesAndPoints) {
  TriangleMesh empty;
  EXPECT_THROW(SurfaceLocator{empty}, InvalidInput);
  TriangleMesh flat;
  flat.vertices.resize(3, 3);
  flat.vertices << 0, 0, 0, 1, 0, 0, 2, 0, 0;
  flat.faces.resize(1, 3);
  flat.faces << 0, 1, 2;
  EXPECT_THROW(SurfaceLocator{flat}, InvalidInput);
  const SurfaceLocator ok(MakeIcosphere(1, 1));
  EXPECT_THROW(ok.ClosestPoint(Eigen::Vector3d(std::nan(""), 0, 0)), InvalidInput);
  SurfaceDistanceOptions bad;
  bad.dice_spacing_mm = 0;
  EXPECT_THROW(ComputeSurfaceDistance(MakeIcosphere(1, 1), MakeIcosphere(1, 1), bad), InvalidInput);
}

// ---- Voxelisation ------------------------------------------------------------------

TriangleMesh Box(const Eigen::Vector3d& lo, const Eigen::Vector3d& hi) {
  TriangleMesh m;
  m.vertices.resize(8, 3);
  for (int i = 0; i < 8; ++i) {
    m.vertices.row(i) << (i & 1 ? hi.x() : lo.x()), (i & 2 ? hi.y() : lo.y()),
        (i & 4 ? hi.z() : lo.z());
  }
  m.faces.resize(12, 3);
  m.faces << 0, 2, 1, 1, 2, 3,  // z = lo, facing -z
      4, 5, 6, 5, 7, 6,         // z = hi
      0, 1, 4, 1, 5, 4,         // y = lo
      2, 6, 3, 3, 6, 7,         // y = hi
      0, 4, 2, 2, 4, 6,         // x = lo
      1, 3, 5, 3, 7, 5;         // x = hi
  return m;
}

TEST(Voxelize, BoxWithFacesThroughVoxelCentresCountsEachCentreOnce) {
  // Faces, edges, the diagonals of the faces and the corners all pass through
  // voxel centres: the half-open rule must count exactly 10 x 10 x 10.
  const TriangleMesh box = Box(Eigen::Vector3d(0, 0, 0), Eigen::Vector3d(10, 10, 10));
  EXPECT_GT(CheckMesh(box).enclosed_volume_mm3, 0);
  VolumeGeometry g;
  g.size = {14, 14, 14};
  g.origin_mm = Eigen::Vector3d(-2, -2, -2);
  const Volume v = Voxelize(box, g);
  int64_t count = 0;
  for (int64_t i = 0; i < v.num_voxels(); ++i) count += v.data<int16_t>()[i];
  EXPECT_EQ(count, 1000);
  // Inverted orientation: the same voxels.
  TriangleMesh inverted = box;
  inverted.faces.col(1).swap(inverted.faces.col(2));
  const Volume w = Voxelize(inverted, g);
  EXPECT_EQ(std::vector<int16_t>(w.data<int16_t>(), w.data<int16_t>() + w.num_voxels()),
            std::vector<int16_t>(v.data<int16_t>(), v.data<int16_t>() + v.num_voxels()));
}

TEST(Voxelize, SphereOnAnObliqueAnisotropicGridHasItsVolume) {
  const double r = 12;
  const Eigen::Vector3d c(-4, 7, 20);
  const TriangleMesh sphere = MakeIcosphere(r, 5, c);
  VolumeGeometry g;
  g.size = {60, 50, 40};
  g.spacing_mm = Eigen::Vector3d(0.5, 0.6, 0.7);
  g.direction = Eigen::AngleAxisd(0.4, Eigen::Vector3d(1, -1, 2).normalized()).toRotationMatrix();
  g.origin_mm = c - g.direction * g.spacing_mm.cwiseProduct(
                                      0.5 * (g.size.cast<double>() - Eigen::Vector3d::Ones()));
  const Volume v = Voxelize(sphere, g);
  int64_t count = 0;
  for (int64_t i = 0; i < v.num_voxels(); ++i) count += v.data<int16_t>()[i];
  EXPECT_NEAR(count * g.spacing_mm.prod() / CheckMesh(sphere).enclosed_volume_mm3, 1.0, 0.005);
  // Spot checks against the exact sphere away from the surface.
  for (int k = 0; k < 40; k += 3) {
    for (int j = 0; j < 50; j += 3) {
      for (int i = 0; i < 60; i += 3) {
        const double d = (g.IndexToWorld(Eigen::Vector3d(i, j, k)) - c).norm() - r;
        if (std::abs(d) > 0.05) {
          ASSERT_EQ(v.At(i, j, k), d < 0 ? 1 : 0) << i << " " << j << " " << k;
        }
      }
    }
  }
  const VolumeGeometry around = GridAroundMesh(sphere, 0.5, 1.0);
  EXPECT_NEAR(around.origin_mm.x(), std::floor((c.x() - r - 1) / 0.5) * 0.5, 1e-9);
  EXPECT_THROW(GridAroundMesh(sphere, 0, 1), InvalidInput);
  EXPECT_THROW(GridAroundMesh(sphere, 1e-4, 1), InvalidInput);  // too many voxels
}

// ---- Colours ---------------------------------------------------------------------

TEST(AddDivergingColors, MapsTheRangeToBlueWhiteRedAndSurvivesPly) {
  TriangleMesh mesh = MakeIcosphere(5, 1);
  Eigen::VectorXd values = Eigen::VectorXd::LinSpaced(mesh.num_vertices(), -3, 3);
  AddDivergingColors(values, 2.0, &mesh);
  EXPECT_EQ(mesh.scalars["red"][0], 33);  // clamped at -2: blue
  EXPECT_EQ(mesh.scalars["blue"][0], 172);
  EXPECT_EQ(mesh.scalars["red"][mesh.num_vertices() - 1], 178);  // +2 and beyond: red
  mesh.scalars["distance_mm"] = values;
  const std::string path = testing::TempDir("colors") + "/colored.ply";
  WriteMesh(mesh, path);
  std::ifstream in(path, std::ios::binary);
  std::string header;
  std::getline(in, header, '\0');
  EXPECT_NE(header.find("property uchar red"), std::string::npos);
  EXPECT_NE(header.find("property float distance_mm"), std::string::npos);
  const TriangleMesh back = ReadMesh(path);
  EXPECT_EQ(back.scalars.at("green"), mesh.scalars.at("green"));
  EXPECT_NEAR((back.scalars.at("distance_mm") - values).cwiseAbs().maxCoeff(), 0.0, 1e-6);
  EXPECT_THROW(AddDivergingColors(values, 0, &mesh), InvalidInput);
  EXPECT_THROW(AddDivergingColors(Eigen::VectorXd(3), 1, &mesh), InvalidInput);
}

}  // namespace
}  // namespace ssmx::ssm
