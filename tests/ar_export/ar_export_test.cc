// Unit tests of ssmx::ar_export against hand-computed values, published
// colormap end points and the file-format specifications. The heavier
// independent checks (Khronos validator, Chromium, tinyusdz, Blender, Python
// zipfile) run from run_check.sh.
#include <gtest/gtest.h>

#include <Eigen/Geometry>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ssmx/ar_export/colormap.h"
#include "ssmx/ar_export/export.h"
#include "ssmx/ar_export/frame.h"
#include "ssmx/ar_export/gltf_writer.h"
#include "ssmx/ar_export/interchange.h"
#include "ssmx/ar_export/usdz_writer.h"
#include "ssmx/ar_export/viewer.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/primitives.h"

namespace ssmx::ar_export {
namespace {

namespace fs = std::filesystem;

uint32_t U32(const std::string& bytes, size_t at) {
  uint32_t v;
  std::memcpy(&v, bytes.data() + at, 4);
  return v;
}
uint16_t U16(const std::string& bytes, size_t at) {
  uint16_t v;
  std::memcpy(&v, bytes.data() + at, 2);
  return v;
}

nlohmann::json GlbJson(const std::string& glb) {
  return nlohmann::json::parse(glb.substr(20, U32(glb, 12)));
}

Scene SphereScene(double radius = 20, Eigen::Vector3d centre = Eigen::Vector3d(10, -30, 500)) {
  Scene scene;
  Structure s;
  s.name = "femur_left";
  s.side = InferSide(s.name);
  s.mesh = ssm::MakeIcosphere(radius, 3, centre);
  scene.structures.push_back(s);
  return scene;
}

fs::path TempDir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("ssmx_ar_test_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(Frame, IsAScaledProperRotation) {
  const Eigen::Matrix3d m = ArFromLps() / kMetresPerMillimetre;
  EXPECT_NEAR(m.determinant(), 1.0, 1e-15);
  EXPECT_TRUE((m * m.transpose()).isIdentity(1e-15));
}

TEST(Frame, MapsTheGeometryDocExample) {
  // docs/geometry.md section 8: LPS (10, 20, 30) mm -> (0.010, 0.030, -0.020) m.
  TriangleMesh mesh;
  mesh.vertices.resize(3, 3);
  mesh.vertices << 10, 20, 30, 0, 0, 0, 0, 0, 1;
  mesh.faces.resize(1, 3);
  mesh.faces << 0, 1, 2;
  const TriangleMesh ar = ToArFrame(mesh);
  EXPECT_NEAR(ar.vertices(0, 0), 0.010, 1e-15);
  EXPECT_NEAR(ar.vertices(0, 1), 0.030, 1e-15);
  EXPECT_NEAR(ar.vertices(0, 2), -0.020, 1e-15);
  // Superior (+z_lps) is up (+Y), anterior (-y_lps) faces the viewer (+Z),
  // the patient's left (+x_lps) is +X.
  const Eigen::Matrix3d m = ArFromLps();
  EXPECT_GT((m * Eigen::Vector3d::UnitZ()).y(), 0);
  EXPECT_GT((m * -Eigen::Vector3d::UnitY()).z(), 0);
  EXPECT_GT((m * Eigen::Vector3d::UnitX()).x(), 0);
}

TEST(Frame, KeepsOutwardNormalsOutward) {
  const Eigen::Vector3d centre(10, -30, 500);
  const TriangleMesh ar = ToArFrame(ssm::MakeIcosphere(20, 3, centre));
  const Eigen::Vector3d c = ArFromLps() * centre;
  const MeshCheck check = CheckMesh(ar);
  EXPECT_GT(check.enclosed_volume_mm3, 0);  // units are m^3 here; the sign is what matters
  for (Eigen::Index v = 0; v < ar.num_vertices(); ++v) {
    EXPECT_GT(ar.normals.row(v).dot(ar.vertices.row(v) - c.transpose()), 0) << v;
    EXPECT_NEAR(ar.normals.row(v).norm(), 1.0, 1e-12);
  }
  EXPECT_NEAR(ar.vertices.rowwise().norm().maxCoeff(), (c.norm()), 0.021);
}

TEST(Colormap, EndPointsAreThePublishedOnes) {
  // The first and last entries of matplotlib's tables as published hex codes.
  EXPECT_EQ(ColorHex(SampleColormap(Colormap::kViridis, 0)), "#440154");
  EXPECT_EQ(ColorHex(SampleColormap(Colormap::kViridis, 1)), "#fde725");
  EXPECT_EQ(ColorHex(SampleColormap(Colormap::kMagma, 0)), "#000004");
  EXPECT_EQ(ColorHex(SampleColormap(Colormap::kMagma, 1)), "#fcfdbf");
  EXPECT_EQ(ColorHex(SampleColormap(Colormap::kInferno, 1)), "#fcffa4");
  EXPECT_EQ(ColorHex(SampleColormap(Colormap::kPlasma, 0)), "#0d0887");
  EXPECT_EQ(ColorHex(SampleColormap(Colormap::kPlasma, 1)), "#f0f921");
  // viridis' midpoint is the teal #21918c (entry 128 of 256; t = 128/255).
  EXPECT_EQ(ColorHex(SampleColormap(Colormap::kViridis, 128.0 / 255.0)), "#21918c");
  // Clamped outside [0, 1], NaN at the low end.
  EXPECT_EQ(ColorHex(SampleColormap(Colormap::kViridis, -3)), "#440154");
  EXPECT_EQ(ColorHex(SampleColormap(Colormap::kViridis, 7)), "#fde725");
  EXPECT_EQ(ColorHex(SampleColormap(Colormap::kViridis, std::nan(""))), "#440154");
}

TEST(Colormap, InterpolatesLinearlyBetweenEntries) {
  const Eigen::Vector3d a = SampleColormap(Colormap::kMagma, 10 / 255.0);
  const Eigen::Vector3d b = SampleColormap(Colormap::kMagma, 11 / 255.0);
  const Eigen::Vector3d mid = SampleColormap(Colormap::kMagma, 10.5 / 255.0);
  EXPECT_TRUE(mid.isApprox(0.5 * (a + b), 1e-12));
}

TEST(Colormap, ParsesNamesAndRefusesOthers) {
  EXPECT_EQ(ParseColormap("Viridis"), Colormap::kViridis);
  EXPECT_EQ(ParseColormap("plasma"), Colormap::kPlasma);
  try {
    ParseColormap("jet");
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("\"jet\""), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("viridis, magma, inferno, plasma"), std::string::npos);
  }
}

TEST(Color, SrgbTransferFunctionMatchesIec61966) {
  EXPECT_NEAR(SrgbToLinear(0.5), 0.214041140, 1e-9);  // ((0.5 + 0.055) / 1.055)^2.4
  EXPECT_NEAR(SrgbToLinear(0.04), 0.04 / 12.92, 1e-15);
  EXPECT_DOUBLE_EQ(SrgbToLinear(1.0), 1.0);
  for (double x = 0; x <= 1; x += 0.01) EXPECT_NEAR(LinearToSrgb(SrgbToLinear(x)), x, 1e-12);
}

TEST(Color, ParsesHexShortHexAndNames) {
  EXPECT_TRUE(ParseColor("#e3dac9").isApprox(Eigen::Vector3d(227, 218, 201) / 255.0));
  EXPECT_TRUE(ParseColor("FFF").isApprox(Eigen::Vector3d::Ones()));
  EXPECT_EQ(ColorHex(ParseColor("bone")), "#e3dac9");
  EXPECT_THROW(ParseColor("#12345"), InvalidInput);
  EXPECT_THROW(ParseColor("#gg0000"), InvalidInput);
  EXPECT_THROW(ParseColor("bonez"), InvalidInput);
}

TEST(Scene, InfersSidesFromNames) {
  EXPECT_EQ(InferSide("femur_left"), "left");
  EXPECT_EQ(InferSide("Tibia-R"), "right");
  EXPECT_EQ(InferSide("VHF_Right_Bone_Tibia"), "right");
  EXPECT_EQ(InferSide("pelvis"), "");
  EXPECT_EQ(InferSide("leftover"), "");
}

TEST(Scene, RefusesBadScenesWithNamedReasons) {
  Scene empty;
  EXPECT_THROW(ValidateScene(empty), InvalidInput);
  Scene twice = SphereScene();
  twice.structures.push_back(twice.structures[0]);
  try {
    ValidateScene(twice);
    FAIL();
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find("femur_left"), std::string::npos);
  }
  Scene heat = SphereScene();
  heat.has_heat_map = true;
  heat.heat_map.scalar = "uncertainty_mm";
  EXPECT_THROW(ValidateScene(heat), InvalidInput);  // no structure has it
  heat.structures[0].mesh.scalars["uncertainty_mm"] =
      Eigen::VectorXd::Ones(heat.structures[0].mesh.num_vertices());
  heat.structures[0].mesh.scalars["uncertainty_mm"][5] = std::nan("");
  EXPECT_THROW(ValidateScene(heat), InvalidInput);
  Scene bad_color = SphereScene();
  bad_color.structures[0].color_srgb = Eigen::Vector3d(1.5, 0, 0);
  EXPECT_THROW(ValidateScene(bad_color), InvalidInput);
}

