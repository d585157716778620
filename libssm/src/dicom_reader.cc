// DICOM series reading through GDCM: header scan, grouping into series, stack
// QA (stack_analysis.cc), pixel decoding of every transfer syntax GDCM
// supports, rescale to HU, and resampling of irregular stacks.
//
// Privacy: only the technical attributes listed in kTechnicalTags and the
// geometry are ever copied out of a data set. Patient, study, institution and
// date attributes are not read into any ssmx structure, so they cannot reach
// an output, a log or a report.
#include "internal/dicom_reader.h"

#include <gdcmDataSet.h>
#include <gdcmGlobal.h>
#include <gdcmImage.h>
#include <gdcmImageReader.h>
#include <gdcmPixelFormat.h>
#include <gdcmReader.h>
#include <gdcmSequenceOfItems.h>
#include <gdcmTrace.h>
#include <gdcmTransferSyntax.h>
#include <gdcmUIDs.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "ssmx/core/error.h"
#include "ssmx/core/log.h"
#include "ssmx/ssm/dicom_series.h"
#include "ssmx/ssm/radiograph_io.h"

namespace ssmx::internal {
namespace fs = std::filesystem;
using ssm::DicomSeriesSummary;
using ssm::QaFinding;
using ssm::Severity;
using ssm::SliceGeometry;

namespace {

const gdcm::Tag kPixelData(0x7fe0, 0x0010);
const gdcm::Tag kSopClassUid(0x0008, 0x0016);
const gdcm::Tag kModality(0x0008, 0x0060);
const gdcm::Tag kSeriesUid(0x0020, 0x000e);
const gdcm::Tag kImagePosition(0x0020, 0x0032);
const gdcm::Tag kImageOrientation(0x0020, 0x0037);
const gdcm::Tag kRows(0x0028, 0x0010);
const gdcm::Tag kColumns(0x0028, 0x0011);
const gdcm::Tag kPixelSpacing(0x0028, 0x0030);
const gdcm::Tag kSliceThickness(0x0018, 0x0050);
const gdcm::Tag kNumberOfFrames(0x0028, 0x0008);
const gdcm::Tag kSharedGroups(0x5200, 0x9229);
const gdcm::Tag kPerFrameGroups(0x5200, 0x9230);
const gdcm::Tag kPlanePositionSeq(0x0020, 0x9113);
const gdcm::Tag kPlaneOrientationSeq(0x0020, 0x9116);
const gdcm::Tag kPixelMeasuresSeq(0x0028, 0x9110);

// Attributes that describe the acquisition and identify no one.
const std::pair<gdcm::Tag, const char*> kTechnicalTags[] = {
    {gdcm::Tag(0x0008, 0x0060), "modality"},
    {gdcm::Tag(0x0008, 0x0070), "manufacturer"},
    {gdcm::Tag(0x0008, 0x1090), "manufacturer_model"},
    {gdcm::Tag(0x0018, 0x0060), "kvp"},
    {gdcm::Tag(0x0018, 0x1210), "convolution_kernel"},
    {gdcm::Tag(0x0018, 0x1120), "gantry_detector_tilt_deg"},
    {gdcm::Tag(0x0028, 0x0004), "photometric_interpretation"},
};

// Silences GDCM's own warnings on stderr for the lifetime of a read: every
// problem it would print is turned into an ssmx error or finding instead.
class QuietGdcm {
 public:
  QuietGdcm() {
    gdcm::Trace::WarningOff();
    gdcm::Trace::ErrorOff();
    gdcm::Trace::DebugOff();
  }
};

std::string Trim(std::string s) {
  const auto is_pad = [](char c) { return c == ' ' || c == '\0' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_pad(s.back())) s.pop_back();
  size_t start = 0;
  while (start < s.size() && is_pad(s[start])) ++start;
  return s.substr(start);
}

// Value of a string-valued (ASCII VR) attribute; "" when absent or empty.
std::string GetString(const gdcm::DataSet& ds, const gdcm::Tag& tag) {
  if (!ds.FindDataElement(tag)) return "";
  const gdcm::DataElement& de = ds.GetDataElement(tag);
  const gdcm::ByteValue* bv = de.GetByteValue();
  if (!bv || bv->GetLength() == 0) return "";
  return Trim(std::string(bv->GetPointer(), bv->GetLength()));
}

// Backslash-separated decimal strings (DS/IS).
std::vector<double> ParseNumbers(const std::string& text) {
  std::vector<double> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, '\\')) {
    item = Trim(item);
    if (item.empty()) continue;
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (end == item.c_str() || !std::isfinite(v)) return {};
    values.push_back(v);
  }
  return values;
}

