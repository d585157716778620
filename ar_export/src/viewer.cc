#include "ssmx/ar_export/viewer.h"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "internal/prepare.h"
#include "ssmx/ar_export/gltf_writer.h"
#include "ssmx/ar_export/usdz_writer.h"
#include "ssmx/core/atomic_write.h"
#include "ssmx/core/error.h"

namespace ssmx::ar_export {
namespace {

namespace fs = std::filesystem;

const char* const kAssetFiles[] = {"index.html", "viewer.js", "viewer.css", "model-viewer.min.js"};

bool HoldsAssets(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "model-viewer.min.js", ec) &&
         fs::is_regular_file(dir / "index.html", ec);
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string() + ": cannot read the viewer file");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string FindViewerAssets() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("SSMX_VIEWER_ASSETS")) candidates.emplace_back(env);
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&FindViewerAssets), &info) && info.dli_fname) {
    const fs::path lib = fs::absolute(info.dli_fname).parent_path();
    candidates.push_back(lib / ".." / "share" / "ssmx" / "viewer");
    candidates.push_back(lib / ".." / ".." / "share" / "ssmx" / "viewer");
  }
  candidates.emplace_back(SSMX_INSTALL_VIEWER_DIR);
  std::string searched;
  for (const fs::path& c : candidates) {
    if (HoldsAssets(c)) return fs::weakly_canonical(c).string();
    searched += (searched.empty() ? "" : ", ") + c.lexically_normal().string();
  }
  throw IoError(
      "the offline viewer files (model-viewer.min.js, index.html) were not found in " + searched +
      "; run scripts/setup.sh (installs @google/model-viewer with npm) and rebuild, or set "
      "SSMX_VIEWER_ASSETS to a folder that holds them");
}

std::vector<std::string> WriteViewer(const Scene& scene, const std::string& dir,
                                     const ViewerOptions& options) {
  const internal::PreparedScene prepared = internal::Prepare(scene);
  const fs::path assets =
      options.assets_dir.empty() ? fs::path(FindViewerAssets()) : fs::path(options.assets_dir);
  if (!HoldsAssets(assets)) {
    throw IoError(assets.string() +
                  ": not a viewer assets folder (needs index.html and model-viewer.min.js)");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw IoError(dir + ": cannot create the viewer folder (" +
                  (ec ? ec.message() : "a file has that name") + ")");
  }
  const fs::path out(dir);
  std::vector<std::string> written;
  for (const char* name : kAssetFiles) {
    WriteFileAtomically((out / name).string(), ReadFile(assets / name));
    written.push_back((out / name).string());
  }
  nlohmann::json meta = internal::MetadataJson(prepared);
  meta["title"] = options.title;
  meta["glb"] = "model.glb";
  meta["usdz"] = "model.usdz";
  // A script, not JSON: index.html then works from file:// too (no fetch).
  WriteFileAtomically((out / "scene.js").string(), "window.SSMX_SCENE = " + meta.dump(2) + ";\n");
  written.push_back((out / "scene.js").string());
  WriteGlb(scene, (out / "model.glb").string());
  written.push_back((out / "model.glb").string());
  WriteUsdz(scene, (out / "model.usdz").string());
  written.push_back((out / "model.usdz").string());
  return written;
}

}  // namespace ssmx::ar_export
