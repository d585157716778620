// Surface extraction: real TotalSegmentator labels checked against their voxel
// counts, analytic shapes (spheres, shells, tubes) on oblique grids checked
// against their exact geometry, smoothing and decimation against the sphere.
#include "ssmx/ssm/surface.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "ssmx/core/error.h"
#include "ssmx/ssm/label_map.h"
#include "ssmx/ssm/primitives.h"
#include "ssmx/ssm/surface_distance.h"
#include "ssmx/ssm/volume_io.h"
#include "test_data.h"
#include "test_meshes.h"

namespace ssmx::ssm {
namespace {

constexpr double kPi = 3.14159265358979323846;

// A grid with oblique direction cosines (rotations about two axes) and
// anisotropic spacing, centred on `center`, so that index <-> LPS is exercised.
VolumeGeometry ObliqueGrid(const Eigen::Vector3i& size, const Eigen::Vector3d& spacing,
                           const Eigen::Vector3d& center) {
  VolumeGeometry g;
  g.size = size;
  g.spacing_mm = spacing;
  const double a = 0.3, b = -0.2;
  Eigen::Matrix3d rz, rx;
  rz << std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0, 0, 0, 1;
  rx << 1, 0, 0, 0, std::cos(b), -std::sin(b), 0, std::sin(b), std::cos(b);
  g.direction = rz * rx;
  g.origin_mm = center - g.direction * spacing.cwiseProduct(
                                           0.5 * (size.cast<double>() - Eigen::Vector3d::Ones()));
  return g;
}

// A float volume whose voxel (i, j, k) holds value(p_lps).
Volume Sample(const VolumeGeometry& g, const std::function<double(const Eigen::Vector3d&)>& value) {
  Volume v(g, VoxelType::kFloat32);
  for (int k = 0; k < g.size.z(); ++k) {
    for (int j = 0; j < g.size.y(); ++j) {
      for (int i = 0; i < g.size.x(); ++i) {
        v.Set(i, j, k, static_cast<float>(value(g.IndexToWorld(Eigen::Vector3d(i, j, k)))));
      }
    }
  }
  return v;
}

int64_t CountAbove(const Volume& v, float threshold) {
  const Volume f = v.ToFloat();
  int64_t n = 0;
  for (int64_t i = 0; i < f.num_voxels(); ++i) n += f.data<float>()[i] > threshold ? 1 : 0;
  return n;
}

double VoxelVolume(const Volume& v) { return v.geometry().spacing_mm.prod(); }

// Largest and area-weighted mean | |p - c| - r | over the vertices.
struct SphereError {
  double max_mm = 0;
  double mean_mm = 0;
};
SphereError ErrorAgainstSphere(const TriangleMesh& mesh, const Eigen::Vector3d& c, double r) {
  const Eigen::VectorXd w = VertexAreas(mesh);
  SphereError e;
  for (Eigen::Index v = 0; v < mesh.num_vertices(); ++v) {
    const double d = std::abs((mesh.vertices.row(v).transpose() - c).norm() - r);
    e.max_mm = std::max(e.max_mm, d);
    e.mean_mm += w[v] * d;
  }
  e.mean_mm /= w.sum();
  return e;
}

// Outward orientation seen independently of the mesh's own volume sign: a
// point a little way along each vertex normal must be outside the surface.
double FractionOfNormalsPointingOut(const TriangleMesh& mesh, double step_mm) {
  const SurfaceLocator locator(mesh);
  int64_t out = 0;
  for (Eigen::Index v = 0; v < mesh.num_vertices(); ++v) {
    const Eigen::Vector3d p =
        mesh.vertices.row(v).transpose() + step_mm * mesh.normals.row(v).transpose();
    out += locator.SignedDistance(p) > 0 ? 1 : 0;
  }
  return static_cast<double>(out) / static_cast<double>(mesh.num_vertices());
}

void ExpectUnitNormals(const TriangleMesh& mesh) {
  ASSERT_EQ(mesh.normals.rows(), mesh.num_vertices());
  for (Eigen::Index v = 0; v < mesh.num_vertices(); ++v) {
    ASSERT_NEAR(mesh.normals.row(v).norm(), 1.0, 1e-9) << "vertex " << v;
  }
}

// ---- Real labels -------------------------------------------------------------

class RealLabelSurface : public ::testing::TestWithParam<const char*> {};

TEST_P(RealLabelSurface, IsWatertightSingleOutwardAndKeepsTheVoxelVolume) {
  SSMX_REQUIRE_DATA("ct/totalseg_abdomen/labels");
  const std::string folder = testing::DataPath("ct/totalseg_abdomen/labels");
  const Volume mask = ReadLabelMask(folder, GetParam());
  const double voxel_volume = CountAbove(mask, 0.5) * VoxelVolume(mask);
  const TriangleMesh mesh = ExtractLabelSurface(mask, 1);
  const MeshCheck check = CheckMesh(mesh);
  EXPECT_TRUE(check.watertight()) << GetParam() << ": "
                                  << ::testing::PrintToString(check.Problems());
  EXPECT_EQ(check.connected_components, 1) << GetParam();
  EXPECT_EQ(check.degenerate_faces, 0) << GetParam();
  EXPECT_GT(check.enclosed_volume_mm3, 0) << GetParam();
  EXPECT_NEAR(check.enclosed_volume_mm3 / voxel_volume, 1.0, 0.03)
      << GetParam() << ": mesh " << check.enclosed_volume_mm3 << " mm^3, voxels " << voxel_volume
      << " mm^3";
  ExpectUnitNormals(mesh);
  EXPECT_GT(FractionOfNormalsPointingOut(mesh, 0.3), 0.99) << GetParam();
  // Placement in LPS: without smoothing, marching cubes puts the extreme
  // vertices half a voxel beyond the extreme voxel centres of the label.
  Eigen::Vector3d lo = Eigen::Vector3d::Constant(1e300), hi = -lo;
  const VolumeGeometry& g = mask.geometry();
  for (int k = 0; k < g.size.z(); ++k) {
    for (int j = 0; j < g.size.y(); ++j) {
      for (int i = 0; i < g.size.x(); ++i) {
        if (mask.At(i, j, k) > 0) {
          const Eigen::Vector3d p = g.IndexToWorld(Eigen::Vector3d(i, j, k));
          lo = lo.cwiseMin(p);
          hi = hi.cwiseMax(p);
        }
      }
    }
  }
  SurfaceOptions raw;
  raw.smooth_iterations = 0;
  raw.keep = KeepComponents::kAll;
  const Bounds3d b = ComputeBounds(ExtractLabelSurface(mask, 1, raw));
  const Eigen::Vector3d half_voxel = 0.5 * (g.direction.cwiseAbs() * g.spacing_mm);
  EXPECT_LT((b.min - (lo - half_voxel)).cwiseAbs().maxCoeff(), 1e-3) << GetParam();
  EXPECT_LT((b.max - (hi + half_voxel)).cwiseAbs().maxCoeff(), 1e-3) << GetParam();
  // The smoothed, largest piece stays in that box up to the filter's small
  // overshoot (a third of a voxel).
  const Bounds3d smooth = ComputeBounds(mesh);
  const double overshoot = g.spacing_mm.maxCoeff() / 3;
  EXPECT_TRUE((smooth.min.array() >= b.min.array() - overshoot).all()) << GetParam();
  EXPECT_TRUE((smooth.max.array() <= b.max.array() + overshoot).all()) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(TotalSegmentator, RealLabelSurface,
                         ::testing::Values("femur_left", "hip_left", "vertebrae_L3"));

TEST(ExtractIsoSurface, BoneThresholdOfRealCtIsWatertightAndOutward) {
  SSMX_REQUIRE_DATA("ct/totalseg_abdomen/example_ct.nii.gz");
  const std::string path = testing::DataPath("ct/totalseg_abdomen/example_ct.nii.gz");
  SurfaceOptions options;
  options.target_faces = 60000;
  const TriangleMesh bone = ExtractIsoSurface(ReadVolume(path).volume, 250, options);
  const MeshCheck check = CheckMesh(bone);
  EXPECT_TRUE(check.watertight()) << ::testing::PrintToString(check.Problems());
  EXPECT_EQ(check.connected_components, 1);
  EXPECT_GT(check.enclosed_volume_mm3, 0);
  EXPECT_LE(bone.num_faces(), 60000 * 1.02);
  ExpectUnitNormals(bone);
}

// ---- Analytic shapes ------------------------------------------------------------

TEST(ExtractIsoSurface, SphereOfASignedDistanceFieldOnAnObliqueGridIsExact) {
  const Eigen::Vector3d c(12.0, -30.0, 105.0);
  const double r = 18.0;
  const VolumeGeometry g =
      ObliqueGrid({48, 44, 30}, {1.0, 1.1, 1.6}, c + Eigen::Vector3d(1.3, -0.7, 0.4));
  // Negated signed distance: positive inside.
  const Volume field = Sample(g, [&](const Eigen::Vector3d& p) { return r - (p - c).norm(); });
  SurfaceOptions options;
  options.smooth_iterations = 0;
  const TriangleMesh mesh = ExtractIsoSurface(field, 0.0, options);
  const MeshCheck check = CheckMesh(mesh);
  EXPECT_TRUE(check.watertight());
  EXPECT_EQ(check.connected_components, 1);
  EXPECT_EQ(check.degenerate_faces, 0);
  const SphereError e = ErrorAgainstSphere(mesh, c, r);
  EXPECT_LT(e.max_mm, 0.03);  // linear interpolation of a distance field is nearly exact
  const double analytic = 4.0 / 3.0 * kPi * r * r * r;
  EXPECT_NEAR(check.enclosed_volume_mm3 / analytic, 1.0, 0.01);
  ExpectUnitNormals(mesh);
  // Unit normals of a sphere point along p - c.
  for (Eigen::Index v = 0; v < mesh.num_vertices(); ++v) {
    const Eigen::Vector3d radial = (mesh.vertices.row(v).transpose() - c).normalized();
    ASSERT_GT(radial.dot(mesh.normals.row(v).transpose()), 0.99) << "vertex " << v;
  }
}

TEST(ExtractIsoSurface, VoxelsExactlyAtTheIsoValueAreOutsideAndGiveNoDegenerateTriangles) {
  // A cube of 100 (voxels 5..14) wrapped in a layer of voxels exactly at the
  // threshold 50 (voxels 4 and 15), in 0. The region {value > 50} is the cube;
  // its surface runs through the centres of the threshold voxels, where plain
  // marching cubes would put many vertices on one point.
  VolumeGeometry g;
  g.size = {20, 20, 20};
  Volume v(g, VoxelType::kInt16);
  for (int k = 4; k <= 15; ++k) {
    for (int j = 4; j <= 15; ++j) {
      for (int i = 4; i <= 15; ++i) {
        const bool core = i >= 5 && i <= 14 && j >= 5 && j <= 14 && k >= 5 && k <= 14;
        v.Set(i, j, k, core ? 100 : 50);
      }
    }
  }
  SurfaceOptions options;
  options.smooth_iterations = 0;
  const TriangleMesh mesh = ExtractIsoSurface(v, 50, options);
  const MeshCheck check = CheckMesh(mesh);
  EXPECT_TRUE(check.watertight());
  EXPECT_EQ(check.connected_components, 1);
  EXPECT_EQ(check.degenerate_faces, 0);
  const Bounds3d b = ComputeBounds(mesh);
  EXPECT_LT(b.Extent().maxCoeff(), 11.0);  // strictly inside the threshold voxels' centres
  EXPECT_GT(b.Extent().minCoeff(), 11.0 - 0.01);
}

// A CT-like tube (cortex 1400 HU in soft tissue 40 HU, with partial-volume
// voxels) that runs through the whole volume along k: the threshold surface
// is capped on the volume's boundary and encloses the annulus times the length.
TEST(ExtractIsoSurface, RegionCutByTheVolumeBorderIsCappedOnTheBoundary) {
  const Eigen::Vector3d c(5, 8, -40);
  const double r_out = 11.0, r_in = 6.0;
  const VolumeGeometry g = ObliqueGrid({40, 40, 24}, {0.9, 0.9, 2.0}, c);
  const Eigen::Vector3d axis = g.direction.col(2);
  const Volume ct = Sample(g, [&](const Eigen::Vector3d& p) {
    // Partial volume: fraction of a 6x6 in-plane supersample inside the annulus.
    int inside = 0;
    for (int a = 0; a < 6; ++a) {
      for (int b = 0; b < 6; ++b) {
        const Eigen::Vector3d q = p + ((a + 0.5) / 6 - 0.5) * 0.9 * g.direction.col(0) +
                                  ((b + 0.5) / 6 - 0.5) * 0.9 * g.direction.col(1);
        const Eigen::Vector3d radial = (q - c) - (q - c).dot(axis) * axis;
        inside += radial.norm() <= r_out && radial.norm() >= r_in ? 1 : 0;
      }
    }
    return 40.0 + 1360.0 * inside / 36.0;
  });
  SurfaceOptions options;
  options.smooth_iterations = 0;
  const TriangleMesh mesh =
      ExtractIsoSurface(ct, 720, options);  // halfway between tissue and cortex
  const MeshCheck check = CheckMesh(mesh);
  EXPECT_TRUE(check.watertight()) << ::testing::PrintToString(check.Problems());
  EXPECT_EQ(check.connected_components, 1);
  // The marrow is open at both ends (it reaches the border): not a cavity.
  const double length = g.size.z() * g.spacing_mm.z();
  const double analytic = kPi * (r_out * r_out - r_in * r_in) * length;
  EXPECT_NEAR(check.enclosed_volume_mm3 / analytic, 1.0, 0.02);
  // The caps lie on the boundary planes, half a voxel beyond the end slices.
  double lo = 1e300, hi = -1e300;
  for (Eigen::Index v = 0; v < mesh.num_vertices(); ++v) {
    const double t = (mesh.vertices.row(v).transpose() - g.origin_mm).dot(axis);
    lo = std::min(lo, t);
    hi = std::max(hi, t);
  }
  EXPECT_NEAR(lo, -1.0, 1e-4);
  EXPECT_NEAR(hi, (g.size.z() - 0.5) * g.spacing_mm.z(), 1e-4);
}

TEST(ExtractLabelSurface, FillHolesClosesAnEnclosedCavityOrKeepsItsInnerShell) {
  const Eigen::Vector3d c(0, 0, 0);
  const VolumeGeometry g = ObliqueGrid({40, 40, 40}, {1, 1, 1}, c);
  Volume labels(g, VoxelType::kInt16);
  for (int k = 0; k < 40; ++k) {
    for (int j = 0; j < 40; ++j) {
      for (int i = 0; i < 40; ++i) {
        const double d = (g.IndexToWorld(Eigen::Vector3d(i, j, k)) - c).norm();
        labels.Set(i, j, k, d <= 15 && d > 8 ? 3 : 0);  // a hollow ball of label 3
      }
    }
  }
  SurfaceOptions options;
  options.smooth_iterations = 0;
  const MeshCheck filled = CheckMesh(ExtractLabelSurface(labels, 3, options));
  options.fill_holes = false;
  const MeshCheck hollow = CheckMesh(ExtractLabelSurface(labels, 3, options));
  EXPECT_TRUE(filled.watertight());
  EXPECT_TRUE(hollow.watertight());
  EXPECT_EQ(filled.connected_components, 1);
  EXPECT_EQ(hollow.connected_components, 2);  // outer and inner shell
  const double outer = 4.0 / 3.0 * kPi * 15 * 15 * 15, inner = 4.0 / 3.0 * kPi * 8 * 8 * 8;
  EXPECT_NEAR(filled.enclosed_volume_mm3 / outer, 1.0, 0.03);
  EXPECT_NEAR(hollow.enclosed_volume_mm3 / (outer - inner), 1.0, 0.04);
}

TEST(ExtractLabelSurface, KeepLargestDropsTheSmallerPieceAndKeepAllKeepsBoth) {
  VolumeGeometry g;
  g.size = {60, 30, 30};
  Volume labels(g, VoxelType::kInt16);
  const Eigen::Vector3d big(15, 15, 15), small(45, 15, 15);
  for (int k = 0; k < 30; ++k) {
    for (int j = 0; j < 30; ++j) {
      for (int i = 0; i < 60; ++i) {
        const Eigen::Vector3d p(i, j, k);
        labels.Set(i, j, k, (p - big).norm() <= 10 || (p - small).norm() <= 6 ? 1 : 0);
      }
    }
  }
  SurfaceOptions options;
  options.smooth_iterations = 0;
  const TriangleMesh largest = ExtractLabelSurface(labels, 1, options);
  options.keep = KeepComponents::kAll;
  const TriangleMesh all = ExtractLabelSurface(labels, 1, options);
  EXPECT_EQ(CheckMesh(largest).connected_components, 1);
  EXPECT_EQ(CheckMesh(all).connected_components, 2);
  EXPECT_LT(ComputeBounds(largest).max.x(), 30);  // only the ball around x = 15
  EXPECT_GT(ComputeBounds(all).max.x(), 45);
  const double v_big = 4.0 / 3.0 * kPi * 1000, v_small = 4.0 / 3.0 * kPi * 216;
  EXPECT_NEAR(CheckMesh(largest).enclosed_volume_mm3 / v_big, 1.0, 0.05);
  EXPECT_NEAR(CheckMesh(all).enclosed_volume_mm3 / (v_big + v_small), 1.0, 0.05);
}

// ---- Smoothing and decimation ---------------------------------------------------

// A voxelised sphere (voxel centres inside r) meshed without smoothing is a
// staircase; smoothing must keep its volume within 1 % and at least halve its
// distance to the true sphere.
TEST(SmoothSurface, KeepsTheVolumeOfAVoxelisedSphereAndHalvesItsError) {
  const Eigen::Vector3d c(0.3, -0.2, 0.1);
  const double r = 15.0;
  VolumeGeometry g;
  g.size = {40, 40, 40};
  g.origin_mm = Eigen::Vector3d::Constant(-19.5);
  Volume mask(g, VoxelType::kInt16);
  for (int k = 0; k < 40; ++k) {
    for (int j = 0; j < 40; ++j) {
      for (int i = 0; i < 40; ++i) {
        mask.Set(i, j, k, (g.IndexToWorld(Eigen::Vector3d(i, j, k)) - c).norm() <= r ? 1 : 0);
      }
    }
  }
  SurfaceOptions raw_options;
  raw_options.smooth_iterations = 0;
  const TriangleMesh raw = ExtractLabelSurface(mask, 1, raw_options);
  const TriangleMesh smooth = SmoothSurface(raw, 20, 0.1);
  const double v_raw = CheckMesh(raw).enclosed_volume_mm3,
               v_smooth = CheckMesh(smooth).enclosed_volume_mm3;
  const double analytic = 4.0 / 3.0 * kPi * r * r * r;
  EXPECT_NEAR(v_smooth / v_raw, 1.0, 0.01);
  EXPECT_NEAR(v_smooth / analytic, 1.0, 0.01);
  const SphereError e_raw = ErrorAgainstSphere(raw, c, r),
                    e_smooth = ErrorAgainstSphere(smooth, c, r);
  EXPECT_LT(e_smooth.mean_mm, 0.5 * e_raw.mean_mm)
      << "raw " << e_raw.mean_mm << " smooth " << e_smooth.mean_mm;
  EXPECT_LT(e_smooth.max_mm, e_raw.max_mm);
  EXPECT_TRUE(CheckMesh(smooth).watertight());
  // The default extraction options smooth the same way.
  const TriangleMesh by_default = ExtractLabelSurface(mask, 1);
  EXPECT_LT(ErrorAgainstSphere(by_default, c, r).mean_mm, 0.5 * e_raw.mean_mm);
}

TEST(DecimateSurface, ReachesTheTargetAndStaysOnTheSphere) {
  const TriangleMesh sphere = MakeIcosphere(20, 6);  // 81920 faces
  const TriangleMesh decimated = DecimateSurface(sphere, 5000);
  EXPECT_LE(decimated.num_faces(), 5000 * 1.02);
  EXPECT_GE(decimated.num_faces(), 5000 * 0.9);
  const MeshCheck check = CheckMesh(decimated);
  EXPECT_TRUE(check.watertight());
  EXPECT_EQ(check.unreferenced_vertices, 0);
  EXPECT_NEAR(check.enclosed_volume_mm3 / (4.0 / 3.0 * kPi * 8000), 1.0, 0.01);
  EXPECT_LT(ErrorAgainstSphere(decimated, Eigen::Vector3d::Zero(), 20).max_mm, 0.15);
  ExpectUnitNormals(decimated);
  // Fewer faces than the target: unchanged.
  EXPECT_EQ(DecimateSurface(decimated, 100000).num_faces(), decimated.num_faces());
}

TEST(DecimateSurface, KeepsTheBoundaryOfAnOpenMeshAndIsDeterministic) {
  // A sphere with the faces above z = 12 removed: an open cap-less bowl.
  const TriangleMesh sphere = MakeIcosphere(20, 5);
  TriangleMesh bowl = sphere;
  Eigen::Index kept = 0;
  for (Eigen::Index f = 0; f < sphere.num_faces(); ++f) {
    double z = 0;
    for (int c = 0; c < 3; ++c) z += sphere.vertices(sphere.faces(f, c), 2) / 3;
    if (z < 12) bowl.faces.row(kept++) = sphere.faces.row(f);
  }
  bowl.faces.conservativeResize(kept, 3);
  const MeshCheck before = CheckMesh(bowl);
  ASSERT_GT(before.boundary_edges, 0);
  const TriangleMesh decimated = DecimateSurface(bowl, 2000);
  const MeshCheck after = CheckMesh(decimated);
  EXPECT_LE(decimated.num_faces(), 2000 * 1.05);
  EXPECT_EQ(after.boundary_edges, before.boundary_edges);  // boundary vertices never move or merge
  EXPECT_EQ(after.non_manifold_edges, 0);
  EXPECT_EQ(after.inconsistent_edges, 0);
  EXPECT_EQ(after.connected_components, 1);
  EXPECT_LT(ErrorAgainstSphere(decimated, Eigen::Vector3d::Zero(), 20).max_mm, 0.3);
  const TriangleMesh again = DecimateSurface(bowl, 2000);
  EXPECT_EQ(again.vertices, decimated.vertices);
  EXPECT_EQ(again.faces, decimated.faces);
  EXPECT_THROW(DecimateSurface(bowl, 3), InvalidInput);
}

// A torus (genus 1) keeps its genus: V - E + F = 0 before and after.
TEST(DecimateSurface, KeepsTheGenusOfATorus) {
  const Eigen::Vector3d c(0, 0, 0);
  VolumeGeometry g;
  g.size = {70, 70, 30};
  g.spacing_mm = {1, 1, 1};
  g.origin_mm = Eigen::Vector3d(-34.5, -34.5, -14.5);
  const Volume field = Sample(g, [](const Eigen::Vector3d& p) {
    const double ring = std::hypot(p.x(), p.y()) - 22;
    return 8 - std::hypot(ring, p.z());
  });
  SurfaceOptions options;
  options.smooth_iterations = 0;
  const TriangleMesh torus = ExtractIsoSurface(field, 0, options);
  const auto euler = [](const TriangleMesh& m) {
    const MeshCheck check = CheckMesh(m);
    EXPECT_TRUE(check.watertight());
    const int64_t edges = 3 * m.num_faces() / 2;
    return m.num_vertices() - edges + m.num_faces();
  };
  EXPECT_EQ(euler(torus), 0);
  const TriangleMesh decimated = DecimateSurface(torus, 600);
  EXPECT_LE(decimated.num_faces(), 630);
  EXPECT_EQ(euler(decimated), 0);
  // The tube's volume, 2 pi^2 R r^2, survives the tenfold reduction within 3 %.
  EXPECT_NEAR(CheckMesh(decimated).enclosed_volume_mm3 / (2 * kPi * kPi * 22 * 64), 1.0, 0.03);
}

TEST(ExtractLabelSurface, TargetFacesDecimatesTheExtractedMesh) {
  SSMX_REQUIRE_DATA("ct/totalseg_abdomen/labels");
  const Volume mask = ReadLabelMask(testing::DataPath("ct/totalseg_abdomen/labels"), "hip_left");
  SurfaceOptions options;
  options.target_faces = 3000;
  const TriangleMesh mesh = ExtractLabelSurface(mask, 1, options);
  EXPECT_LE(mesh.num_faces(), 3000 * 1.02);
  const MeshCheck check = CheckMesh(mesh);
  EXPECT_TRUE(check.watertight()) << ::testing::PrintToString(check.Problems());
  EXPECT_NEAR(check.enclosed_volume_mm3 / (CountAbove(mask, 0.5) * VoxelVolume(mask)), 1.0, 0.05);
}

// ---- Topology helpers ----------------------------------------------------------

TEST(SplitComponents, OrdersByEnclosedVolumeAndKeepLargestPicksTheBiggest) {
  const TriangleMesh small = MakeIcosphere(5, 2, Eigen::Vector3d(50, 0, 0));
  const TriangleMesh big = MakeIcosphere(10, 1);
  const TriangleMesh both = testing::Concatenate(small, big);
  const std::vector<TriangleMesh> parts = SplitComponents(both);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].num_faces(), big.num_faces());
  EXPECT_EQ(parts[1].num_faces(), small.num_faces());
  EXPECT_EQ(parts[0].num_vertices(), big.num_vertices());
  // Same faces in the same order, with the same corner positions.
  const auto same_geometry = [](const TriangleMesh& x, const TriangleMesh& y) {
    if (x.num_faces() != y.num_faces()) return false;
    for (Eigen::Index f = 0; f < x.num_faces(); ++f) {
      for (int c = 0; c < 3; ++c) {
        if (x.vertices.row(x.faces(f, c)) != y.vertices.row(y.faces(f, c))) return false;
      }
    }
    return true;
  };
  EXPECT_TRUE(same_geometry(parts[0], big));
  EXPECT_TRUE(same_geometry(parts[1], small));
  EXPECT_TRUE(same_geometry(KeepLargestComponent(both), big));
}

TEST(OrientOutward, FlipsAnInwardMesh) {
  TriangleMesh sphere = MakeIcosphere(10, 2);
  sphere.faces.col(1).swap(sphere.faces.col(2));
  EXPECT_LT(CheckMesh(sphere).enclosed_volume_mm3, 0);
  EXPECT_TRUE(OrientOutward(&sphere));
  EXPECT_GT(CheckMesh(sphere).enclosed_volume_mm3, 0);
  EXPECT_FALSE(OrientOutward(&sphere));
  // Recomputed normals point outwards like the sphere's radial directions.
  for (Eigen::Index v = 0; v < sphere.num_vertices(); ++v) {
    ASSERT_GT(sphere.normals.row(v).dot(sphere.vertices.row(v).normalized()), 0.99);
  }
}

// ---- Bad input --------------------------------------------------------------------

TEST(SurfaceOptions, RejectsBadValuesWithReasons) {
  SurfaceOptions o;
  std::string error;
  EXPECT_TRUE(o.IsValid(&error));
  o.smooth_iterations = -1;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_NE(error.find("smooth_iterations"), std::string::npos);
  o = SurfaceOptions();
  o.smooth_passband = 0;
  EXPECT_FALSE(o.IsValid(&error));
  o = SurfaceOptions();
  o.target_faces = 2;
  EXPECT_FALSE(o.IsValid(&error));
  EXPECT_THROW(ParseKeepComponents("biggest"), InvalidInput);
  EXPECT_EQ(ParseKeepComponents("all"), KeepComponents::kAll);
}

TEST(ExtractIsoSurface, RefusesAThresholdAboveEveryVoxelAndNonFiniteValues) {
  VolumeGeometry g;
  g.size = {8, 8, 8};
  Volume v(g, VoxelType::kInt16);
  v.Set(3, 3, 3, 100);
  try {
    ExtractIsoSurface(v, 250);
    FAIL() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("range from 0 to 100"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ExtractIsoSurface(v, std::nan("")), InvalidInput);
  EXPECT_THROW(ExtractLabelSurface(v, 7), InvalidInput);
  SurfaceOptions bad;
  bad.smooth_passband = 3;
  EXPECT_THROW(ExtractIsoSurface(v, 50, bad), InvalidInput);
  // A single voxel above the threshold still gives a closed surface.
  const MeshCheck one = CheckMesh(ExtractIsoSurface(v, 50));
  EXPECT_TRUE(one.watertight());
  EXPECT_GT(one.enclosed_volume_mm3, 0);
}

}  // namespace
}  // namespace ssmx::ssm
