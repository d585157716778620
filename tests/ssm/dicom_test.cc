// Tests of the DICOM reader (dicom_reader.cc) and the stack checks
// (stack_analysis.cc) on real data from $SSMX_DATA (see shared/data/README.md).
//
// The truth comes from outside the code under test: the uncompressed NEMA WG04
// reference slices, header values read here with GDCM's own parser
// (gdcm::Reader + gdcm::StringFilter), raw pixel bytes taken from the Pixel
// Data element, the JPEG-LS NEAR parameter read from the encoded bitstream,
// and the acquisition's own Gantry/Detector Tilt attribute.
#include <gdcmAnonymizer.h>
#include <gdcmDataElement.h>
#include <gdcmDataSet.h>
#include <gdcmFile.h>
#include <gdcmFragment.h>
#include <gdcmImage.h>
#include <gdcmImageReader.h>
#include <gdcmReader.h>
#include <gdcmSequenceOfFragments.h>
#include <gdcmStringFilter.h>
#include <gdcmTag.h>
#include <gdcmWriter.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <zlib.h>

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ssmx/core/error.h"
#include "ssmx/core/log.h"
#include "ssmx/core/volume.h"
#include "ssmx/ssm/dicom_series.h"
#include "ssmx/ssm/qa_finding.h"
#include "ssmx/ssm/volume_io.h"
#include "test_data.h"

