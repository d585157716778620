#ifndef SSMX_DRR_MESH_PROJECTION_H_
#define SSMX_DRR_MESH_PROJECTION_H_

#include "ssmx/core/image2d.h"
#include "ssmx/core/triangle_mesh.h"
#include "ssmx/drr/projection_geometry.h"

namespace ssmx::drr {

// Path length (mm) of each pixel's ray through a closed surface: the rays are
// those of Project() (source to pixel centre), and the length is the sum over
// the ray's intersections with the triangles of +depth where the ray leaves the
// solid and -depth where it enters. Each triangle is rasterised onto the
// detector (pixel centres inside its projection, with a top-left rule so that a
// pixel on a shared edge counts once), which is exact and needs no spatial
// index. Quantity kPathLength. Throws InvalidInput when the mesh is not
// watertight (the length of an open surface is undefined), is inward oriented
// (negative enclosed volume) or reaches behind the source. `threads`: 0 = all cores.
Image2D ProjectMeshPathLength(const TriangleMesh& mesh, const ProjectionGeometry& geometry,
                              int threads = 0);

}  // namespace ssmx::drr

#endif  // SSMX_DRR_MESH_PROJECTION_H_
