// Core types against hand-computed truth.
#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <cmath>

#include "ssmx/core/error.h"
#include "ssmx/core/log.h"
#include "ssmx/core/progress.h"
#include "ssmx/core/triangle_mesh.h"
#include "ssmx/core/volume.h"
#include "ssmx/ssm/primitives.h"

namespace ssmx {
namespace {

constexpr double kPi = 3.14159265358979323846;

TEST(VolumeGeometry, IndexToWorldMatchesDicomFormulaWithObliqueDirection) {
  VolumeGeometry g;
  g.size = Eigen::Vector3i(10, 20, 30);
  g.spacing_mm = Eigen::Vector3d(0.5, 0.75, 2.0);
  g.origin_mm = Eigen::Vector3d(-100, 50, 7);
  // Columns: i along +y, j along -x, k along +z (a 90 degree rotation about z).
  g.direction << 0, -1, 0, 1, 0, 0, 0, 0, 1;
  // ijk (2, 4, 3): i moves 2*0.5 along +y, j moves 4*0.75 along -x, k 3*2 along z.
  const Eigen::Vector3d p = g.IndexToWorld(Eigen::Vector3d(2, 4, 3));
  EXPECT_NEAR(p.x(), -100 - 3.0, 1e-12);
  EXPECT_NEAR(p.y(), 50 + 1.0, 1e-12);
  EXPECT_NEAR(p.z(), 7 + 6.0, 1e-12);
  const Eigen::Vector3d ijk = g.WorldToIndex(p);
  EXPECT_NEAR((ijk - Eigen::Vector3d(2, 4, 3)).norm(), 0, 1e-12);
  const Eigen::Vector4d h = g.WorldFromIndex() * Eigen::Vector4d(2, 4, 3, 1);
  EXPECT_NEAR((h.head<3>() - p).norm(), 0, 1e-12);
  EXPECT_NEAR((g.IndexFromWorld() * g.WorldFromIndex() - Eigen::Matrix4d::Identity()).norm(), 0, 1e-12);
}

TEST(VolumeGeometry, CenterIsMidpointOfFirstAndLastVoxel) {
  VolumeGeometry g;
  g.size = Eigen::Vector3i(11, 21, 5);
  g.spacing_mm = Eigen::Vector3d(1, 2, 3);
  g.origin_mm = Eigen::Vector3d(1, 1, 1);
  EXPECT_NEAR((g.Center() - Eigen::Vector3d(1 + 5, 1 + 20, 1 + 6)).norm(), 0, 1e-12);
}

TEST(VolumeGeometry, ValidateRejectsBadGeometry) {
  VolumeGeometry g;
  g.size = Eigen::Vector3i(2, 2, 2);
  EXPECT_EQ(g.Validate(), "");
  g.spacing_mm.x() = 0;
  EXPECT_NE(g.Validate(), "");
  g.spacing_mm.x() = 1;
  g.direction(0, 1) = 0.5;
  EXPECT_NE(g.Validate().find("orthonormal"), std::string::npos);
  g.direction.setIdentity();
  g.size.z() = 0;
  EXPECT_THROW(Volume(g, VoxelType::kFloat32), InvalidInput);
}

TEST(Volume, StoresInItkOrderAndChecksTypes) {
  VolumeGeometry g;
  g.size = Eigen::Vector3i(3, 4, 5);
  Volume v(g, VoxelType::kInt16);
  v.Set(2, 1, 3, -1000.4f);
  EXPECT_EQ(v.data<int16_t>()[2 + 3 * (1 + 4 * 3)], -1000);
  EXPECT_FLOAT_EQ(v.At(2, 1, 3), -1000.0f);
  EXPECT_THROW(v.data<float>(), InvalidInput);
  EXPECT_THROW(v.At(3, 0, 0), InvalidInput);
  const auto [lo, hi] = v.Range();
  EXPECT_EQ(lo, -1000.0f);
  EXPECT_EQ(hi, 0.0f);
  const Volume f = v.ToFloat();
  EXPECT_EQ(f.voxel_type(), VoxelType::kFloat32);
  EXPECT_FLOAT_EQ(f.data<float>()[2 + 3 * (1 + 4 * 3)], -1000.0f);
}

TEST(Progress, FalseFromCallbackCancels) {
  int calls = 0;
  ProgressCallback keep_going = [&](double, const std::string&) { ++calls; return true; };
  ReportProgress(keep_going, 0.5, "x");
  ReportProgress({}, 0.5, "no callback is fine");
  EXPECT_EQ(calls, 1);
  ProgressCallback stop = [](double, const std::string&) { return false; };
  EXPECT_THROW(ReportProgress(stop, 0.5, "reading"), Cancelled);
}

TEST(Log, RespectsLevelAndSink) {
  std::vector<std::string> lines;
  SetLogSink([&](LogLevel level, const std::string& m) { lines.push_back(std::string(LogLevelName(level)) + ":" + m); });
  SetLogLevel(LogLevel::kWarning);
  SSMX_LOG(kInfo) << "hidden";
  SSMX_LOG(kWarning) << "shown " << 42;
  SetLogSink({});
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "warning:shown 42");
}

TEST(Icosphere, IsClosedOutwardAndApproachesTheSphereVolume) {
  const double r = 10.0;
  for (int s = 0; s <= 4; ++s) {
    const TriangleMesh m = ssm::MakeIcosphere(r, s, Eigen::Vector3d(5, -3, 2));
    EXPECT_EQ(m.num_vertices(), 10 * (1 << (2 * s)) + 2);
    EXPECT_EQ(m.num_faces(), 20 * (1 << (2 * s)));
    const MeshCheck c = CheckMesh(m);
    EXPECT_TRUE(c.watertight()) << s;
    EXPECT_EQ(c.connected_components, 1);
    EXPECT_GT(c.enclosed_volume_mm3, 0);
    EXPECT_TRUE(c.Problems().empty());
    for (Eigen::Index v = 0; v < m.num_vertices(); ++v) {
      EXPECT_NEAR((m.vertices.row(v) - Eigen::RowVector3d(5, -3, 2)).norm(), r, 1e-9);
    }
  }
  // An inscribed polyhedron: volume below the sphere's, converging (s = 5: < 0.1 %).
  const MeshCheck fine = CheckMesh(ssm::MakeIcosphere(r, 5));
  const double sphere = 4.0 / 3.0 * kPi * r * r * r;
  EXPECT_LT(fine.enclosed_volume_mm3, sphere);
  EXPECT_GT(fine.enclosed_volume_mm3, 0.999 * sphere);
  EXPECT_NEAR(fine.surface_area_mm2, 4 * kPi * r * r, 0.002 * 4 * kPi * r * r);
}

TEST(CheckMesh, FindsHolesFlipsAndBadIndices) {
  // A unit tetrahedron, outward: volume 1/6.
  TriangleMesh t;
  t.vertices.resize(4, 3);
  t.vertices << 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1;
  t.faces.resize(4, 3);
  t.faces << 0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3;
  MeshCheck c = CheckMesh(t);
  EXPECT_TRUE(c.watertight());
  EXPECT_NEAR(c.enclosed_volume_mm3, 1.0 / 6.0, 1e-15);
  EXPECT_NEAR(c.surface_area_mm2, 1.5 + std::sqrt(3.0) / 2.0, 1e-12);

  TriangleMesh flipped = t;
  std::swap(flipped.faces(3, 1), flipped.faces(3, 2));
  c = CheckMesh(flipped);
  EXPECT_EQ(c.inconsistent_edges, 3);
  EXPECT_FALSE(c.watertight());

  TriangleMesh open = t;
  open.faces.conservativeResize(3, 3);
  c = CheckMesh(open);
  EXPECT_EQ(c.boundary_edges, 3);

  TriangleMesh inward = t;
  inward.faces.col(1).swap(inward.faces.col(2));
  c = CheckMesh(inward);
  EXPECT_TRUE(c.watertight());
  EXPECT_LT(c.enclosed_volume_mm3, 0);
  EXPECT_FALSE(c.Problems().empty());

  TriangleMesh bad = t;
  bad.faces(2, 1) = 9;
  EXPECT_EQ(CheckMesh(bad).out_of_range_indices, 1);
  try {
    ValidateMesh(bad, "bad.ply");
    FAIL() << "expected InvalidInput";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("face 2 refers to vertex 9 but the mesh has 4 vertices"), std::string::npos)
        << e.what();
  }
  TriangleMesh nan = t;
  nan.vertices(1, 1) = std::nan("");
  EXPECT_THROW(ValidateMesh(nan, "nan.stl"), InvalidInput);
  EXPECT_EQ(CheckMesh(nan).non_finite_vertices, 1);

  TriangleMesh repeated = t;
  repeated.faces.conservativeResize(5, 3);
  repeated.faces.row(4) << 1, 1, 2;
  EXPECT_EQ(CheckMesh(repeated).degenerate_faces, 1);
  EXPECT_EQ(RemoveRepeatedIndexFaces(&repeated), 1);
  EXPECT_EQ(repeated.num_faces(), 4);
}

TEST(CheckMesh, CountsComponents) {
  TriangleMesh a = ssm::MakeIcosphere(1, 1), b = ssm::MakeIcosphere(1, 1, Eigen::Vector3d(5, 0, 0));
  TriangleMesh both;
  both.vertices.resize(a.num_vertices() * 2, 3);
  both.vertices << a.vertices, b.vertices;
  both.faces.resize(a.num_faces() * 2, 3);
  both.faces << a.faces, (b.faces.array() + static_cast<int>(a.num_vertices())).matrix();
  EXPECT_EQ(CheckMesh(both).connected_components, 2);
  EXPECT_TRUE(CheckMesh(both).watertight());
}

}  // namespace
}  // namespace ssmx