// US (unsigned short) attribute, handling both explicit and implicit VR.
int GetUnsignedShort(const gdcm::DataSet& ds, const gdcm::Tag& tag) {
  if (!ds.FindDataElement(tag)) return 0;
  const gdcm::ByteValue* bv = ds.GetDataElement(tag).GetByteValue();
  if (!bv || bv->GetLength() < 2) return 0;
  uint16_t v = 0;
  std::memcpy(&v, bv->GetPointer(), 2);  // little endian transfer syntaxes only
  return v;
}

// The first item of a sequence attribute, or null.
const gdcm::DataSet* FirstItem(const gdcm::DataSet& ds, const gdcm::Tag& tag, size_t index = 1) {
  if (!ds.FindDataElement(tag)) return nullptr;
  gdcm::SmartPointer<gdcm::SequenceOfItems> sq = ds.GetDataElement(tag).GetValueAsSQ();
  if (!sq || sq->GetNumberOfItems() < index) return nullptr;
  return &sq->GetItem(index).GetNestedDataSet();
}

// One image file as the scan sees it.
struct FileHeader {
  std::string path;
  std::string name;
  std::string series_uid;
  std::string modality;
  std::string sop_class;
  std::string transfer_syntax;
  bool encapsulated = false;  // compressed pixel data (fragments)
  bool has_pixel_data = false;  // a Pixel Data element is present (structure walk)
  std::map<std::string, std::string> technical;
  std::vector<SliceGeometry> frames;  // one per frame
};

std::string UidName(const std::string& uid) {
  if (uid.empty()) return "(empty UID)";
  gdcm::UIDs known;
  if (known.SetFromUID(uid.c_str()) && known.GetName() && *known.GetName()) return known.GetName();
  return uid;
}

bool Orientation(const std::string& text, SliceGeometry* g) {
  const std::vector<double> v = ParseNumbers(text);
  if (v.size() != 6) return false;
  g->row_direction = Eigen::Vector3d(v[0], v[1], v[2]);
  g->column_direction = Eigen::Vector3d(v[3], v[4], v[5]);
  if (g->row_direction.norm() < 0.5 || g->column_direction.norm() < 0.5) return false;
  g->row_direction.normalize();
  g->column_direction.normalize();
  return std::abs(g->row_direction.dot(g->column_direction)) < 1e-3;
}

bool Position(const std::string& text, SliceGeometry* g) {
  const std::vector<double> v = ParseNumbers(text);
  if (v.size() != 3) return false;
  g->position_mm = Eigen::Vector3d(v[0], v[1], v[2]);
  return true;
}

bool Spacing(const std::string& text, SliceGeometry* g) {
  const std::vector<double> v = ParseNumbers(text);
  if (v.size() != 2 || v[0] <= 0 || v[1] <= 0) return false;
  g->row_spacing_mm = v[0];
  g->column_spacing_mm = v[1];
  return true;
}

// Returns false when the data set holds no Pixel Data element; true when it
// does or when the encoding is left to GDCM (deflated, big endian).
bool WalkDicomElements(const std::string& path, const std::string& b, size_t start_at);

// Debian's GDCM is built with assertions, and a file cut inside its header
// makes it abort(). Walk the element structure first (preamble, file meta
// group, then every element header of the data set, nested items included)
// and refuse a file whose elements run past its end, pixel data included
// (GDCM would zero-fill missing native pixel data). Deflated and big-endian
// data sets are left to GDCM.
//
// Files with the "DICM" preamble are walked from byte 132 and throw when
// malformed. Files without it (old ACR-NEMA style) are walked from byte 0; when
// their structure does not parse they are not treated as DICOM at all
// (returns false) so that GDCM never sees them. `has_pixel_data` tells whether
// the data set holds a Pixel Data element.
bool CheckDicomStructure(const std::string& path, bool* has_pixel_data) {
  std::ifstream in(path, std::ios::binary);
  const std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const bool preamble = b.size() >= 132 && b.compare(128, 4, "DICM") == 0;
  if (preamble) {
    *has_pixel_data = WalkDicomElements(path, b, 132);
    return true;
  }
  try {
    *has_pixel_data = WalkDicomElements(path, b, 0);
  } catch (const InvalidInput&) {
    return false;
  }
  return true;
}

