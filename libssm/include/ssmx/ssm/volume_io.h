#ifndef SSMX_SSM_VOLUME_IO_H_
#define SSMX_SSM_VOLUME_IO_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ssmx/core/progress.h"
#include "ssmx/core/volume.h"
#include "ssmx/ssm/qa_finding.h"

namespace ssmx::ssm {

struct VolumeReadOptions {
  // For a DICOM folder holding several series: the key of the one to read (see
  // ListDicomSeries). Empty: the folder must hold exactly one series.
  std::string series;
  // Interpolate across missing slices instead of refusing the series.
  bool allow_gaps = false;
  ProgressCallback progress;
};

// A volume and what the reader found out about it. `technical` holds
// acquisition fields that identify no one (modality, transfer syntax, slice
// thickness, kVp, manufacturer model, ...). Patient, study, institution and
// date fields are never read into it.
struct VolumeReadResult {
  Volume volume;
  std::string format;  // "DICOM", "NIfTI", "MetaImage", "NRRD"
  std::vector<QaFinding> findings;
  std::map<std::string, std::string> technical;
  bool resampled = false;  // the stored grid was irregular and was resampled
};

// Reads a CT or label volume into LPS millimetres:
//  - a folder: a DICOM series (any transfer syntax GDCM decodes: JPEG 2000,
//    JPEG-LS, JPEG lossless, RLE; single- or enhanced multi-frame), with
//    rescale slope/intercept applied (values in HU for CT) and the stack
//    checked (AnalyzeStack); tilted or unevenly spaced stacks, and gaps when
//    allowed, are resampled onto a regular grid and reported;
//  - a file: NIfTI (.nii, .nii.gz), MetaImage (.mha, .mhd), NRRD (.nrrd,
//    .nhdr) through ITK, converted to LPS; or a single DICOM file.
// Throws IoError for unreadable paths and InvalidInput for malformed or
// refused data, naming the path and the reason.
VolumeReadResult ReadVolume(const std::string& path, const VolumeReadOptions& options = {});

// Reads a volume slab by slab, so that a large CT can be converted (to
// attenuation, say) without holding the whole file in memory twice. Calls
// consume(whole, slab, k_begin) for consecutive slabs of at most
// `slices_per_slab` slices: `whole` is the geometry of the entire volume and
// `slab` holds slices k_begin .. k_begin + n - 1 (float, its own geometry).
// MetaImage, NRRD and uncompressed NIfTI stream through ITK; compressed files
// and DICOM folders are read whole and passed as one slab. Returns the whole
// volume's geometry. Errors as ReadVolume.
using SlabConsumer =
    std::function<void(const VolumeGeometry& whole, const Volume& slab, int k_begin)>;
VolumeGeometry ReadVolumeInSlabs(const std::string& path, int slices_per_slab,
                                 const SlabConsumer& consume,
                                 const VolumeReadOptions& options = {});

// Writes MetaImage (.mha, .mhd), NIfTI (.nii, .nii.gz) or NRRD (.nrrd),
// chosen by extension, atomically (temporary file + rename).
void WriteVolume(const Volume& volume, const std::string& path);

// True when the path names a file whose extension ReadVolume understands.
bool HasVolumeExtension(const std::string& path);

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_VOLUME_IO_H_
