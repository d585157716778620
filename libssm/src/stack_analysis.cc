// Geometry checks of a DICOM slice stack. Pure geometry on positions and
// orientations; the pixel data is neither read nor needed here.
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <sstream>

#include "ssmx/ssm/dicom_series.h"

namespace ssmx::ssm {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::string Mm(double value) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", value);
  return buf;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0.0;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + mid, values.end());
  double m = values[mid];
  if (values.size() % 2 == 0) {
    m = 0.5 * (m + *std::max_element(values.begin(), values.begin() + mid));
  }
  return m;
}

void Add(StackAnalysis* out, Severity severity, const std::string& code, const std::string& message,
         bool corrected) {
  out->findings.push_back({severity, code, message, corrected});
}

// Sizes and orientations must agree across the stack; a series mixing them is
// really two acquisitions and cannot become one volume.
bool CheckUniformity(const std::vector<SliceGeometry>& slices, StackAnalysis* out) {
  const SliceGeometry& first = slices.front();
  int odd_orientation = 0, odd_size = 0;
  for (const SliceGeometry& s : slices) {
    if (s.row_direction.dot(first.row_direction) < 0.9999 ||
        s.column_direction.dot(first.column_direction) < 0.9999) {
      ++odd_orientation;
    }
    if (s.rows != first.rows || s.cols != first.cols ||
        std::abs(s.row_spacing_mm - first.row_spacing_mm) > 1e-4 * first.row_spacing_mm ||
        std::abs(s.column_spacing_mm - first.column_spacing_mm) > 1e-4 * first.column_spacing_mm) {
      ++odd_size;
    }
  }
  bool ok = true;
  if (odd_orientation > 0) {
    Add(out, Severity::kError, "mixed_orientations",
        std::to_string(odd_orientation) + " of " + std::to_string(slices.size()) +
            " slices have a different orientation than " + first.source +
            "; select one series with --series or remove the other slices",
        false);
    ok = false;
  }
  if (odd_size > 0) {
    Add(out, Severity::kError, "mixed_sizes",
        std::to_string(odd_size) + " of " + std::to_string(slices.size()) +
            " slices differ in rows, columns or pixel spacing from " + first.source +
            "; select one series with --series or remove the other slices",
        false);
    ok = false;
  }
  return ok;
}

}  // namespace