bool WalkDicomElements(const std::string& path, const std::string& b, size_t start_at) {
  const auto truncated = [&](size_t at) {
    return InvalidInput(path + ": DICOM file is truncated or corrupt (an element at byte " +
                        std::to_string(at) + " runs past the end of the file, " +
                        std::to_string(b.size()) + " bytes)");
  };
  const auto u16 = [&](size_t at) { uint16_t v; std::memcpy(&v, b.data() + at, 2); return v; };
  const auto u32 = [&](size_t at) { uint32_t v; std::memcpy(&v, b.data() + at, 4); return v; };
  const auto long_vr = [](const std::string& vr) {
    static const char* kLong[] = {"OB", "OW", "OF", "OD", "OL", "OV", "SQ", "UT", "UN", "UC", "UR", "SV", "UV"};
    for (const char* l : kLong) {
      if (vr == l) return true;
    }
    return false;
  };
  if (b.size() < start_at + 8) throw truncated(start_at);
  size_t pos = start_at;
  bool in_meta = u16(pos) == 0x0002, in_fragments = false, saw_pixel_data = false;
  // Without a file meta group the encoding must be guessed: an explicit VR is
  // two upper-case letters after the tag.
  bool explicit_vr = in_meta || (std::isupper(static_cast<unsigned char>(b[pos + 4])) &&
                                 std::isupper(static_cast<unsigned char>(b[pos + 5])));
  std::string transfer_syntax;
  while (pos < b.size()) {
    if (pos + 8 > b.size()) throw truncated(pos);
    const uint16_t group = u16(pos);
    if (in_meta && group != 0x0002) {
      in_meta = false;
      if (transfer_syntax == "1.2.840.10008.1.2.1.99") return true;  // deflated: left to GDCM
      if (transfer_syntax == "1.2.840.10008.1.2.2") return true;     // big endian: left to GDCM
      explicit_vr = transfer_syntax != "1.2.840.10008.1.2";
    }
    const size_t start = pos;
    uint64_t length;
    if (group == 0xfffe) {  // item, item delimiter, sequence delimiter: no VR
      length = u32(pos + 4);
      pos += 8;
      if (u16(start + 2) == 0xe0dd) in_fragments = false;
      // Items of encapsulated pixel data hold raw fragment bytes: skip them.
      // Items of a sequence hold nested elements: walk into them.
      if (!(in_fragments && u16(start + 2) == 0xe000)) continue;
      if (pos + length > b.size()) throw truncated(start);
      pos += length;
      continue;
    }
    const bool pixel_data = group == 0x7fe0 && u16(pos + 2) == 0x0010;
    saw_pixel_data = saw_pixel_data || pixel_data;
    if (explicit_vr) {
      const std::string vr = b.substr(pos + 4, 2);
      if (long_vr(vr)) {
        if (pos + 12 > b.size()) throw truncated(pos);
        length = u32(pos + 8);
        pos += 12;
      } else {
        length = u16(pos + 6);
        pos += 8;
      }
      if (length == 0xffffffffu && pixel_data) in_fragments = true;
      if (vr == "SQ" || (length == 0xffffffffu)) continue;  // walk into sequences
    } else {
      length = u32(pos + 4);
      pos += 8;
      if (length == 0xffffffffu && pixel_data) in_fragments = true;
      if (length == 0xffffffffu) continue;
      // Implicit VR: a sequence is only known from the dictionary; its items
      // start with (FFFE,E000), which is walked like any element.
      if (length >= 8 && pos + 4 <= b.size() && u16(pos) == 0xfffe && u16(pos + 2) == 0xe000) continue;
    }
    if (pos + length > b.size()) throw truncated(start);
    if (in_meta && group == 0x0002 && u16(start + 2) == 0x0010) {
      transfer_syntax = Trim(b.substr(pos, length));
    }
    pos += length;
  }
  return saw_pixel_data;
}

