// The detector model (intensities, Poisson noise), X-ray image files with their
// sidecars, mesh path lengths and slab-wise CT reading.
#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <cmath>
#include <fstream>
#include <numeric>

#include "../ssm/test_data.h"
#include "analytic.h"
#include "ssmx/core/error.h"
#include "ssmx/drr/detector.h"
#include "ssmx/drr/mesh_projection.h"
#include "ssmx/drr/projector.h"
#include "ssmx/drr/xray_image_io.h"
#include "ssmx/ssm/primitives.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::drr {
namespace {

Image2D Ramp(int rows, int cols, ImageQuantity quantity) {
  Image2D image(rows, cols);
  image.quantity = quantity;
  for (int v = 0; v < rows; ++v)
    for (int u = 0; u < cols; ++u) image.at(v, u) = 0.01f * u + 0.1f * v;
  return image;
}

TEST(Detector, IntensityFollowsBeerLambertAsDocumented) {
  Image2D l(1, 2);
  l.quantity = ImageQuantity::kLineIntegral;
  l.pixels = {4.5298f, 4.118f};  // docs/geometry.md section 7
  const Image2D i = IntensityFromLineIntegral(l, 10000);
  EXPECT_NEAR(i.pixels[0], 107.83, 0.01);
  EXPECT_NEAR(i.pixels[1], 162.77, 0.01);
  EXPECT_EQ(i.quantity, ImageQuantity::kIntensity);
  const Image2D back = LineIntegralFromIntensity(i, 10000);
  EXPECT_NEAR(back.pixels[0], 4.5298, 1e-5);
  EXPECT_THROW(IntensityFromLineIntegral(i, 10000), InvalidInput);  // not a line integral
  EXPECT_THROW(IntensityFromLineIntegral(l, -1), InvalidInput);
}

TEST(Detector, PoissonNoiseHasPoissonMomentsAndIsReproducible) {
  for (double mean : {0.7, 4.0, 25.0, 1000.0, 1e5}) {
    const int n = 200000;
    double sum = 0, sum2 = 0;
    for (int k = 0; k < n; ++k) {
      const double x = static_cast<double>(PoissonDraw(mean, 99, k));
      sum += x;
      sum2 += x * x;
    }
    const double m = sum / n, var = sum2 / n - m * m;
    // Standard error of the mean is sqrt(mean/n); allow 5 of them. The sample
    // variance of a Poisson variable has relative spread about sqrt(2/n).
    EXPECT_NEAR(m, mean, 5 * std::sqrt(mean / n)) << mean;
    EXPECT_NEAR(var / mean, 1.0, 5 * std::sqrt(2.0 / n) + 5.0 / n) << mean;
  }
  // P(X = 0) for mean 0.7 is exp(-0.7).
  int zeros = 0;
  for (int k = 0; k < 100000; ++k) zeros += PoissonDraw(0.7, 5, k) == 0;
  EXPECT_NEAR(zeros / 1e5, std::exp(-0.7), 0.005);
  EXPECT_EQ(PoissonDraw(123.4, 1, 17), PoissonDraw(123.4, 1, 17));
  Image2D l = Ramp(32, 32, ImageQuantity::kLineIntegral);
  const Image2D a = IntensityFromLineIntegral(l, 1e4, 42),
                b = IntensityFromLineIntegral(l, 1e4, 42),
                c = IntensityFromLineIntegral(l, 1e4, 43);
  EXPECT_EQ(a.pixels, b.pixels);
  EXPECT_NE(a.pixels, c.pixels);
}

TEST(XrayImageIo, EveryFormatRoundTripsWithItsSidecar) {
  const std::string dir = ssmx::testing::TempDir("xray_io");
  Sidecar sidecar;
  CarmGeometry detector;
  detector.rows = 40;
  detector.cols = 50;
  sidecar.geometry = ProjectionGeometry::Named(NamedView::kLAT, Eigen::Vector3d(1, 2, 3), detector);
  const Image2D image = Ramp(40, 50, ImageQuantity::kLineIntegral);
  for (const char* name : {"a.png", "b.tiff", "c.mha", "d.nii.gz", "e.nrrd"}) {
    const std::string path = dir + "/" + name;
    WriteXrayImage(image, sidecar, path);
    const XrayImage back = ReadXrayImage(path);
    ASSERT_EQ(back.image.rows, 40);
    ASSERT_EQ(back.image.cols, 50);
    // PNG: 16 bits over the default window [0, ceil(max)] = [0, 5].
    const double tolerance = std::string(name) == "a.png" ? 0.5 * 5.0 / 65535 + 1e-6 : 0.0;
    for (size_t n = 0; n < image.pixels.size(); ++n) {
      ASSERT_NEAR(back.image.pixels[n], image.pixels[n], tolerance) << name;
    }
    EXPECT_EQ(back.image.quantity, ImageQuantity::kLineIntegral);
    EXPECT_LT((back.sidecar.geometry.matrix() - sidecar.geometry.matrix()).norm(), 1e-9);
  }
  // The PNG's window is recorded: value = low + (high - low) * png / 65535.
  const XrayImage png = ReadXrayImage(dir + "/a.png");
  ASSERT_TRUE(png.sidecar.png_window.has_value());
  EXPECT_DOUBLE_EQ((*png.sidecar.png_window)[1], 5.0);
  // A sidecar that does not match the image size is refused, naming the file.
  Sidecar wrong = sidecar;
  detector.rows = 41;
  wrong.geometry = ProjectionGeometry::Named(NamedView::kLAT, Eigen::Vector3d(1, 2, 3), detector);
  WriteSidecar(wrong, dir + "/a.json");
  try {
    ReadXrayImage(dir + "/a.png");
    FAIL() << "accepted a sidecar of the wrong size";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("a.png"), std::string::npos);
  }
  EXPECT_THROW(WriteXrayImage(image, wrong, dir + "/b.png"), InvalidInput);
  EXPECT_THROW(WriteXrayImage(image, sidecar, dir + "/b.jpg"), InvalidInput);
  EXPECT_THROW(ReadXrayImage(dir + "/missing.png"), IoError);
  std::ofstream(dir + "/junk.png") << "not a png";
  WriteSidecar(sidecar, dir + "/junk.json");
  EXPECT_THROW(ReadXrayImage(dir + "/junk.png"), InvalidInput);
}