TEST(Glb, HasTheGlbLayoutAndExactBounds) {
  const Scene scene = SphereScene(20, Eigen::Vector3d(10, -30, 500));
  const std::string glb = GlbBytes(scene);
  ASSERT_GE(glb.size(), 28u);
  EXPECT_EQ(glb.substr(0, 4), "glTF");
  EXPECT_EQ(U32(glb, 4), 2u);
  EXPECT_EQ(U32(glb, 8), glb.size());
  const uint32_t json_length = U32(glb, 12);
  EXPECT_EQ(glb.substr(16, 4), "JSON");
  EXPECT_EQ(json_length % 4, 0u);
  EXPECT_EQ(glb.substr(20 + json_length + 4, 4), std::string("BIN\0", 4));
  const nlohmann::json j = GlbJson(glb);
  EXPECT_EQ(j["asset"]["version"], "2.0");
  ASSERT_EQ(j["meshes"].size(), 1u);
  EXPECT_EQ(j["nodes"][0]["name"], "femur_left");
  EXPECT_EQ(j["nodes"][0]["extras"]["side"], "left");
  EXPECT_EQ(j["materials"][0]["name"], "femur_left");
  // Sphere of radius 20 mm around LPS (10, -30, 500): the AR bounds are
  // 0.001 * (10, 500, 30) -+ 0.020, exactly as float32 (icosphere vertices
  // reach the poles on every axis).
  const nlohmann::json& pos =
      j["accessors"][j["meshes"][0]["primitives"][0]["attributes"]["POSITION"].get<int>()];
  EXPECT_NEAR(pos["min"][0].get<double>(), 0.010 - 0.020, 1e-7);
  EXPECT_NEAR(pos["max"][1].get<double>(), 0.500 + 0.020, 1e-7);
  EXPECT_NEAR(pos["min"][2].get<double>(), 0.030 - 0.020, 1e-7);
  // Standing on the origin: the root translation is -(centre x, min y, centre z).
  const nlohmann::json& root = j["nodes"][j["scenes"][0]["nodes"][0].get<int>()];
  EXPECT_NEAR(root["translation"][0].get<double>(), -0.010, 1e-7);
  EXPECT_NEAR(root["translation"][1].get<double>(), -0.480, 1e-7);
  EXPECT_NEAR(root["translation"][2].get<double>(), -0.030, 1e-7);
  // 642 vertices: 16-bit indices.
  const int indices = j["meshes"][0]["primitives"][0]["indices"];
  EXPECT_EQ(j["accessors"][indices]["componentType"], 5123);
}