// Reads everything but the pixel data. Returns false for files that are not
// DICOM images (non-DICOM files, DICOMDIR, structured reports...). Throws for
// a file that claims to be DICOM but is malformed.
bool ScanHeader(const fs::path& file, FileHeader* out) {
  if (!CheckDicomStructure(file.string(), &out->has_pixel_data)) return false;
  gdcm::Reader reader;
  reader.SetFileName(file.string().c_str());
  const bool ok = reader.ReadUpToTag(kPixelData);
  if (!ok) {
    if (HasDicomPreamble(file.string())) {
      throw InvalidInput(file.string() +
                         ": DICOM file is truncated or corrupt (its header cannot be parsed)");
    }
    return false;
  }
  const gdcm::DataSet& ds = reader.GetFile().GetDataSet();
  out->path = file.string();
  out->name = file.filename().string();
  const int rows = GetUnsignedShort(ds, kRows);
  const int cols = GetUnsignedShort(ds, kColumns);
  if (rows == 0 || cols == 0) return false;  // not an image
  out->series_uid = GetString(ds, kSeriesUid);
  out->modality = GetString(ds, kModality);
  out->sop_class = UidName(GetString(ds, kSopClassUid));
  const gdcm::TransferSyntax& ts = reader.GetFile().GetHeader().GetDataSetTransferSyntax();
  out->transfer_syntax = UidName(gdcm::TransferSyntax::GetTSString(ts));
  out->encapsulated = ts.IsEncapsulated() || ts.GetSwapCode() == gdcm::SwapCode::BigEndian;
  for (const auto& [tag, key] : kTechnicalTags) {
    const std::string value = GetString(ds, tag);
    if (!value.empty()) out->technical[key] = value;
  }
  out->technical["transfer_syntax"] = out->transfer_syntax;
  out->technical["sop_class"] = out->sop_class;

  const std::vector<double> frames_v = ParseNumbers(GetString(ds, kNumberOfFrames));
  const int num_frames = frames_v.empty() ? 1 : std::max(1, static_cast<int>(frames_v[0]));
  const gdcm::DataSet* shared = FirstItem(ds, kSharedGroups);

  for (int f = 0; f < num_frames; ++f) {
    SliceGeometry g;
    g.rows = rows;
    g.cols = cols;
    g.frame = f;
    g.source = num_frames > 1 ? out->name + "[" + std::to_string(f) + "]" : out->name;
    const gdcm::DataSet* per_frame = FirstItem(ds, kPerFrameGroups, static_cast<size_t>(f) + 1);
    // Enhanced multi-frame: a functional group in the frame's item overrides
    // the shared one; classic files carry the attributes at top level.
    auto find = [&](const gdcm::Tag& seq, const gdcm::Tag& attr) -> std::string {
      for (const gdcm::DataSet* group : {per_frame, shared}) {
        if (!group) continue;
        if (const gdcm::DataSet* item = FirstItem(*group, seq)) {
          const std::string v = GetString(*item, attr);
          if (!v.empty()) return v;
        }
      }
      return GetString(ds, attr);
    };
    const std::string position = find(kPlanePositionSeq, kImagePosition);
    const std::string orientation = find(kPlaneOrientationSeq, kImageOrientation);
    const std::string spacing = find(kPixelMeasuresSeq, kPixelSpacing);
    const std::string thickness = find(kPixelMeasuresSeq, kSliceThickness);
    if (position.empty() || orientation.empty()) {
      throw InvalidInput(file.string() +
                         ": image has no Image Position / Orientation (Patient); it is not a "
                         "cross-sectional image and cannot be part of a volume");
    }
    if (!Position(position, &g) || !Orientation(orientation, &g)) {
      throw InvalidInput(file.string() + ": malformed Image Position or Orientation (Patient) \"" +
                         position + "\" / \"" + orientation + "\"");
    }
    if (!spacing.empty() && !Spacing(spacing, &g)) {
      throw InvalidInput(file.string() + ": malformed Pixel Spacing \"" + spacing + "\"");
    }
    const std::vector<double> t = ParseNumbers(thickness);
    g.thickness_mm = t.empty() ? 0.0 : t[0];
    out->frames.push_back(g);
  }
  return true;
}

std::string GeometryKey(const FileHeader& h) {
  const SliceGeometry& g = h.frames.front();
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%.3f %.3f %.3f %.3f %.3f %.3f %d %d %.4f %.4f",
                g.row_direction.x(), g.row_direction.y(), g.row_direction.z(),
                g.column_direction.x(), g.column_direction.y(), g.column_direction.z(), g.rows,
                g.cols, g.row_spacing_mm, g.column_spacing_mm);
  return buf;
}

struct Series {
  DicomSeriesSummary summary;
  std::vector<FileHeader> files;
};

struct FolderScan {
  std::vector<Series> series;
  int skipped = 0;
};

// Groups the image files of a folder into series: by SeriesInstanceUID, and
// by orientation, size and spacing for the files whose UID is empty.
FolderScan ScanFolder(const std::string& folder, const ProgressCallback& progress) {
  QuietGdcm quiet;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw IoError(folder + ": not a readable folder");
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (entry.is_regular_file(ec)) files.push_back(entry.path());
  }
  if (ec) throw IoError(folder + ": cannot list the folder (" + ec.message() + ")");
  std::sort(files.begin(), files.end());

  FolderScan scan;
  std::map<std::string, size_t> by_key;
  std::map<std::string, int> geometry_groups;
  for (size_t i = 0; i < files.size(); ++i) {
    ReportProgress(progress, 0.3 * i / files.size(), "scanning DICOM headers");
    FileHeader header;
    if (!ScanHeader(files[i], &header)) {
      ++scan.skipped;
      continue;
    }
    std::string key = header.series_uid;
    if (key.empty()) {
      const std::string geometry = GeometryKey(header);
      auto [it, inserted] =
          geometry_groups.emplace(geometry, static_cast<int>(geometry_groups.size()) + 1);
      key = "geometry-" + std::to_string(it->second);
    }
    auto [it, inserted] = by_key.emplace(key, scan.series.size());
    if (inserted) {
      Series s;
      s.summary.key = key;
      s.summary.series_uid = header.series_uid;
      s.summary.modality = header.modality;
      s.summary.sop_class = header.sop_class;
      s.summary.rows = header.frames.front().rows;
      s.summary.cols = header.frames.front().cols;
      scan.series.push_back(s);
    }
    Series& s = scan.series[it->second];
    s.summary.num_files += 1;
    s.summary.num_slices += static_cast<int>(header.frames.size());
    s.files.push_back(std::move(header));
  }
  if (scan.series.empty()) {
    throw InvalidInput(folder + ": no DICOM images found (" + std::to_string(files.size()) +
                       " files checked); point to the folder that holds the .dcm slices");
  }
  return scan;
}

