// Mesh readers and writers: real files compared with VTK's own readers and
// with their headers, hand-written files in every encoding, round trips, and
// malformed input.
#include <gtest/gtest.h>
#include <vtkNew.h>
#include <vtkPolyData.h>
#include <vtkSTLReader.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "ssmx/core/error.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/primitives.h"
#include "test_data.h"

namespace ssmx::ssm {
namespace {
namespace fs = std::filesystem;

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// Largest distance between corresponding face corners; faces must match 1:1.
double MaxCornerDistance(const TriangleMesh& a, const TriangleMesh& b) {
  if (a.num_faces() != b.num_faces()) return INFINITY;
  double worst = 0;
  for (Eigen::Index f = 0; f < a.num_faces(); ++f) {
    for (int c = 0; c < 3; ++c) {
      worst = std::max(worst, (a.vertices.row(a.faces(f, c)) - b.vertices.row(b.faces(f, c))).norm());
    }
  }
  return worst;
}

TEST(ReadMesh, StlCountsEqualVtkReaderOnVisibleHumanBones) {
  SSMX_REQUIRE_DATA("meshes/visible_human_lower_limb");
  const fs::path folder = fs::path(testing::DataDir()) / "meshes/visible_human_lower_limb";
  int checked = 0;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().extension() != ".stl") continue;
    const TriangleMesh mesh = ReadMesh(entry.path().string());
    vtkNew<vtkSTLReader> vtk;
    vtk->SetFileName(entry.path().c_str());
    vtk->Update();
    EXPECT_EQ(mesh.num_vertices(), vtk->GetOutput()->GetNumberOfPoints()) << entry.path();
    EXPECT_EQ(mesh.num_faces(), vtk->GetOutput()->GetNumberOfCells()) << entry.path();
    ++checked;
  }
  EXPECT_EQ(checked, 18);  // every STL of the folder
}

TEST(ReadMesh, LegacyVtkCountsEqualItsHeaderOnRealFemurs) {
  SSMX_REQUIRE_DATA("meshes/femur_vsd");
  for (const char* name : {"VSD001_femur.vtk", "VSD002_femur.vtk"}) {
    const std::string path = testing::DataDir() + "/meshes/femur_vsd/" + name;
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::smatch points, polygons;
    ASSERT_TRUE(std::regex_search(text, points, std::regex("POINTS (\\d+) ")));
    ASSERT_TRUE(std::regex_search(text, polygons, std::regex("POLYGONS (\\d+) (\\d+)")));
    // Every polygon of these files is a triangle: size = 4 * count.
    ASSERT_EQ(std::stoll(polygons[2]), 4 * std::stoll(polygons[1]));
    const TriangleMesh mesh = ReadMesh(path);
    EXPECT_EQ(mesh.num_vertices(), std::stoll(points[1]));
    EXPECT_EQ(mesh.num_faces(), std::stoll(polygons[1]));
    const Bounds3d b = ComputeBounds(mesh);
    const double length = b.Extent().maxCoeff();
    EXPECT_GT(length, 420);  // the README: 425-472 mm long
    EXPECT_LT(length, 480);
  }
}

TEST(WriteMesh, RoundTripThroughEveryWriterKeepsVerticesOnRealMeshes) {
  SSMX_REQUIRE_DATA("meshes/femur_vsd");
  const std::string dir = testing::TempDir("mesh_roundtrip");
  for (const std::string source : {"meshes/femur_vsd/VSD001_femur.vtk",
                                   "meshes/visible_human_lower_limb/VHM_Left_Bone_Patella_smooth.stl"}) {
    const TriangleMesh original = ReadMesh(testing::DataDir() + "/" + source);
    for (const std::string ext : {".stl", ".ply", ".obj", ".vtk", ".vtp"}) {
      for (StlEncoding encoding : {StlEncoding::kBinary, StlEncoding::kAscii}) {
        if (encoding == StlEncoding::kAscii && ext != ".stl") continue;
        MeshWriteOptions options;
        options.stl_encoding = encoding;
        const std::string path = dir + "/copy" + ext;
        WriteMesh(original, path, options);
        const TriangleMesh back = ReadMesh(path);
        EXPECT_EQ(back.num_faces(), original.num_faces()) << source << ext;
        EXPECT_LE(MaxCornerDistance(original, back), 1e-6) << source << ext;
        if (ext != ".stl") {
          EXPECT_EQ(back.num_vertices(), original.num_vertices()) << source << ext;
        }
      }
    }
  }
}

