// The stack checks on synthetic slice geometries with known defects.
#include <gtest/gtest.h>

#include <cmath>

#include "ssmx/ssm/dicom_series.h"

namespace ssmx::ssm {
namespace {

constexpr double kPi = 3.14159265358979323846;

// n axial slices at `spacing`, optionally sheared by a gantry tilt: the slice
// planes are rotated by `tilt_deg` about x while the table moves along z.
std::vector<SliceGeometry> Stack(int n, double spacing, double tilt_deg = 0, double thickness = 0) {
  const double t = tilt_deg * kPi / 180;
  std::vector<SliceGeometry> slices(n);
  for (int i = 0; i < n; ++i) {
    SliceGeometry& s = slices[i];
    s.rows = s.cols = 64;
    s.row_direction = Eigen::Vector3d(1, 0, 0);
    s.column_direction = Eigen::Vector3d(0, std::cos(t), -std::sin(t));
    s.position_mm = Eigen::Vector3d(-30, -30, i * spacing);
    s.thickness_mm = thickness;
    s.source = "slice" + std::to_string(i);
  }
  return slices;
}

bool Has(const StackAnalysis& a, const std::string& code, Severity severity) {
  for (const auto& f : a.findings) {
    if (f.code == code && f.severity == severity) return true;
  }
  return false;
}

TEST(AnalyzeStack, RegularStackHasNoFindings) {
  auto slices = Stack(20, 2.5);
  std::swap(slices[3], slices[11]);  // file order is irrelevant
  const StackAnalysis a = AnalyzeStack(slices);
  EXPECT_TRUE(a.findings.empty());
  EXPECT_NEAR(a.median_spacing_mm, 2.5, 1e-12);
  EXPECT_FALSE(a.tilted || a.uneven || a.has_gaps || a.refused);
  for (size_t i = 1; i < a.positions_mm.size(); ++i) EXPECT_GT(a.positions_mm[i], a.positions_mm[i - 1]);
  EXPECT_EQ(a.order[3], 11);
}

TEST(AnalyzeStack, MeasuresGantryTilt) {
  for (double tilt : {5.0, 18.5, 30.0}) {
    const StackAnalysis a = AnalyzeStack(Stack(10, 3, tilt));
    EXPECT_TRUE(a.tilted);
    EXPECT_NEAR(a.gantry_tilt_deg, tilt, 1e-9);
    EXPECT_TRUE(Has(a, "gantry_tilt", Severity::kWarning));
    // Table moves 3 mm along z; along the tilted normal that is 3 cos(tilt).
    EXPECT_NEAR(a.median_spacing_mm, 3 * std::cos(tilt * kPi / 180), 1e-9);
  }
}

TEST(AnalyzeStack, RefusesGapsUnlessAllowed) {
  auto slices = Stack(12, 2.0);
  slices.erase(slices.begin() + 6);  // a 4 mm gap between z = 10 and z = 14
  const StackAnalysis refused = AnalyzeStack(slices);
  EXPECT_TRUE(refused.refused);
  ASSERT_TRUE(Has(refused, "missing_slices", Severity::kError));
  std::string message;
  for (const auto& f : refused.findings) message += f.message;
  EXPECT_NE(message.find("between 10.00 and 14.00 mm (gap 4.00 mm"), std::string::npos) << message;
  EXPECT_NE(message.find("--allow-gaps"), std::string::npos);

  StackCheckOptions allow;
  allow.allow_gaps = true;
  const StackAnalysis allowed = AnalyzeStack(slices, allow);
  EXPECT_FALSE(allowed.refused);
  EXPECT_TRUE(allowed.has_gaps);
  EXPECT_TRUE(Has(allowed, "missing_slices", Severity::kWarning));
}

TEST(AnalyzeStack, ChangeOfSpacingIsUnevenNotAGap) {
  // 4 mm then 7 mm slices, as some head protocols do.
  std::vector<SliceGeometry> slices = Stack(8, 4.0);
  auto wide = Stack(8, 7.0);
  for (auto& s : wide) s.position_mm.z() += 4.0 * 7 + 7.0;
  slices.insert(slices.end(), wide.begin(), wide.end());
  const StackAnalysis a = AnalyzeStack(slices);
  EXPECT_FALSE(a.has_gaps);
  EXPECT_TRUE(a.uneven);
  EXPECT_TRUE(Has(a, "uneven_spacing", Severity::kWarning));
}

TEST(AnalyzeStack, RefusesDuplicatesAndMixedGeometry) {
  auto dup = Stack(6, 2.0);
  dup.push_back(dup[2]);
  EXPECT_TRUE(Has(AnalyzeStack(dup), "duplicate_positions", Severity::kError));

  auto mixed = Stack(6, 2.0);
  mixed[4].row_direction = Eigen::Vector3d(0, 1, 0);
  mixed[4].column_direction = Eigen::Vector3d(0, 0, -1);
  EXPECT_TRUE(Has(AnalyzeStack(mixed), "mixed_orientations", Severity::kError));

  auto sizes = Stack(6, 2.0);
  sizes[1].rows = 32;
  EXPECT_TRUE(Has(AnalyzeStack(sizes), "mixed_sizes", Severity::kError));
}

TEST(AnalyzeStack, ReportsOverlapAsInformation) {
  const StackAnalysis a = AnalyzeStack(Stack(10, 2.0, 0, 3.0));
  EXPECT_TRUE(Has(a, "overlapping_slices", Severity::kInfo));
  EXPECT_FALSE(a.refused);
}

}  // namespace
}  // namespace ssmx::ssm
