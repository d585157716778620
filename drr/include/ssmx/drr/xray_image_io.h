#ifndef SSMX_DRR_XRAY_IMAGE_IO_H_
#define SSMX_DRR_XRAY_IMAGE_IO_H_

#include <array>
#include <optional>
#include <string>

#include "ssmx/core/image2d.h"
#include "ssmx/drr/sidecar.h"

namespace ssmx::drr {

// An X-ray image and the geometry that travels with it.
struct XrayImage {
  Image2D image;
  Sidecar sidecar;
};

// The window a 16-bit PNG uses when none is given: [0, 1] for masks, [0, i0]
// for intensities (or [0, max] without i0), and [0, ceil(max)] (at least 1)
// for line integrals and path lengths. PNG value p stands for
// low + (high - low) * p / 65535; values outside the window are clipped.
std::array<double, 2> DefaultPngWindow(const Image2D& image, std::optional<double> i0);

// Writes the image and its sidecar (SidecarPath(path)), both atomically. The
// format follows the extension: .png (16-bit grey, the window recorded in the
// sidecar as png_window), .tif/.tiff (32-bit float), .mha/.mhd/.nii/.nii.gz/
// .nrrd (float, one slice, spacing = pixel spacing). The sidecar's quantity is
// set from the image; its rows and cols must match. Throws InvalidInput for an
// unknown extension, IoError when a file cannot be written.
void WriteXrayImage(const Image2D& image, Sidecar sidecar, const std::string& path,
                    std::optional<std::array<double, 2>> png_window = std::nullopt);

// Reads an image written by WriteXrayImage (or by another tool, with a sidecar
// in the same format): PNG (8- or 16-bit grey, mapped through png_window when
// the sidecar has one, else raw values), TIFF, MetaImage, NIfTI, NRRD. The
// sidecar must exist and agree with the image size.
XrayImage ReadXrayImage(const std::string& path);

}  // namespace ssmx::drr

#endif  // SSMX_DRR_XRAY_IMAGE_IO_H_
