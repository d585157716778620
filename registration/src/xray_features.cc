#include "ssmx/registration/xray_features.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "ssmx/core/error.h"

namespace ssmx::registration {
namespace {

// The q-quantile (0..1) of the values, by nth_element on a copy.
float Quantile(std::vector<float> values, double q) {
  if (values.empty()) return 0.0f;
  const size_t k = std::min(values.size() - 1, static_cast<size_t>(q * (values.size() - 1) + 0.5));
  std::nth_element(values.begin(), values.begin() + k, values.end());
  return values[k];
}

cv::Mat AsMat(const Image2D& image) {
  return cv::Mat(image.rows, image.cols, CV_32F, const_cast<float*>(image.pixels.data()));
}

}  // namespace

std::string EdgeOptions::IsValid() const {
  if (levels < 1 || levels > 8) return "levels must be between 1 and 8";
  if (!(smoothing_sigma_px >= 0 && smoothing_sigma_px <= 10))
    return "smoothing_sigma_px must be in [0, 10]";
  if (!(high_quantile > 0 && high_quantile < 1)) return "high_quantile must be in (0, 1)";
  if (!(low_ratio > 0 && low_ratio <= 1)) return "low_ratio must be in (0, 1]";
  if (roi && ((*roi)[2] <= 0 || (*roi)[3] <= 0)) return "the region of interest is empty";
  return "";
}

Image2D NormalizeXray(const Image2D& image, double low_percentile, double high_percentile) {
  if (image.empty() || image.rows * static_cast<size_t>(image.cols) != image.pixels.size()) {
    throw InvalidInput("NormalizeXray: the image is empty or its size does not match its pixels");
  }
  if (!(low_percentile >= 0 && low_percentile < high_percentile && high_percentile <= 100)) {
    throw InvalidInput("NormalizeXray: percentiles must satisfy 0 <= low < high <= 100");
  }
  std::vector<float> finite;
  finite.reserve(image.pixels.size());
  for (float v : image.pixels)
    if (std::isfinite(v)) finite.push_back(v);
  const float low = Quantile(finite, low_percentile / 100);
  const float high = Quantile(finite, high_percentile / 100);
  if (!(high > low)) {
    throw InvalidInput("NormalizeXray: the image is constant (no contrast to find edges in)");
  }
  Image2D out = image;
  const float scale = 1.0f / (high - low);
  for (float& v : out.pixels)
    v = std::isfinite(v) ? std::clamp((v - low) * scale, 0.0f, 1.0f) : 0.0f;
  return out;
}

EdgePyramid ExtractEdges(const Image2D& image, const EdgeOptions& options) {
  if (const std::string problem = options.IsValid(); !problem.empty()) {
    throw InvalidInput("edge options: " + problem);
  }
  const int shrink = 1 << (options.levels - 1);
  if (image.rows / shrink < 16 || image.cols / shrink < 16) {
    throw InvalidInput("edge extraction: a " + std::to_string(image.cols) + "x" +
                       std::to_string(image.rows) + " image is too small for " +
                       std::to_string(options.levels) +
                       " pyramid levels (the coarsest must be at least 16x16 pixels); use fewer "
                       "levels");
  }
  EdgePyramid pyramid;
  pyramid.normalized = NormalizeXray(image);
  cv::Mat current = AsMat(pyramid.normalized).clone();
  for (int level = 0; level < options.levels; ++level) {
    if (level > 0) {
      // pyrDown's output pixel i is centred between input pixels 2i and 2i+1
      // only approximately (its 5-tap kernel is centred on 2i); resize with
      // INTER_AREA tiles exactly as EdgeLevel documents.
      cv::Mat next;
      cv::GaussianBlur(current, next, cv::Size(0, 0), 0.7);
      cv::resize(next, current, cv::Size(current.cols / 2, current.rows / 2), 0, 0, cv::INTER_AREA);
    }
    EdgeLevel out;
    out.level = level;
    out.rows = current.rows;
    out.cols = current.cols;
    out.factor = std::ldexp(1.0, level);
    cv::Mat smooth = current;
    if (options.smoothing_sigma_px > 0) {
      cv::GaussianBlur(current, smooth, cv::Size(0, 0), options.smoothing_sigma_px);
    }
    cv::Mat gx, gy;
    cv::Sobel(smooth, gx, CV_32F, 1, 0, 3);
    cv::Sobel(smooth, gy, CV_32F, 0, 1, 3);
    cv::Mat magnitude;
    cv::magnitude(gx, gy, magnitude);
    // The region of interest at this level.
    cv::Rect roi(0, 0, out.cols, out.rows);
    if (options.roi) {
      const auto& r = *options.roi;
      const int u0 = static_cast<int>(std::floor(out.ToLevel(r[0])));
      const int v0 = static_cast<int>(std::floor(out.ToLevel(r[1])));
      const int u1 = static_cast<int>(std::ceil(out.ToLevel(r[0] + r[2] - 1)));
      const int v1 = static_cast<int>(std::ceil(out.ToLevel(r[1] + r[3] - 1)));
      roi = cv::Rect(u0, v0, u1 - u0 + 1, v1 - v0 + 1) & cv::Rect(0, 0, out.cols, out.rows);
      if (roi.area() == 0) {
        throw InvalidInput("edge extraction: the region of interest lies outside the image");
      }
    }
    std::vector<float> inside;
    inside.reserve(roi.area());
    for (int v = roi.y; v < roi.y + roi.height; ++v)
      for (int u = roi.x; u < roi.x + roi.width; ++u) inside.push_back(magnitude.at<float>(v, u));
    const float high = std::max(Quantile(inside, options.high_quantile), 1e-6f);
    // Canny on 16-bit derivatives: scale so that the largest gradient fits.
    double max_gradient = 0;
    cv::minMaxLoc(magnitude, nullptr, &max_gradient);
    const double scale = 30000.0 / std::max(max_gradient, 1e-12);
    cv::Mat dx, dy, edges;
    gx.convertTo(dx, CV_16S, scale);
    gy.convertTo(dy, CV_16S, scale);
    cv::Canny(dx, dy, edges, options.low_ratio * high * scale, high * scale, true);
    if (options.roi) {
      cv::Mat keep = cv::Mat::zeros(edges.size(), CV_8U);
      keep(roi).setTo(255);
      edges &= keep;
    }
    out.edges.assign(static_cast<size_t>(out.rows) * out.cols, 0);
    out.edge_bin.assign(out.edges.size(), 255);
    for (int v = 0; v < out.rows; ++v) {
      const uint8_t* row = edges.ptr<uint8_t>(v);
      for (int u = 0; u < out.cols; ++u) {
        if (!row[u]) continue;
        const size_t i = static_cast<size_t>(v) * out.cols + u;
        out.edges[i] = 1;
        const double angle = std::atan2(gy.at<float>(v, u), gx.at<float>(v, u));
        out.edge_bin[i] =
            static_cast<uint8_t>(((static_cast<int>(std::lround(angle / (M_PI / 4))) % 8) + 8) % 8);
      }
    }
    ComputeDistanceMaps(&out);
    pyramid.levels.push_back(std::move(out));
  }
  return pyramid;
}

void ComputeDistanceMaps(EdgeLevel* level) {
  const auto distance_to = [&](const std::function<bool(size_t)>& is_edge,
                               std::vector<float>* out) {
    cv::Mat not_edges(level->rows, level->cols, CV_8U);
    int64_t count = 0;
    for (int v = 0; v < level->rows; ++v) {
      for (int u = 0; u < level->cols; ++u) {
        const bool edge = is_edge(static_cast<size_t>(v) * level->cols + u);
        not_edges.at<uint8_t>(v, u) = edge ? 0 : 255;
        count += edge;
      }
    }
    if (count == 0) {
      out->assign(not_edges.total(), static_cast<float>(level->rows + level->cols));
      return count;
    }
    cv::Mat distance;
    cv::distanceTransform(not_edges, distance, cv::DIST_L2, cv::DIST_MASK_PRECISE, CV_32F);
    out->assign(distance.ptr<float>(0), distance.ptr<float>(0) + distance.total());
    return count;
  };
  level->num_edges =
      distance_to([&](size_t i) { return level->edges[i] != 0; }, &level->distance_px);
  level->oriented_distance_px.resize(8);
  for (int b = 0; b < 8; ++b) {
    distance_to(
        [&](size_t i) {
          if (!level->edges[i]) return false;
          const int d = (level->edge_bin[i] - b + 8) % 8;
          return d == 0 || d == 1 || d == 7;
        },
        &level->oriented_distance_px[b]);
  }
}

std::string RenderEdgesPng(const EdgePyramid& pyramid, int level) {
  if (level < 0 || level >= static_cast<int>(pyramid.levels.size())) {
    throw InvalidInput("RenderEdgesPng: level " + std::to_string(level) + " does not exist");
  }
  const EdgeLevel& edges = pyramid.levels[level];
  cv::Mat grey;
  AsMat(pyramid.normalized).convertTo(grey, CV_8U, 255.0);
  cv::Mat picture;
  cv::cvtColor(grey, picture, cv::COLOR_GRAY2BGR);
  picture *= 0.8;
  for (int v = 0; v < picture.rows; ++v) {
    for (int u = 0; u < picture.cols; ++u) {
      const int ul = static_cast<int>(std::lround(edges.ToLevel(u)));
      const int vl = static_cast<int>(std::lround(edges.ToLevel(v)));
      if (ul < 0 || vl < 0 || ul >= edges.cols || vl >= edges.rows) continue;
      if (edges.edges[static_cast<size_t>(vl) * edges.cols + ul]) {
        picture.at<cv::Vec3b>(v, u) = cv::Vec3b(40, 220, 255);  // BGR: amber
      }
    }
  }
  std::vector<uchar> bytes;
  cv::imencode(".png", picture, bytes);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace ssmx::registration