std::string DescribeSeries(const std::vector<Series>& series) {
  std::ostringstream out;
  for (const Series& s : series) {
    out << "\n  " << s.summary.key << "  (" << s.summary.modality << ", " << s.summary.num_slices
        << " slices of " << s.summary.cols << "x" << s.summary.rows << ")";
  }
  return out.str();
}

// Rescaled float values of the first `count` pixels of a decoded buffer.
std::vector<float> ConvertPixels(const gdcm::Image& image, const std::vector<char>& buffer,
                                 size_t count, const std::string& path) {
  const gdcm::PixelFormat& pf = image.GetPixelFormat();
  const double slope = image.GetSlope() == 0.0 ? 1.0 : image.GetSlope();
  const double intercept = image.GetIntercept();
  std::vector<float> values(count);
  auto convert = [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < count; ++i) {
      T v;
      std::memcpy(&v, buffer.data() + i * sizeof(T), sizeof(T));
      values[i] = static_cast<float>(v * slope + intercept);
    }
  };
  switch (pf.GetScalarType()) {
    case gdcm::PixelFormat::UINT8: convert(uint8_t{}); break;
    case gdcm::PixelFormat::INT8: convert(int8_t{}); break;
    case gdcm::PixelFormat::UINT12:
    case gdcm::PixelFormat::UINT16: convert(uint16_t{}); break;
    case gdcm::PixelFormat::INT12:
    case gdcm::PixelFormat::INT16: convert(int16_t{}); break;
    case gdcm::PixelFormat::UINT32: convert(uint32_t{}); break;
    case gdcm::PixelFormat::INT32: convert(int32_t{}); break;
    case gdcm::PixelFormat::FLOAT32: convert(float{}); break;
    case gdcm::PixelFormat::FLOAT64: convert(double{}); break;
    default:
      throw InvalidInput(path + ": unsupported pixel format " +
                         std::string(pf.GetScalarTypeAsString()));
  }
  return values;
}

// Decodes the pixel data of one file (all frames) to rescaled float values.
std::vector<float> DecodeFile(const FileHeader& header) {
  const SliceGeometry& g = header.frames.front();
  const size_t pixels_per_frame = static_cast<size_t>(g.rows) * g.cols;
  const size_t count = pixels_per_frame * header.frames.size();
  gdcm::ImageReader reader;
  reader.SetFileName(header.path.c_str());
  if (!reader.Read()) {
    throw InvalidInput(header.path + ": pixel data cannot be decoded (truncated file or "
                       "unsupported transfer syntax " + header.transfer_syntax + ")");
  }
  const gdcm::Image& image = reader.GetImage();
  const gdcm::PixelFormat& pf = image.GetPixelFormat();
  if (pf.GetSamplesPerPixel() != 1) {
    throw InvalidInput(header.path + ": " + std::to_string(pf.GetSamplesPerPixel()) +
                       " samples per pixel (colour image); a CT volume needs grey-scale slices");
  }
  const unsigned long length = image.GetBufferLength();
  const size_t bytes = pf.GetPixelSize();
  if (!header.has_pixel_data) {
    throw InvalidInput(header.path + ": the file has no pixel data element; it is truncated or not an image");
  }
  if (bytes == 0 || length < count * bytes) {
    throw InvalidInput(header.path + ": pixel data holds " + std::to_string(length) +
                       " bytes where " + std::to_string(count * bytes) +
                       " are needed; the file is truncated or corrupt");
  }
  std::vector<char> buffer(length);
  if (!image.GetBuffer(buffer.data())) {
    throw InvalidInput(header.path + ": pixel data cannot be decoded (truncated or corrupt " +
                       header.transfer_syntax + " stream)");
  }
  return ConvertPixels(image, buffer, count, header.path);
}