StackAnalysis AnalyzeStack(const std::vector<SliceGeometry>& slices,
                           const StackCheckOptions& options) {
  StackAnalysis out;
  if (slices.empty()) {
    Add(&out, Severity::kError, "no_slices", "the series holds no image slices", false);
    out.refused = true;
    return out;
  }
  if (!CheckUniformity(slices, &out)) {
    out.refused = true;
    return out;
  }
  const SliceGeometry& first = slices.front();
  out.normal = first.row_direction.cross(first.column_direction).normalized();

  const size_t n = slices.size();
  std::vector<double> s(n);
  for (size_t i = 0; i < n; ++i) s[i] = slices[i].position_mm.dot(out.normal);
  out.order.resize(n);
  std::iota(out.order.begin(), out.order.end(), 0);
  std::stable_sort(out.order.begin(), out.order.end(), [&](int a, int b) { return s[a] < s[b]; });
  out.positions_mm.resize(n);
  for (size_t i = 0; i < n; ++i) out.positions_mm[i] = s[out.order[i]];
  if (n == 1) {
    Add(&out, Severity::kInfo, "single_slice", "the series holds a single slice", false);
    out.median_spacing_mm = first.thickness_mm > 0 ? first.thickness_mm : 1.0;
    return out;
  }

  // Duplicate positions: two slices in the same plane cannot both be kept.
  int duplicates = 0;
  std::string duplicate_example;
  std::vector<double> steps;
  for (size_t i = 1; i < n; ++i) {
    const double step = out.positions_mm[i] - out.positions_mm[i - 1];
    if (step < 1e-3) {
      if (duplicates++ == 0) {
        duplicate_example = slices[out.order[i - 1]].source + " and " + slices[out.order[i]].source +
                            " at " + Mm(out.positions_mm[i]) + " mm";
      }
    } else {
      steps.push_back(step);
    }
  }
  if (duplicates > 0) {
    Add(&out, Severity::kError, "duplicate_positions",
        std::to_string(duplicates) + " slice(s) share a position with another (e.g. " +
            duplicate_example +
            "); the folder probably mixes acquisitions: select one with --series or remove "
            "the duplicates",
        false);
    out.refused = true;
    return out;
  }
  out.median_spacing_mm = Median(steps);

  // Gantry tilt: the slices are stacked along a direction that is not their
  // normal. Angle between the normal and the line through the first and last
  // slice positions.
  const Eigen::Vector3d stack =
      slices[out.order.back()].position_mm - slices[out.order.front()].position_mm;
  const double cos_tilt = std::clamp(std::abs(stack.normalized().dot(out.normal)), 0.0, 1.0);
  out.gantry_tilt_deg = std::acos(cos_tilt) * 180.0 / kPi;
  if (out.gantry_tilt_deg > options.tilt_tolerance_deg) {
    out.tilted = true;
    Add(&out, Severity::kWarning, "gantry_tilt",
        "gantry tilt of " + Mm(out.gantry_tilt_deg) +
            " deg (slices are sheared along the stack); resampled onto a regular LPS grid",
        true);
  }

  // Missing slices: a step larger than gap_factor times the local median
  // spacing (the median of up to three steps on either side). Local, because a
  // series may change its spacing on purpose (e.g. 4 mm then 7 mm).
  std::vector<std::string> gaps;
  for (size_t i = 1; i < n; ++i) {
    const double step = out.positions_mm[i] - out.positions_mm[i - 1];
    std::vector<double> neighbours;
    for (size_t j = (i > 3 ? i - 3 : 1); j <= std::min(n - 1, i + 3); ++j) {
      if (j != i) neighbours.push_back(out.positions_mm[j] - out.positions_mm[j - 1]);
    }
    const double expected = neighbours.empty() ? out.median_spacing_mm : Median(neighbours);
    if (step > options.gap_factor * expected) {
      gaps.push_back("between " + Mm(out.positions_mm[i - 1]) + " and " +
                     Mm(out.positions_mm[i]) + " mm (gap " + Mm(step) +
                     " mm where the spacing is " + Mm(expected) + " mm)");
    }
  }
  if (!gaps.empty()) {
    out.has_gaps = true;
    std::string where = gaps.front();
    if (gaps.size() > 1) where += " and " + std::to_string(gaps.size() - 1) + " more";
    if (options.allow_gaps) {
      Add(&out, Severity::kWarning, "missing_slices",
          "missing slices " + where + "; interpolated linearly because gaps are allowed", true);
    } else {
      Add(&out, Severity::kError, "missing_slices",
          "missing slices " + where + "; pass --allow-gaps to interpolate across the gap",
          false);
      out.refused = true;
    }
  }

  // Uneven spacing, beyond the gaps already reported.
  double worst = 0.0;
  for (double step : steps) worst = std::max(worst, std::abs(step - out.median_spacing_mm));
  if (worst > options.uneven_tolerance * out.median_spacing_mm && worst > 1e-3) {
    out.uneven = true;
    const auto [lo, hi] = std::minmax_element(steps.begin(), steps.end());
    Add(&out, Severity::kWarning, "uneven_spacing",
        "slice spacing varies from " + Mm(*lo) + " to " + Mm(*hi) + " mm (median " +
            Mm(out.median_spacing_mm) + " mm); resampled to a uniform spacing",
        true);
  }

  // Overlap: thicker slices than their spacing. Usual for reconstructions and
  // not an error, but worth knowing when comparing resolutions.
  int overlapping = 0;
  double max_overlap = 0.0;
  for (size_t i = 1; i < n; ++i) {
    const double step = out.positions_mm[i] - out.positions_mm[i - 1];
    const double half_sum =
        0.5 * (slices[out.order[i]].thickness_mm + slices[out.order[i - 1]].thickness_mm);
    if (half_sum > step * 1.01 + 1e-3) {
      ++overlapping;
      max_overlap = std::max(max_overlap, half_sum - step);
    }
  }
  if (overlapping > 0) {
    Add(&out, Severity::kInfo, "overlapping_slices",
        std::to_string(overlapping) + " pair(s) of neighbouring slices overlap (slice thickness "
        "exceeds their spacing by up to " + Mm(max_overlap) +
            " mm); usual for reconstructions, nothing to correct",
        false);
  }
  return out;
}

}  // namespace ssmx::ssm
