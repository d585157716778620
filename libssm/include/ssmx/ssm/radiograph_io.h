#ifndef SSMX_SSM_RADIOGRAPH_IO_H_
#define SSMX_SSM_RADIOGRAPH_IO_H_

#include <optional>
#include <string>

#include "ssmx/core/image2d.h"

namespace ssmx::ssm {

// A projection radiograph read from one DICOM file (CR, DX, RF, XA, or any
// single-frame grey image), with the acquisition geometry the header offers.
// Only technical attributes are read; no patient or study identifier is.
struct DicomRadiograph {
  // Rescaled pixel values (Rescale Slope/Intercept applied). MONOCHROME1
  // images (white = low signal) are inverted to MONOCHROME2 (larger = more
  // signal) so that every radiograph reads the same way. Pixel spacing is the
  // detector's: Imager Pixel Spacing (0018,1164) when present, else Pixel
  // Spacing (0028,0030), else 1 mm with `spacing_known` false.
  Image2D image;
  bool spacing_known = false;
  std::string modality;                         // (0008,0060), e.g. "CR"
  std::string photometric;                      // as stored, e.g. "MONOCHROME1"
  std::optional<double> source_to_detector_mm;  // (0018,1110)
  std::optional<double> source_to_patient_mm;   // (0018,1111)
  std::string view_position;                    // (0018,5101), e.g. "AP", "LL"; may be empty
};

// Reads the first frame of a DICOM radiograph. Throws IoError when the file
// cannot be opened and InvalidInput when it is not DICOM, has no decodable
// pixel data, or holds a colour image.
DicomRadiograph ReadDicomRadiograph(const std::string& path);

// True for a .dcm / .dicom file name or a file with the DICOM preamble
// ("DICM" at byte 128).
bool LooksLikeDicomFile(const std::string& path);

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_RADIOGRAPH_IO_H_
