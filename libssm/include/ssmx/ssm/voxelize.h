#ifndef SSMX_SSM_VOXELIZE_H_
#define SSMX_SSM_VOXELIZE_H_

#include "ssmx/core/triangle_mesh.h"
#include "ssmx/core/volume.h"

namespace ssmx::ssm {

// The voxels of `grid` whose centres lie inside a closed mesh, as an int16
// volume of 0 and 1 with that geometry. Inside means a nonzero winding number:
// a ray through the voxel centres along the grid's k axis is crossed with every
// triangle (exact edge functions with a top-left rule, so a ray through an edge
// or a vertex is counted once), entering and leaving crossings are summed, and
// the centres where the sum is nonzero are inside. Any direction cosines and
// anisotropic spacing work; overlapping closed components give their union;
// the orientation of the faces does not matter as long as it is consistent.
// Throws InvalidInput for an unusable mesh or an invalid grid.
Volume Voxelize(const TriangleMesh& mesh, const VolumeGeometry& grid);

// An axis-aligned LPS grid with cubic voxels of `spacing_mm` whose centres
// lie on integer multiples of the spacing and cover the mesh bounds grown by
// `margin_mm` on every side. Throws InvalidInput for spacing <= 0, margin < 0
// or a grid of more than 2^31 voxels.
VolumeGeometry GridAroundMesh(const TriangleMesh& mesh, double spacing_mm, double margin_mm);

// Voxelize(mesh, GridAroundMesh(mesh, spacing_mm, margin_mm)).
Volume Voxelize(const TriangleMesh& mesh, double spacing_mm, double margin_mm = 1.0);

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_VOXELIZE_H_
