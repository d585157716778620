#ifndef SSMX_SSM_MESH_IO_H_
#define SSMX_SSM_MESH_IO_H_

#include <string>
#include <vector>

#include "ssmx/core/triangle_mesh.h"

namespace ssmx::ssm {

// What reading a mesh found and repaired.
struct MeshReadReport {
  std::string format;  // "STL (binary)", "STL (ASCII)", "PLY (binary_little_endian)", ...
  int64_t polygons_triangulated = 0;  // polygons with > 3 corners fan-triangulated
  int64_t degenerate_faces_removed = 0;  // faces repeating a vertex index, dropped
  std::vector<std::string> notes;     // the repairs, in words
};

// Reads STL (ASCII or binary; coincident corners merged exactly as VTK's
// reader does), PLY (ASCII, binary little/big endian; vertex properties other
// than x, y, z, nx, ny, nz are read as named scalars), OBJ (v / f, polygons
// triangulated), legacy VTK and VTP (through VTK). Chosen by extension.
// Throws IoError (cannot open) or InvalidInput (malformed: the message names
// the file and what is wrong, e.g. "face 12 refers to vertex 907 but the file
// has 900 vertices").
TriangleMesh ReadMesh(const std::string& path, MeshReadReport* report = nullptr);

enum class StlEncoding { kBinary, kAscii };

struct MeshWriteOptions {
  StlEncoding stl_encoding = StlEncoding::kBinary;
  bool write_normals = true;   // PLY, OBJ, VTK, VTP: when the mesh has them
  bool write_scalars = true;   // PLY, VTK, VTP: per-vertex scalars by name
};

// Writes .stl, .ply, .obj, .vtk or .vtp, chosen by extension, atomically.
// STL stores float32 coordinates; the others keep double precision. PLY stores
// scalars named "red", "green", "blue" and "alpha" as uchar colour properties
// (0..255, rounded and clamped), the others as float.
void WriteMesh(const TriangleMesh& mesh, const std::string& path,
               const MeshWriteOptions& options = {});

bool HasMeshExtension(const std::string& path);

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_MESH_IO_H_