// A closed box mesh (12 triangles, outward) with corners lo and hi.
TriangleMesh BoxMesh(const Eigen::Vector3d& lo, const Eigen::Vector3d& hi) {
  TriangleMesh mesh;
  mesh.vertices.resize(8, 3);
  for (int c = 0; c < 8; ++c) {
    mesh.vertices.row(c) << ((c & 1) ? hi.x() : lo.x()), ((c & 2) ? hi.y() : lo.y()),
        ((c & 4) ? hi.z() : lo.z());
  }
  mesh.faces.resize(12, 3);
  mesh.faces << 0, 2, 1, 1, 2, 3,  // z = lo
      4, 5, 6, 5, 7, 6,            // z = hi
      0, 1, 4, 1, 5, 4,            // y = lo
      2, 6, 3, 3, 6, 7,            // y = hi
      0, 4, 2, 2, 4, 6,            // x = lo
      1, 3, 5, 3, 7, 5;            // x = hi
  return mesh;
}

TEST(MeshProjection, BoxPathLengthsAreTheAnalyticChords) {
  const Eigen::Vector3d lo(-20, -15, -25), hi(18, 22, 30);
  const TriangleMesh box = BoxMesh(lo, hi);
  ASSERT_GT(CheckMesh(box).enclosed_volume_mm3, 0);
  const Eigen::Matrix3d oblique =
      Eigen::AngleAxisd(0.4, Eigen::Vector3d(1, -2, 0.5).normalized()).toRotationMatrix() *
      NamedViewRotation(NamedView::kAP);
  CarmGeometry detector;
  detector.rows = detector.cols = 96;
  detector.pixel_spacing_u_mm = detector.pixel_spacing_v_mm = 1.1;
  detector.rotation = oblique;
  const ProjectionGeometry view = ProjectionGeometry::FromCarm(detector);
  const Image2D image = ProjectMeshPathLength(box, view);
  EXPECT_EQ(image.quantity, ImageQuantity::kPathLength);
  double worst = 0;
  int inside = 0;
  for (int v = 0; v < image.rows; ++v) {
    for (int u = 0; u < image.cols; ++u) {
      const double truth =
          ssmx::testing::BoxChord(view.SourcePosition(), view.DetectorPoint(u, v), lo, hi);
      worst = std::max(worst, std::abs(image.at(v, u) - truth));
      inside += truth > 0;
    }
  }
  EXPECT_GT(inside, 1000);
  EXPECT_LT(worst, 1e-3);
}

