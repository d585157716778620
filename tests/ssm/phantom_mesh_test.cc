// Tests of the phantom meshes and cohort files: byte reproducibility, the
// parameters in cohort.json reproduce the meshes, correspondence of the
// template-mapped meshes, agreement with the independently meshed surface and
// with the CT thresholded at 250 HU, and anatomical measurements on the mesh.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "ssmx/core/error.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/phantom.h"
#include "ssmx/ssm/surface.h"
#include "ssmx/ssm/surface_distance.h"
#include "test_data.h"

namespace ssmx::ssm {
namespace {

namespace fs = std::filesystem;
using Eigen::Vector3d;
constexpr double kPi = 3.14159265358979323846;

PhantomMeshOptions SmallMesh() {
  PhantomMeshOptions o;
  o.spacing_mm = 0.8;
  o.target_faces = 6000;
  return o;
}

const FemurTemplate& Template() {
  static const FemurTemplate t = MakeFemurTemplate(SmallMesh());
  return t;
}

std::string Bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Least-squares sphere through points (algebraic fit): centre and radius.
std::pair<Vector3d, double> FitSphere(const std::vector<Vector3d>& p) {
  Eigen::MatrixXd a(p.size(), 4);
  Eigen::VectorXd b(p.size());
  for (size_t i = 0; i < p.size(); ++i) {
    a.row(i) << 2 * p[i].x(), 2 * p[i].y(), 2 * p[i].z(), 1.0;
    b[i] = p[i].squaredNorm();
  }
  const Eigen::Vector4d x = a.colPivHouseholderQr().solve(b);
  const Vector3d c = x.head<3>();
  return {c, std::sqrt(x[3] + c.squaredNorm())};
}

TEST(PhantomCohort, SameSeedGivesByteIdenticalFiles) {
  PhantomCohortOptions options;
  options.n = 2;
  options.seed = 17;
  options.sides = CohortSides::kAlternate;
  options.remeshed = true;
  options.ct = true;
  options.mesh = SmallMesh();
  options.mesh.spacing_mm = 1.2;
  options.mesh.target_faces = 3000;
  options.ct_options.spacing_mm = 2.5;
  options.ct_options.noise_sd_hu = 15;
  const std::string a = testing::TempDir("phantom_a"), b = testing::TempDir("phantom_b");
  const PhantomCohortSummary sa = WritePhantomCohort(a, options);
  WritePhantomCohort(b, options);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(a)) {
    const fs::path other = fs::path(b) / entry.path().filename();
    ASSERT_TRUE(fs::exists(other)) << other;
    EXPECT_EQ(Bytes(entry.path()), Bytes(other)) << entry.path().filename();
    ++files;
  }
  EXPECT_EQ(files, 2 + 2 * 3);  // template, cohort.json, and mesh + remeshed + CT per femur
  // A different seed gives different shapes.
  options.seed = 18;
  options.ct = false;
  options.remeshed = false;
  const std::string c = testing::TempDir("phantom_c");
  WritePhantomCohort(c, options);
  EXPECT_NE(Bytes(fs::path(a) / "femur_000.ply"), Bytes(fs::path(c) / "femur_000.ply"));
  // Every corresponding mesh has the template's vertices and faces, and the
  // left femur (alternate sides) is outward oriented too.
  for (const auto& s : sa.subjects) {
    const TriangleMesh m = ReadMesh(s.mesh_path);
    EXPECT_EQ(m.num_vertices(), sa.template_vertices);
    EXPECT_EQ(m.num_faces(), sa.template_faces);
    const MeshCheck check = CheckMesh(m);
    EXPECT_TRUE(check.watertight());
    EXPECT_GT(check.enclosed_volume_mm3, 1e5);
    EXPECT_EQ(s.correspondence.flipped_faces, 0);
    EXPECT_LT(s.remeshed_mean_distance_mm, 0.2);  // coarse (3000-face) meshes
  }
}

TEST(PhantomCohort, ParametersInTheJsonReproduceTheMeshes) {
  PhantomCohortOptions options;
  options.n = 3;
  options.seed = 5;
  options.mesh = SmallMesh();
  options.mesh.spacing_mm = 1.2;
  const std::string dir = testing::TempDir("phantom_json");
  WritePhantomCohort(dir, options);
  const std::vector<FemurParameters> parameters = ReadPhantomCohortParameters(dir + "/cohort.json");
  ASSERT_EQ(parameters.size(), 3u);
  const FemurTemplate t = MakeFemurTemplate(options.mesh);
  for (int i = 0; i < 3; ++i) {
    const TriangleMesh written = ReadMesh(dir + "/femur_00" + std::to_string(i) + ".ply");
    const TriangleMesh again =
        CorrespondingFemurMesh(t, PhantomFemur(parameters[i]), options.mesh.snap_iterations);
    ASSERT_EQ(written.num_vertices(), again.num_vertices());
    EXPECT_LT((written.vertices - again.vertices).cwiseAbs().maxCoeff(), 1e-6);
    EXPECT_TRUE(written.faces == again.faces);
  }
  EXPECT_THROW(ReadPhantomCohortParameters(dir + "/femur_000.ply"), InvalidInput);
  EXPECT_THROW(ReadPhantomCohortParameters(dir + "/missing.json"), IoError);
}

// The corresponding mesh and the independently extracted surface of the same
// femur agree, and both lie on the implicit surface.
TEST(PhantomMesh, CorrespondingAndRemeshedSurfacesAgree) {
  for (const FemurParameters& p : SampleFemurParameters(3, 2, CohortSides::kAlternate)) {
    const PhantomFemur femur(p);
    CorrespondenceReport report;
    const TriangleMesh corresponding = CorrespondingFemurMesh(Template(), femur, 8, &report);
    const TriangleMesh remeshed = MeshPhantomFemur(femur, SmallMesh());
    EXPECT_LT(report.max_residual_mm, 1e-3);
    EXPECT_EQ(report.flipped_faces, 0);
    EXPECT_TRUE(CheckMesh(remeshed).watertight());
    const SurfaceDistanceSummary d = ComputeSurfaceDistance(corresponding, remeshed);
    EXPECT_LT(d.mean_mm, 0.1);
    EXPECT_LT(d.hausdorff_mm, 1.0);
    std::printf(
        "femur: snap max %.2f mean %.3f mm; corresponding vs remeshed mean %.3f p95 %.3f max %.3f "
        "mm\n",
        report.max_snap_mm, report.mean_snap_mm, d.mean_mm, d.p95_mm, d.hausdorff_mm);
  }
}

// Named landmark vertices of the template follow the anatomy of every subject.
TEST(PhantomMesh, LandmarkVerticesStayOnTheirLandmarks) {
  for (const FemurParameters& p : SampleFemurParameters(5, 8)) {
    const PhantomFemur femur(p);
    const TriangleMesh mesh = CorrespondingFemurMesh(Template(), femur);
    const LandmarkMap truth = femur.Landmarks();
    for (const auto& [name, index] : Template().landmark_vertices) {
      // Extremal points defined in the world (highest head point, lowest
      // condyle points) slide over the surface with the pose: not anatomical.
      if (name == "femoral_head_top" || name.find("condyle_distal") != std::string::npos) continue;
      const double error = (mesh.vertices.row(index).transpose() - truth.at(name)).norm();
      EXPECT_LT(error, 3.0) << name;
    }
  }
}

// Measurements on the corresponding mesh against the true parameters:
// femoral length, head radius and centre (sphere fit)
// (the neck-shaft angle is checked exactly on the frame and the deformation
// in phantom_test.cc).
TEST(PhantomMesh, MeshMeasuresMatchTheParameters) {
  for (const FemurParameters& p : SampleFemurParameters(5, 31, CohortSides::kAlternate)) {
    const PhantomFemur femur(p);
    const TriangleMesh mesh = CorrespondingFemurMesh(Template(), femur);
    const Bounds3d b = ComputeBounds(mesh);
    EXPECT_NEAR(b.max.z() - b.min.z(), p.length_mm, 0.3);
    std::vector<Vector3d> head;
    for (int i : Template().head_vertices) head.push_back(mesh.vertices.row(i).transpose());
    ASSERT_GT(head.size(), 50u);
    const auto [centre, radius] = FitSphere(head);
    EXPECT_NEAR(radius, p.head_radius_mm, 0.1);
    EXPECT_LT((centre - femur.Landmarks().at("femoral_head_center")).norm(), 0.2);
  }
}

// The CT thresholded at 250 HU and meshed by the extraction path matches the
// femur's mesh.
TEST(PhantomCt, ThresholdedCtMatchesTheMesh) {
  const FemurParameters p = SampleFemurParameters(1, 4)[0];
  const PhantomFemur femur(p);
  PhantomCtOptions options;
  options.spacing_mm = 0.8;
  const Volume ct = SynthesizePhantomCt(femur, options);
  const TriangleMesh from_ct = ExtractIsoSurface(ct, 250.0);
  const TriangleMesh truth = CorrespondingFemurMesh(Template(), femur);
  const SurfaceDistanceSummary d = ComputeSurfaceDistance(from_ct, truth);
  std::printf("CT at 250 HU vs mesh: mean %.3f, p95 %.3f, max %.3f mm\n", d.mean_mm, d.p95_mm,
              d.hausdorff_mm);
  EXPECT_LE(d.mean_mm, 0.5);
  EXPECT_TRUE(CheckMesh(from_ct).watertight());
}

}  // namespace
}  // namespace ssmx::ssm
