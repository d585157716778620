#ifndef SSMX_DRR_PROJECTION_GEOMETRY_H_
#define SSMX_DRR_PROJECTION_GEOMETRY_H_

#include <Eigen/Core>
#include <string>

#include "ssmx/core/volume.h"

namespace ssmx::drr {

using Matrix34d = Eigen::Matrix<double, 3, 4>;

// The C-arm description of one X-ray view (docs/geometry.md, section 4).
// The source sits at isocenter - SAD * d, the detector plane at distance SID
// from the source along d, and detector pixel (u, v) at
//   s + SID * d + (u - u0) * du * e_u + (v - v0) * dv * e_v.
struct CarmGeometry {
  int rows = 512;
  int cols = 512;
  double pixel_spacing_u_mm = 0.5;        // du, between column centres
  double pixel_spacing_v_mm = 0.5;        // dv, between row centres
  double source_to_detector_mm = 1000.0;  // SID
  double source_to_isocenter_mm = 700.0;  // SAD
  // Foot of the perpendicular from the source on the detector, in pixels.
  // NaN (the default) means the detector centre ((cols-1)/2, (rows-1)/2).
  Eigen::Vector2d principal_point_px{std::nan(""), std::nan("")};
  // world_from_carm: columns e_u, e_v, d (a proper rotation), and the isocentre.
  Eigen::Matrix3d rotation = Eigen::Matrix3d::Identity();
  Eigen::Vector3d isocenter_mm = Eigen::Vector3d::Zero();

  // The principal point with the NaN default resolved.
  Eigen::Vector2d PrincipalPoint() const;
  // Empty when valid, else what is wrong (sizes, distances, rotation).
  std::string Validate() const;
};

enum class NamedView { kAP, kLAT };
const char* NamedViewName(NamedView view);  // "AP", "LAT"
// Parses "ap"/"AP"/"lat"/"LAT"; throws InvalidInput otherwise.
NamedView ParseNamedView(const std::string& name);

// The rotation of a named view (columns e_u, e_v, d), docs/geometry.md section 5:
// AP: d = +y, e_u = +x, e_v = -z.   LAT: d = +x, e_u = -y, e_v = -z.
Eigen::Matrix3d NamedViewRotation(NamedView view);

// A view of one X-ray image: the normalised 3x4 matrix P (pixel_from_world),
// the detector size, the pixel pitch and the source-to-isocentre distance
// (which P alone cannot carry). Immutable after construction; cheap to copy.
class ProjectionGeometry {
 public:
  ProjectionGeometry() = default;
  // P = K [R^T | -R^T s]. Throws InvalidInput when carm.Validate() fails.
  static ProjectionGeometry FromCarm(const CarmGeometry& carm);
  // Takes a P written by any tool: it is scaled so that its third row has a
  // unit direction (P is homogeneous). Throws InvalidInput when P is singular
  // or mirrored (det M < 0), when the skew is not zero (relative 1e-6), or when
  // SID = k11*du and k22*dv disagree (relative 1e-6).
  static ProjectionGeometry FromMatrix(const Matrix34d& projection, int rows, int cols,
                                       double pixel_spacing_u_mm, double pixel_spacing_v_mm,
                                       double source_to_isocenter_mm);

  // The named view around `isocenter_mm` with the detector and distances of `detector`
  // (its rotation and isocentre are replaced).
  static ProjectionGeometry Named(NamedView view, const Eigen::Vector3d& isocenter_mm,
                                  CarmGeometry detector = {});

  const Matrix34d& matrix() const { return projection_; }
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  double pixel_spacing_u_mm() const { return du_; }
  double pixel_spacing_v_mm() const { return dv_; }
  double source_to_isocenter_mm() const { return sad_; }
  double source_to_detector_mm() const;

  // RQ decomposition of P back to C-arm parameters (docs/geometry.md, "Decomposition").
  CarmGeometry ToCarm() const;
  // The intrinsic matrix K (upper triangular, positive diagonal, k33 = 1).
  Eigen::Matrix3d Intrinsics() const;
  Eigen::Vector3d SourcePosition() const { return source_; }
  // Unit central-beam direction d (source towards detector).
  Eigen::Vector3d BeamDirection() const { return projection_.block<1, 3>(2, 0).transpose(); }

  // Pixel coordinates (u, v) of a world point, and its depth w = d.(x - s) in mm.
  // Points with w <= 0 do not project; the returned depth tells the caller.
  Eigen::Vector2d Project(const Eigen::Vector3d& point_mm, double* depth_mm = nullptr) const;
  // The world position of detector pixel (u, v) (fractional allowed).
  Eigen::Vector3d DetectorPoint(double u, double v) const;
  // Unit direction of the ray from the source through pixel (u, v).
  Eigen::Vector3d RayDirection(double u, double v) const;

 private:
  void Finish();  // derives the source and the detector point map from P

  Matrix34d projection_ = Matrix34d::Zero();
  int rows_ = 0;
  int cols_ = 0;
  double du_ = 1.0;
  double dv_ = 1.0;
  double sad_ = 0.0;
  Eigen::Vector3d source_ = Eigen::Vector3d::Zero();
  Eigen::Matrix3d m_inverse_ =
      Eigen::Matrix3d::Identity();  // M^-1, maps (u, v, 1) to a ray direction
};

// The default isocentre: the centre of the volume's voxel grid.
inline Eigen::Vector3d DefaultIsocenter(const VolumeGeometry& geometry) {
  return geometry.Center();
}

}  // namespace ssmx::drr

#endif  // SSMX_DRR_PROJECTION_GEOMETRY_H_
