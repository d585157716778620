#ifndef SSMX_SSM_INTERNAL_DICOM_READER_H_
#define SSMX_SSM_INTERNAL_DICOM_READER_H_

#include <string>

#include "ssmx/ssm/volume_io.h"

namespace ssmx::internal {

// Reads a DICOM series from a folder, or one DICOM file, through GDCM. See
// ssm::ReadVolume for the contract.
ssm::VolumeReadResult ReadDicom(const std::string& path, const ssm::VolumeReadOptions& options);

// True when the file starts with the DICOM preamble ("DICM" at byte 128).
bool HasDicomPreamble(const std::string& path);

// Stores `values` (HU after rescale) as int16 when every value is an integer in
// int16 range, otherwise as float32.
Volume MakeVolume(const VolumeGeometry& geometry, const std::vector<float>& values);

}  // namespace ssmx::internal

#endif  // SSMX_SSM_INTERNAL_DICOM_READER_H_
