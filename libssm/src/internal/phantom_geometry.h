// The implicit phantom femur: primitives in the straight femur frame, the
// bending of the shaft, and the world pose. Shared by phantom_femur.cc (shape,
// deformation), phantom_ct.cc and phantom_cohort.cc. See docs/phantom.md.
#ifndef SSMX_SSM_SRC_INTERNAL_PHANTOM_GEOMETRY_H_
#define SSMX_SSM_SRC_INTERNAL_PHANTOM_GEOMETRY_H_

#include <Eigen/Core>
#include <array>
#include <vector>

#include "ssmx/ssm/phantom.h"

namespace ssmx::ssm {

namespace internal {

// Anatomical parts. The deformation moves each by its own transform.
enum Part { kHead = 0, kNeck = 1, kProximal = 2, kShaft = 3, kDistal = 4, kNumParts = 5 };

enum class PrimitiveKind { kSphere, kEllipsoid, kTube, kCondyle, kRoundCone };

// A profile knot of a tube: position along the axis (0..1), semi-axes along
// e1 and e2, and an offset of the section centre along e1 and e2.
struct TubeKnot {
  double t, a1, a2, c1, c2;
};

// One primitive in the straight femur frame. `frame` columns are the local
// axes (orthonormal); `center` the local origin.
struct Primitive {
  PrimitiveKind kind = PrimitiveKind::kSphere;
  Part part = kProximal;
  bool subtract = false;  // smooth subtraction instead of smooth union
  double blend_mm = 0;    // smooth-min radius with the shape accumulated so far
  Eigen::Vector3d center = Eigen::Vector3d::Zero();
  Eigen::Matrix3d frame = Eigen::Matrix3d::Identity();
  Eigen::Vector3d radii =
      Eigen::Vector3d::Ones();  // ellipsoid semi-axes; condyle (half-width, a_y, a_z)
  double radius = 0;            // sphere; condyle rounding; round cone start radius
  double radius2 = 0;           // round cone end radius
  Eigen::Vector3d end = Eigen::Vector3d::Zero();  // round cone end
  double length = 0;                              // tube length along frame.col(0)
  std::vector<TubeKnot> knots;  // tube profile, knot t = (u - knot_origin) / knot_length
  std::vector<std::pair<double, double>> scale_knots;  // (t, factor) on a1, a2, c1, c2; empty: 1
  double knot_origin = 0, knot_length = 1;
  Eigen::Vector3d box_min = Eigen::Vector3d::Zero(),
                  box_max = Eigen::Vector3d::Zero();  // bounds, straight frame

  double Distance(const Eigen::Vector3d& q) const;
};

}  // namespace internal

struct PhantomFemur::Geometry {
  FemurParameters p;
  // Scales relative to the mean femur.
  double s_prox = 1, s_shaft = 1, s_distal = 1, s_head = 1;
  // Neck frame (straight frame): n towards the head, e1 = axis of the
  // neck-shaft angle rotation (horizontal, ~posterior), e2 = n x e1 (~superior).
  Eigen::Vector3d n, e1, e2, head_center;
  double chord_mm = 0;                // straight distance from the origin down to the knee centre
  Eigen::Matrix3d femur_from_distal;  // R_y(bicondylar angle)
  // Bend of the shaft between z0 and z1 (straight frame), centre of curvature
  // posterior at distance radius.
  bool straight = false;
  double bend_z0 = 0, bend_z1 = 0, bend_radius = 0, bend_angle = 0;
  // world = mirror * (world_rotation * (bent - knee_bent)).
  Eigen::Matrix3d world_rotation;
  Eigen::Vector3d knee_bent;
  double mirror = 1;  // -1 for a left femur
  double sagittal_tilt = 0;
  std::vector<internal::Primitive> primitives;
  Eigen::Vector3d box_min, box_max;  // straight frame

  explicit Geometry(const FemurParameters& parameters);

  // Straight-frame shape.
  double StraightDistance(const Eigen::Vector3d& q) const;
  // Distance to each part alone (min over its primitives, no blending).
  std::array<double, internal::kNumParts> PartDistances(const Eigen::Vector3d& q) const;
  Eigen::Vector3d Bend(const Eigen::Vector3d& q) const;
  Eigen::Vector3d Unbend(const Eigen::Vector3d& b) const;
  Eigen::Vector3d WorldFromStraight(const Eigen::Vector3d& q) const;
  Eigen::Vector3d StraightFromWorld(const Eigen::Vector3d& w) const;
  // Shaft profile scale at shaft parameter t (ratio to the mean profile).
  double ShaftScale(double t) const;
  double NeckScale(double t) const;
  Eigen::Vector3d DistalToStraight(
      const Eigen::Vector3d& d) const;  // distal frame (mean units) -> straight

 private:
  void BuildPrimitives();
  void PlaceInWorld();
  double MeasuredLength() const;
};

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_SRC_INTERNAL_PHANTOM_GEOMETRY_H_