namespace {

namespace fs = std::filesystem;
using ssmx::Volume;
using ssmx::VolumeGeometry;
using ssmx::ssm::QaFinding;
using ssmx::ssm::ReadVolume;
using ssmx::ssm::Severity;
using ssmx::ssm::VolumeReadOptions;
using ssmx::ssm::VolumeReadResult;

std::string Data(const std::string& relative) { return ssmx::testing::DataDir() + "/" + relative; }

// Removes a scratch folder when the test ends.
struct ScopedDir {
  std::string path;
  ~ScopedDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// ---------------------------------------------------------------------------
// DICOM headers and pixels read with GDCM directly, not through ssmx.

std::vector<double> Numbers(const std::string& text) {
  std::vector<double> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, '\\')) {
    if (item.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    out.push_back(std::stod(item));
  }
  return out;
}

struct DicomFile {
  std::string path;
  Eigen::Vector3d position = Eigen::Vector3d::Zero();  // ImagePositionPatient
  Eigen::Vector3d row_dir = Eigen::Vector3d::Zero();   // IOP[0..2], along a row
  Eigen::Vector3d col_dir = Eigen::Vector3d::Zero();   // IOP[3..5], down a column
  double row_spacing = 0, col_spacing = 0;             // PixelSpacing[0], [1]
  double thickness = 0;
  int rows = 0, cols = 0;
  double slope = 1, intercept = 0;
  std::string gantry_tilt;  // (0018,1120) as stored
  std::vector<int16_t> raw; // stored values, only for uncompressed int16 files
};

// Reads the header with gdcm::Reader + gdcm::StringFilter; with `pixels`, also
// the stored values straight from the bytes of an uncompressed little-endian
// Pixel Data element (no image decoding involved).
DicomFile ReadDicomFile(const std::string& path, bool pixels) {
  gdcm::Reader reader;
  reader.SetFileName(path.c_str());
  if (!reader.Read()) throw std::runtime_error("gdcm cannot read " + path);
  gdcm::StringFilter sf;
  sf.SetFile(reader.GetFile());
  auto str = [&](uint16_t g, uint16_t e) { return sf.ToString(gdcm::Tag(g, e)); };
  DicomFile f;
  f.path = path;
  const std::vector<double> ipp = Numbers(str(0x0020, 0x0032));
  const std::vector<double> iop = Numbers(str(0x0020, 0x0037));
  const std::vector<double> ps = Numbers(str(0x0028, 0x0030));
  if (ipp.size() != 3 || iop.size() != 6 || ps.size() != 2) {
    throw std::runtime_error(path + ": unexpected IPP/IOP/PixelSpacing");
  }
  f.position = Eigen::Vector3d(ipp[0], ipp[1], ipp[2]);
  // Direction cosines; stored with 7 digits, so normalise (|c| = 1 + 5e-8 in
  // the GE series, which moves a point 300 mm away by 1.6e-5 mm otherwise).
  f.row_dir = Eigen::Vector3d(iop[0], iop[1], iop[2]).normalized();
  f.col_dir = Eigen::Vector3d(iop[3], iop[4], iop[5]).normalized();
  f.row_spacing = ps[0];
  f.col_spacing = ps[1];
  const std::vector<double> t = Numbers(str(0x0018, 0x0050));
  f.thickness = t.empty() ? 0.0 : t[0];
  f.rows = std::stoi(str(0x0028, 0x0010));
  f.cols = std::stoi(str(0x0028, 0x0011));
  const std::vector<double> slope = Numbers(str(0x0028, 0x1053));
  const std::vector<double> intercept = Numbers(str(0x0028, 0x1052));
  f.slope = slope.empty() ? 1.0 : slope[0];
  f.intercept = intercept.empty() ? 0.0 : intercept[0];
  f.gantry_tilt = str(0x0018, 0x1120);
  if (pixels) {
    if (std::stoi(str(0x0028, 0x0100)) != 16 || std::stoi(str(0x0028, 0x0103)) != 1) {
      throw std::runtime_error(path + ": expected signed 16-bit pixels");
    }
    const gdcm::DataElement& de = reader.GetFile().GetDataSet().GetDataElement(gdcm::Tag(0x7fe0, 0x0010));
    const gdcm::ByteValue* bv = de.GetByteValue();
    const size_t n = static_cast<size_t>(f.rows) * f.cols;
    if (!bv || bv->GetLength() < n * 2) throw std::runtime_error(path + ": not uncompressed pixels");
    f.raw.resize(n);
    const auto* bytes = reinterpret_cast<const unsigned char*>(bv->GetPointer());
    for (size_t i = 0; i < n; ++i) {  // little endian, two's complement
      f.raw[i] = static_cast<int16_t>(static_cast<uint16_t>(bytes[2 * i] | (bytes[2 * i + 1] << 8)));
    }
  }
  return f;
}

Eigen::Vector3d Normal(const DicomFile& f) { return f.row_dir.cross(f.col_dir).normalized(); }

std::vector<std::string> DcmFiles(const std::string& folder) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(folder)) {
    if (e.path().extension() == ".dcm" || e.path().filename().string().rfind("CT.", 0) == 0) {
      files.push_back(e.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

ssmx::ssm::SliceGeometry ToSliceGeometry(const DicomFile& f) {
  ssmx::ssm::SliceGeometry g;
  g.position_mm = f.position;
  g.row_direction = f.row_dir;
  g.column_direction = f.col_dir;
  g.rows = f.rows;
  g.cols = f.cols;
  g.row_spacing_mm = f.row_spacing;
  g.column_spacing_mm = f.col_spacing;
  g.thickness_mm = f.thickness;
  g.source = fs::path(f.path).filename().string();
  return g;
}

// Rescaled value of a slice at continuous (column, row); NaN outside.
double Bilinear(const DicomFile& f, double c, double r) {
  const double eps = 1e-6;
  if (c < -eps || r < -eps || c > f.cols - 1 + eps || r > f.rows - 1 + eps) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  c = std::clamp(c, 0.0, f.cols - 1.0);
  r = std::clamp(r, 0.0, f.rows - 1.0);
  const int c0 = std::min(static_cast<int>(c), f.cols - 2), r0 = std::min(static_cast<int>(r), f.rows - 2);
  const double fc = c - c0, fr = r - r0;
  auto v = [&](int cc, int rr) { return f.raw[static_cast<size_t>(rr) * f.cols + cc] * f.slope + f.intercept; };
  return (1 - fr) * ((1 - fc) * v(c0, r0) + fc * v(c0 + 1, r0)) +
         fr * ((1 - fc) * v(c0, r0 + 1) + fc * v(c0 + 1, r0 + 1));
}

// The value a stack of slices defines at a world point, as the reader documents
// it: bilinear within the two slices that bracket the point along the slice
// normal, linear between them. NaN when either sample falls outside a slice.
double StackValue(const std::vector<DicomFile>& sorted, const Eigen::Vector3d& normal,
                  const Eigen::Vector3d& p) {
  const double s = p.dot(normal);
  size_t m1 = 1;
  while (m1 + 1 < sorted.size() && sorted[m1].position.dot(normal) < s) ++m1;
  const DicomFile& a = sorted[m1 - 1];
  const DicomFile& b = sorted[m1];
  const double sa = a.position.dot(normal), sb = b.position.dot(normal);
  const double w = std::clamp((s - sa) / (sb - sa), 0.0, 1.0);
  auto sample = [&](const DicomFile& f) {
    const Eigen::Vector3d d = p - f.position;
    return Bilinear(f, d.dot(f.row_dir) / f.col_spacing, d.dot(f.col_dir) / f.row_spacing);
  };
  return (1 - w) * sample(a) + w * sample(b);
}

// The NEAR parameter of a JPEG-LS encoded file, from the SOS marker segment
// of the first fragment of its Pixel Data (ITU-T T.87, C.2.3).
int JpegLsNear(const std::string& path) {
  gdcm::Reader reader;
  reader.SetFileName(path.c_str());
  if (!reader.Read()) throw std::runtime_error("gdcm cannot read " + path);
  const gdcm::DataElement& de = reader.GetFile().GetDataSet().GetDataElement(gdcm::Tag(0x7fe0, 0x0010));
  const gdcm::SequenceOfFragments* frags = de.GetSequenceOfFragments();
  if (!frags || frags->GetNumberOfFragments() == 0) throw std::runtime_error(path + ": not encapsulated");
  const gdcm::ByteValue* bv = frags->GetFragment(0).GetByteValue();
  const auto* b = reinterpret_cast<const unsigned char*>(bv->GetPointer());
  const size_t n = bv->GetLength();
  if (n < 4 || b[0] != 0xFF || b[1] != 0xD8) throw std::runtime_error(path + ": no SOI marker");
  size_t i = 2;
  while (i + 4 < n) {
    if (b[i] != 0xFF) throw std::runtime_error(path + ": marker expected");
    const int marker = b[i + 1];
    const size_t length = (static_cast<size_t>(b[i + 2]) << 8) | b[i + 3];
    if (marker == 0xDA) {  // SOS: Ls, Ns, Ns x (Ci, Tmi), NEAR, ILV, Al/Ah
      const int ns = b[i + 4];
      return b[i + 5 + 2 * ns];
    }
    i += 2 + length;
  }
  throw std::runtime_error(path + ": no SOS marker");
}

// ---------------------------------------------------------------------------
// Helpers on ssmx results.

const QaFinding* FindFinding(const std::vector<QaFinding>& findings, const std::string& code) {
  for (const QaFinding& f : findings) {
    if (f.code == code) return &f;
  }
  return nullptr;
}

std::string Codes(const std::vector<QaFinding>& findings) {
  std::string out;
  for (const QaFinding& f : findings) out += f.code + "(" + f.message + ") ";
  return out;
}

struct Difference {
  double max_abs = 0;
  double rms = 0;
  double mean = 0;  // of a - b
  int64_t differing = 0;
};

Difference Compare(const Volume& a, const Volume& b) {
  const Volume fa = a.ToFloat(), fb = b.ToFloat();
  const float* pa = fa.data<float>();
  const float* pb = fb.data<float>();
  Difference d;
  double sum = 0, mean = 0;
  for (int64_t i = 0; i < fa.num_voxels(); ++i) {
    const double e = static_cast<double>(pa[i]) - pb[i];
    d.max_abs = std::max(d.max_abs, std::abs(e));
    sum += e * e;
    mean += e;
    if (e != 0) ++d.differing;
  }
  d.rms = std::sqrt(sum / std::max<int64_t>(1, fa.num_voxels()));
  d.mean = mean / std::max<int64_t>(1, fa.num_voxels());
  return d;
}

// RMS of the difference of the means of block x block tiles of slice 0.
double BlockMeanRms(const Volume& a, const Volume& b, int block) {
  const int nx = a.geometry().size.x() / block, ny = a.geometry().size.y() / block;
  double sum = 0;
  for (int by = 0; by < ny; ++by) {
    for (int bx = 0; bx < nx; ++bx) {
      double e = 0;
      for (int y = by * block; y < (by + 1) * block; ++y) {
        for (int x = bx * block; x < (bx + 1) * block; ++x) e += a.At(x, y, 0) - b.At(x, y, 0);
      }
      e /= block * block;
      sum += e * e;
    }
  }
  const double rms = std::sqrt(sum / std::max(1, nx * ny));
  std::cout << "  " << block << "x" << block << " block-mean RMS difference " << rms << " HU\n";
  return rms;
}

void ExpectSameGeometry(const VolumeGeometry& a, const VolumeGeometry& b) {
  EXPECT_EQ(a.size, b.size) << a.size.transpose() << " vs " << b.size.transpose();
  EXPECT_EQ(a.spacing_mm, b.spacing_mm) << a.spacing_mm.transpose() << " vs " << b.spacing_mm.transpose();
  EXPECT_EQ(a.origin_mm, b.origin_mm) << a.origin_mm.transpose() << " vs " << b.origin_mm.transpose();
  EXPECT_EQ(a.direction, b.direction) << a.direction << "\nvs\n" << b.direction;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string Gunzip(const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "rb");
  if (!gz) throw std::runtime_error("gzopen failed: " + path);
  std::string out;
  char buf[1 << 16];
  int n = 0;
  while ((n = gzread(gz, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  const bool ok = n == 0;
  gzclose(gz);
  if (!ok) throw std::runtime_error("gzread failed: " + path);
  return out;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// Runs a shell command; stdout and stderr together, and the exit status.
std::string RunShell(const std::string& command, int* status) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + command);
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int raw = pclose(pipe);
  *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

// Calls ReadVolume and returns the message of the ssmx::InvalidInput it must
// throw; records a failure for no exception or any other exception type.
std::string InvalidInputMessage(const std::string& path, const VolumeReadOptions& options = {}) {
  try {
    ReadVolume(path, options);
  } catch (const ssmx::InvalidInput& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << path << ": expected ssmx::InvalidInput, got another exception: " << e.what();
    return "";
  } catch (...) {
    ADD_FAILURE() << path << ": expected ssmx::InvalidInput, got a non-std exception";
    return "";
  }
  ADD_FAILURE() << path << ": expected ssmx::InvalidInput, nothing was thrown";
  return "";
}

// ---------------------------------------------------------------------------
// 1. Transfer syntaxes: NEMA WG04 CT slices in every encoding against REF.

TEST(DicomWg04, DecodesLosslessTransferSyntaxesExactlyAsUncompressedReference) {
  SSMX_REQUIRE_DATA("dicom/wg04/REF/CT1_UNC");
  for (const std::string ct : {"CT1", "CT2"}) {
    const VolumeReadResult ref = ReadVolume(Data("dicom/wg04/REF/" + ct + "_UNC"));
    for (const std::string variant : {"J2KR", "JLSL", "JPLL", "RLE"}) {
      const std::string path = Data("dicom/wg04/" + variant + "/" + ct + "_" + variant);
      SCOPED_TRACE(path);
      const VolumeReadResult got = ReadVolume(path);
      // The file really is encapsulated (not silently the same bytes as REF).
      EXPECT_NE(got.technical.at("transfer_syntax"), ref.technical.at("transfer_syntax"));
      ExpectSameGeometry(got.volume.geometry(), ref.volume.geometry());
      ASSERT_EQ(got.volume.num_voxels(), ref.volume.num_voxels());
      EXPECT_EQ(got.volume.voxel_type(), ref.volume.voxel_type());
      const Difference d = Compare(got.volume, ref.volume);
      EXPECT_EQ(d.differing, 0) << "max abs difference " << d.max_abs;
    }
  }
}

TEST(DicomWg04, DecodesNearLosslessJpegLsWithinItsNearParameter) {
  SSMX_REQUIRE_DATA("dicom/wg04/JLSN/CT1_JLSN");
  for (const std::string ct : {"CT1", "CT2"}) {
    const std::string path = Data("dicom/wg04/JLSN/" + ct + "_JLSN");
    SCOPED_TRACE(path);
    const VolumeReadResult ref = ReadVolume(Data("dicom/wg04/REF/" + ct + "_UNC"));
    const VolumeReadResult got = ReadVolume(path);
    ExpectSameGeometry(got.volume.geometry(), ref.volume.geometry());
    const Difference d = Compare(got.volume, ref.volume);
    const int near = JpegLsNear(path);
    const DicomFile header = ReadDicomFile(path, false);
    std::cout << ct << "_JLSN: NEAR " << near << ", max abs error " << d.max_abs << " HU, RMS "
              << d.rms << " HU, " << d.differing << " voxels differ\n";
    // JPEG-LS near-lossless guarantees |decoded - original| <= NEAR for every
    // stored value (T.87, A.4); both files use NEAR = 4 (SOS segment) and
    // RescaleSlope 1, so no voxel may be off by more than NEAR * slope HU.
    // Exactly that bound, no margin: it is a guarantee of the codec.
    EXPECT_GT(near, 0);
    EXPECT_LE(d.max_abs, near * std::abs(header.slope));
    // Lossy indeed (otherwise this would test nothing the lossless test does not).
    EXPECT_GT(d.differing, 0);
  }
}

TEST(DicomWg04, DecodesLossyJpeg2000WithinRmsBound) {
  SSMX_REQUIRE_DATA("dicom/wg04/J2KI/CT1_J2KI");
  for (const std::string ct : {"CT1", "CT2"}) {
    const std::string path = Data("dicom/wg04/J2KI/" + ct + "_J2KI");
    SCOPED_TRACE(path);
    const VolumeReadResult ref = ReadVolume(Data("dicom/wg04/REF/" + ct + "_UNC"));
    const VolumeReadResult got = ReadVolume(path);
    ExpectSameGeometry(got.volume.geometry(), ref.volume.geometry());
    const Difference d = Compare(got.volume, ref.volume);
    std::cout << ct << "_J2KI: max abs error " << d.max_abs << " HU, RMS " << d.rms << " HU, mean "
              << d.mean << " HU, " << d.differing << " voxels differ\n";
    // JPEG 2000 irreversible (9/7 wavelet, quantised) has no per-pixel bound;
    // at 69:1 and 106:1 it drops most high-frequency detail, so the pixel
    // error is large but zero-mean and shrinks when averaged over blocks.
    // Measured with GDCM/OpenJPEG: RMS 38.0 HU (CT1) and 30.3 HU (CT2), mean
    // +0.11 / -0.15 HU, 16x16 block-mean RMS 6.5 / 5.7 HU. Bounds: pixel RMS
    // 50 HU and block-mean RMS 10 HU (~1.3-1.5x margin for another OpenJPEG
    // build's floating-point 9/7 inverse), mean |bias| 2 HU. A misdecoded
    // slice (wrong sign handling, byte order, shift) is off by hundreds of HU
    // in the block means too.
    EXPECT_LT(d.rms, 50.0);
    EXPECT_LT(std::abs(d.mean), 2.0);
    EXPECT_LT(BlockMeanRms(got.volume, ref.volume, 16), 10.0);
    EXPECT_GT(d.differing, 0);
  }
}

// REF itself against its raw bytes and header, read without ssmx.
TEST(DicomWg04, ReadsUncompressedReferenceLikeItsRawPixelsAndHeader) {
  SSMX_REQUIRE_DATA("dicom/wg04/REF/CT1_UNC");
  for (const std::string name : {"CT1_UNC", "CT2_UNC"}) {
    const std::string path = Data("dicom/wg04/REF/" + name);
    SCOPED_TRACE(path);
    const DicomFile f = ReadDicomFile(path, true);
    const VolumeReadResult r = ReadVolume(path);
    const Volume& v = r.volume;
    const VolumeGeometry& g = v.geometry();
    ASSERT_EQ(g.size, Eigen::Vector3i(f.cols, f.rows, 1));
    // Origin is the centre of the first pixel = ImagePositionPatient.
    EXPECT_LT((g.origin_mm - f.position).norm(), 1e-9) << g.origin_mm.transpose();
    // PixelSpacing is [between rows, between columns]; i runs along a row, so
    // spacing x is PixelSpacing[1]. (Both WG04 slices have square pixels, so
    // only the values, not the order, are checked here.)
    EXPECT_NEAR(g.spacing_mm.x(), f.col_spacing, 1e-12);
    EXPECT_NEAR(g.spacing_mm.y(), f.row_spacing, 1e-12);
    EXPECT_LT((g.direction.col(0) - f.row_dir).norm(), 1e-12);
    EXPECT_LT((g.direction.col(1) - f.col_dir).norm(), 1e-12);
    EXPECT_LT((g.direction.col(2) - Normal(f)).norm(), 1e-12);

    std::mt19937 rng(1234);
    std::uniform_int_distribution<int> col(0, f.cols - 1), row(0, f.rows - 1);
    std::set<float> distinct;
    for (int n = 0; n < 400; ++n) {
      // Corners first, then random pixels.
      const int i = n < 4 ? (n % 2) * (f.cols - 1) : col(rng);
      const int j = n < 4 ? (n / 2) * (f.rows - 1) : row(rng);
      const double expected = f.raw[static_cast<size_t>(j) * f.cols + i] * f.slope + f.intercept;
      ASSERT_EQ(v.At(i, j, 0), expected) << "pixel column " << i << ", row " << j;
      distinct.insert(v.At(i, j, 0));
    }
    EXPECT_GT(distinct.size(), 50u);  // the sample is not all air
  }
}

// ---------------------------------------------------------------------------
// 2. Gantry tilt and uneven spacing: GE head CT, 18.5 deg, 4 mm then 7 mm.

TEST(DicomStack, MeasuresGantryTiltOfGeHeadSeriesLikeItsTiltAttribute) {
  SSMX_REQUIRE_DATA("dicom/ge_head_tilt/01.dcm");
  std::vector<ssmx::ssm::SliceGeometry> slices;
  for (const std::string& path : DcmFiles(Data("dicom/ge_head_tilt"))) {
    const DicomFile f = ReadDicomFile(path, false);
    EXPECT_NEAR(Numbers(f.gantry_tilt).at(0), 18.5, 1e-9) << path;  // GantryDetectorTilt
    slices.push_back(ToSliceGeometry(f));
  }
  ASSERT_EQ(slices.size(), 28u);
  const ssmx::ssm::StackAnalysis stack = ssmx::ssm::AnalyzeStack(slices);
  EXPECT_NEAR(stack.gantry_tilt_deg, 18.5, 0.5);
  EXPECT_TRUE(stack.tilted);
  EXPECT_TRUE(stack.uneven);
  EXPECT_FALSE(stack.has_gaps);
  EXPECT_FALSE(stack.refused);
}

TEST(DicomReadVolume, ResamplesTiltedUnevenGeHeadSeriesOntoRegularGrid) {
  SSMX_REQUIRE_DATA("dicom/ge_head_tilt/01.dcm");
  std::vector<DicomFile> files;
  for (const std::string& path : DcmFiles(Data("dicom/ge_head_tilt"))) {
    files.push_back(ReadDicomFile(path, true));
  }
  const Eigen::Vector3d n = Normal(files.front());
  std::sort(files.begin(), files.end(),
            [&](const DicomFile& a, const DicomFile& b) { return a.position.dot(n) < b.position.dot(n); });

  const VolumeReadResult r = ReadVolume(Data("dicom/ge_head_tilt"));
  const QaFinding* tilt = FindFinding(r.findings, "gantry_tilt");
  ASSERT_NE(tilt, nullptr) << Codes(r.findings);
  EXPECT_TRUE(tilt->corrected);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(tilt->message, m, std::regex("([0-9]+\\.[0-9]+) deg"))) << tilt->message;
  EXPECT_NEAR(std::stod(m[1].str()), 18.5, 0.5) << tilt->message;
  EXPECT_NE(FindFinding(r.findings, "uneven_spacing"), nullptr) << Codes(r.findings);
  ASSERT_TRUE(r.resampled);

  const VolumeGeometry& g = r.volume.geometry();
  EXPECT_EQ(g.Validate(), "");
  EXPECT_LT((g.direction.col(2) - n).norm(), 1e-6) << g.direction;
  EXPECT_LT((g.direction.col(0) - files.front().row_dir).norm(), 1e-6) << g.direction;
  const Eigen::Vector3d r_dir = g.direction.col(0), c_dir = g.direction.col(1);
  const double dx = g.spacing_mm.x(), dy = g.spacing_mm.y(), dz = g.spacing_mm.z();

  // Along the normal: from the lowest to the highest slice, within a voxel.
  double s_min = 1e300, s_max = -1e300;
  double a_min = 1e300, a_max = -1e300, b_min = 1e300, b_max = -1e300;
  for (const DicomFile& f : files) {
    s_min = std::min(s_min, f.position.dot(n));
    s_max = std::max(s_max, f.position.dot(n));
    // In-plane footprint of the slice: its four corner pixel centres.
    for (const int ci : {0, f.cols - 1}) {
      for (const int ri : {0, f.rows - 1}) {
        const Eigen::Vector3d corner =
            f.position + ci * f.col_spacing * f.row_dir + ri * f.row_spacing * f.col_dir;
        a_min = std::min(a_min, corner.dot(r_dir));
        a_max = std::max(a_max, corner.dot(r_dir));
        b_min = std::min(b_min, corner.dot(c_dir));
        b_max = std::max(b_max, corner.dot(c_dir));
      }
    }
  }
  const double extent_z = (g.size.z() - 1) * dz;
  std::cout << "ge_head_tilt resampled: size " << g.size.transpose() << ", spacing "
            << g.spacing_mm.transpose() << ", extent along normal " << extent_z << " mm (slices span "
            << s_max - s_min << " mm)\n";
  EXPECT_NEAR(extent_z, s_max - s_min, dz);
  EXPECT_NEAR(g.origin_mm.dot(n), s_min, dz);
  // In the plane: the grid covers every slice's footprint, within one voxel,
  // and not more than one voxel beyond it.
  const double ga0 = g.origin_mm.dot(r_dir), ga1 = ga0 + (g.size.x() - 1) * dx;
  const double gb0 = g.origin_mm.dot(c_dir), gb1 = gb0 + (g.size.y() - 1) * dy;
  EXPECT_NEAR(ga0, a_min, dx);
  EXPECT_NEAR(ga1, a_max, dx);
  EXPECT_NEAR(gb0, b_min, dy);
  EXPECT_NEAR(gb1, b_max, dy);

  // Values: voxels reproduce the slices (bilinear in the bracketing slices,
  // linear between them), sampled at world points from the volume's geometry.
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> ri(0, g.size.x() - 1), rj(0, g.size.y() - 1), rk(0, g.size.z() - 1);
  int checked = 0;
  for (int t = 0; t < 20000 && checked < 500; ++t) {
    // Every 10th sample on the first or last plane, where a slice lies exactly.
    const int k = t % 10 == 0 ? (t % 20 == 0 ? 0 : g.size.z() - 1) : rk(rng);
    const int i = ri(rng), j = rj(rng);
    const Eigen::Vector3d p = g.IndexToWorld(Eigen::Vector3d(i, j, k));
    const double expected = StackValue(files, n, p);
    if (std::isnan(expected)) continue;
    ASSERT_NEAR(r.volume.At(i, j, k), expected, 1e-3 + 1e-5 * std::abs(expected))
        << "voxel " << i << " " << j << " " << k;
    ++checked;
  }
  EXPECT_GE(checked, 500);
}

// ---------------------------------------------------------------------------
// 3. A missing slice (08.dcm, in the 4 mm part of the GE series).

class DicomMissingSlice : public ::testing::Test {
 protected:
  void SetUp() override {
    SSMX_REQUIRE_DATA("dicom/ge_head_tilt/08.dcm");
    dir_.path = ssmx::testing::TempDir("dicom_missing_slice");
    for (const std::string& path : DcmFiles(Data("dicom/ge_head_tilt"))) {
      if (fs::path(path).filename() == "08.dcm") continue;
      fs::copy_file(path, fs::path(dir_.path) / fs::path(path).filename());
      files_.push_back(ReadDicomFile(path, true));
    }
    ASSERT_EQ(files_.size(), 27u);
    const Eigen::Vector3d n = Normal(files_.front());
    const DicomFile f07 = ReadDicomFile(Data("dicom/ge_head_tilt/07.dcm"), false);
    const DicomFile f09 = ReadDicomFile(Data("dicom/ge_head_tilt/09.dcm"), false);
    gap_mm_ = (f09.position - f07.position).dot(n);
  }
  ScopedDir dir_;
  std::vector<DicomFile> files_;
  double gap_mm_ = 0;
};

TEST_F(DicomMissingSlice, ReadVolumeRefusesSeriesAndNamesTheGap) {
  ASSERT_NEAR(gap_mm_, 8.0, 0.05);  // two 4 mm steps
  char expected[64];
  std::snprintf(expected, sizeof(expected), "gap %.2f mm", gap_mm_);
  const std::string message = InvalidInputMessage(dir_.path);
  EXPECT_NE(message.find("missing slices"), std::string::npos) << message;
  EXPECT_NE(message.find(expected), std::string::npos) << "expected \"" << expected << "\" in: " << message;
}

TEST_F(DicomMissingSlice, ReadVolumeInterpolatesAcrossGapWhenGapsAreAllowed) {
  VolumeReadOptions options;
  options.allow_gaps = true;
  const VolumeReadResult r = ReadVolume(dir_.path, options);
  const QaFinding* gap = FindFinding(r.findings, "missing_slices");
  ASSERT_NE(gap, nullptr) << Codes(r.findings);
  EXPECT_EQ(gap->severity, Severity::kWarning);
  EXPECT_TRUE(gap->corrected);
  ASSERT_TRUE(r.resampled);

  // Voxels inside the gap are the linear blend of 07 and 09.
  const VolumeGeometry& g = r.volume.geometry();
  const Eigen::Vector3d n = Normal(files_.front());
  std::sort(files_.begin(), files_.end(),
            [&](const DicomFile& a, const DicomFile& b) { return a.position.dot(n) < b.position.dot(n); });
  const double s07 = ReadDicomFile(Data("dicom/ge_head_tilt/07.dcm"), false).position.dot(n);
  int checked = 0;
  for (int k = 0; k < g.size.z(); ++k) {
    const double s = g.IndexToWorld(Eigen::Vector3d(0, 0, k)).dot(n);
    if (s <= s07 + 0.5 || s >= s07 + gap_mm_ - 0.5) continue;  // strictly inside the gap
    for (int j = 0; j < g.size.y(); j += 37) {
      for (int i = 0; i < g.size.x(); i += 41) {
        const double expected = StackValue(files_, n, g.IndexToWorld(Eigen::Vector3d(i, j, k)));
        if (std::isnan(expected)) continue;
        ASSERT_NEAR(r.volume.At(i, j, k), expected, 1e-3 + 1e-5 * std::abs(expected))
            << "voxel " << i << " " << j << " " << k;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 50);
}

// ---------------------------------------------------------------------------
// 4. JPEG 2000 series with empty Study/Series/SOP UIDs, overlapping slices.

TEST(DicomListSeries, GroupsFilesWithEmptySeriesUidIntoOneGeometrySeries) {
  SSMX_REQUIRE_DATA("dicom/totalseg_abdomen_j2k_empty_uids");
  const auto series = ssmx::ssm::ListDicomSeries(Data("dicom/totalseg_abdomen_j2k_empty_uids"));
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].key.rfind("geometry-", 0), 0u) << series[0].key;
  EXPECT_EQ(series[0].series_uid, "");
  EXPECT_EQ(series[0].num_files, 20);
  EXPECT_EQ(series[0].num_slices, 20);
}

TEST(DicomReadVolume, ReadsJpeg2000SeriesWithEmptyUidsAndOverlappingSlices) {
  SSMX_REQUIRE_DATA("dicom/totalseg_abdomen_j2k_empty_uids");
  const std::string folder = Data("dicom/totalseg_abdomen_j2k_empty_uids");
  const VolumeReadResult r = ReadVolume(folder);
  const VolumeGeometry& g = r.volume.geometry();
  EXPECT_EQ(g.size.z(), 20);
  EXPECT_NE(FindFinding(r.findings, "overlapping_slices"), nullptr) << Codes(r.findings);
  EXPECT_NE(FindFinding(r.findings, "empty_series_uid"), nullptr) << Codes(r.findings);
  EXPECT_FALSE(r.resampled);
  const auto [lo, hi] = r.volume.Range();
  EXPECT_LE(lo, -1000.0f);
  EXPECT_GE(hi, 1000.0f);

  // Slice order and spacing from the headers: the lowest slice along the
  // normal is k = 0, at its ImagePositionPatient; steps are 2 mm.
  std::vector<DicomFile> files;
  for (const std::string& path : DcmFiles(folder)) files.push_back(ReadDicomFile(path, false));
  ASSERT_EQ(files.size(), 20u);
  const Eigen::Vector3d n = Normal(files.front());
  std::sort(files.begin(), files.end(),
            [&](const DicomFile& a, const DicomFile& b) { return a.position.dot(n) < b.position.dot(n); });
  EXPECT_LT((g.origin_mm - files.front().position).norm(), 1e-6) << g.origin_mm.transpose();
  EXPECT_NEAR(g.spacing_mm.z(), files[1].position.dot(n) - files[0].position.dot(n), 1e-6);
  EXPECT_NEAR(g.spacing_mm.z(), 2.0, 1e-6);
  EXPECT_NEAR(files.front().thickness, 3.0, 1e-9);

  // The k = 0 plane holds the lowest file's pixels (decoded by GDCM here,
  // rescaled with the slope/intercept read here).
  gdcm::ImageReader reader;
  reader.SetFileName(files.front().path.c_str());
  ASSERT_TRUE(reader.Read());
  const gdcm::Image& image = reader.GetImage();
  const gdcm::PixelFormat::ScalarType type = image.GetPixelFormat().GetScalarType();
  ASSERT_TRUE(type == gdcm::PixelFormat::INT16 || type == gdcm::PixelFormat::UINT16)
      << image.GetPixelFormat().GetScalarTypeAsString();
  std::vector<char> buffer(image.GetBufferLength());
  ASSERT_TRUE(image.GetBuffer(buffer.data()));
  const DicomFile& first = files.front();
  std::set<float> distinct;
  for (int j = 0; j < first.rows; j += 7) {
    for (int i = 0; i < first.cols; i += 5) {
      const size_t offset = 2 * (static_cast<size_t>(j) * first.cols + i);
      double raw;
      if (type == gdcm::PixelFormat::INT16) {
        int16_t v;
        std::memcpy(&v, buffer.data() + offset, 2);
        raw = v;
      } else {
        uint16_t v;
        std::memcpy(&v, buffer.data() + offset, 2);
        raw = v;
      }
      ASSERT_EQ(r.volume.At(i, j, 0), raw * first.slope + first.intercept) << i << " " << j;
      distinct.insert(r.volume.At(i, j, 0));
    }
  }
  EXPECT_GT(distinct.size(), 50u);
}

// ---------------------------------------------------------------------------
// 5. Privacy: patient identifiers never reach an output, a log or the CLI.

TEST(DicomPrivacy, KeepsPatientIdentifiersOutOfOutputsLogsAndCli) {
  SSMX_REQUIRE_DATA("dicom/wg04/REF/CT1_UNC");
  ScopedDir dir{ssmx::testing::TempDir("dicom_privacy")};
  const std::string dicom_dir = dir.path + "/dicom", out_dir = dir.path + "/out";
  fs::create_directories(dicom_dir);
  fs::create_directories(out_dir);
  const std::string file = dicom_dir + "/slice.dcm";

  const std::vector<std::pair<gdcm::Tag, std::string>> secrets = {
      {gdcm::Tag(0x0010, 0x0010), "Doe^Jane^Secret"},      // PatientName
      {gdcm::Tag(0x0010, 0x0020), "PID-778899"},           // PatientID
      {gdcm::Tag(0x0010, 0x0030), "19450317"},             // PatientBirthDate
      {gdcm::Tag(0x0008, 0x0080), "St Example Hospital"},  // InstitutionName
      {gdcm::Tag(0x0008, 0x0050), "ACC-5566"},             // AccessionNumber
  };
  {
    gdcm::Reader reader;
    reader.SetFileName(Data("dicom/wg04/REF/CT1_UNC").c_str());
    ASSERT_TRUE(reader.Read());
    gdcm::Anonymizer anonymizer;
    anonymizer.SetFile(reader.GetFile());
    for (const auto& [tag, value] : secrets) ASSERT_TRUE(anonymizer.Replace(tag, value.c_str()));
    gdcm::Writer writer;
    writer.SetFileName(file.c_str());
    writer.SetFile(reader.GetFile());
    ASSERT_TRUE(writer.Write());
  }
  // The input does carry them (or this test would prove nothing).
  const std::string input = ReadBytes(file);
  for (const auto& [tag, value] : secrets) ASSERT_NE(input.find(value), std::string::npos) << value;

  std::vector<std::string> log_lines;
  std::mutex log_mutex;
  const ssmx::LogLevel old_level = ssmx::GetLogLevel();
  ssmx::SetLogLevel(ssmx::LogLevel::kDebug);
  ssmx::SetLogSink([&](ssmx::LogLevel level, const std::string& message) {
    std::lock_guard<std::mutex> lock(log_mutex);
    log_lines.push_back(std::string(ssmx::LogLevelName(level)) + ": " + message);
  });
  VolumeReadResult r;
  std::vector<std::string> outputs;
  try {
    r = ReadVolume(file);
    VolumeReadResult folder = ReadVolume(dicom_dir);
    r.findings.insert(r.findings.end(), folder.findings.begin(), folder.findings.end());
    for (const char* ext : {".mha", ".nii.gz", ".nrrd"}) {
      outputs.push_back(out_dir + "/volume" + ext);
      ssmx::ssm::WriteVolume(r.volume, outputs.back());
    }
  } catch (...) {
    ssmx::SetLogSink({});
    ssmx::SetLogLevel(old_level);
    throw;
  }
  ssmx::SetLogSink({});
  ssmx::SetLogLevel(old_level);
  EXPECT_EQ(r.volume.geometry().size, Eigen::Vector3i(512, 512, 1));

  // Everything ssmx produced, by origin.
  std::vector<std::pair<std::string, std::string>> texts;
  for (const std::string& line : log_lines) texts.emplace_back("log line", line);
  for (const QaFinding& f : r.findings) texts.emplace_back("finding", f.code + " " + f.message);
  for (const auto& [key, value] : r.technical) texts.emplace_back("technical", key + "=" + value);
  for (const std::string& path : outputs) {
    texts.emplace_back(path, ReadBytes(path));
    if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
      const std::string raw = Gunzip(path);
      EXPECT_GE(raw.size(), 512u * 512u * 2u) << "decompressed " << path;
      texts.emplace_back(path + " (decompressed)", raw);
    }
  }
#ifdef SSMX_CLI_PATH
  ASSERT_TRUE(fs::exists(SSMX_CLI_PATH)) << "CLI not built: " << SSMX_CLI_PATH;
  for (const std::string& args : {"-vv info '" + file + "'", "info --json '" + file + "'",
                                  "-vv info '" + dicom_dir + "'"}) {
    int status = -1;
    const std::string output = RunShell(std::string("'") + SSMX_CLI_PATH + "' " + args, &status);
    EXPECT_EQ(status, 0) << "ssmx " << args << ":\n" << output;
    EXPECT_NE(output.find("512"), std::string::npos) << "ssmx " << args << ":\n" << output;
    texts.emplace_back("ssmx " + args, output);
  }
#else
  ADD_FAILURE() << "SSMX_CLI_PATH is not defined; the CLI output was not checked";
#endif
  for (const auto& [origin, text] : texts) {
    for (const auto& [tag, value] : secrets) {
      EXPECT_EQ(text.find(value), std::string::npos) << "\"" << value << "\" leaked into " << origin;
    }
  }
}

// ---------------------------------------------------------------------------
// 6. Malformed input: errors, not crashes, and the right exception type.

// Runs ReadVolume in a child process (gtest death test) so that a crash or
// abort inside the reader is reported as a failure of this check instead of
// killing the test binary. The child exits 0 only on ssmx::InvalidInput.
void ReadExpectingInvalidInput(const std::string& path) {
  try {
    ReadVolume(path);
    std::fprintf(stderr, "ReadVolume returned without an exception\n");
    std::_Exit(4);
  } catch (const ssmx::InvalidInput& e) {
    std::fprintf(stderr, "InvalidInput: %s\n", e.what());
    std::_Exit(0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "another exception type: %s\n", e.what());
    std::_Exit(3);
  } catch (...) {
    std::fprintf(stderr, "a non-std exception\n");
    std::_Exit(3);
  }
}

// A copy of REF/CT1_UNC cut to `size` bytes (after dropping its first `skip`
// bytes) must be refused with ssmx::InvalidInput naming the file, and must
// not crash.
void ExpectTruncatedCopyRefused(size_t size, const std::string& what, size_t skip = 0) {
  // The "threadsafe" death test child re-runs the test body up to EXPECT_EXIT;
  // it finds the parent's scratch folder in the environment and reuses it, so
  // a child that crashes leaves nothing behind.
  const std::string env = "SSMX_DICOM_TEST_SCRATCH_" + what;
  const char* inherited = std::getenv(env.c_str());
  ScopedDir dir{inherited ? "" : ssmx::testing::TempDir("dicom_truncated_" + what)};
  const std::string scratch = inherited ? inherited : dir.path;
  const std::string name = "cut_" + std::to_string(size) + ".dcm";
  const std::string path = scratch + "/" + name;
  if (!inherited) {
    const std::string bytes = ReadBytes(Data("dicom/wg04/REF/CT1_UNC")).substr(skip);
    ASSERT_LT(size, bytes.size());
    WriteBytes(path, bytes.substr(0, size));
    ::setenv(env.c_str(), scratch.c_str(), 1);
  }
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(ReadExpectingInvalidInput(path), ::testing::ExitedWithCode(0),
              "InvalidInput: .*cut_" + std::to_string(size))
      << what;
  ::unsetenv(env.c_str());
}

TEST(DicomReadVolume, ThrowsInvalidInputNamingFileWhenCutInPreamble) {
  SSMX_REQUIRE_DATA("dicom/wg04/REF/CT1_UNC");
  ExpectTruncatedCopyRefused(100, "preamble");  // no "DICM" magic left
}

TEST(DicomReadVolume, ThrowsInvalidInputNamingFileWhenCutInFileMetaHeader) {
  SSMX_REQUIRE_DATA("dicom/wg04/REF/CT1_UNC");
  ExpectTruncatedCopyRefused(200, "file_meta");  // preamble + "DICM" + part of group 0002
}

TEST(DicomReadVolume, ThrowsInvalidInputNamingFileWhenCutInDataSetHeader) {
  SSMX_REQUIRE_DATA("dicom/wg04/REF/CT1_UNC");
  ExpectTruncatedCopyRefused(3000, "data_set");  // the header alone is 6344 bytes
}

TEST(DicomReadVolume, ThrowsInvalidInputNamingFileWhenPixelDataIsCut) {
  SSMX_REQUIRE_DATA("dicom/wg04/REF/CT1_UNC");
  const std::string ref = Data("dicom/wg04/REF/CT1_UNC");
  const DicomFile f = ReadDicomFile(ref, false);
  // Whole header kept, half of the 512 x 512 x 2 bytes of Pixel Data cut off.
  ExpectTruncatedCopyRefused(fs::file_size(ref) - static_cast<size_t>(f.rows) * f.cols, "pixel_data");
}

// Without its 128-byte preamble and "DICM" (as old or raw files come) the
// full file reads fine, so its truncated copies must be refused just the same.
TEST(DicomReadVolume, ThrowsInvalidInputNamingFileWhenFileWithoutPreambleIsCut) {
  SSMX_REQUIRE_DATA("dicom/wg04/REF/CT1_UNC");
  ExpectTruncatedCopyRefused(200, "no_preamble_meta", 132);
  ExpectTruncatedCopyRefused(3000 - 132, "no_preamble_data_set", 132);
}

TEST(DicomReadVolume, ThrowsInvalidInputWhenFolderHoldsNoDicom) {
  ScopedDir dir{ssmx::testing::TempDir("dicom_no_images")};
  WriteBytes(dir.path + "/notes.txt", "These are not the slices you are looking for.\n");
  const std::string message = InvalidInputMessage(dir.path);
  EXPECT_NE(message.find("no DICOM images"), std::string::npos) << message;
}

}  // namespace
