#include "ssmx/drr/projection_geometry.h"

#include <Eigen/Dense>
#include <cmath>
#include <sstream>

#include "ssmx/core/error.h"

namespace ssmx::drr {
namespace {

constexpr double kRelativeTolerance = 1e-6;

bool Agrees(double a, double b) {
  return std::abs(a - b) <= kRelativeTolerance * std::max({std::abs(a), std::abs(b), 1.0});
}

std::string Num(double value) {
  std::ostringstream out;
  out.precision(10);
  out << value;
  return out.str();
}

}  // namespace

Eigen::Vector2d CarmGeometry::PrincipalPoint() const {
  Eigen::Vector2d point = principal_point_px;
  if (std::isnan(point.x())) point.x() = (cols - 1) / 2.0;
  if (std::isnan(point.y())) point.y() = (rows - 1) / 2.0;
  return point;
}

std::string CarmGeometry::Validate() const {
  if (rows <= 0 || cols <= 0) {
    return "detector size " + std::to_string(cols) + "x" + std::to_string(rows) +
           " must be positive (columns x rows)";
  }
  if (!(pixel_spacing_u_mm > 0) || !(pixel_spacing_v_mm > 0) ||
      !std::isfinite(pixel_spacing_u_mm) || !std::isfinite(pixel_spacing_v_mm)) {
    return "pixel spacing " + Num(pixel_spacing_u_mm) + " x " + Num(pixel_spacing_v_mm) +
           " mm must be positive and finite";
  }
  if (!(source_to_detector_mm > 0) || !std::isfinite(source_to_detector_mm)) {
    return "source-to-detector distance " + Num(source_to_detector_mm) + " mm must be positive";
  }
  if (!(source_to_isocenter_mm > 0) || !(source_to_isocenter_mm < source_to_detector_mm)) {
    return "source-to-isocentre distance " + Num(source_to_isocenter_mm) +
           " mm must be positive and smaller than the source-to-detector distance " +
           Num(source_to_detector_mm) + " mm";
  }
  const Eigen::Vector2d point = PrincipalPoint();
  if (!point.allFinite()) return "principal point must be finite";
  if (!isocenter_mm.allFinite()) return "isocentre must be finite";
  if (!rotation.allFinite() ||
      !(rotation.transpose() * rotation).isApprox(Eigen::Matrix3d::Identity(), 1e-6)) {
    return "C-arm rotation (columns e_u, e_v, d) is not orthonormal";
  }
  if (rotation.determinant() < 0) {
    return "C-arm rotation has determinant -1 (e_u x e_v = -d): the image would be mirrored";
  }
  return "";
}

const char* NamedViewName(NamedView view) { return view == NamedView::kAP ? "AP" : "LAT"; }

NamedView ParseNamedView(const std::string& name) {
  if (name == "ap" || name == "AP") return NamedView::kAP;
  if (name == "lat" || name == "LAT") return NamedView::kLAT;
  throw InvalidInput("unknown view \"" + name + "\": expected ap or lat");
}

Eigen::Matrix3d NamedViewRotation(NamedView view) {
  Eigen::Matrix3d rotation;
  if (view == NamedView::kAP) {
    rotation.col(0) = Eigen::Vector3d(1, 0, 0);   // e_u: patient left
    rotation.col(1) = Eigen::Vector3d(0, 0, -1);  // e_v: inferior
    rotation.col(2) = Eigen::Vector3d(0, 1, 0);   // d: anterior to posterior
  } else {
    rotation.col(0) = Eigen::Vector3d(0, -1, 0);  // e_u: anterior
    rotation.col(1) = Eigen::Vector3d(0, 0, -1);  // e_v: inferior
    rotation.col(2) = Eigen::Vector3d(1, 0, 0);   // d: right to left
  }
  return rotation;
}

ProjectionGeometry ProjectionGeometry::FromCarm(const CarmGeometry& carm) {
  const std::string problem = carm.Validate();
  if (!problem.empty()) throw InvalidInput("projection geometry: " + problem);
  const Eigen::Vector2d principal = carm.PrincipalPoint();
  Eigen::Matrix3d k = Eigen::Matrix3d::Identity();
  k(0, 0) = carm.source_to_detector_mm / carm.pixel_spacing_u_mm;
  k(1, 1) = carm.source_to_detector_mm / carm.pixel_spacing_v_mm;
  k(0, 2) = principal.x();
  k(1, 2) = principal.y();
  const Eigen::Matrix3d& r = carm.rotation;
  const Eigen::Vector3d source = carm.isocenter_mm - carm.source_to_isocenter_mm * r.col(2);
  Matrix34d extrinsic;
  extrinsic.leftCols<3>() = r.transpose();
  extrinsic.col(3) = -r.transpose() * source;
  ProjectionGeometry geometry;
  geometry.projection_ = k * extrinsic;
  geometry.rows_ = carm.rows;
  geometry.cols_ = carm.cols;
  geometry.du_ = carm.pixel_spacing_u_mm;
  geometry.dv_ = carm.pixel_spacing_v_mm;
  geometry.sad_ = carm.source_to_isocenter_mm;
  geometry.Finish();
  return geometry;
}

ProjectionGeometry ProjectionGeometry::FromMatrix(const Matrix34d& projection, int rows, int cols,
                                                  double pixel_spacing_u_mm,
                                                  double pixel_spacing_v_mm,
                                                  double source_to_isocenter_mm) {
  if (!projection.allFinite()) throw InvalidInput("projection matrix has non-finite entries");
  const Eigen::Matrix3d m = projection.leftCols<3>();
  const double det = m.determinant();
  const double scale = m.row(2).norm();
  if (!(scale > 0) || std::abs(det) <= 1e-12 * std::pow(m.norm(), 3)) {
    throw InvalidInput("projection matrix is singular (its left 3x3 block has no inverse)");
  }
  if (det < 0) {
    throw InvalidInput(
        "projection matrix is mirrored or negated (det of its left 3x3 block < 0); ssmx images are "
        "the detector seen from the source (docs/geometry.md, 'No mirroring')");
  }
  ProjectionGeometry geometry;
  geometry.projection_ = projection / scale;
  geometry.rows_ = rows;
  geometry.cols_ = cols;
  geometry.du_ = pixel_spacing_u_mm;
  geometry.dv_ = pixel_spacing_v_mm;
  geometry.sad_ = source_to_isocenter_mm;
  if (rows <= 0 || cols <= 0)
    throw InvalidInput("projection geometry: detector size must be positive");
  if (!(pixel_spacing_u_mm > 0) || !(pixel_spacing_v_mm > 0)) {
    throw InvalidInput("projection geometry: pixel spacing must be positive");
  }
  const Eigen::Matrix3d k = geometry.Intrinsics();
  if (std::abs(k(0, 1)) > kRelativeTolerance * k(0, 0)) {
    throw InvalidInput("projection matrix has skew k12 = " + Num(k(0, 1)) +
                       " px; ssmx detectors have perpendicular rows and columns");
  }
  const double sid_u = k(0, 0) * pixel_spacing_u_mm;
  const double sid_v = k(1, 1) * pixel_spacing_v_mm;
  if (!Agrees(sid_u, sid_v)) {
    throw InvalidInput("projection matrix and pixel spacing disagree: SID = k11*du = " +
                       Num(sid_u) + " mm but k22*dv = " + Num(sid_v) + " mm");
  }
  if (!(source_to_isocenter_mm > 0) || !(source_to_isocenter_mm < sid_u)) {
    throw InvalidInput("projection geometry: source-to-isocentre distance " +
                       Num(source_to_isocenter_mm) +
                       " mm must be positive and smaller than the source-to-detector distance " +
                       Num(sid_u) + " mm");
  }
  geometry.Finish();
  return geometry;
}

ProjectionGeometry ProjectionGeometry::Named(NamedView view, const Eigen::Vector3d& isocenter_mm,
                                             CarmGeometry detector) {
  detector.rotation = NamedViewRotation(view);
  detector.isocenter_mm = isocenter_mm;
  return FromCarm(detector);
}

void ProjectionGeometry::Finish() {
  const Eigen::Matrix3d m = projection_.leftCols<3>();
  m_inverse_ = m.inverse();
  source_ = -m_inverse_ * projection_.col(3);
}

double ProjectionGeometry::source_to_detector_mm() const { return Intrinsics()(0, 0) * du_; }

Eigen::Matrix3d ProjectionGeometry::Intrinsics() const {
  // RQ decomposition M = K R^T by Gram-Schmidt from the bottom row.
  const Eigen::Matrix3d m = projection_.leftCols<3>();
  const Eigen::Vector3d m1 = m.row(0), m2 = m.row(1), m3 = m.row(2);
  Eigen::Matrix3d k = Eigen::Matrix3d::Zero();
  k(2, 2) = m3.norm();
  const Eigen::Vector3d q3 = m3 / k(2, 2);
  k(1, 2) = m2.dot(q3);
  const Eigen::Vector3d r2 = m2 - k(1, 2) * q3;
  k(1, 1) = r2.norm();
  const Eigen::Vector3d q2 = r2 / k(1, 1);
  k(0, 2) = m1.dot(q3);
  k(0, 1) = m1.dot(q2);
  k(0, 0) = (m1 - k(0, 1) * q2 - k(0, 2) * q3).norm();
  return k / k(2, 2);
}

CarmGeometry ProjectionGeometry::ToCarm() const {
  const Eigen::Matrix3d k = Intrinsics();
  // R^T = K^-1 M; its rows are e_u, e_v, d.
  const Eigen::Matrix3d rt = k.inverse() * projection_.leftCols<3>();
  CarmGeometry carm;
  carm.rows = rows_;
  carm.cols = cols_;
  carm.pixel_spacing_u_mm = du_;
  carm.pixel_spacing_v_mm = dv_;
  carm.source_to_detector_mm = k(0, 0) * du_;
  carm.source_to_isocenter_mm = sad_;
  carm.principal_point_px = Eigen::Vector2d(k(0, 2), k(1, 2));
  carm.rotation = rt.transpose();
  carm.isocenter_mm = source_ + sad_ * carm.rotation.col(2);
  return carm;
}

Eigen::Vector2d ProjectionGeometry::Project(const Eigen::Vector3d& point_mm,
                                            double* depth_mm) const {
  const Eigen::Vector3d h = projection_.leftCols<3>() * point_mm + projection_.col(3);
  if (depth_mm) *depth_mm = h.z();
  return Eigen::Vector2d(h.x() / h.z(), h.y() / h.z());
}

Eigen::Vector3d ProjectionGeometry::DetectorPoint(double u, double v) const {
  // M r = (u, v, 1) and the third row of M is d, so d.r = 1: s + SID r lies on
  // the detector plane.
  return source_ + source_to_detector_mm() * (m_inverse_ * Eigen::Vector3d(u, v, 1.0));
}

Eigen::Vector3d ProjectionGeometry::RayDirection(double u, double v) const {
  return (m_inverse_ * Eigen::Vector3d(u, v, 1.0)).normalized();
}

}  // namespace ssmx::drr