// Bilinear sample of one slice at continuous (column, row); NaN outside.
float SampleSlice(const float* slice, int rows, int cols, double c, double r) {
  if (!(c >= -1e-6 && r >= -1e-6 && c <= cols - 1 + 1e-6 && r <= rows - 1 + 1e-6)) {
    return std::numeric_limits<float>::quiet_NaN();
  }
  const int c0 = std::clamp(static_cast<int>(std::floor(c)), 0, std::max(0, cols - 2));
  const int r0 = std::clamp(static_cast<int>(std::floor(r)), 0, std::max(0, rows - 2));
  const int c1 = std::min(c0 + 1, cols - 1), r1 = std::min(r0 + 1, rows - 1);
  const double fc = std::clamp(c - c0, 0.0, 1.0), fr = std::clamp(r - r0, 0.0, 1.0);
  const double top = (1 - fc) * slice[r0 * cols + c0] + fc * slice[r0 * cols + c1];
  const double bottom = (1 - fc) * slice[r1 * cols + c0] + fc * slice[r1 * cols + c1];
  return static_cast<float>((1 - fr) * top + fr * bottom);
}

}  // namespace

bool HasDicomPreamble(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {0, 0, 0, 0};
  in.seekg(128);
  in.read(magic, 4);
  return in && std::memcmp(magic, "DICM", 4) == 0;
}

Volume MakeVolume(const VolumeGeometry& geometry, const std::vector<float>& values) {
  bool integral = true;
  for (float v : values) {
    if (v != std::nearbyint(v) || v < -32768.0f || v > 32767.0f) {
      integral = false;
      break;
    }
  }
  Volume volume(geometry, integral ? VoxelType::kInt16 : VoxelType::kFloat32);
  if (integral) {
    std::transform(values.begin(), values.end(), volume.data<int16_t>(),
                   [](float v) { return static_cast<int16_t>(v); });
  } else {
    std::copy(values.begin(), values.end(), volume.data<float>());
  }
  return volume;
}

