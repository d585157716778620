#ifndef SSMX_CORE_IMAGE2D_H_
#define SSMX_CORE_IMAGE2D_H_

#include <cstdint>
#include <string>
#include <vector>

namespace ssmx {

// What the values of an X-ray image mean (the "quantity" of the JSON sidecar):
// the line integral of mu (no unit), detected counts, a 0/1 mask, or the
// path length in mm through a structure.
enum class ImageQuantity { kLineIntegral, kIntensity, kMask, kPathLength };
const char* ImageQuantityName(ImageQuantity quantity);  // "line_integral", ..., "path_length_mm"
// Parses the sidecar name; throws InvalidInput for an unknown one.
ImageQuantity ParseImageQuantity(const std::string& name);

// One 2D image, float pixels stored row-major, top row first: pixel (u, v) with
// u = column and v = row is pixels[v * cols + u]. Pixel (0, 0) is the top-left
// pixel, whose centre has detector coordinates (0, 0) (docs/geometry.md).
// Its projection geometry, when it has one, travels beside it (drr target).
struct Image2D {
  int rows = 0;
  int cols = 0;
  double pixel_spacing_u_mm = 1.0;  // column spacing (along u)
  double pixel_spacing_v_mm = 1.0;  // row spacing (along v)
  ImageQuantity quantity = ImageQuantity::kIntensity;
  std::vector<float> pixels;        // rows * cols values

  Image2D() = default;
  // A zero-filled rows x cols image; throws InvalidInput for negative sizes.
  Image2D(int rows, int cols);

  float& at(int v, int u) { return pixels[static_cast<size_t>(v) * cols + u]; }
  float at(int v, int u) const { return pixels[static_cast<size_t>(v) * cols + u]; }
  bool empty() const { return pixels.empty(); }
};

}  // namespace ssmx

#endif  // SSMX_CORE_IMAGE2D_H_
