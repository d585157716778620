// Enhanced multi-frame CT: written here with GDCM's own writer (per-frame and
// shared functional groups), read back with ssmx, compared with what was
// written.
#include <gdcmAttribute.h>
#include <gdcmImageWriter.h>
#include <gdcmMediaStorage.h>
#include <gdcmUIDGenerator.h>
#include <gtest/gtest.h>

#include <vector>

#include "ssmx/ssm/volume_io.h"
#include "test_data.h"

namespace ssmx::ssm {
namespace {

TEST(DicomEnhancedCt, ReadsFramesGeometryAndRescaleWrittenByGdcm) {
  const int cols = 6, rows = 5, frames = 4;
  const double spacing[3] = {0.8, 0.7, 2.5};
  const double origin[3] = {-10.0, 20.0, -30.0};
  std::vector<int16_t> stored(static_cast<size_t>(cols) * rows * frames);
  for (size_t n = 0; n < stored.size(); ++n) stored[n] = static_cast<int16_t>(n * 3);

  gdcm::ImageWriter writer;
  gdcm::Image& image = writer.GetImage();
  image.SetNumberOfDimensions(3);
  image.SetDimension(0, cols);
  image.SetDimension(1, rows);
  image.SetDimension(2, frames);
  image.SetPixelFormat(gdcm::PixelFormat::INT16);
  image.SetPhotometricInterpretation(gdcm::PhotometricInterpretation::MONOCHROME2);
  image.SetSpacing(spacing);
  image.SetOrigin(origin);
  image.SetIntercept(-1024.0);
  image.SetSlope(1.0);
  image.SetTransferSyntax(gdcm::TransferSyntax::ExplicitVRLittleEndian);
  gdcm::DataElement pixels(gdcm::Tag(0x7fe0, 0x0010));
  pixels.SetByteValue(reinterpret_cast<const char*>(stored.data()),
                      static_cast<uint32_t>(stored.size() * sizeof(int16_t)));
  image.SetDataElement(pixels);
  gdcm::DataSet& ds = writer.GetFile().GetDataSet();
  const gdcm::MediaStorage ms(gdcm::MediaStorage::EnhancedCTImageStorage);
  gdcm::DataElement sop_class(gdcm::Tag(0x0008, 0x0016));
  const std::string uid = ms.GetString();
  sop_class.SetByteValue(uid.c_str(), static_cast<uint32_t>(uid.size()));
  ds.Insert(sop_class);
  gdcm::Attribute<0x0008, 0x0060> modality = {"CT"};
  ds.Insert(modality.GetAsDataElement());
  const std::string dir = testing::TempDir("enhanced_ct");
  const std::string path = dir + "/enhanced.dcm";
  writer.SetFileName(path.c_str());
  ASSERT_TRUE(writer.Write());

  const VolumeReadResult r = ReadVolume(path);
  const VolumeGeometry& g = r.volume.geometry();
  ASSERT_EQ(g.size, Eigen::Vector3i(cols, rows, frames));
  EXPECT_NEAR(g.spacing_mm.x(), spacing[0], 1e-6);
  EXPECT_NEAR(g.spacing_mm.y(), spacing[1], 1e-6);
  EXPECT_NEAR(g.spacing_mm.z(), spacing[2], 1e-6);
  for (int d = 0; d < 3; ++d) EXPECT_NEAR(g.origin_mm[d], origin[d], 1e-6);
  EXPECT_NEAR((g.direction - Eigen::Matrix3d::Identity()).norm(), 0, 1e-9);
  for (int k = 0; k < frames; ++k)
    for (int j = 0; j < rows; ++j)
      for (int i = 0; i < cols; ++i) {
        const size_t n = i + cols * (j + static_cast<size_t>(rows) * k);
        ASSERT_EQ(r.volume.At(i, j, k), stored[n] - 1024.0f) << i << "," << j << "," << k;
      }
  EXPECT_EQ(r.technical.at("sop_class"), "Enhanced CT Image Storage");
}

}  // namespace
}  // namespace ssmx::ssm
