#ifndef SSMX_SSM_DICOM_SERIES_H_
#define SSMX_SSM_DICOM_SERIES_H_

#include <Eigen/Core>
#include <string>
#include <vector>

#include "ssmx/ssm/qa_finding.h"

namespace ssmx::ssm {

// Geometry of one stored 2D slice (a file, or one frame of a multi-frame file),
// as DICOM gives it: Image Position / Orientation (Patient), Pixel Spacing.
struct SliceGeometry {
  Eigen::Vector3d position_mm = Eigen::Vector3d::Zero();  // centre of the first pixel
  Eigen::Vector3d row_direction = Eigen::Vector3d::UnitX();  // along a row (columns increase)
  Eigen::Vector3d column_direction = Eigen::Vector3d::UnitY();  // down a column
  int rows = 0;
  int cols = 0;
  double row_spacing_mm = 1.0;     // between rows (DICOM PixelSpacing[0])
  double column_spacing_mm = 1.0;  // between columns (DICOM PixelSpacing[1])
  double thickness_mm = 0.0;       // 0 when absent
  std::string source;              // file name, or "file[frame]"; never a patient field
  int frame = 0;                   // frame within a multi-frame file
};

// Result of checking a stack of slices. `order` lists the slice indices sorted
// along the slice normal; `positions_mm` are their signed distances along it.
struct StackAnalysis {
  std::vector<QaFinding> findings;
  std::vector<int> order;
  std::vector<double> positions_mm;
  Eigen::Vector3d normal = Eigen::Vector3d::UnitZ();  // row x column direction
  double median_spacing_mm = 0.0;
  double gantry_tilt_deg = 0.0;  // angle between the normal and the stacking direction
  bool tilted = false;
  bool uneven = false;
  bool has_gaps = false;
  bool refused = false;  // an error finding that blocks reading the stack
};

// Options of the checks; the defaults are the documented policy (docs/cli.md).
struct StackCheckOptions {
  double gap_factor = 1.5;          // a step > gap_factor x median spacing is a gap
  double uneven_tolerance = 0.01;   // relative deviation of a step from the median
  double tilt_tolerance_deg = 0.1;  // below this, no tilt is reported
  bool allow_gaps = false;          // gaps are refused unless set
};

// Checks a stack of slices for missing slices (gaps), uneven spacing, gantry
// tilt, mixed orientations or sizes, duplicate positions and overlapping
// slices. Pure geometry: no file is read. Every finding carries its severity;
// the correctable ones (tilt, uneven spacing, allowed gaps) are marked
// corrected = true because the reader resamples them.
StackAnalysis AnalyzeStack(const std::vector<SliceGeometry>& slices,
                           const StackCheckOptions& options = {});

// One series found in a DICOM folder. `key` is what --series accepts: the
// SeriesInstanceUID, or "geometry-N" for files whose UID is empty and which
// were grouped by orientation and size.
struct DicomSeriesSummary {
  std::string key;
  std::string series_uid;
  std::string modality;
  std::string sop_class;   // e.g. "CT Image Storage", "Enhanced CT Image Storage"
  int num_files = 0;
  int num_slices = 0;      // frames included
  int rows = 0;
  int cols = 0;
};

// Lists the image series in a folder (not recursive). Files that are not DICOM
// are ignored; throws IoError when the folder cannot be read and InvalidInput
// when it holds no DICOM image.
std::vector<DicomSeriesSummary> ListDicomSeries(const std::string& folder);

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_DICOM_SERIES_H_
