#include "output.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "ssmx/core/error.h"

namespace ssmx::cli {
namespace {

nlohmann::json Vec(const Eigen::Vector3d& v) { return {v.x(), v.y(), v.z()}; }

std::string Triple(const nlohmann::json& a, int precision = 3) {
  std::string s = "(";
  for (size_t i = 0; i < a.size(); ++i) {
    if (i) s += ", ";
    s += a[i].is_number_integer() ? std::to_string(a[i].get<long long>()) : Fmt(a[i].get<double>(), precision);
  }
  return s + ")";
}

nlohmann::json FindingsJson(const std::vector<ssm::QaFinding>& findings) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : findings) {
    out.push_back({{"severity", ssm::SeverityName(f.severity)},
                   {"code", f.code},
                   {"message", f.message},
                   {"corrected", f.corrected}});
  }
  return out;
}

}  // namespace

std::string Fmt(double v, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", precision, v);
  return buf;
}

nlohmann::json VolumeJson(const std::string& path, const ssm::VolumeReadResult& result) {
  const VolumeGeometry& g = result.volume.geometry();
  const auto [lo, hi] = result.volume.Range();
  nlohmann::json direction = nlohmann::json::array();
  for (int r = 0; r < 3; ++r) direction.push_back({g.direction(r, 0), g.direction(r, 1), g.direction(r, 2)});
  const auto modality = result.technical.find("modality");
  const bool ct = modality != result.technical.end() && modality->second == "CT";
  return {{"kind", "volume"},
          {"path", path},
          {"format", result.format},
          {"size", {g.size.x(), g.size.y(), g.size.z()}},
          {"spacing_mm", Vec(g.spacing_mm)},
          {"origin_mm", Vec(g.origin_mm)},
          {"direction", direction},
          {"frame", "LPS"},
          {"extent_mm", Vec(g.spacing_mm.cwiseProduct((g.size.cast<double>().array() - 1).matrix()))},
          {"voxel_type", VoxelTypeName(result.volume.voxel_type())},
          {"value_range", {lo, hi}},
          {"value_unit", ct ? "HU" : "stored value after rescale"},
          {"resampled", result.resampled},
          {"findings", FindingsJson(result.findings)},
          {"technical", result.technical}};
}

nlohmann::json MeshJson(const std::string& path, const TriangleMesh& mesh, const ssm::MeshReadReport& report) {
  const Bounds3d bounds = ComputeBounds(mesh);
  const MeshCheck check = CheckMesh(mesh);
  nlohmann::json scalars = nlohmann::json::array();
  for (const auto& entry : mesh.scalars) scalars.push_back(entry.first);
  nlohmann::json out = {{"kind", "mesh"},
                        {"path", path},
                        {"format", report.format},
                        {"vertices", mesh.num_vertices()},
                        {"faces", mesh.num_faces()},
                        {"bounds_mm", {{"min", Vec(bounds.min)}, {"max", Vec(bounds.max)}}},
                        {"extent_mm", Vec(bounds.Extent())},
                        {"watertight", check.watertight()},
                        {"connected_components", check.connected_components},
                        {"boundary_edges", check.boundary_edges},
                        {"non_manifold_edges", check.non_manifold_edges},
                        {"inconsistent_edges", check.inconsistent_edges},
                        {"degenerate_faces", check.degenerate_faces},
                        {"surface_area_mm2", check.surface_area_mm2},
                        {"has_normals", mesh.normals.rows() == mesh.num_vertices()},
                        {"scalars", scalars},
                        {"problems", check.Problems()},
                        {"repairs", report.notes}};
  if (check.watertight()) out["enclosed_volume_mm3"] = std::abs(check.enclosed_volume_mm3);
  return out;
}

nlohmann::json SeriesListJson(const std::string& path, const std::vector<ssm::DicomSeriesSummary>& series) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : series) {
    list.push_back({{"key", s.key},
                    {"series_uid", s.series_uid},
                    {"modality", s.modality},
                    {"sop_class", s.sop_class},
                    {"files", s.num_files},
                    {"slices", s.num_slices},
                    {"rows", s.rows},
                    {"cols", s.cols}});
  }
  return {{"kind", "dicom_folder"}, {"path", path}, {"series", list}};
}

std::string VolumeText(const nlohmann::json& info) {
  std::ostringstream out;
  out << info["path"].get<std::string>() << ": " << info["format"].get<std::string>() << " volume\n"
      << "  size       " << Triple(info["size"]) << " voxels, " << info["voxel_type"].get<std::string>() << "\n"
      << "  spacing    " << Triple(info["spacing_mm"], 4) << " mm\n"
      << "  origin     " << Triple(info["origin_mm"]) << " mm (LPS)\n"
      << "  direction  " << Triple(info["direction"][0], 4) << "\n"
      << "             " << Triple(info["direction"][1], 4) << "\n"
      << "             " << Triple(info["direction"][2], 4) << "\n"
      << "  extent     " << Triple(info["extent_mm"], 1) << " mm\n"
      << "  range      " << info["value_range"][0].get<double>() << " .. "
      << info["value_range"][1].get<double>() << " (" << info["value_unit"].get<std::string>() << ")\n";
  for (const auto& [key, value] : info["technical"].items()) {
    std::string k = key;
    k.resize(std::max<size_t>(k.size(), 10), ' ');
    out << "  " << k << " " << value.get<std::string>() << "\n";
  }
  if (info["findings"].empty()) {
    out << "  QA: no findings\n";
  } else {
    out << "  QA findings:\n";
    for (const auto& f : info["findings"]) {
      out << "    [" << f["severity"].get<std::string>() << "] " << f["code"].get<std::string>() << ": "
          << f["message"].get<std::string>() << "\n";
    }
  }
  return out.str();
}

