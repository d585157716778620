#ifndef SSMX_AR_EXPORT_EXPORT_H_
#define SSMX_AR_EXPORT_EXPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "ssmx/ar_export/scene.h"
#include "ssmx/ar_export/viewer.h"

namespace ssmx::ar_export {

// Which files to write; an empty path skips that format.
struct ExportRequest {
  std::string glb;         // binary glTF, AR frame (metres, +Y up)
  std::string usdz;        // USDZ for AR Quick Look, AR frame
  std::string obj;         // OBJ + MTL (+ colormap PNG), AR frame
  std::string stl;         // binary STL, LPS mm, all structures merged
  std::string ply;         // binary PLY with scalars, LPS mm, all structures merged
  std::string viewer_dir;  // offline web viewer folder (see WriteViewer)
  // Face budget of the AR outputs (GLB, USDZ, OBJ, viewer), all structures
  // together (DecimateScene); <= 0 keeps every face. STL and PLY always keep
  // the full meshes.
  int64_t target_faces = 0;
  ViewerOptions viewer;
};

struct ExportedFile {
  std::string path;
  std::string format;  // "glb", "usdz", "obj", "mtl", "png", "stl", "ply", "viewer"
  uint64_t bytes = 0;
  double seconds = 0;  // time to build and write it
  int64_t faces = 0;   // triangles in the file (0 for MTL and PNG)
};

// Validates the scene once, then writes every requested file. Throws
// InvalidInput (scene), IoError (a file). Files written before a failure stay.
std::vector<ExportedFile> ExportScene(const Scene& scene, const ExportRequest& request);

}  // namespace ssmx::ar_export

#endif  // SSMX_AR_EXPORT_EXPORT_H_
