#ifndef SSMX_SSM_SURFACE_DISTANCE_H_
#define SSMX_SSM_SURFACE_DISTANCE_H_

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <string>

#include "ssmx/core/progress.h"
#include "ssmx/core/triangle_mesh.h"

namespace ssmx::ssm {

// The point of a surface closest to a query point.
//   point:    the closest point on the surface, LPS mm.
//   face:     the face it lies on (row of the mesh's faces); on an edge or a
//             corner, one of the faces that share it.
//   distance: |query - point| in mm (unsigned).
struct ClosestPointResult {
  Eigen::Vector3d point = Eigen::Vector3d::Zero();
  int64_t face = -1;
  double distance = 0;
};

// A spatial index of a triangle mesh for exact closest-point and signed
// distance queries: a bounding-volume hierarchy of axis-aligned boxes over the
// triangles (surface-area heuristic, at most 4 triangles per leaf), searched
// nearest-box-first with pruning, and the exact point-triangle distance of
// Ericson, "Real-Time Collision Detection" (2005), sect. 5.1.5.
//
// The sign of SignedDistance comes from the angle-weighted pseudonormal of
// the closest feature (face, edge or vertex; Baerentzen & Aanaes, IEEE TVCG
// 2005): negative inside, positive outside. It is exact for a closed,
// consistently oriented (watertight) mesh facing outwards; for other meshes
// it says on which side of the nearest part of the surface the point lies.
//
// Building costs O(F log F); the locator keeps its own copy of the geometry,
// so the mesh may be destroyed afterwards. Every const method is thread safe.
class SurfaceLocator {
 public:
  // Throws InvalidInput for a mesh without faces, with non-finite coordinates
  // or indices out of range.
  explicit SurfaceLocator(const TriangleMesh& mesh);
  ~SurfaceLocator();
  SurfaceLocator(SurfaceLocator&&) noexcept;
  SurfaceLocator& operator=(SurfaceLocator&&) noexcept;
  SurfaceLocator(const SurfaceLocator&) = delete;
  SurfaceLocator& operator=(const SurfaceLocator&) = delete;

  ClosestPointResult ClosestPoint(const Eigen::Vector3d& point) const;
  // Distance to the surface, negative inside and positive outside (mm).
  double SignedDistance(const Eigen::Vector3d& point) const;
  // SignedDistance of every row of `points` (#P by 3), in parallel; #P values.
  Eigen::VectorXd SignedDistances(const Eigen::Ref<const MatrixX3dR>& points) const;

  int64_t num_faces() const;

 private:
  struct Data;  // the hierarchy and the triangles (surface_locator.cc)
  std::unique_ptr<Data> data_;
};

// Statistics of the distances from the surface of one mesh to another.
// Every vertex of the source mesh is a sample, weighted by its area (a third
// of the area of the faces around it), so that a finely meshed region counts
// no more than a coarsely meshed one of the same size: mean and RMS are
// area-weighted means, p95 is the distance that 95 % of the area is closer
// than, and max is the largest distance of any vertex (a vertex-sampled
// directed Hausdorff distance). All in mm, unsigned.
struct DirectedDistance {
  double mean_mm = 0;
  double rms_mm = 0;
  double p95_mm = 0;
  double max_mm = 0;
};

// Result of ComputeSurfaceDistance (definitions in docs/surfaces.md).
//   a_to_b, b_to_a:  the directed statistics.
//   mean_mm, rms_mm: over the samples of both surfaces pooled, by area
//                    (the average symmetric surface distance, ASSD, and its RMS).
//   p95_mm:          max(a_to_b.p95_mm, b_to_a.p95_mm) (the "HD95").
//   hausdorff_mm:    max(a_to_b.max_mm, b_to_a.max_mm).
//   volume_*_mm3:    enclosed volumes by the divergence theorem (signed: an
//                    inward-oriented mesh gives a negative volume).
//   dice:            2|A∩B| / (|A| + |B|) over the voxel centres of one grid
//                    of spacing dice_spacing_mm that lie inside each mesh
//                    (nonzero winding number); NaN when not computed.
//   signed_distance_a_mm: #V(A) values, signed distance of each vertex of A
//                    to surface B (positive outside B, negative inside).
//   signed_distance_b_mm: #V(B) values, the same from B to A.
struct SurfaceDistanceSummary {
  DirectedDistance a_to_b, b_to_a;
  double mean_mm = 0;
  double rms_mm = 0;
  double p95_mm = 0;
  double hausdorff_mm = 0;
  double area_a_mm2 = 0;
  double area_b_mm2 = 0;
  double volume_a_mm3 = 0;
  double volume_b_mm3 = 0;
  double dice = 0;
  double dice_spacing_mm = 0;
  Eigen::VectorXd signed_distance_a_mm;
  Eigen::VectorXd signed_distance_b_mm;
  double seconds = 0;

  // A few lines for a person: the symmetric and directed numbers, volumes, Dice.
  std::string BriefReport() const;
};

struct SurfaceDistanceOptions {
  // Spacing of the voxel grid on which Dice is counted, mm (> 0). The grid is
  // axis aligned (LPS) with voxel centres on multiples of the spacing, so it
  // does not depend on the order of the meshes.
  double dice_spacing_mm = 0.5;
  bool compute_dice = true;
  ProgressCallback progress;

  bool IsValid(std::string* error) const;
};

// Distances between the surfaces of two meshes in the same frame. Both meshes
// need faces; Dice and the volumes are meaningful for closed meshes only.
// Throws InvalidInput for unusable meshes or options (the message names
// "mesh A" or "mesh B"), and when the Dice grid would exceed 2^31 columns.
SurfaceDistanceSummary ComputeSurfaceDistance(const TriangleMesh& a, const TriangleMesh& b,
                                              const SurfaceDistanceOptions& options = {});

// Per-vertex area weights used by the statistics: a third of the area of the
// faces around each vertex (#V values, mm^2).
Eigen::VectorXd VertexAreas(const TriangleMesh& mesh);

// Adds per-vertex colour scalars "red", "green", "blue" (0..255) that map
// `values` (#V) onto a diverging blue–white–red scale: -range_mm is blue, 0
// white, +range_mm red (clamped). The PLY writer stores these three scalars
// as uchar colour properties. Throws InvalidInput for a length mismatch or
// range_mm <= 0.
void AddDivergingColors(const Eigen::VectorXd& values, double range_mm, TriangleMesh* mesh);

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_SURFACE_DISTANCE_H_
