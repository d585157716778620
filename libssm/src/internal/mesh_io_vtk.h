#ifndef SSMX_SSM_INTERNAL_MESH_IO_VTK_H_
#define SSMX_SSM_INTERNAL_MESH_IO_VTK_H_

#include <string>

#include "ssmx/ssm/mesh_io.h"

namespace ssmx::internal {

// Legacy VTK (.vtk) and VTK XML PolyData (.vtp) through VTK's readers and
// writers. Polygons are fan-triangulated and triangle strips split.
TriangleMesh ReadVtkMesh(const std::string& path, bool xml, ssm::MeshReadReport* report);
// Writes to `temp_path` (the caller renames it into place).
void WriteVtkMesh(const TriangleMesh& mesh, const std::string& temp_path, bool xml,
                  const ssm::MeshWriteOptions& options);

}  // namespace ssmx::internal

#endif  // SSMX_SSM_INTERNAL_MESH_IO_VTK_H_