TEST(Glb, Uses32BitIndicesAbove65535VerticesAndIsReproducible) {
  Scene scene;
  Structure s;
  s.name = "big";
  s.mesh = ssm::MakeIcosphere(50, 7);  // 163842 vertices
  scene.structures.push_back(s);
  scene.place_on_origin = false;
  const std::string a = GlbBytes(scene), b = GlbBytes(scene);
  EXPECT_EQ(a, b);
  const nlohmann::json j = GlbJson(a);
  const int indices = j["meshes"][0]["primitives"][0]["indices"];
  EXPECT_EQ(j["accessors"][indices]["componentType"], 5125);
  EXPECT_FALSE(j["nodes"].back().contains("translation"));
}

TEST(Glb, HeatMapWritesLinearViridisColours) {
  Scene scene = SphereScene();
  TriangleMesh& mesh = scene.structures[0].mesh;
  Eigen::VectorXd s(mesh.num_vertices());
  for (Eigen::Index v = 0; v < s.size(); ++v) s[v] = mesh.vertices(v, 2);  // LPS z
  mesh.scalars["uncertainty_mm"] = s;
  scene.has_heat_map = true;
  scene.heat_map.scalar = "uncertainty_mm";
  const std::string glb = GlbBytes(scene);
  const nlohmann::json j = GlbJson(glb);
  const nlohmann::json& prim = j["meshes"][0]["primitives"][0];
  ASSERT_TRUE(prim["attributes"].contains("COLOR_0"));
  const nlohmann::json& acc = j["accessors"][prim["attributes"]["COLOR_0"].get<int>()];
  const nlohmann::json& view = j["bufferViews"][acc["bufferView"].get<int>()];
  const size_t bin = 28 + U32(glb, 12);
  Eigen::Index lowest = 0, highest = 0;
  s.minCoeff(&lowest);
  s.maxCoeff(&highest);
  float c[3];
  std::memcpy(c, glb.data() + bin + view["byteOffset"].get<size_t>() + 12 * lowest, 12);
  // viridis(0) = #440154 -> linear (0.0578, 0.000304, 0.0887)
  // The published hex codes are the table rounded to 8 bits.
  EXPECT_NEAR(c[0], SrgbToLinear(68 / 255.0), 1e-3);
  EXPECT_NEAR(c[2], SrgbToLinear(84 / 255.0), 1e-3);
  std::memcpy(c, glb.data() + bin + view["byteOffset"].get<size_t>() + 12 * highest, 12);
  EXPECT_NEAR(c[1], SrgbToLinear(231 / 255.0), 1e-3);  // viridis(1) = #fde725
  EXPECT_EQ(j["asset"]["extras"]["ssmx"]["heat_map"]["units"], "mm");
  EXPECT_EQ(j["materials"][0]["pbrMetallicRoughness"]["baseColorFactor"][0], 1.0);
}

