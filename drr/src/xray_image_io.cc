#include "ssmx/drr/xray_image_io.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "ssmx/core/atomic_write.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::drr {
namespace {

enum class Format { kPng, kTiff, kVolume };

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Format FormatOf(const std::string& path) {
  const std::string p = Lower(path);
  if (EndsWith(p, ".png")) return Format::kPng;
  if (EndsWith(p, ".tif") || EndsWith(p, ".tiff")) return Format::kTiff;
  if (ssm::HasVolumeExtension(path)) return Format::kVolume;  // the volume readers' own list
  throw InvalidInput(path +
                     ": unknown image format; use .png (16-bit), .tif/.tiff (float), "
                     ".mha, .nii, .nii.gz or .nrrd");
}

std::string Encode(const cv::Mat& mat, const std::string& ext, const std::string& path) {
  std::vector<uchar> bytes;
  bool ok = false;
  try {
    ok = cv::imencode(ext, mat, bytes);
  } catch (const cv::Exception& e) {
    throw IoError(path + ": cannot encode the image (" + e.what() + ")");
  }
  if (!ok) throw IoError(path + ": cannot encode the image as " + ext);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

std::array<double, 2> DefaultPngWindow(const Image2D& image, std::optional<double> i0) {
  if (image.quantity == ImageQuantity::kMask) return {0.0, 1.0};
  float max_value = 0.0f;
  for (float p : image.pixels) {
    if (std::isfinite(p)) max_value = std::max(max_value, p);
  }
  if (image.quantity == ImageQuantity::kIntensity) {
    return {0.0, i0 ? *i0 : std::max(1.0, static_cast<double>(max_value))};
  }
  return {0.0, std::max(1.0, std::ceil(static_cast<double>(max_value)))};
}

void WriteXrayImage(const Image2D& image, Sidecar sidecar, const std::string& path,
                    std::optional<std::array<double, 2>> png_window) {
  const Format format = FormatOf(path);
  if (image.rows != sidecar.geometry.rows() || image.cols != sidecar.geometry.cols()) {
    throw InvalidInput(path + ": image is " + std::to_string(image.cols) + "x" +
                       std::to_string(image.rows) + " but its geometry describes " +
                       std::to_string(sidecar.geometry.cols()) + "x" +
                       std::to_string(sidecar.geometry.rows()) + " pixels");
  }
  sidecar.quantity = image.quantity;
  sidecar.png_window.reset();
  if (format == Format::kPng) {
    const std::array<double, 2> window =
        png_window ? *png_window : DefaultPngWindow(image, sidecar.i0);
    if (!(window[1] > window[0])) throw InvalidInput(path + ": PNG window must have high > low");
    cv::Mat mat(image.rows, image.cols, CV_16UC1);
    const double scale = 65535.0 / (window[1] - window[0]);
    for (int v = 0; v < image.rows; ++v) {
      auto* row = mat.ptr<uint16_t>(v);
      for (int u = 0; u < image.cols; ++u) {
        const double p = (static_cast<double>(image.at(v, u)) - window[0]) * scale;
        row[u] = static_cast<uint16_t>(std::clamp(std::lround(p), 0l, 65535l));
      }
    }
    sidecar.png_window = window;
    WriteFileAtomically(path, Encode(mat, ".png", path));
  } else if (format == Format::kTiff) {
    cv::Mat mat(image.rows, image.cols, CV_32FC1, const_cast<float*>(image.pixels.data()));
    WriteFileAtomically(path, Encode(mat, ".tiff", path));
  } else {
    VolumeGeometry geometry;
    geometry.size = Eigen::Vector3i(image.cols, image.rows, 1);
    geometry.spacing_mm = Eigen::Vector3d(image.pixel_spacing_u_mm, image.pixel_spacing_v_mm, 1.0);
    Volume volume(geometry, VoxelType::kFloat32);
    std::copy(image.pixels.begin(), image.pixels.end(), volume.data<float>());
    ssm::WriteVolume(volume, path);
  }
  WriteSidecar(sidecar, SidecarPath(path));
}

XrayImage ReadXrayImage(const std::string& path) {
  const Format format = FormatOf(path);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw IoError(path + ": no such image file");
  XrayImage result;
  result.sidecar = ReadSidecar(SidecarPath(path));
  const Sidecar& sidecar = result.sidecar;
  Image2D& image = result.image;
  if (format == Format::kVolume) {
    const Volume volume = ssm::ReadVolume(path).volume.ToFloat();
    const Eigen::Vector3i size = volume.geometry().size;
    if (size.z() != 1)
      throw InvalidInput(path + ": an X-ray image must have one slice, not " +
                         std::to_string(size.z()));
    image = Image2D(size.y(), size.x());
    std::copy(volume.data<float>(), volume.data<float>() + volume.num_voxels(),
              image.pixels.begin());
  } else {
    cv::Mat mat;
    try {
      mat = cv::imread(path, cv::IMREAD_ANYDEPTH | cv::IMREAD_GRAYSCALE);
    } catch (const cv::Exception& e) {
      throw InvalidInput(path + ": cannot decode the image (" + e.what() + ")");
    }
    if (mat.empty())
      throw InvalidInput(path + ": not a readable " + (format == Format::kPng ? "PNG" : "TIFF") +
                         " image");
    image = Image2D(mat.rows, mat.cols);
    cv::Mat as_float;
    mat.convertTo(as_float, CV_32F);
    double low = 0.0, scale = 1.0;
    if (format == Format::kPng && sidecar.png_window) {
      const double full = mat.depth() == CV_16U ? 65535.0 : 255.0;
      low = (*sidecar.png_window)[0];
      scale = ((*sidecar.png_window)[1] - low) / full;
    }
    for (int v = 0; v < mat.rows; ++v) {
      const float* row = as_float.ptr<float>(v);
      for (int u = 0; u < mat.cols; ++u) image.at(v, u) = static_cast<float>(low + scale * row[u]);
    }
  }
  if (image.rows != sidecar.geometry.rows() || image.cols != sidecar.geometry.cols()) {
    throw InvalidInput(path + ": image is " + std::to_string(image.cols) + "x" +
                       std::to_string(image.rows) + " pixels but its sidecar " + SidecarPath(path) +
                       " says " + std::to_string(sidecar.geometry.cols()) + "x" +
                       std::to_string(sidecar.geometry.rows()));
  }
  image.pixel_spacing_u_mm = sidecar.geometry.pixel_spacing_u_mm();
  image.pixel_spacing_v_mm = sidecar.geometry.pixel_spacing_v_mm();
  image.quantity = sidecar.quantity ? *sidecar.quantity : ImageQuantity::kIntensity;
  return result;
}

}  // namespace ssmx::drr