TEST(WriteMesh, KeepsNormalsAndScalarsWhereTheFormatCan) {
  TriangleMesh sphere = MakeIcosphere(5, 2);
  Eigen::VectorXd height = sphere.vertices.col(2);
  sphere.scalars["uncertainty_mm"] = height;
  const std::string dir = testing::TempDir("mesh_scalars");
  for (const std::string ext : {".ply", ".vtk", ".vtp"}) {
    WriteMesh(sphere, dir + "/s" + ext);
    const TriangleMesh back = ReadMesh(dir + "/s" + ext);
    ASSERT_EQ(back.scalars.count("uncertainty_mm"), 1u) << ext;
    EXPECT_LE((back.scalars.at("uncertainty_mm") - height).cwiseAbs().maxCoeff(), 1e-5) << ext;
    ASSERT_EQ(back.normals.rows(), sphere.num_vertices()) << ext;
    EXPECT_LE((back.normals - sphere.normals).cwiseAbs().maxCoeff(), 1e-6) << ext;
  }
  // The writers leave no temporary file behind.
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename().string().find(".ssmx-tmp"), std::string::npos);
  }
}

TEST(ReadMesh, ParsesAsciiAndBigEndianPlyWithPolygonsAndExtraProperties) {
  const std::string dir = testing::TempDir("ply_formats");
  // A unit square as one quad plus a triangle, with a per-vertex "quality".
  WriteBytes(dir + "/a.ply",
             "ply\nformat ascii 1.0\ncomment hand written\nelement vertex 5\nproperty float x\n"
             "property float y\nproperty float z\nproperty uchar quality\nelement face 2\n"
             "property list uchar int vertex_indices\nend_header\n"
             "0 0 0 1\n1 0 0 2\n1 1 0 3\n0 1 0 4\n0.5 0.5 1 5\n4 0 1 2 3\n3 0 1 4\n");
  MeshReadReport report;
  TriangleMesh a = ReadMesh(dir + "/a.ply", &report);
  EXPECT_EQ(report.format, "PLY (ascii)");
  EXPECT_EQ(a.num_vertices(), 5);
  EXPECT_EQ(a.num_faces(), 3);  // the quad becomes two triangles
  EXPECT_EQ(report.polygons_triangulated, 1);
  ASSERT_EQ(a.scalars.count("quality"), 1u);
  EXPECT_EQ(a.scalars["quality"][4], 5);
  EXPECT_EQ(a.vertices(4, 2), 1.0);

  // The same triangle in big-endian binary, bytes written by hand.
  std::string be = "ply\nformat binary_big_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                   "property float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n";
  auto put_float = [&](float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int s = 24; s >= 0; s -= 8) be.push_back(static_cast<char>((u >> s) & 0xff));
  };
  for (float f : {0.f, 0.f, 0.f, 2.5f, 0.f, 0.f, 0.f, -1.25f, 0.f}) put_float(f);
  be.push_back(3);
  for (int i : {0, 1, 2}) {
    for (int s = 24; s >= 0; s -= 8) be.push_back(static_cast<char>((i >> s) & 0xff));
  }
  WriteBytes(dir + "/be.ply", be);
  const TriangleMesh b = ReadMesh(dir + "/be.ply");
  EXPECT_EQ(b.vertices(1, 0), 2.5);
  EXPECT_EQ(b.vertices(2, 1), -1.25);
  EXPECT_EQ(b.faces(0, 2), 2);
}

TEST(ReadMesh, ParsesObjWithQuadsNegativeIndicesAndTextureCorners) {
  const std::string dir = testing::TempDir("obj_formats");
  WriteBytes(dir + "/q.obj",
             "# a quad and a triangle\nv 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nvt 0 0\nvn 0 0 1\n"
             "f 1/1/1 2/1/1 3/1/1 4/1/1\nv 0 0 2\nf -5 -4 -1\n");
  MeshReadReport report;
  const TriangleMesh m = ReadMesh(dir + "/q.obj", &report);
  EXPECT_EQ(m.num_vertices(), 5);
  EXPECT_EQ(m.num_faces(), 3);
  EXPECT_EQ(m.faces.row(2), Eigen::RowVector3i(0, 1, 4));
  EXPECT_EQ(report.polygons_triangulated, 1);
}