TEST(Usdz, PackagesAnAlignedStoredZipWithTheLayerFirst) {
  Scene scene = SphereScene();
  scene.structures[0].mesh.scalars["u"] =
      Eigen::VectorXd::LinSpaced(scene.structures[0].mesh.num_vertices(), 0, 1);
  scene.has_heat_map = true;
  scene.heat_map.scalar = "u";
  const std::string zip = UsdzBytes(scene);
  // Walk the local headers (APPNOTE 4.3.7).
  size_t at = 0;
  std::vector<std::string> names;
  while (U32(zip, at) == 0x04034b50) {
    EXPECT_EQ(U16(zip, at + 8), 0) << "stored";
    const uint32_t size = U32(zip, at + 18);
    EXPECT_EQ(size, U32(zip, at + 22));
    const uint16_t n = U16(zip, at + 26), m = U16(zip, at + 28);
    names.push_back(zip.substr(at + 30, n));
    const size_t data = at + 30 + n + m;
    EXPECT_EQ(data % 64, 0u) << names.back();
    at = data + size;
  }
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0], "model.usda");
  EXPECT_EQ(names[1], "textures/colormap.png");
  EXPECT_EQ(U32(zip, at), 0x02014b50u);  // then the central directory
  EXPECT_EQ(zip, UsdzBytes(scene));      // reproducible
}

