// NIfTI / MetaImage / NRRD: geometry against the NIfTI header read here
// independently with zlib, exact round trips, and malformed files.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "ssmx/core/error.h"
#include "ssmx/ssm/volume_io.h"
#include "test_data.h"

namespace ssmx::ssm {
namespace {
namespace fs = std::filesystem;

// The NIfTI-1 header fields that fix the geometry (nifti1.h byte offsets).
struct NiftiHeader {
  int16_t dim[8];
  float pixdim[8];
  int16_t qform_code, sform_code;
  float srow[3][4];
};

NiftiHeader ReadNiftiHeader(const std::string& path) {
  unsigned char raw[348];
  gzFile f = gzopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(gzread(f, raw, 348), 348);
  gzclose(f);
  NiftiHeader h;
  std::memcpy(h.dim, raw + 40, 16);
  std::memcpy(h.pixdim, raw + 76, 32);
  std::memcpy(&h.qform_code, raw + 252, 2);
  std::memcpy(&h.sform_code, raw + 254, 2);
  std::memcpy(h.srow, raw + 280, 48);
  return h;
}

TEST(ReadVolume, NiftiGeometryEqualsHeaderConvertedFromRasToLps) {
  SSMX_REQUIRE_DATA("ct/totalseg_abdomen/example_ct.nii.gz");
  const std::string path = testing::DataDir() + "/ct/totalseg_abdomen/example_ct.nii.gz";
  const NiftiHeader h = ReadNiftiHeader(path);
  ASSERT_GT(h.sform_code, 0) << "this test reads the sform";
  const VolumeReadResult r = ReadVolume(path);
  const VolumeGeometry& g = r.volume.geometry();
  EXPECT_EQ(r.format, "NIfTI");
  EXPECT_EQ(g.size, Eigen::Vector3i(h.dim[1], h.dim[2], h.dim[3]));
  EXPECT_EQ(g.size, Eigen::Vector3i(122, 101, 112));
  // LPS = diag(-1, -1, 1) * RAS.
  const double flip[3] = {-1, -1, 1};
  for (int row = 0; row < 3; ++row) {
    EXPECT_NEAR(g.origin_mm[row], flip[row] * h.srow[row][3], 1e-3) << row;
    for (int col = 0; col < 3; ++col) {
      EXPECT_NEAR(g.direction(row, col) * g.spacing_mm[col], flip[row] * h.srow[row][col], 1e-4)
          << row << "," << col;
    }
  }
  for (int d = 0; d < 3; ++d) EXPECT_NEAR(g.spacing_mm[d], h.pixdim[d + 1], 1e-5);
  const auto [lo, hi] = r.volume.Range();
  EXPECT_EQ(lo, -1207.0f);
  EXPECT_EQ(hi, 3382.0f);
  EXPECT_EQ(r.volume.voxel_type(), VoxelType::kInt16);
}

Volume ObliqueVolume(VoxelType type) {
  VolumeGeometry g;
  g.size = Eigen::Vector3i(7, 5, 4);
  g.spacing_mm = Eigen::Vector3d(0.7, 1.1, 2.5);
  g.origin_mm = Eigen::Vector3d(-12.5, 30.25, 101.0);
  const double a = 0.3, b = -0.2;
  Eigen::Matrix3d rz, rx;
  rz << std::cos(a), -std::sin(a), 0, std::sin(a), std::cos(a), 0, 0, 0, 1;
  rx << 1, 0, 0, 0, std::cos(b), -std::sin(b), 0, std::sin(b), std::cos(b);
  g.direction = rz * rx;
  Volume v(g, type);
  for (int k = 0; k < 4; ++k)
    for (int j = 0; j < 5; ++j)
      for (int i = 0; i < 7; ++i) v.Set(i, j, k, type == VoxelType::kInt16 ? i * 100 - j * 7 + k * 1000 - 1024 : 0.25f * i - j + 0.125f * k);
  return v;
}

TEST(WriteVolume, RoundTripsVoxelsAndObliqueGeometryInEveryFormat) {
  const std::string dir = testing::TempDir("volume_roundtrip");
  for (VoxelType type : {VoxelType::kInt16, VoxelType::kFloat32}) {
    const Volume v = ObliqueVolume(type);
    for (const std::string ext : {".mha", ".nii", ".nii.gz", ".nrrd"}) {
      const std::string path = dir + "/v" + ext;
      WriteVolume(v, path);
      const Volume back = ReadVolume(path).volume;
      const VolumeGeometry &a = v.geometry(), &b = back.geometry();
      ASSERT_EQ(a.size, b.size) << ext;
      // NIfTI stores the geometry in float32 (sform): 1e-5 relative.
      EXPECT_LT((a.origin_mm - b.origin_mm).norm(), 1e-4) << ext;
      EXPECT_LT((a.spacing_mm - b.spacing_mm).norm(), 1e-5) << ext;
      EXPECT_LT((a.direction - b.direction).norm(), 1e-5) << ext;
      const Volume fa = v.ToFloat(), fb = back.ToFloat();
      for (int64_t n = 0; n < v.num_voxels(); ++n) ASSERT_EQ(fa.data<float>()[n], fb.data<float>()[n]) << ext;
      EXPECT_EQ(back.voxel_type(), type) << ext;
    }
  }
}

void ExpectInvalid(const std::string& path, const std::string& fragment) {
  try {
    ReadVolume(path);
    ADD_FAILURE() << path << " was accepted";
  } catch (const InvalidInput& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(ReadVolume, RefusesFilesWhoseHeaderLiesAboutTheirSize) {
  const std::string dir = testing::TempDir("volume_garbage");
  WriteVolume(ObliqueVolume(VoxelType::kFloat32), dir + "/ok.nii");
  const auto full = fs::file_size(dir + "/ok.nii");
  fs::copy_file(dir + "/ok.nii", dir + "/short.nii");
  fs::resize_file(dir + "/short.nii", full - 200);
  ExpectInvalid(dir + "/short.nii", "truncated");

  // A header claiming a 1000^3 volume in front of 560 bytes of data.
  std::string bytes;
  {
    std::ifstream in(dir + "/ok.nii", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const int16_t big = 1000;
  for (int d = 1; d <= 3; ++d) std::memcpy(&bytes[40 + 2 * d], &big, 2);
  std::ofstream(dir + "/liar.nii", std::ios::binary) << bytes;
  ExpectInvalid(dir + "/liar.nii", "its header is wrong");

  WriteVolume(ObliqueVolume(VoxelType::kInt16), dir + "/ok.mha");
  fs::copy_file(dir + "/ok.mha", dir + "/short.mha");
  fs::resize_file(dir + "/short.mha", fs::file_size(dir + "/ok.mha") / 2);
  ExpectInvalid(dir + "/short.mha", "");

  std::ofstream(dir + "/empty.nii.gz").close();
  ExpectInvalid(dir + "/empty.nii.gz", "empty");
  std::ofstream(dir + "/text.nrrd") << "not an nrrd\n";
  ExpectInvalid(dir + "/text.nrrd", "");
  std::ofstream(dir + "/x.xyz") << "?";
  ExpectInvalid(dir + "/x.xyz", "unknown volume format");
  EXPECT_THROW(ReadVolume(dir + "/absent.nii"), IoError);
  EXPECT_THROW(WriteVolume(ObliqueVolume(VoxelType::kInt16), dir + "/v.png"), InvalidInput);
  EXPECT_THROW(WriteVolume(ObliqueVolume(VoxelType::kInt16), "/no/such/folder/v.mha"), IoError);
}

}  // namespace
}  // namespace ssmx::ssm