TEST(MeshProjection, SphereMaskLinesUpWithTheVoxelisedSphere) {
  // A fine icosphere and the same sphere voxelised with partial volume: their
  // path-length images agree, and their masks overlap with IoU >= 0.99.
  ssmx::testing::Ellipsoid sphere;
  sphere.center = Eigen::Vector3d(2, -3, 4);
  sphere.radii = Eigen::Vector3d::Constant(30);
  const TriangleMesh mesh = ssm::MakeIcosphere(30, 5, sphere.center);
  VolumeGeometry g;
  g.size = Eigen::Vector3i::Constant(132);
  g.spacing_mm = Eigen::Vector3d::Constant(0.5);
  g.origin_mm = sphere.center - Eigen::Vector3d::Constant(32.75);
  Volume volume(g, VoxelType::kFloat32);
  ssmx::testing::AddEllipsoid(&volume, sphere, 1.0f, 4);
  // An oblique view: along a grid axis, each ray sees one column of voxels
  // whose partial-volume values average the chord over the column's cross
  // section, a staircase of up to half a millimetre at the rim.
  CarmGeometry detector;
  detector.rows = detector.cols = 256;
  detector.pixel_spacing_u_mm = detector.pixel_spacing_v_mm = 1.0;
  detector.rotation =
      Eigen::AngleAxisd(0.5, Eigen::Vector3d(1, 2, 2).normalized()).toRotationMatrix() *
      NamedViewRotation(NamedView::kLAT);
  detector.isocenter_mm = sphere.center;
  const ProjectionGeometry view = ProjectionGeometry::FromCarm(detector);
  const Image2D from_mesh = ProjectMeshPathLength(mesh, view);
  const Image2D from_volume = Project(PreparedVolume::FromAttenuation(volume), view);
  int64_t both = 0, either = 0;
  double worst_central = 0;
  for (size_t n = 0; n < from_mesh.pixels.size(); ++n) {
    // Masks at 1 mm of path: the partial-volume rim is half a voxel wide.
    const bool a = from_mesh.pixels[n] > 1.0, b = from_volume.pixels[n] > 1.0;
    both += a && b;
    either += a || b;
    if (from_mesh.pixels[n] > 50) {  // well inside the silhouette
      worst_central = std::max(
          worst_central, static_cast<double>(std::abs(from_mesh.pixels[n] - from_volume.pixels[n]) /
                                             from_mesh.pixels[n]));
    }
  }
  EXPECT_GE(static_cast<double>(both) / either, 0.99);
  EXPECT_LT(worst_central, 0.01);
  std::printf("icosphere vs voxelised sphere: IoU %.4f, worst central %.4f\n",
              static_cast<double>(both) / either, worst_central);
}

TEST(MeshProjection, RefusesOpenAndInwardMeshes) {
  TriangleMesh box = BoxMesh(Eigen::Vector3d(-5, -5, -5), Eigen::Vector3d(5, 5, 5));
  const ProjectionGeometry view =
      ProjectionGeometry::Named(NamedView::kAP, Eigen::Vector3d::Zero());
  TriangleMesh open = box;
  open.faces.conservativeResize(11, 3);
  EXPECT_THROW(ProjectMeshPathLength(open, view), InvalidInput);
  TriangleMesh inward = box;
  inward.faces.col(1).swap(inward.faces.col(2));
  EXPECT_THROW(ProjectMeshPathLength(inward, view), InvalidInput);
}

TEST(PreparedVolume, SlabWiseReadingEqualsTheWholeVolume) {
  const std::string dir = ssmx::testing::TempDir("slabs");
  VolumeGeometry g;
  g.size = Eigen::Vector3i(20, 17, 23);
  g.spacing_mm = Eigen::Vector3d(0.7, 0.9, 1.3);
  g.origin_mm = Eigen::Vector3d(-5, 3, 8);
  g.direction = Eigen::AngleAxisd(0.3, Eigen::Vector3d::UnitZ()).toRotationMatrix();
  Volume ct(g, VoxelType::kInt16);
  for (int k = 0; k < 23; ++k)
    for (int j = 0; j < 17; ++j)
      for (int i = 0; i < 20; ++i)
        ct.Set(i, j, k, static_cast<float>((i * 37 + j * 11 + k * 5) % 2000 - 1000));
  for (const char* name : {"ct.mha", "ct.nii", "ct.nii.gz"}) {
    const std::string path = dir + "/" + name;
    ssm::WriteVolume(ct, path);
    const PreparedVolume slabs = PreparedVolume::ReadHounsfield(path);
    const PreparedVolume whole = PreparedVolume::FromHounsfield(ct);
    ASSERT_EQ(slabs.geometry().size, g.size);
    EXPECT_LT((slabs.geometry().direction - g.direction).norm(), 1e-6);
    for (int64_t n = 0; n < ct.num_voxels(); ++n)
      ASSERT_EQ(slabs.data()[n], whole.data()[n]) << name;
  }
}

}  // namespace
}  // namespace ssmx::drr
