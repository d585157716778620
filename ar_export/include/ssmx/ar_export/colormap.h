#ifndef SSMX_AR_EXPORT_COLORMAP_H_
#define SSMX_AR_EXPORT_COLORMAP_H_

#include <Eigen/Core>
#include <string>
#include <vector>

namespace ssmx::ar_export {

// matplotlib's perceptually uniform colormaps (CC0 tables of 256 entries).
enum class Colormap { kViridis, kMagma, kInferno, kPlasma };

// "viridis", "magma", "inferno", "plasma" (case-insensitive). Throws
// InvalidInput naming the value and the valid names.
Colormap ParseColormap(const std::string& name);
std::string ColormapName(Colormap colormap);
std::vector<std::string> ColormapNames();

// The sRGB colour (components in 0..1) at t in [0, 1]: linear interpolation
// between the 256 table entries, entry k sitting at t = k / 255. t outside
// [0, 1] is clamped; NaN gives entry 0.
Eigen::Vector3d SampleColormap(Colormap colormap, double t);

// An sRGB colour: "#rrggbb", "rrggbb", "#rgb" or a few names ("bone",
// "ivory", "white", "red", ...). Components in 0..1. Throws InvalidInput
// naming the text and the accepted forms.
Eigen::Vector3d ParseColor(const std::string& text);
std::string ColorHex(const Eigen::Vector3d& srgb);  // "#rrggbb"

// The IEC 61966-2-1 sRGB transfer function and its inverse, per component.
// glTF colour factors and COLOR_0 are linear; textures and UI colours sRGB.
double SrgbToLinear(double c);
double LinearToSrgb(double c);
Eigen::Vector3d SrgbToLinear(const Eigen::Vector3d& srgb);

}  // namespace ssmx::ar_export

#endif  // SSMX_AR_EXPORT_COLORMAP_H_
