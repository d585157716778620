#include "ssmx/ar_export/colormap.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "internal/colormap_tables.h"
#include "ssmx/core/error.h"

namespace ssmx::ar_export {
namespace {

struct NamedMap {
  const char* name;
  Colormap map;
  const float (*table)[3];
};

const NamedMap kMaps[] = {
    {"viridis", Colormap::kViridis, internal::kViridisTable},
    {"magma", Colormap::kMagma, internal::kMagmaTable},
    {"inferno", Colormap::kInferno, internal::kInfernoTable},
    {"plasma", Colormap::kPlasma, internal::kPlasmaTable},
};

const NamedMap& Find(Colormap colormap) {
  for (const NamedMap& m : kMaps) {
    if (m.map == colormap) return m;
  }
  throw InternalError("unknown colormap enumerator");
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

Colormap ParseColormap(const std::string& name) {
  const std::string lower = Lower(name);
  for (const NamedMap& m : kMaps) {
    if (lower == m.name) return m.map;
  }
  std::string valid;
  for (const std::string& n : ColormapNames()) valid += (valid.empty() ? "" : ", ") + n;
  throw InvalidInput("unknown colormap \"" + name + "\"; choose one of " + valid);
}

std::string ColormapName(Colormap colormap) { return Find(colormap).name; }

std::vector<std::string> ColormapNames() {
  std::vector<std::string> names;
  for (const NamedMap& m : kMaps) names.push_back(m.name);
  return names;
}

Eigen::Vector3d SampleColormap(Colormap colormap, double t) {
  const float(*table)[3] = Find(colormap).table;
  if (!(t > 0)) t = 0;  // also NaN
  if (t > 1) t = 1;
  const double x = t * 255.0;
  const int k = std::min(254, static_cast<int>(x));
  const double w = x - k;
  Eigen::Vector3d c;
  for (int i = 0; i < 3; ++i) c[i] = (1 - w) * table[k][i] + w * table[k + 1][i];
  return c;
}

Eigen::Vector3d ParseColor(const std::string& text) {
  static const std::pair<const char*, const char*> kNames[] = {
      {"bone", "e3dac9"},   {"ivory", "fffff0"},  {"white", "ffffff"},  {"grey", "808080"},
      {"gray", "808080"},   {"red", "d62728"},    {"green", "2ca02c"},  {"blue", "1f77b4"},
      {"orange", "ff7f0e"}, {"purple", "9467bd"}, {"yellow", "e6c229"}, {"black", "000000"}};
  std::string hex = Lower(text);
  for (const auto& [name, value] : kNames) {
    if (hex == name) hex = value;
  }
  if (!hex.empty() && hex[0] == '#') hex = hex.substr(1);
  if (hex.size() == 3) hex = std::string{hex[0], hex[0], hex[1], hex[1], hex[2], hex[2]};
  bool ok = hex.size() == 6;
  for (char c : hex) ok = ok && HexDigit(c) >= 0;
  if (!ok) {
    throw InvalidInput(
        "color \"" + text +
        "\" is not a colour; use #rrggbb (e.g. #e3dac9), #rgb or a name such as bone, "
        "ivory, red, blue");
  }
  Eigen::Vector3d c;
  for (int i = 0; i < 3; ++i) c[i] = (16 * HexDigit(hex[2 * i]) + HexDigit(hex[2 * i + 1])) / 255.0;
  return c;
}

std::string ColorHex(const Eigen::Vector3d& srgb) {
  char buf[8];
  const auto byte = [](double v) {
    return static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
  };
  std::snprintf(buf, sizeof(buf), "#%02x%02x%02x", byte(srgb[0]), byte(srgb[1]), byte(srgb[2]));
  return buf;
}

double SrgbToLinear(double c) {
  return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
}

double LinearToSrgb(double c) {
  return c <= 0.0031308 ? 12.92 * c : 1.055 * std::pow(c, 1.0 / 2.4) - 0.055;
}

Eigen::Vector3d SrgbToLinear(const Eigen::Vector3d& srgb) {
  return {SrgbToLinear(srgb[0]), SrgbToLinear(srgb[1]), SrgbToLinear(srgb[2])};
}

}  // namespace ssmx::ar_export