ssm::VolumeReadResult ReadDicom(const std::string& path, const ssm::VolumeReadOptions& options) {
  QuietGdcm quiet;
  std::vector<FileHeader> files;
  std::vector<QaFinding> findings;
  std::error_code ec;
  std::string label = path;
  if (fs::is_directory(path, ec)) {
    FolderScan scan = ScanFolder(path, options.progress);
    const Series* chosen = nullptr;
    if (!options.series.empty()) {
      for (const Series& s : scan.series) {
        if (s.summary.key == options.series) chosen = &s;
      }
      if (!chosen) {
        throw InvalidInput(path + ": no series \"" + options.series + "\"; the folder holds:" +
                           DescribeSeries(scan.series));
      }
    } else if (scan.series.size() > 1) {
      throw InvalidInput(path + ": the folder holds " + std::to_string(scan.series.size()) +
                         " series; choose one with --series KEY:" + DescribeSeries(scan.series));
    } else {
      chosen = &scan.series.front();
    }
    files = chosen->files;
    if (chosen->summary.series_uid.empty()) {
      findings.push_back({Severity::kInfo, "empty_series_uid",
                          "the files have an empty SeriesInstanceUID; grouped by orientation, "
                          "size and pixel spacing into " + chosen->summary.key,
                          false});
    }
    if (scan.skipped > 0) {
      findings.push_back({Severity::kInfo, "non_image_files",
                          std::to_string(scan.skipped) +
                              " file(s) in the folder are not DICOM images and were ignored",
                          false});
    }
  } else if (fs::is_regular_file(path, ec)) {
    FileHeader header;
    if (!ScanHeader(path, &header)) {
      throw InvalidInput(path + ": not a DICOM image (no DICOM header or no pixel rows/columns)");
    }
    files.push_back(std::move(header));
  } else {
    throw IoError(path + ": no such file or folder");
  }

  // Flatten frames and check the stack.
  std::vector<SliceGeometry> slices;
  std::vector<std::pair<size_t, int>> slice_source;  // (file, frame)
  for (size_t f = 0; f < files.size(); ++f) {
    for (const SliceGeometry& g : files[f].frames) {
      slices.push_back(g);
      slice_source.emplace_back(f, g.frame);
    }
  }
  ssm::StackCheckOptions check;
  check.allow_gaps = options.allow_gaps;
  const ssm::StackAnalysis stack = ssm::AnalyzeStack(slices, check);
  findings.insert(findings.end(), stack.findings.begin(), stack.findings.end());
  for (const QaFinding& f : stack.findings) {
    if (f.severity == Severity::kError) throw InvalidInput(label + ": " + f.message);
  }

  // Decode pixels, one file at a time, into slice order.
  const SliceGeometry& first = slices.front();
  const int rows = first.rows, cols = first.cols;
  const size_t per_slice = static_cast<size_t>(rows) * cols;
  std::vector<float> stacked(per_slice * slices.size());
  std::vector<size_t> position_of(slices.size());
  for (size_t i = 0; i < stack.order.size(); ++i) position_of[stack.order[i]] = i;
  size_t slice_index = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    ReportProgress(options.progress, 0.3 + 0.6 * f / files.size(), "decoding DICOM pixels");
    const std::vector<float> values = DecodeFile(files[f]);
    for (size_t frame = 0; frame < files[f].frames.size(); ++frame, ++slice_index) {
      std::copy(values.begin() + frame * per_slice, values.begin() + (frame + 1) * per_slice,
                stacked.begin() + position_of[slice_index] * per_slice);
    }
  }

  ssm::VolumeReadResult result;
  result.format = "DICOM";
  result.technical = files.front().technical;
  result.technical["files"] = std::to_string(files.size());
  result.technical["slices"] = std::to_string(slices.size());
  if (!first.thickness_mm) result.technical.erase("slice_thickness_mm");
  else {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", first.thickness_mm);
    result.technical["slice_thickness_mm"] = buf;
  }

  const Eigen::Vector3d r = first.row_direction, c = first.column_direction, n = stack.normal;
  VolumeGeometry geometry;
  geometry.direction.col(0) = r;
  geometry.direction.col(1) = c;
  geometry.direction.col(2) = n;

  if (!stack.tilted && !stack.uneven && !stack.has_gaps) {
    geometry.size = Eigen::Vector3i(cols, rows, static_cast<int>(slices.size()));
    geometry.spacing_mm = Eigen::Vector3d(first.column_spacing_mm, first.row_spacing_mm,
                                          stack.median_spacing_mm > 0 ? stack.median_spacing_mm : 1.0);
    geometry.origin_mm = slices[stack.order.front()].position_mm;
    result.volume = MakeVolume(geometry, stacked);
  } else {
    // Resample onto a regular grid in the slice frame (r, c, n) covering every
    // slice: bilinear within the two slices that bracket a voxel's plane,
    // linear between them. Voxels no slice covers get the lowest value found
    // (air or padding).
    double a_min = 1e300, a_max = -1e300, b_min = 1e300, b_max = -1e300;
    for (const SliceGeometry& s : slices) {
      a_min = std::min(a_min, s.position_mm.dot(r));
      a_max = std::max(a_max, s.position_mm.dot(r));
      b_min = std::min(b_min, s.position_mm.dot(c));
      b_max = std::max(b_max, s.position_mm.dot(c));
    }
    const double dx = first.column_spacing_mm, dy = first.row_spacing_mm;
    const int nx = cols + static_cast<int>(std::ceil((a_max - a_min) / dx - 1e-6));
    const int ny = rows + static_cast<int>(std::ceil((b_max - b_min) / dy - 1e-6));
    const double s_min = stack.positions_mm.front(), s_max = stack.positions_mm.back();
    const int nz = std::max(2, static_cast<int>(std::lround((s_max - s_min) / stack.median_spacing_mm)) + 1);
    const double dz = (s_max - s_min) / (nz - 1);
    geometry.size = Eigen::Vector3i(nx, ny, nz);
    geometry.spacing_mm = Eigen::Vector3d(dx, dy, dz);
    geometry.origin_mm = a_min * r + b_min * c + s_min * n;
    const float fill = *std::min_element(stacked.begin(), stacked.end());
    std::vector<float> out(static_cast<size_t>(nx) * ny * nz);
    const std::vector<double>& s_pos = stack.positions_mm;
    for (int k = 0; k < nz; ++k) {
      ReportProgress(options.progress, 0.9 + 0.1 * k / nz, "resampling to a regular grid");
      const double s = s_min + k * dz;
      size_t m1 = std::upper_bound(s_pos.begin(), s_pos.end(), s) - s_pos.begin();
      m1 = std::clamp<size_t>(m1, 1, s_pos.size() - 1);
      const size_t m0 = m1 - 1;
      const double w = std::clamp((s - s_pos[m0]) / (s_pos[m1] - s_pos[m0]), 0.0, 1.0);
      const SliceGeometry& g0 = slices[stack.order[m0]];
      const SliceGeometry& g1 = slices[stack.order[m1]];
      const float* p0 = stacked.data() + m0 * per_slice;
      const float* p1 = stacked.data() + m1 * per_slice;
      const double a0 = g0.position_mm.dot(r), b0 = g0.position_mm.dot(c);
      const double a1 = g1.position_mm.dot(r), b1 = g1.position_mm.dot(c);
      for (int j = 0; j < ny; ++j) {
        const double b = b_min + j * dy;
        float* row_out = out.data() + (static_cast<size_t>(k) * ny + j) * nx;
        for (int i = 0; i < nx; ++i) {
          const double a = a_min + i * dx;
          const float v0 = SampleSlice(p0, rows, cols, (a - a0) / dx, (b - b0) / dy);
          const float v1 = SampleSlice(p1, rows, cols, (a - a1) / dx, (b - b1) / dy);
          float v;
          if (std::isnan(v0) && std::isnan(v1)) v = fill;
          else if (std::isnan(v0)) v = w > 0.5 ? v1 : fill;
          else if (std::isnan(v1)) v = w < 0.5 ? v0 : fill;
          else v = static_cast<float>((1 - w) * v0 + w * v1);
          row_out[i] = v;
        }
      }
    }
    result.volume = MakeVolume(geometry, out);
    result.resampled = true;
    std::ostringstream msg;
    msg << "resampled onto a regular grid of " << nx << " x " << ny << " x " << nz
        << " voxels, spacing " << dx << " x " << dy << " x " << dz << " mm";
    findings.push_back({Severity::kInfo, "resampled", msg.str(), true});
  }
  result.findings = std::move(findings);
  ReportProgress(options.progress, 1.0, "done");
  return result;
}

}  // namespace ssmx::internal

