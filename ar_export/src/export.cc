#include "ssmx/ar_export/export.h"

#include <cctype>
#include <chrono>
#include <filesystem>

#include "ssmx/ar_export/decimate.h"
#include "ssmx/ar_export/gltf_writer.h"
#include "ssmx/ar_export/interchange.h"
#include "ssmx/ar_export/usdz_writer.h"
#include "ssmx/core/error.h"
#include "ssmx/ssm/mesh_io.h"

namespace ssmx::ar_export {
namespace {

namespace fs = std::filesystem;

uint64_t SizeOf(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(size);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::vector<ExportedFile> ExportScene(const Scene& scene, const ExportRequest& request) {
  ValidateScene(scene);
  const std::pair<const std::string*, const char*> outputs[] = {{&request.glb, ".glb"},
                                                                {&request.usdz, ".usdz"},
                                                                {&request.obj, ".obj"},
                                                                {&request.stl, ".stl"},
                                                                {&request.ply, ".ply"}};
  for (const auto& [path, ext] : outputs) {
    if (!path->empty() && Lower(fs::path(*path).extension().string()) != ext) {
      throw InvalidInput(*path + ": a " + std::string(ext + 1) + " output must end in " + ext);
    }
  }
  std::vector<ExportedFile> files;
  const bool any_ar = !request.glb.empty() || !request.usdz.empty() || !request.obj.empty() ||
                      !request.viewer_dir.empty();
  const Scene ar = any_ar ? DecimateScene(scene, request.target_faces) : scene;
  const auto faces_of = [](const Scene& s) {
    int64_t n = 0;
    for (const Structure& st : s.structures) n += st.mesh.num_faces();
    return n;
  };
  const int64_t ar_faces = faces_of(ar), full_faces = faces_of(scene);
  const auto timed = [&](const std::string& path, const std::string& format, auto&& write) {
    if (path.empty()) return;
    const auto start = std::chrono::steady_clock::now();
    write();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    files.push_back({path, format, SizeOf(path), seconds,
                     format == "stl" || format == "ply" ? full_faces : ar_faces});
  };
  timed(request.glb, "glb", [&] { WriteGlb(ar, request.glb); });
  timed(request.usdz, "usdz", [&] { WriteUsdz(ar, request.usdz); });
  timed(request.obj, "obj", [&] {
    for (const std::string& path : WriteObj(ar, request.obj)) {
      const std::string ext = fs::path(path).extension().string();
      if (path != request.obj) files.push_back({path, ext.substr(1), SizeOf(path), 0.0, 0});
    }
  });
  ssm::MeshWriteOptions mesh_options;
  timed(request.stl, "stl",
        [&] { ssm::WriteMesh(MergeStructures(scene), request.stl, mesh_options); });
  timed(request.ply, "ply",
        [&] { ssm::WriteMesh(MergeStructures(scene), request.ply, mesh_options); });
  std::vector<std::string> viewer_files;
  timed(request.viewer_dir, "viewer",
        [&] { viewer_files = WriteViewer(ar, request.viewer_dir, request.viewer); });
  if (!viewer_files.empty()) {
    files.back().bytes = 0;
    for (const std::string& path : viewer_files) files.back().bytes += SizeOf(path);
  }
  return files;
}

}  // namespace ssmx::ar_export
