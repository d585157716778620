#ifndef SSMX_SSM_ICP_H_
#define SSMX_SSM_ICP_H_

// Rigid and similarity alignment of a surface onto another without known
// correspondence: trimmed point-to-plane iterative closest point.

#include <Eigen/Core>
#include <cstdint>
#include <string>

#include "ssmx/core/triangle_mesh.h"
#include "ssmx/ssm/alignment.h"

namespace ssmx::ssm {

struct IcpOptions {
  // kRigid or kSimilarity (kNone is not an alignment to search for).
  AlignmentKind kind = AlignmentKind::kRigid;
  int max_iterations = 100;
  // Fraction of the pairs rejected in every iteration: those with the largest
  // distances (trimmed ICP, Chetverikov et al. 2002). 0 <= trim_fraction < 1;
  // raise it when the source covers more than the target (partial overlap).
  double trim_fraction = 0.1;
  // Converged when an iteration moves the source points by less than this
  // (area-weighted RMS, mm).
  double tolerance_mm = 0.01;
  // At most this many source vertices are used (an evenly strided subset, so
  // the result is deterministic); 0: all.
  int max_points = 5000;
  // Weight of a point-to-point term next to the point-to-plane term. Pure
  // point-to-plane leaves sliding along a locally flat or cylindrical surface
  // unconstrained; a small point-to-point share keeps the normal equations
  // well posed without slowing convergence noticeably.
  double point_to_point_weight = 0.01;

  bool IsValid(std::string* error) const;
};

struct IcpSummary {
  SimilarityTransform target_from_source;
  int iterations = 0;
  bool converged = false;
  int64_t points = 0;      // source points used
  int64_t pairs_kept = 0;  // pairs left after trimming, last iteration
  double rms_kept_mm = 0;  // area-weighted RMS closest-point distance of the kept pairs
  double mean_mm = 0;      // area-weighted mean closest-point distance of all points
  double last_change_mm = 0;
  double seconds = 0;

  // One line for a person.
  std::string BriefReport() const;
};

// The similarity (or rigid) transform T that minimises the trimmed,
// area-weighted point-to-plane energy
//   sum_{i kept} a_i ( n_i . (T(x_i) - q_i) )^2 + w sum_{i kept} a_i |T(x_i) - q_i|^2
// where x_i are the source vertices, a_i their areas (VertexAreas), q_i the
// exact closest point of the target surface to T(x_i), n_i the normal of the
// target face it lies on, and w = options.point_to_point_weight. Each
// iteration linearises the rotation about the centroid of the current points
// and solves the 6 (rigid) or 7 (similarity) normal equations; the update is
// applied as an exact rotation (Chen & Medioni 1992; Low 2004 for the
// linearisation). Closest points use a SurfaceLocator of the target.
//   source, target: meshes with faces (the source's faces only give the
//                   vertex areas).
//   initial:        the starting target_from_source (see CentroidAlignment).
// Throws InvalidInput for unusable meshes or options. ICP finds the nearest
// local minimum: the start must be roughly right (rotation within ~30
// degrees); use Umeyama on landmarks otherwise.
IcpSummary IterativeClosestPoint(const TriangleMesh& source, const TriangleMesh& target,
                                 const SimilarityTransform& initial,
                                 const IcpOptions& options = {});

// A starting transform for ICP: the translation that moves the area-weighted
// centroid of `source` onto that of `target`, no rotation, and for
// kSimilarity the scale that equalises their RMS radii about the centroids.
SimilarityTransform CentroidAlignment(const TriangleMesh& source, const TriangleMesh& target,
                                      AlignmentKind kind);

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_ICP_H_
