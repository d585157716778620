// Label selection: TotalSegmentator's folder of masks, integer label maps
// with JSON, ITK-SNAP and 3D Slicer label tables, and the error messages.
#include "ssmx/ssm/label_map.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "ssmx/core/error.h"
#include "ssmx/ssm/volume_io.h"
#include "test_data.h"

namespace ssmx::ssm {
namespace {

namespace fs = std::filesystem;

void WriteText(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

int64_t Count(const Volume& mask) {
  int64_t n = 0;
  for (int64_t i = 0; i < mask.num_voxels(); ++i) n += mask.data<int16_t>()[i];
  return n;
}

// A 10x8x6 label map: label 1 in the slab i < 3, 2 in i >= 7, 5 at one voxel.
std::string WriteSmallLabelMap(const std::string& dir) {
  VolumeGeometry g;
  g.size = {10, 8, 6};
  g.spacing_mm = {0.5, 0.7, 1.5};
  g.origin_mm = {-3, 4, 10};
  Volume v(g, VoxelType::kInt16);
  for (int k = 0; k < 6; ++k) {
    for (int j = 0; j < 8; ++j) {
      for (int i = 0; i < 10; ++i) v.Set(i, j, k, i < 3 ? 1 : i >= 7 ? 2 : 0);
    }
  }
  v.Set(5, 5, 5, 5);
  const std::string path = dir + "/seg.nii.gz";
  WriteVolume(v, path);
  return path;
}

TEST(ReadLabelMask, NumericIdsSelectVoxelsAndKeepTheGeometry) {
  const std::string dir = testing::TempDir("labels_numeric");
  const std::string path = WriteSmallLabelMap(dir);
  const Volume one = ReadLabelMask(path, "1");
  EXPECT_EQ(one.voxel_type(), VoxelType::kInt16);
  EXPECT_EQ(Count(one), 3 * 8 * 6);
  EXPECT_EQ(one.At(2, 3, 4), 1);
  EXPECT_EQ(one.At(3, 3, 4), 0);
  EXPECT_NEAR((one.geometry().origin_mm - Eigen::Vector3d(-3, 4, 10)).norm(), 0, 1e-6);
  EXPECT_NEAR((one.geometry().spacing_mm - Eigen::Vector3d(0.5, 0.7, 1.5)).norm(), 0, 1e-6);
  EXPECT_EQ(Count(ReadLabelMask(path, "5")), 1);
  const std::string error = ErrorOf([&] { ReadLabelMask(path, "7"); });
  EXPECT_NE(error.find("no voxel has label 7"), std::string::npos) << error;
  EXPECT_NE(error.find("0, 1, 2, 5"), std::string::npos) << error;
}

TEST(ReadLabelMask, NamesComeFromEveryKindOfLabelTable) {
  const std::string dir = testing::TempDir("labels_tables");
  const std::string path = WriteSmallLabelMap(dir);
  const std::string table_error = ErrorOf([&] { ReadLabelMask(path, "femur_left"); });
  EXPECT_NE(table_error.find("no label table"), std::string::npos) << table_error;
  EXPECT_NE(table_error.find("seg.json"), std::string::npos) << table_error;

  struct Case {
    std::string file, text;
  };
  const Case cases[] = {
      {"seg.json", R"({"femur_left": 1, "hip_left": 2, "tiny": 5})"},
      {"seg.json",
       R"({"labels": {"0": "background", "1": "femur_left", "2": "hip_left", "5": "tiny"}})"},
      {"seg.json",
       R"({"name": "x", "labels": {"background": 0, "femur_left": 1, "hip_left": 2, "tiny": 5}})"},
      {"seg.txt",
       "# ITK-SNAP Label Description File\n"
       "    0     0    0    0        0  0  0    \"Clear Label\"\n"
       "    1   255    0    0        1  1  1    \"femur_left\"\n"
       "    2     0  255    0        1  1  1    \"hip_left\"\n"
       "    5     0    0  255        1  1  1    \"tiny\"\n"},
      {"seg.ctbl",
       "# Color table file\n1 femur_left 128 174 128 255\n2 hip_left 241 214 145 255\n5 tiny 1 2 3 "
       "255\n"},
  };
  for (const Case& c : cases) {
    for (const char* f : {"seg.json", "seg.txt", "seg.ctbl"}) fs::remove(dir + "/" + f);
    WriteText(dir + "/" + c.file, c.text);
    SCOPED_TRACE(c.file + ": " + c.text);
    EXPECT_EQ(Count(ReadLabelMask(path, "hip_left")), 3 * 8 * 6);
    EXPECT_EQ(Count(ReadLabelMask(path, "Tiny")), 1);  // case-insensitive when unique
    const std::vector<LabelEntry> labels = ListLabels(path);
    ASSERT_GE(labels.size(), 3u);
    EXPECT_EQ(labels.back().name, "tiny");
    EXPECT_EQ(labels.back().id, 5);
    const std::string error = ErrorOf([&] { ReadLabelMask(path, "femur_right"); });
    EXPECT_NE(error.find("unknown label \"femur_right\"; available: "), std::string::npos) << error;
    EXPECT_NE(error.find("femur_left, hip_left"), std::string::npos) << error;
  }
  // An explicit table wins over the ones next to the file.
  WriteText(dir + "/other.ctbl", "2 pelvis 1 1 1 255\n");
  EXPECT_EQ(Count(ReadLabelMask(path, "pelvis", dir + "/other.ctbl")), 3 * 8 * 6);
  EXPECT_THROW(ReadLabelMask(path, "pelvis", dir + "/missing.ctbl"), IoError);
}

TEST(ListLabels, MalformedTablesNameTheFileAndLine) {
  const std::string dir = testing::TempDir("labels_bad");
  const std::string path = WriteSmallLabelMap(dir);
  WriteText(dir + "/seg.json", "{\"femur\": \"one\"}");
  EXPECT_NE(ErrorOf([&] { ListLabels(path); }).find("seg.json: label table entry \"femur\""),
            std::string::npos);
  WriteText(dir + "/seg.json", "{not json");
  EXPECT_NE(ErrorOf([&] { ListLabels(path); }).find("not valid JSON"), std::string::npos);
  fs::remove(dir + "/seg.json");
  WriteText(dir + "/seg.txt", "1 femur\nfemur 2\n");
  const std::string error = ErrorOf([&] { ListLabels(path); });
  EXPECT_NE(error.find("seg.txt: line 2"), std::string::npos) << error;
  EXPECT_THROW(ListLabels(dir + "/nothing.nii.gz"), IoError);
}

TEST(ReadLabelMask, TotalSegmentatorFolderSelectsMasksByName) {
  SSMX_REQUIRE_DATA("ct/totalseg_abdomen/labels");
  const std::string folder = testing::DataPath("ct/totalseg_abdomen/labels");
  const std::vector<LabelEntry> labels = ListLabels(folder);
  EXPECT_EQ(labels.size(), 24u);  // the README's list
  EXPECT_EQ(labels.front().name, "femur_left");
  const Volume mask = ReadLabelMask(folder, "vertebrae_L3");
  const Volume file = ReadVolume(folder + "/vertebrae_L3.nii.gz").volume;
  ASSERT_EQ(mask.geometry().size, file.geometry().size);
  EXPECT_NEAR((mask.geometry().origin_mm - file.geometry().origin_mm).norm(), 0, 1e-9);
  const Volume values = file.ToFloat();
  int64_t nonzero = 0;
  for (int64_t i = 0; i < values.num_voxels(); ++i) nonzero += values.data<float>()[i] != 0 ? 1 : 0;
  EXPECT_EQ(Count(mask), nonzero);
  EXPECT_GT(nonzero, 1000);
  const std::string error = ErrorOf([&] { ReadLabelMask(folder, "femur"); });
  EXPECT_NE(error.find("no mask named \"femur\""), std::string::npos) << error;
  EXPECT_NE(error.find("femur_left, femur_right, hip_left"), std::string::npos) << error;
}

// Real masks merged into one label map with a 3D Slicer table come back out
// voxel for voxel.
TEST(ReadLabelMask, MergedRealMasksComeBackFromTheLabelMap) {
  SSMX_REQUIRE_DATA("ct/totalseg_abdomen/labels");
  const std::string folder = testing::DataPath("ct/totalseg_abdomen/labels");
  const char* names[] = {"femur_left", "hip_left", "sacrum"};
  std::vector<Volume> masks;
  for (const char* name : names) masks.push_back(ReadLabelMask(folder, name));
  Volume merged(masks[0].geometry(), VoxelType::kInt16);
  for (int64_t i = 0; i < merged.num_voxels(); ++i) {
    for (int m = 0; m < 3; ++m) {
      if (masks[m].data<int16_t>()[i]) merged.data<int16_t>()[i] = static_cast<int16_t>(10 + m);
    }
  }
  const std::string dir = testing::TempDir("labels_merged");
  WriteVolume(merged, dir + "/pelvis.nrrd");
  WriteText(dir + "/pelvis.ctbl",
            "10 femur_left 1 1 1 255\n11 hip_left 2 2 2 255\n12 sacrum 3 3 3 255\n");
  for (int m = 0; m < 3; ++m) {
    const Volume back = ReadLabelMask(dir + "/pelvis.nrrd", names[m]);
    ASSERT_EQ(back.num_voxels(), masks[m].num_voxels());
    int64_t differ = 0;
    for (int64_t i = 0; i < back.num_voxels(); ++i) {
      differ += back.data<int16_t>()[i] != masks[m].data<int16_t>()[i] ? 1 : 0;
    }
    EXPECT_EQ(differ, 0) << names[m];
  }
}

TEST(ReadLabelMask, ADicomFolderIsRefusedWithAHint) {
  SSMX_REQUIRE_DATA("dicom/ge_head_tilt");
  const std::string error =
      ErrorOf([&] { ReadLabelMask(testing::DataPath("dicom/ge_head_tilt"), "skull"); });
  EXPECT_NE(error.find("--hu-threshold"), std::string::npos) << error;
  EXPECT_THROW(ReadLabelMask("/nonexistent/labels", "femur"), IoError);
  EXPECT_THROW(ReadLabelMask(testing::DataPath("dicom/ge_head_tilt"), ""), InvalidInput);
}

}  // namespace
}  // namespace ssmx::ssm
