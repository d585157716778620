#ifndef SSMX_SSM_SURFACE_H_
#define SSMX_SSM_SURFACE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ssmx/core/progress.h"
#include "ssmx/core/triangle_mesh.h"
#include "ssmx/core/volume.h"

namespace ssmx::ssm {

// Which connected pieces of the region to keep.
//   kLargest: the largest piece, by voxel count (6-connected voxels), and, on
//             the mesh, the closed component that encloses the most volume.
//   kAll:     every piece.
enum class KeepComponents { kLargest, kAll };
const char* KeepComponentsName(KeepComponents keep);  // "largest", "all"
// Parses "largest" or "all"; throws InvalidInput naming the value otherwise.
KeepComponents ParseKeepComponents(const std::string& name);

// How a surface is extracted from a volume (docs/surfaces.md).
struct SurfaceOptions {
  // Windowed-sinc smoothing (Taubin, Zhang & Golub 1996): iterations of the
  // low-pass filter; 0 = none. Volume preserving: it does not shrink the mesh
  // the way Laplacian smoothing does.
  int smooth_iterations = 20;
  // Pass band of the windowed-sinc filter in (0, 2]; smaller = smoother.
  double smooth_passband = 0.1;
  // Quadric error decimation (Garland & Heckbert 1997) down to about this many
  // faces; 0 = no decimation. Ignored when the mesh already has fewer faces.
  int64_t target_faces = 0;
  KeepComponents keep = KeepComponents::kLargest;
  // Fill cavities: background voxels that are not 6-connected to the outside
  // of the volume become part of the region, so the surface has no inner
  // shells (e.g. the medullary canal of a thresholded bone).
  bool fill_holes = true;
  ProgressCallback progress;

  // False (and *error says why, when error is not null) for iterations < 0,
  // a pass band outside (0, 2] or target_faces < 0 or in 1..3.
  bool IsValid(std::string* error) const;
};

// The surface of the region {value > iso_value} of a scalar volume (CT
// threshold in HU, a negated signed-distance field, a probability map, ...),
// by flying edges (Schroeder, Maynard & Geveci 2015; marching-cubes topology),
// with vertices placed by linear interpolation of the voxel values.
//
// The result is watertight (the volume is padded with one layer of background,
// so a region cut by the volume border is closed by a cap on the border),
// outward oriented (positive enclosed volume, counter-clockwise seen from
// outside), has unit vertex normals and lies in LPS mm (the volume's direction
// cosines are honoured). Voxels equal to iso_value are outside.
// Throws InvalidInput when the options are invalid, iso_value is not finite or
// no voxel lies above iso_value (the message gives the value range); Cancelled
// when the progress callback asks to stop.
TriangleMesh ExtractIsoSurface(const Volume& volume, double iso_value,
                               const SurfaceOptions& options = {});

// The surface of the voxels whose value equals `label` (discrete flying edges:
// vertices halfway between voxel centres, then smoothed), with the same
// guarantees as ExtractIsoSurface. A 0/1 mask works with label = 1. Throws
// InvalidInput when no voxel has the label (the message lists the labels present).
TriangleMesh ExtractLabelSurface(const Volume& labels, int label,
                                 const SurfaceOptions& options = {});

// Windowed-sinc smoothing of any triangle mesh (VTK's implementation, with
// coordinates normalised so the pass band does not depend on the mesh size):
// `iterations` >= 0, passband in (0, 2]. Vertices move, connectivity does not;
// normals, when present, are recomputed. Boundary vertices of an open mesh
// stay put, and so do components of fewer than 100 vertices (a few voxels),
// whose lowest shape modes lie above any useful pass band: the filter would
// shrink them to a point.
TriangleMesh SmoothSurface(const TriangleMesh& mesh, int iterations, double passband);

// Quadric error decimation (Garland & Heckbert 1997) by edge collapse down to
// `target_faces` faces (>= 4) or as close as the topology allows. Collapses
// obey the link condition, so a closed two-manifold stays closed and manifold
// with the same genus, and never turn a face over by more than ~78 degrees.
// Vertices on boundary or non-manifold edges are kept. Scalars are dropped
// and normals recomputed. A mesh with at most target_faces faces is returned
// unchanged. Deterministic: the same mesh gives the same result.
TriangleMesh DecimateSurface(const TriangleMesh& mesh, int64_t target_faces);

// Unit area-weighted vertex normals from the face orientation (#V by 3).
// Vertices that no face uses get (0, 0, 0).
MatrixX3dR ComputeVertexNormals(const TriangleMesh& mesh);

// Flips every face when the signed enclosed volume is negative, so that a
// closed mesh faces outwards; returns whether it flipped. Normals, when
// present, are recomputed.
bool OrientOutward(TriangleMesh* mesh);

// The connected components of a mesh (faces sharing vertices), each as a mesh
// of its own with unused vertices dropped, largest |enclosed volume| first
// (ties: more faces first). Scalars and normals follow their vertices.
std::vector<TriangleMesh> SplitComponents(const TriangleMesh& mesh);

// The component of SplitComponents(mesh) with the largest |enclosed volume|.
TriangleMesh KeepLargestComponent(const TriangleMesh& mesh);

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_SURFACE_H_