TEST(ReadMesh, AsciiStlWeldsSharedCorners) {
  const std::string dir = testing::TempDir("stl_ascii");
  WriteBytes(dir + "/t.stl",
             "solid two\nfacet normal 0 0 1\n outer loop\n  vertex 0 0 0\n  vertex 1 0 0\n  vertex 0 1 0\n"
             " endloop\nendfacet\nfacet normal 0 0 1\n outer loop\n  vertex 1 0 0\n  vertex 1 1 0\n"
             "  vertex 0 1 0\n endloop\nendfacet\nendsolid two\n");
  MeshReadReport report;
  const TriangleMesh m = ReadMesh(dir + "/t.stl", &report);
  EXPECT_EQ(report.format, "STL (ASCII)");
  EXPECT_EQ(m.num_vertices(), 4);
  EXPECT_EQ(m.num_faces(), 2);
}

// Malformed files: a clear InvalidInput naming the file, never a crash.
void ExpectRefused(const std::string& path, const std::string& fragment) {
  try {
    ReadMesh(path);
    ADD_FAILURE() << path << " was accepted";
  } catch (const InvalidInput& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
  }
}

TEST(ReadMesh, RefusesMalformedFilesWithAClearReason) {
  const std::string dir = testing::TempDir("mesh_garbage");
  WriteBytes(dir + "/empty.stl", "");
  ExpectRefused(dir + "/empty.stl", "empty (0 bytes)");

  std::string truncated(84, '\0');
  const uint32_t n = 1000;
  std::memcpy(&truncated[80], &n, 4);
  truncated += std::string(50 * 10, '\0');
  WriteBytes(dir + "/truncated.stl", truncated);
  ExpectRefused(dir + "/truncated.stl", "truncated");

  WriteBytes(dir + "/past.ply",
             "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
             "element face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n");
  ExpectRefused(dir + "/past.ply", "face 0 refers to vertex 7 but the mesh has 3 vertices");

  WriteBytes(dir + "/huge.ply",
             "ply\nformat binary_little_endian 1.0\nelement vertex 4000000000\nproperty float x\n"
             "property float y\nproperty float z\nend_header\n" + std::string(64, '\0'));
  ExpectRefused(dir + "/huge.ply", "more than the file can hold");

  WriteBytes(dir + "/short.ply",
             "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
             "end_header\n0 0 0\n1 0\n");
  ExpectRefused(dir + "/short.ply", "truncated");

  WriteBytes(dir + "/bad.obj", "v 0 0 0\nv 1 0 0\nf 1 2 3\n");
  ExpectRefused(dir + "/bad.obj", "face refers to vertex 3");

  WriteBytes(dir + "/nan.obj", "v 0 0 nan\nv 1 0 0\nv 0 1 0\nf 1 2 3\n");
  EXPECT_THROW(ReadMesh(dir + "/nan.obj"), InvalidInput);

  WriteBytes(dir + "/junk.vtk", "this is not a VTK file\n");
  ExpectRefused(dir + "/junk.vtk", "not a legacy VTK file");

  WriteBytes(dir + "/junk.vtp", "<VTKFile type=\"PolyData\"><broken");
  EXPECT_THROW(ReadMesh(dir + "/junk.vtp"), InvalidInput);

  EXPECT_THROW(ReadMesh(dir + "/missing.stl"), IoError);
  EXPECT_THROW(ReadMesh(dir + "/x.off"), Error);
}

TEST(WriteMesh, RefusesInvalidMeshesAndMissingFolders) {
  TriangleMesh bad = MakeIcosphere(1, 0);
  bad.faces(0, 0) = 99;
  EXPECT_THROW(WriteMesh(bad, testing::TempDir("w") + "/bad.stl"), InvalidInput);
  EXPECT_THROW(WriteMesh(MakeIcosphere(1, 0), "/nonexistent-folder/x.stl"), IoError);
  EXPECT_THROW(WriteMesh(MakeIcosphere(1, 0), testing::TempDir("w2") + "/x.off"), InvalidInput);
}

}  // namespace
}  // namespace ssmx::ssm