TEST(Usdz, LayerDeclaresUnitsAxisAndMeshAttributes) {
  const std::string usda = UsdaText(SphereScene());
  for (const char* needle :
       {"#usda 1.0", "defaultPrim = \"Model\"", "metersPerUnit = 1", "upAxis = \"Y\"",
        "def Mesh \"femur_left\"", "subdivisionScheme = \"none\"", "float3[] extent",
        "normal3f[] normals", "faceVertexCounts", "UsdPreviewSurface",
        "rel material:binding = </Model/Materials/femur_left>"}) {
    EXPECT_NE(usda.find(needle), std::string::npos) << needle;
  }
  EXPECT_EQ(usda.find("primvars:st"), std::string::npos);  // no heat map, no texture coordinates
}

TEST(Interchange, MergesStructuresWithAnIndexScalar) {
  Scene scene = SphereScene();
  Structure second = scene.structures[0];
  second.name = "other";
  second.mesh = ssm::MakeIcosphere(5, 1);
  scene.structures.push_back(second);
  const TriangleMesh merged = MergeStructures(scene);
  EXPECT_EQ(merged.num_vertices(), 642 + 42);
  EXPECT_EQ(merged.num_faces(), 1280 + 80);
  EXPECT_EQ(merged.faces(1280, 0), scene.structures[1].mesh.faces(0, 0) + 642);
  EXPECT_EQ(merged.scalars.at("structure_index")[641], 0);
  EXPECT_EQ(merged.scalars.at("structure_index")[642], 1);
  EXPECT_TRUE(
      merged.vertices.row(0).isApprox(scene.structures[0].mesh.vertices.row(0)));  // still LPS mm
}

TEST(Export, RefusesWrongExtensionsAndMissingFolders) {
  const Scene scene = SphereScene();
  ExportRequest request;
  request.glb = (TempDir("ext") / "bone.gltf").string();
  EXPECT_THROW(ExportScene(scene, request), InvalidInput);
  request.glb = "/nonexistent-folder/bone.glb";
  EXPECT_THROW(ExportScene(scene, request), IoError);
}

TEST(Export, WritesEveryFormatAndTheViewerFolder) {
  const fs::path dir = TempDir("all");
  const fs::path assets = dir / "assets";
  fs::create_directories(assets);
  for (const char* name : {"index.html", "viewer.js", "viewer.css", "model-viewer.min.js"}) {
    std::ofstream(assets / name) << "/* " << name << " */";
  }
  ExportRequest request;
  request.glb = (dir / "a.glb").string();
  request.usdz = (dir / "a.usdz").string();
  request.obj = (dir / "a.obj").string();
  request.stl = (dir / "a.stl").string();
  request.ply = (dir / "a.ply").string();
  request.viewer_dir = (dir / "viewer").string();
  request.viewer.assets_dir = assets.string();
  const std::vector<ExportedFile> files = ExportScene(SphereScene(), request);
  for (const ExportedFile& f : files) EXPECT_GT(f.bytes, 0u) << f.path;
  for (const char* name :
       {"index.html", "model-viewer.min.js", "model.glb", "model.usdz", "scene.js"}) {
    EXPECT_TRUE(fs::exists(dir / "viewer" / name)) << name;
  }
  EXPECT_TRUE(fs::exists(dir / "a.mtl"));
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename().string().find(".ssmx-tmp"), std::string::npos);
  }
  request.viewer.assets_dir = (dir / "nothing").string();
  EXPECT_THROW(WriteViewer(SphereScene(), request.viewer_dir, request.viewer), IoError);
}

}  // namespace
}  // namespace ssmx::ar_export
