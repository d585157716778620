#include "ssmx/core/image2d.h"

#include "ssmx/core/error.h"

namespace ssmx {

const char* ImageQuantityName(ImageQuantity quantity) {
  switch (quantity) {
    case ImageQuantity::kLineIntegral: return "line_integral";
    case ImageQuantity::kIntensity: return "intensity";
    case ImageQuantity::kMask: return "mask";
    case ImageQuantity::kPathLength: return "path_length_mm";
  }
  return "unknown";
}

ImageQuantity ParseImageQuantity(const std::string& name) {
  if (name == "line_integral") return ImageQuantity::kLineIntegral;
  if (name == "intensity") return ImageQuantity::kIntensity;
  if (name == "mask") return ImageQuantity::kMask;
  if (name == "path_length_mm") return ImageQuantity::kPathLength;
  throw InvalidInput("unknown image quantity \"" + name +
                     "\": expected line_integral, intensity, mask or path_length_mm");
}

Image2D::Image2D(int rows_in, int cols_in) : rows(rows_in), cols(cols_in) {
  if (rows < 0 || cols < 0) {
    throw InvalidInput("image size " + std::to_string(rows) + " x " + std::to_string(cols) +
                       " is negative");
  }
  pixels.assign(static_cast<size_t>(rows) * cols, 0.0f);
}

}  // namespace ssmx