namespace ssmx::ssm {

std::vector<DicomSeriesSummary> ListDicomSeries(const std::string& folder) {
  std::vector<DicomSeriesSummary> out;
  for (const auto& s : internal::ScanFolder(folder, {}).series) out.push_back(s.summary);
  return out;
}


DicomRadiograph ReadDicomRadiograph(const std::string& path) {
  if (!std::ifstream(path, std::ios::binary)) {
    throw IoError(path + ": cannot open the radiograph (check the path and permissions)");
  }
  gdcm::ImageReader reader;
  reader.SetFileName(path.c_str());
  if (!reader.Read()) {
    throw InvalidInput(path + ": not a readable DICOM image (not DICOM, truncated, or an "
                       "unsupported transfer syntax)");
  }
  const gdcm::Image& image = reader.GetImage();
  const gdcm::DataSet& ds = reader.GetFile().GetDataSet();
  if (image.GetPixelFormat().GetSamplesPerPixel() != 1) {
    throw InvalidInput(path + ": a colour image; a radiograph must be grey-scale");
  }
  const unsigned int* dims = image.GetDimensions();
  const int cols = static_cast<int>(dims[0]);
  const int rows = static_cast<int>(dims[1]);
  if (rows <= 0 || cols <= 0 || !ds.FindDataElement(internal::kPixelData)) {
    throw InvalidInput(path + ": the file has no pixel data; it is not an image");
  }
  std::vector<char> buffer(image.GetBufferLength());
  const size_t count = static_cast<size_t>(rows) * cols;
  if (buffer.size() < count * image.GetPixelFormat().GetPixelSize() ||
      !image.GetBuffer(buffer.data())) {
    throw InvalidInput(path + ": pixel data cannot be decoded (truncated or corrupt file)");
  }
  DicomRadiograph out;
  out.image = Image2D(rows, cols);
  out.image.pixels = internal::ConvertPixels(image, buffer, count, path);
  out.photometric = internal::GetString(ds, gdcm::Tag(0x0028, 0x0004));
  if (out.photometric == "MONOCHROME1") {
    const auto [low, high] = std::minmax_element(out.image.pixels.begin(), out.image.pixels.end());
    const float sum = *low + *high;
    for (float& v : out.image.pixels) v = sum - v;
  }
  out.modality = internal::GetString(ds, internal::kModality);
  out.view_position = internal::GetString(ds, gdcm::Tag(0x0018, 0x5101));
  std::vector<double> spacing =
      internal::ParseNumbers(internal::GetString(ds, gdcm::Tag(0x0018, 0x1164)));
  if (spacing.size() != 2) {
    spacing = internal::ParseNumbers(internal::GetString(ds, internal::kPixelSpacing));
  }
  if (spacing.size() == 2 && spacing[0] > 0 && spacing[1] > 0) {
    out.spacing_known = true;
    out.image.pixel_spacing_v_mm = spacing[0];  // DICOM: row spacing first
    out.image.pixel_spacing_u_mm = spacing[1];
  }
  const auto distance = [&](uint16_t element) -> std::optional<double> {
    const std::vector<double> v =
        internal::ParseNumbers(internal::GetString(ds, gdcm::Tag(0x0018, element)));
    if (v.size() == 1 && v[0] > 0) return v[0];
    return std::nullopt;
  };
  out.source_to_detector_mm = distance(0x1110);
  out.source_to_patient_mm = distance(0x1111);
  out.image.quantity = ImageQuantity::kIntensity;
  return out;
}

bool LooksLikeDicomFile(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".dcm" || ext == ".DCM" || ext == ".dicom" || internal::HasDicomPreamble(path);
}

}  // namespace ssmx::ssm
