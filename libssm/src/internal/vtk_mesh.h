#ifndef SSMX_SSM_INTERNAL_VTK_MESH_H_
#define SSMX_SSM_INTERNAL_VTK_MESH_H_

#include <vtkPolyData.h>
#include <vtkSmartPointer.h>

#include <cstdint>

#include "ssmx/core/triangle_mesh.h"

namespace ssmx::internal {

// TriangleMesh -> vtkPolyData: double points, one triangle cell per face, and
// optionally the normals ("Normals") and the named scalars as point data.
vtkSmartPointer<vtkPolyData> ToVtkPolyData(const TriangleMesh& mesh, bool with_normals = false,
                                           bool with_scalars = false);

// vtkPolyData -> TriangleMesh: polygons are fan-triangulated and strips split
// (counted in *triangulated when not null); point normals and single-component
// named point arrays are copied; lines and vertices are ignored.
TriangleMesh FromVtkPolyData(vtkPolyData* poly, int64_t* triangulated = nullptr);

// VTK reports problems through its output window; ssmx reports them as
// exceptions instead, so the window stays silent.
void SilenceVtk();

}  // namespace ssmx::internal

#endif  // SSMX_SSM_INTERNAL_VTK_MESH_H_