std::string MeshText(const nlohmann::json& info) {
  std::ostringstream out;
  out << info["path"].get<std::string>() << ": " << info["format"].get<std::string>() << " mesh\n"
      << "  vertices   " << info["vertices"].get<long long>() << "\n"
      << "  faces      " << info["faces"].get<long long>() << "\n"
      << "  bounds     " << Triple(info["bounds_mm"]["min"]) << " .. " << Triple(info["bounds_mm"]["max"])
      << " mm\n"
      << "  extent     " << Triple(info["extent_mm"], 2) << " mm\n"
      << "  watertight " << (info["watertight"].get<bool>() ? "yes" : "no") << "\n"
      << "  components " << info["connected_components"].get<long long>() << "\n"
      << "  area       " << Fmt(info["surface_area_mm2"].get<double>(), 1) << " mm^2\n";
  if (info.contains("enclosed_volume_mm3")) {
    out << "  volume     " << Fmt(info["enclosed_volume_mm3"].get<double>(), 1) << " mm^3\n";
  }
  if (!info["scalars"].empty()) {
    out << "  scalars   ";
    for (const auto& s : info["scalars"]) out << " " << s.get<std::string>();
    out << "\n";
  }
  for (const auto& r : info["repairs"]) out << "  repaired:  " << r.get<std::string>() << "\n";
  if (info["problems"].empty()) out << "  problems:  none\n";
  for (const auto& p : info["problems"]) out << "  problem:   " << p.get<std::string>() << "\n";
  return out.str();
}

std::string SeriesListText(const nlohmann::json& info) {
  std::ostringstream out;
  out << info["path"].get<std::string>() << ": DICOM folder with " << info["series"].size()
      << " series; choose one with --series KEY\n";
  for (const auto& s : info["series"]) {
    out << "  " << s["key"].get<std::string>() << "\n    " << s["modality"].get<std::string>() << ", "
        << s["sop_class"].get<std::string>() << ", " << s["slices"].get<int>() << " slices of "
        << s["cols"].get<int>() << "x" << s["rows"].get<int>() << " in " << s["files"].get<int>()
        << " files\n";
  }
  return out.str();
}

ProgressCallback TerminalProgress(const Settings& settings) {
  if (settings.quiet || !::isatty(STDERR_FILENO)) return {};
  return [last = std::string(), last_percent = -1](double fraction, const std::string& stage) mutable {
    const int percent = static_cast<int>(std::lround(100 * fraction));
    if (percent == last_percent && stage == last) return true;
    last_percent = percent;
    last = stage;
    const int filled = percent * 30 / 100;
    std::fprintf(stderr, "\r[%-30s] %3d%% %-40s", std::string(filled, '#').c_str(), percent, stage.c_str());
    if (percent >= 100) std::fputc('\n', stderr);
    std::fflush(stderr);
    return true;
  };
}

namespace {

std::string Duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof(text), "%ldh%02ldm", s / 3600, (s / 60) % 60);
  } else {
    std::snprintf(text, sizeof(text), "%ld:%02ld", s / 60, s % 60);
  }
  return text;
}

}  // namespace

ProgressCallback EtaProgress(const Settings& settings, const std::string& what) {
  if (settings.quiet) return {};
  using Clock = std::chrono::steady_clock;
  struct State {
    Clock::time_point start = Clock::now();
    Clock::time_point last_line = Clock::now();
    std::deque<std::pair<double, double>> recent;  // (seconds, fraction) of the last 30 s
    int last_decile = 0;
    int last_permille = -1;
  };
  auto state = std::make_shared<State>();
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  return [state, tty, what](double fraction, const std::string& stage) {
    const double now = std::chrono::duration<double>(Clock::now() - state->start).count();
    // The rate over the last 30 s: samples skipped on a resume (fast) drop out of it soon.
    state->recent.emplace_back(now, fraction);
    while (state->recent.size() > 2 && now - state->recent.front().first > 30) {
      state->recent.pop_front();
    }
    const auto& [t0, f0] = state->recent.front();
    const double rate = now > t0 ? (fraction - f0) / (now - t0) : 0.0;
    const std::string eta =
        rate > 0 && now > 1 ? "ETA " + Duration((1 - fraction) / rate) : std::string("ETA --:--");
    const int percent = static_cast<int>(std::floor(100 * fraction));
    if (tty) {
      const int permille = static_cast<int>(std::floor(1000 * fraction));
      if (permille == state->last_permille && fraction < 1) return true;
      state->last_permille = permille;
      const int filled = std::min(30, permille * 30 / 1000);
      std::fprintf(stderr, "\r[%-30s] %3d%% %s  %-50.50s", std::string(filled, '#').c_str(),
                   percent, eta.c_str(), stage.c_str());
      if (fraction >= 1) std::fputc('\n', stderr);
      std::fflush(stderr);
      return true;
    }
    const int decile = static_cast<int>(std::floor(10 * fraction));
    const double since_line =
        std::chrono::duration<double>(Clock::now() - state->last_line).count();
    if (fraction > 0 && (decile > state->last_decile || since_line >= 30)) {
      state->last_decile = decile;
      state->last_line = Clock::now();
      std::fprintf(stderr, "%s: %d%% (%s), elapsed %s, %s\n", what.c_str(), percent, stage.c_str(),
                   Duration(now).c_str(), eta.c_str());
      std::fflush(stderr);
    }
    return true;
  };
}

}  // namespace ssmx::cli
