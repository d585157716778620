#ifndef SSMX_DRR_SIDECAR_H_
#define SSMX_DRR_SIDECAR_H_

#include <array>
#include <optional>
#include <string>

#include "ssmx/core/image2d.h"
#include "ssmx/drr/projection_geometry.h"

namespace ssmx::drr {

// The JSON sidecar that travels with every X-ray image (docs/geometry.md,
// section 6). `projection_matrix` is authoritative; the other geometric keys
// are written for people and checked against it on reading.
struct Sidecar {
  ProjectionGeometry geometry;
  std::optional<ImageQuantity> quantity;  // required in image sidecars
  std::string view = "custom";            // "AP", "LAT" or "custom"
  std::optional<double> mu_water_per_mm;
  std::optional<double> i0;
  // PNG value p means low + (high - low) * p / 65535 in the image's quantity.
  std::optional<std::array<double, 2>> png_window;
  std::string projector;  // "exact" or "trilinear" when a DRR; informative
};

// `views/ap.png` -> `views/ap.json`; double extensions such as `.nii.gz` are
// replaced as a whole.
std::string SidecarPath(const std::string& image_path);

// The sidecar as JSON text (17 significant digits).
std::string SidecarToJson(const Sidecar& sidecar);
// Parses and checks a sidecar; `what` (a file name) prefixes every error.
// Throws InvalidInput naming the key that is missing, malformed or
// inconsistent with the projection matrix.
Sidecar SidecarFromJson(const std::string& text, const std::string& what);

// Atomic write / read of a sidecar file. ReadSidecar throws IoError when the
// file is missing.
void WriteSidecar(const Sidecar& sidecar, const std::string& path);
Sidecar ReadSidecar(const std::string& path);

}  // namespace ssmx::drr

#endif  // SSMX_DRR_SIDECAR_H_
