#ifndef SSMX_AR_EXPORT_VIEWER_H_
#define SSMX_AR_EXPORT_VIEWER_H_

#include <string>
#include <vector>

#include "ssmx/ar_export/scene.h"

namespace ssmx::ar_export {

struct ViewerOptions {
  // Folder holding the viewer's static files (index.html, viewer.js,
  // viewer.css, model-viewer.min.js). Empty: FindViewerAssets().
  std::string assets_dir;
  std::string title = "ssmx 3D model";  // page title
};

// The installed viewer files. Looks, in order, in $SSMX_VIEWER_ASSETS, in
// share/ssmx/viewer next to the folder of libssmx_ar_export (../share and
// ../../share, so both the build tree and an install under lib/<triplet> work)
// and in the install prefix compiled in. A folder counts only when it holds
// model-viewer.min.js. Throws IoError naming the places searched and the fix
// (scripts/setup.sh installs model-viewer with npm; rebuild to copy it).
std::string FindViewerAssets();

// A self-contained offline viewer folder: index.html, viewer.js, viewer.css,
// model-viewer.min.js (copied from the assets), model.glb, model.usdz and
// scene.js (the metadata of MetadataJson: structures, colours, legend). Serve
// it with `python3 -m http.server` in `dir`. Creates `dir` when missing;
// overwrites the files it writes, atomically, and leaves others alone.
// Returns the paths written.
std::vector<std::string> WriteViewer(const Scene& scene, const std::string& dir,
                                     const ViewerOptions& options = {});

}  // namespace ssmx::ar_export

#endif  // SSMX_AR_EXPORT_VIEWER_H_
