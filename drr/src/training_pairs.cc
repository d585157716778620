#include "ssmx/drr/training_pairs.h"

#include <unistd.h>

#include <Eigen/Geometry>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "internal/parallel.h"
#include "internal/sha256.h"
#include "ssmx/core/atomic_write.h"
#include "ssmx/core/error.h"
#include "ssmx/drr/detector.h"
#include "ssmx/drr/sidecar.h"
#include "ssmx/drr/xray_image_io.h"
#include "ssmx/ssm/label_map.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::drr {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr double kDegPerRad = 57.29577951308232;
constexpr int kVersion = 1;
constexpr char kParamsFile[] = "params.json";
constexpr char kTempPrefix[] = ".ssmx-tmp-";  // WriteFileAtomically's temporary files
constexpr double kDefaultLineIntegralWindowHigh = 16.0;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// SplitMix64 (Steele, Lea and Flood 2014), the same mixer as the detector noise.
uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [-half, half): 53 random bits of one mt19937_64 output.
double Symmetric(std::mt19937_64& rng, double half) {
  const double unit = static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);
  return half * (2.0 * unit - 1.0);
}

// The noise seed of view `k` of a sample: its own stream, disjoint from the pose's.
uint64_t NoiseSeed(uint64_t sample_seed, int view_index) {
  return SplitMix64(sample_seed ^ SplitMix64(0x6e6f697365ull + static_cast<uint64_t>(view_index)));
}

json Vec(const Eigen::Vector3d& v) { return json::array({v.x(), v.y(), v.z()}); }

std::string SafeName(const std::string& name) {
  std::string out;
  for (unsigned char c : name) out += (std::isalnum(c) || c == '-' || c == '.') ? c : '_';
  return out.empty() ? "_" : out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "ct/abdomen.nii.gz" -> "abdomen", "dicom/series/" -> "series".
std::string VolumeStem(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::string name = p.filename().string();
  for (const char* ext : {".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr", ".dcm"}) {
    const std::string e = ext;
    if (name.size() > e.size() && Lower(name.substr(name.size() - e.size())) == e) {
      name.resize(name.size() - e.size());
      break;
    }
  }
  return SafeName(name);
}

std::string SampleName(int sample) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "s%06d", sample);
  return buffer;
}

std::string Lowercase(NamedView view) { return view == NamedView::kAP ? "ap" : "lat"; }

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot read (missing or no permission)");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// What a job needs besides the options: the labels resolved, the parameters
// and their hash, the folder of every volume.
struct Job {
  std::string out_dir;
  const TrainingPairOptions* options = nullptr;
  std::vector<std::string> labels;       // as given to ReadLabelMask
  std::vector<std::string> label_files;  // SafeName of each, for file names
  json parameters;
  std::string parameters_sha256;
  std::vector<std::string> folders;  // per volume, relative to out_dir
};

json ParametersJson(const TrainingPairOptions& o, const std::vector<std::string>& labels) {
  json p;
  p["volumes"] = o.volumes;
  p["label_maps"] = o.label_maps;
  p["labels"] = labels;
  p["label_table"] = o.label_table;
  p["landmarks"] = o.landmarks;
  p["per_volume"] = o.per_volume;
  p["views"] = json::array();
  for (NamedView v : o.views) p["views"].push_back(NamedViewName(v));
  const Eigen::Vector2d pp = o.detector.principal_point_px;
  p["detector"] = {
      {"rows", o.detector.rows},
      {"cols", o.detector.cols},
      {"pixel_spacing_mm", {o.detector.pixel_spacing_u_mm, o.detector.pixel_spacing_v_mm}},
      {"source_to_detector_mm", o.detector.source_to_detector_mm},
      {"source_to_isocenter_mm", o.detector.source_to_isocenter_mm},
      {"principal_point_px", std::isnan(pp.x()) ? json() : json({pp.x(), pp.y()})}};
  p["pose_jitter_mm"] = o.pose_jitter_mm;
  p["pose_jitter_deg"] = o.pose_jitter_rad * kDegPerRad;
  p["i0"] = o.i0 ? json(*o.i0) : json();
  p["seed"] = o.seed;
  p["format"] = PairImageFormatName(o.format);
  p["png_window"] = o.png_window ? json({(*o.png_window)[0], (*o.png_window)[1]}) : json();
  p["mu_water_per_mm"] = o.mu_water_per_mm;
  p["projector"] = ProjectorKindName(o.projection.projector);
  p["step_voxels"] = o.projection.step_voxels;
  p["dicom_series"] = o.dicom_series;
  p["allow_gaps"] = o.allow_gaps;
  return p;
}

Job MakeJob(const std::string& out_dir, const TrainingPairOptions& options) {
  const std::string problem = options.Validate();
  if (!problem.empty()) throw InvalidInput(problem);
  Job job;
  job.out_dir = out_dir;
  job.options = &options;
  job.labels = options.labels;
  if (job.labels.empty() && !options.label_maps.empty()) {
    for (const ssm::LabelEntry& e : ssm::ListLabels(options.label_maps[0], options.label_table))
      job.labels.push_back(e.name);
    if (job.labels.empty()) {
      throw InvalidInput(options.label_maps[0] +
                         ": lists no label names (no label table); name the labels to project "
                         "(--label NAME|ID)");
    }
  }
  if (!job.labels.empty() && options.label_maps.empty()) {
    throw InvalidInput("labels given (" + job.labels[0] +
                       ", ...) without label maps; add one label map per volume (--labels)");
  }
  std::set<std::string> seen;
  for (const std::string& label : job.labels) {
    job.label_files.push_back(SafeName(label));
    if (!seen.insert(job.label_files.back()).second) {
      throw InvalidInput("label " + label + " is given twice (or two labels share the file name " +
                         job.label_files.back() + ")");
    }
  }
  // Missing inputs are refused before the dataset folder is touched.
  std::error_code ec;
  for (const std::vector<std::string>* list :
       {&options.volumes, &options.label_maps, &options.landmarks}) {
    for (const std::string& path : *list) {
      if (!fs::exists(path, ec)) {
        throw IoError(path + ": no such file or folder; check the path");
      }
    }
  }
  job.parameters = ParametersJson(options, job.labels);
  job.parameters_sha256 = internal::Sha256Hex(job.parameters.dump());
  for (size_t v = 0; v < options.volumes.size(); ++v) {
    char prefix[32];
    std::snprintf(prefix, sizeof(prefix), "v%03zu_", v);
    job.folders.push_back(prefix + VolumeStem(options.volumes[v]));
  }
  return job;
}

bool IsTemporary(const fs::path& p) { return p.filename().string().rfind(kTempPrefix, 0) == 0; }

// The parameters that differ between two parameter objects, for the error message.
std::string Differences(const json& then, const json& now) {
  std::string out;
  for (auto it = now.begin(); it != now.end(); ++it) {
    if (!then.contains(it.key()) || then[it.key()] != it.value()) {
      const std::string was = then.contains(it.key()) ? then[it.key()].dump() : "(absent)";
      out += (out.empty() ? "" : "; ") + it.key() + ": " + was + " there, " + it.value().dump() +
             " now";
    }
  }
  return out.empty() ? "the parameter hash differs" : out;
}

// Checks an existing params.json against the job; false when there is none.
bool CheckExistingParameters(const Job& job, const fs::path& params) {
  std::error_code ec;
  if (!fs::exists(params, ec)) return false;
  json existing;
  try {
    existing = json::parse(ReadText(params.string()));
  } catch (const json::parse_error&) {
    throw InvalidInput(params.string() +
                       ": not valid JSON; this folder is not a dataset ssmx can resume, choose "
                       "a new --out folder");
  }
  if (!existing.is_object() || existing.value("format", "") != "ssmx-pairs-parameters") {
    throw InvalidInput(params.string() +
                       ": not an ssmx pairs parameter file; choose a new --out folder");
  }
  if (existing.value("parameters_sha256", "") != job.parameters_sha256) {
    throw InvalidInput(job.out_dir + ": holds a dataset made with different arguments (" +
                       Differences(existing.value("parameters", json::object()), job.parameters) +
                       "); rerun with the same arguments to resume, or choose a new --out folder");
  }
  return true;
}

// Creates the dataset folder and params.json, or checks that an existing one
// was made with the same parameters. `create` false: the folder must exist.
// Partitions may start in a new folder at the same moment: params.json is
// created exclusively (a hard link of a complete temporary file, which fails
// when the name exists), and the losers check the winner's file.
void OpenDataset(const Job& job, bool create) {
  const fs::path out(job.out_dir);
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec)) {
    throw IoError(job.out_dir + ": is a file, not a folder; choose a folder for the dataset");
  }
  const fs::path params = out / kParamsFile;
  if (CheckExistingParameters(job, params)) return;
  if (!create) {
    throw IoError(job.out_dir + ": no " + kParamsFile +
                  " (not a training-pair dataset); generate the samples first");
  }
  fs::create_directories(out, ec);
  if (!fs::is_directory(out, ec)) {
    throw IoError(job.out_dir + ": cannot create the folder (" + ec.message() + ")");
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(out)) {
    if (!IsTemporary(entry.path()) && entry.path().filename() != kParamsFile &&
        !fs::exists(params, ec)) {
      throw InvalidInput(job.out_dir + ": is not empty and holds no " + kParamsFile +
                         " (not a dataset of ssmx pairs); choose an empty or new --out folder");
    }
  }
  json file;
  file["format"] = "ssmx-pairs-parameters";
  file["version"] = kVersion;
  file["parameters"] = job.parameters;
  file["parameters_sha256"] = job.parameters_sha256;
  const fs::path temp =
      out / (std::string(kTempPrefix) + std::to_string(::getpid()) + "-" +
             std::to_string(reinterpret_cast<uintptr_t>(&job)) + "-" + kParamsFile);
  {
    std::ofstream stream(temp, std::ios::binary);
    stream << file.dump(2) << "\n";
    stream.close();
    if (!stream) throw IoError(params.string() + ": cannot write (check the folder's permissions)");
  }
  const int linked = ::link(temp.c_str(), params.c_str());
  const int link_errno = errno;
  if (linked != 0 && link_errno != EEXIST) {
    // A file system without hard links: rename (not exclusive, but partitions
    // with the same arguments write the same bytes).
    fs::rename(temp, params, ec);
    if (!ec) return;
  }
  fs::remove(temp, ec);
  if (linked == 0) return;
  if (link_errno == EEXIST && CheckExistingParameters(job, params)) return;
  throw IoError(params.string() + ": cannot create (" + std::strerror(link_errno) + ")");
}

json FileEntry(const Job& job, const std::string& relative) {
  return {{"file", relative},
          {"sha256", internal::Sha256OfFile((fs::path(job.out_dir) / relative).string())}};
}

// Every {"file", "sha256"} object inside a record.
void CollectFiles(const json& node, std::vector<const json*>* files) {
  if (node.is_object()) {
    if (node.contains("file") && node.contains("sha256")) files->push_back(&node);
    for (const auto& item : node.items()) CollectFiles(item.value(), files);
  } else if (node.is_array()) {
    for (const json& item : node) CollectFiles(item, files);
  }
}

std::string RecordPath(const Job& job, int volume, int sample) {
  return (fs::path(job.out_dir) / job.folders[volume] / (SampleName(sample) + "_record.json"))
      .string();
}

// The record of a sample when it is complete: it parses, belongs to this job,
// and every file it lists exists with its recorded SHA-256.
std::optional<json> CompleteRecord(const Job& job, int volume, int sample) {
  const std::string path = RecordPath(job, volume, sample);
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  json record;
  try {
    record = json::parse(ReadText(path));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (!record.is_object() || record.value("parameters_sha256", "") != job.parameters_sha256 ||
      record.value("volume_index", -1) != volume || record.value("sample", -1) != sample) {
    return std::nullopt;
  }
  std::vector<const json*> files;
  CollectFiles(record, &files);
  for (const json* f : files) {
    const fs::path file = fs::path(job.out_dir) / f->at("file").get<std::string>();
    if (!fs::exists(file, ec)) return std::nullopt;
    if (internal::Sha256OfFile(file.string()) != f->at("sha256").get<std::string>()) {
      return std::nullopt;
    }
  }
  return record;
}

// A volume read and prepared for projection, with its masks and landmarks.
struct VolumeContext {
  PreparedVolume ct;
  std::vector<PreparedVolume> masks;  // one per job label
  std::vector<std::pair<std::string, Eigen::Vector3d>> landmarks;
  Eigen::Vector3d center = Eigen::Vector3d::Zero();
};

// The mask cut to the box of its non-zero voxels (one zero voxel when empty),
// on the same voxel lattice: a structure of a large CT (TotalSegmentator has
// over 100) then costs the memory of its box, not of the whole CT.
Volume CropToNonzero(const Volume& mask) {
  const VolumeGeometry& g = mask.geometry();
  Eigen::Vector3i lo = g.size, hi = Eigen::Vector3i::Constant(-1);
  for (int k = 0; k < g.size.z(); ++k)
    for (int j = 0; j < g.size.y(); ++j)
      for (int i = 0; i < g.size.x(); ++i) {
        if (mask.At(i, j, k) != 0) {
          lo = lo.cwiseMin(Eigen::Vector3i(i, j, k));
          hi = hi.cwiseMax(Eigen::Vector3i(i, j, k));
        }
      }
  if (hi.x() < 0) lo = hi = Eigen::Vector3i::Zero();
  VolumeGeometry box = g;
  box.size = hi - lo + Eigen::Vector3i::Ones();
  box.origin_mm = g.IndexToWorld(lo.cast<double>());
  Volume out(box, VoxelType::kFloat32);
  for (int k = 0; k < box.size.z(); ++k)
    for (int j = 0; j < box.size.y(); ++j)
      for (int i = 0; i < box.size.x(); ++i)
        out.Set(i, j, k, mask.At(lo.x() + i, lo.y() + j, lo.z() + k) != 0 ? 1.0f : 0.0f);
  return out;
}

VolumeContext ReadVolumeContext(const Job& job, int volume) {
  const TrainingPairOptions& o = *job.options;
  VolumeContext context;
  ssm::VolumeReadOptions read;
  read.series = o.dicom_series;
  read.allow_gaps = o.allow_gaps;
  context.ct = PreparedVolume::ReadHounsfield(o.volumes[volume], o.mu_water_per_mm, read);
  context.center = DefaultIsocenter(context.ct.geometry());
  for (const std::string& label : job.labels) {
    context.masks.push_back(PreparedVolume::FromMask(
        CropToNonzero(ssm::ReadLabelMask(o.label_maps[volume], label, o.label_table))));
  }
  if (!o.landmarks.empty()) context.landmarks = ReadLandmarksJson(o.landmarks[volume]);
  return context;
}

json PoseJson(const SamplePose& pose) {
  const Eigen::Matrix4d m = pose.WorldFromCt();
  const Eigen::AngleAxisd angle_axis(pose.Rotation());
  json matrix = json::array();
  for (int r = 0; r < 4; ++r) matrix.push_back({m(r, 0), m(r, 1), m(r, 2), m(r, 3)});
  return {{"matrix", matrix},
          {"rotation_xyz_deg", Vec(pose.angles_rad * kDegPerRad)},
          {"rotation_vector_deg", Vec(angle_axis.axis() * angle_axis.angle() * kDegPerRad)},
          {"rotation_angle_deg", angle_axis.angle() * kDegPerRad},
          {"translation_mm", Vec(pose.translation_mm)},
          {"scale", 1.0},
          {"center_mm", Vec(pose.center_mm)}};
}

// Generates every file of one sample and returns its record (written last).
json GenerateSample(const Job& job, const VolumeContext& context, int volume, int sample,
                    const ProjectionOptions& projection) {
  const TrainingPairOptions& o = *job.options;
  const uint64_t seed = SampleSeed(o.seed, volume, sample);
  const SamplePose pose = DrawSamplePose(seed, context.center, o.pose_jitter_mm, o.pose_jitter_rad);
  const std::string base = job.folders[volume] + "/" + SampleName(sample);
  const fs::path root(job.out_dir);
  const std::string ext = o.format == PairImageFormat::kPng ? ".png" : ".tiff";

  json record;
  record["format"] = "ssmx-pairs-sample";
  record["version"] = kVersion;
  record["parameters_sha256"] = job.parameters_sha256;
  record["volume_index"] = volume;
  record["volume"] = o.volumes[volume];
  record["sample"] = sample;
  record["seed"] = seed;
  record["pose"] = PoseJson(pose);

  // The pose as an ssmx-pose file (registration/pose.h reads it).
  json pose_file = record["pose"];
  pose_file["format"] = "ssmx-pose";
  pose_file["version"] = 1;
  pose_file["volume"] = o.volumes[volume];
  pose_file["sample"] = sample;
  WriteFileAtomically((root / (base + "_pose.json")).string(), pose_file.dump(2) + "\n");
  record["pose_file"] = FileEntry(job, base + "_pose.json");

  const Eigen::Matrix4d world_from_ct = pose.WorldFromCt();
  record["views"] = json::array();
  for (size_t k = 0; k < o.views.size(); ++k) {
    const NamedView view = o.views[k];
    const ProjectionGeometry named = ProjectionGeometry::Named(view, context.center, o.detector);
    const Matrix34d pixel_from_ct = named.matrix() * world_from_ct;
    Sidecar sidecar;
    sidecar.geometry = ProjectionGeometry::FromMatrix(
        pixel_from_ct, named.rows(), named.cols(), named.pixel_spacing_u_mm(),
        named.pixel_spacing_v_mm(), named.source_to_isocenter_mm());
    sidecar.view = NamedViewName(view);
    sidecar.projector = ProjectorKindName(projection.projector);
    sidecar.mu_water_per_mm = o.mu_water_per_mm;

    json entry;
    entry["view"] = NamedViewName(view);
    Image2D image = Project(context.ct, sidecar.geometry, projection);
    std::array<double, 2> window{0.0, kDefaultLineIntegralWindowHigh};
    if (o.i0) {
      const uint64_t noise_seed = NoiseSeed(seed, static_cast<int>(k));
      image = IntensityFromLineIntegral(image, *o.i0, noise_seed);
      sidecar.i0 = *o.i0;
      window = {0.0, *o.i0};
      entry["noise_seed"] = noise_seed;
    }
    if (o.png_window) window = *o.png_window;
    const std::string stem = base + "_" + Lowercase(view);
    std::optional<std::array<double, 2>> png_window;
    int64_t clipped = 0;
    if (o.format == PairImageFormat::kPng) {
      png_window = window;
      for (float p : image.pixels) clipped += (p < window[0] || p > window[1]);
    }
    WriteXrayImage(image, sidecar, (root / (stem + ext)).string(), png_window);
    entry["image"] = FileEntry(job, stem + ext);
    entry["image"]["clipped_pixels"] = clipped;
    entry["sidecar"] = FileEntry(job, stem + ".json");

    entry["masks"] = json::array();
    Sidecar mask_sidecar = sidecar;
    mask_sidecar.mu_water_per_mm.reset();
    mask_sidecar.i0.reset();
    for (size_t l = 0; l < job.labels.size(); ++l) {
      const Image2D mask =
          MaskFromPathLength(Project(context.masks[l], sidecar.geometry, projection));
      const std::string mask_stem = stem + "_mask_" + job.label_files[l];
      WriteXrayImage(mask, mask_sidecar, (root / (mask_stem + ext)).string());
      json m = FileEntry(job, mask_stem + ext);
      m["label"] = job.labels[l];
      m["sidecar"] = FileEntry(job, mask_stem + ".json");
      entry["masks"].push_back(m);
    }

    if (!o.landmarks.empty()) {
      json points = json::array();
      for (const auto& [name, point] : context.landmarks) {
        double depth = 0;
        const Eigen::Vector2d uv = sidecar.geometry.Project(point, &depth);
        const bool in_image = depth > 0 && uv.x() >= -0.5 && uv.y() >= -0.5 &&
                              uv.x() <= named.cols() - 0.5 && uv.y() <= named.rows() - 0.5;
        points.push_back({{"name", name},
                          {"point_mm", Vec(point)},
                          {"uv_px", depth > 0 ? json({uv.x(), uv.y()}) : json()},
                          {"depth_mm", depth},
                          {"in_image", in_image}});
      }
      const json file = {{"format", "ssmx-pairs-landmarks"},
                         {"version", kVersion},
                         {"view", NamedViewName(view)},
                         {"image", stem + ext},
                         {"landmarks", points}};
      WriteFileAtomically((root / (stem + "_landmarks.json")).string(), file.dump(2) + "\n");
      entry["landmarks"] = FileEntry(job, stem + "_landmarks.json");
    }
    record["views"].push_back(entry);
  }
  WriteFileAtomically(RecordPath(job, volume, sample), record.dump(2) + "\n");
  return record;
}

// Runs task(i) for i in [0, count) on `workers` threads while the calling
// thread reports progress (ReportProgress may throw Cancelled: the workers
// stop after their current task and the exception propagates). The first
// exception of a task is rethrown after every thread has stopped.
template <typename Task>
void RunWithProgress(int count, int workers, const Task& task,
                     const std::function<void(int done)>& report) {
  if (count <= 0) return;
  workers = std::max(1, std::min(workers, count));
  std::atomic<int> next{0};
  std::atomic<bool> stop{false};
  int done = 0;
  std::mutex mutex;
  std::condition_variable changed;
  std::exception_ptr error;
  auto worker = [&]() {
    for (int i = next.fetch_add(1); i < count && !stop; i = next.fetch_add(1)) {
      try {
        task(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        stop = true;
      }
      std::lock_guard<std::mutex> lock(mutex);
      ++done;
      changed.notify_one();
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < workers; ++t) pool.emplace_back(worker);
  std::exception_ptr report_error;
  int reported = -1;
  {
    std::unique_lock<std::mutex> lock(mutex);
    while (done < count && !stop) {
      changed.wait_for(lock, std::chrono::milliseconds(250));
      if (done != reported && !stop) {
        reported = done;
        const int now = done;
        lock.unlock();
        try {
          report(now);
        } catch (...) {
          report_error = std::current_exception();
          stop = true;
        }
        lock.lock();
      }
    }
  }
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  if (report_error) std::rethrow_exception(report_error);
  if (reported != count) report(count);
}

int ProjectionThreadsFor(const TrainingPairOptions& o) {
  return internal::ResolveThreads(o.workers) > 1 ? 1 : o.projection.threads;
}

// A summary of every sample of every volume.
TrainingPairSummary WholeDatasetSummary(const TrainingPairOptions& o) {
  TrainingPairSummary summary;
  summary.volumes = static_cast<int>(o.volumes.size());
  summary.samples_total = summary.volumes * o.per_volume;
  return summary;
}

int64_t ClippedPixels(const json& record) {
  int64_t clipped = 0;
  for (const json& view : record.at("views")) {
    clipped += view["image"].value("clipped_pixels", int64_t{0});
  }
  return clipped;
}

// Generates (or verifies) samples [begin, end) of one volume. `base_done` /
// `total` place this range in the progress of the whole call. Records are not
// kept in memory (a dataset may have millions of samples); the manifest reads
// them back.
void RunVolumeRange(const Job& job, int volume, int begin, int end, int base_done, int total,
                    TrainingPairSummary* summary) {
  const TrainingPairOptions& o = *job.options;
  const int count = end - begin;
  const int workers = internal::ResolveThreads(o.workers);
  std::vector<char> complete(count, 0);
  std::vector<int64_t> clipped(count, 0), files(count, 0);
  const std::string where =
      "volume " + std::to_string(volume + 1) + "/" + std::to_string(o.volumes.size());
  RunWithProgress(
      count, workers,
      [&](int i) {
        if (const std::optional<json> record = CompleteRecord(job, volume, begin + i)) {
          complete[i] = 1;
          clipped[i] = ClippedPixels(*record);
        }
      },
      [&](int done) {
        ReportProgress(o.progress, static_cast<double>(base_done) / std::max(total, 1),
                       where + ": checking existing samples (" + std::to_string(done) + "/" +
                           std::to_string(count) + ")");
      });
  std::vector<int> todo;
  for (int i = 0; i < count; ++i) {
    if (!complete[i]) todo.push_back(i);
  }
  summary->samples_skipped += count - static_cast<int>(todo.size());
  const int skipped = count - static_cast<int>(todo.size());
  if (!todo.empty()) {
    const fs::path folder = fs::path(job.out_dir) / job.folders[volume];
    std::error_code ec;
    fs::create_directories(folder, ec);  // partitions may race here
    if (!fs::is_directory(folder, ec)) {
      throw IoError(folder.string() + ": cannot create the folder; check the permissions");
    }
    auto start = Clock::now();
    ReportProgress(o.progress, static_cast<double>(base_done + skipped) / std::max(total, 1),
                   where + ": reading " + VolumeStem(o.volumes[volume]));
    const VolumeContext context = ReadVolumeContext(job, volume);
    summary->seconds_read += Seconds(start);
    start = Clock::now();
    ProjectionOptions projection = o.projection;
    projection.threads = ProjectionThreadsFor(o);
    RunWithProgress(
        static_cast<int>(todo.size()), workers,
        [&](int t) {
          const int i = todo[t];
          const json record = GenerateSample(job, context, volume, begin + i, projection);
          std::vector<const json*> written;
          CollectFiles(record, &written);
          files[i] = static_cast<int64_t>(written.size()) + 1;  // + the record
          clipped[i] = ClippedPixels(record);
        },
        [&](int done) {
          ReportProgress(
              o.progress, static_cast<double>(base_done + skipped + done) / std::max(total, 1),
              where + ": sample " + std::to_string(done) + "/" + std::to_string(todo.size()));
        });
    summary->seconds_generate += Seconds(start);
    summary->samples_written += static_cast<int>(todo.size());
  }
  for (int i = 0; i < count; ++i) {
    summary->files_written += files[i];
    summary->clipped_pixels += clipped[i];
  }
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string Number(double v) {
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%.17g", v);
  return buffer;
}

// 6 significant digits, for people (the JSON files keep every digit).
std::string Readable(double v) {
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%.6g", v);
  return buffer;
}

std::string ReadmeText(const Job& job) {
  const TrainingPairOptions& o = *job.options;
  const std::string ext = o.format == PairImageFormat::kPng ? "png" : "tiff";
  std::ostringstream r;
  r << "Synthetic X-ray training pairs written by ssmx pairs (docs/pairs.md)\n"
    << "=====================================================================\n\n"
    << "Inputs: " << o.volumes.size() << " CT volume(s), " << o.per_volume
    << " samples each; parameters in params.json (their SHA-256: " << job.parameters_sha256
    << ").\n\n"
    << "Layout\n------\n"
    << "  params.json        the arguments that made this dataset (a resume must match them)\n"
    << "  manifest.csv       one row per sample and view: source volume, sample, view, seeds,\n"
    << "                     pose, and every file of the row with its SHA-256\n"
    << "  manifest.json      the same, one object per sample (the sample records, in order)\n"
    << "  vNNN_<name>/       one folder per input volume, NNN its position in the input list\n"
    << "    sSSSSSS_pose.json             the sample's pose (ssmx-pose format)\n"
    << "    sSSSSSS_<view>." << ext << "            the DRR, view = ap | lat\n"
    << "    sSSSSSS_<view>.json           its geometry sidecar (docs/geometry.md)\n";
  if (!job.labels.empty()) {
    r << "    sSSSSSS_<view>_mask_<label>." << ext
      << "  the projected 0/1 mask of a label, with its sidecar\n";
  }
  if (!o.landmarks.empty()) {
    r << "    sSSSSSS_<view>_landmarks.json the landmarks in pixels (uv_px = column, row)\n";
  }
  r << "    sSSSSSS_record.json           the sample's record (files and SHA-256); written last\n\n"
    << "Conventions\n-----------\n"
    << "- World: patient LPS millimetres, as the CT files. Pixel (u, v) = (column, row), (0, 0)\n"
    << "  the centre of the top-left pixel, rows stored top to bottom.\n"
    << "- Views: the named C-arm views (AP: beam along +y, LAT: beam along +x) about the centre\n"
    << "  of each CT's voxel grid; detector " << o.detector.cols << " x " << o.detector.rows
    << " pixels of " << Readable(o.detector.pixel_spacing_u_mm) << " x "
    << Readable(o.detector.pixel_spacing_v_mm) << " mm, source-to-detector "
    << Readable(o.detector.source_to_detector_mm) << " mm, source-to-isocentre "
    << Readable(o.detector.source_to_isocenter_mm) << " mm.\n"
    << "- Pose: per sample, the CT is moved rigidly: world = R (x - c) + c + t, c the CT centre,\n"
    << "  t uniform in +-" << Readable(o.pose_jitter_mm)
    << " mm per axis, R = Rz Ry Rx with each angle uniform in +-"
    << Readable(o.pose_jitter_rad * kDegPerRad) << " degrees.\n"
    << "  All views of a sample share the pose. Each sidecar's projection_matrix is\n"
    << "  P_view * world_from_ct: it maps the CT file's own LPS coordinates to pixels (the\n"
    << "  C-arm moved by the inverse pose), so CT points and landmarks project with it directly.\n";
  if (o.i0) {
    r << "- Images: intensities I = I0 exp(-line integral) with I0 = " << Readable(*o.i0)
      << " counts and Poisson noise, seeded per sample and view (noise_seed).\n";
  } else {
    r << "- Images: line integrals of mu (1/mm) along each ray, mu = "
      << Readable(o.mu_water_per_mm) << " * max(0, 1 + HU/1000).\n";
  }
  if (o.format == PairImageFormat::kPng) {
    r << "- PNG: 16-bit grey; value p stands for low + (high - low) p / 65535, with [low, high]\n"
      << "  the sidecar's png_window (clipped outside). Masks: 0 or 65535 (window [0, 1]).\n";
  } else {
    r << "- TIFF: 32-bit float in the image's quantity; masks 0 or 1.\n";
  }
  if (!job.labels.empty()) {
    r << "- Masks: 1 where the ray from the source to the pixel centre crosses the label (its "
         "path\n"
      << "  length through the label's voxels is > 0), labels:";
    for (const std::string& l : job.labels) r << " " << l;
    r << ".\n";
  }
  r << "- Seeds: sample seed = SplitMix64 mix of (seed " << o.seed
    << ", volume index, sample index); the pose is drawn from\n"
    << "  std::mt19937_64(sample seed), 53-bit uniforms, in the order tx ty tz rx ry rz.\n\n"
    << "Reproducibility\n---------------\n"
    << "The same arguments give the same bytes, for any number of workers or partitions.\n"
    << "Running ssmx pairs again with the same arguments skips every sample whose record and\n"
    << "files verify (SHA-256) and regenerates the others; the manifest is rebuilt from the\n"
    << "records in order. Check the files with: sha256sum and manifest.csv.\n";
  return r.str();
}

// A file written through a temporary name in its folder and renamed into
// place by Commit (so readers never see a partial manifest), for outputs too
// large to build in memory first.
class AtomicStream {
 public:
  explicit AtomicStream(const fs::path& path)
      : path_(path),
        temp_(path.parent_path() / (std::string(kTempPrefix) + std::to_string(::getpid()) + "-" +
                                    path.filename().string())),
        out_(temp_, std::ios::binary) {
    if (!out_) throw IoError(path.string() + ": cannot write (check the folder's permissions)");
  }
  ~AtomicStream() {
    if (!committed_) {
      std::error_code ec;
      fs::remove(temp_, ec);
    }
  }
  std::ofstream& out() { return out_; }
  void Commit() {
    out_.close();
    if (!out_) throw IoError(path_.string() + ": cannot write (disk full?)");
    std::error_code ec;
    fs::rename(temp_, path_, ec);
    if (ec) throw IoError(path_.string() + ": cannot write (" + ec.message() + ")");
    committed_ = true;
  }

 private:
  fs::path path_, temp_;
  std::ofstream out_;
  bool committed_ = false;
};

// `text` with every line but the first indented by `spaces` (to nest a dump(2)).
std::string Indented(const std::string& text, int spaces) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\n') out.append(spaces, ' ');
  }
  return out;
}

json LoadRecord(const Job& job, int volume, int sample) {
  const std::string path = RecordPath(job, volume, sample);
  try {
    return json::parse(ReadText(path));
  } catch (const json::parse_error& e) {
    throw InvalidInput(path + ": not valid JSON (" + e.what() + "); run the generation again");
  }
}

void WriteCsvRows(const json& record, std::ostream& csv) {
  const json& pose = record["pose"];
  for (const json& view : record["views"]) {
    csv << record["volume_index"].get<int>() << "," << CsvField(record["volume"]) << ","
        << record["sample"].get<int>() << "," << view["view"].get<std::string>() << ","
        << record["seed"].get<uint64_t>() << ","
        << (view.contains("noise_seed") ? std::to_string(view["noise_seed"].get<uint64_t>())
                                        : std::string());
    for (int i = 0; i < 3; ++i) csv << "," << Number(pose["translation_mm"][i]);
    for (int i = 0; i < 3; ++i) csv << "," << Number(pose["rotation_xyz_deg"][i]);
    for (const json* f : {&view["image"], &view["sidecar"], &record["pose_file"]}) {
      csv << "," << CsvField((*f)["file"]) << "," << (*f)["sha256"].get<std::string>();
    }
    for (const json& m : view["masks"]) {
      csv << "," << CsvField(m["file"]) << "," << m["sha256"].get<std::string>() << ","
          << CsvField(m["sidecar"]["file"]) << "," << m["sidecar"]["sha256"].get<std::string>();
    }
    if (view.contains("landmarks")) {
      csv << "," << CsvField(view["landmarks"]["file"]) << ","
          << view["landmarks"]["sha256"].get<std::string>();
    }
    csv << "\n";
  }
}

// manifest.csv, manifest.json and README.txt from the records of every sample
// (volume-major, sample order), streamed. Removes temporary files of killed
// writers first. Every record must exist (the callers have verified them).
void WriteManifest(const Job& job, TrainingPairSummary* summary) {
  const TrainingPairOptions& o = *job.options;
  const fs::path root(job.out_dir);
  std::vector<fs::path> folders = {root};
  for (const std::string& f : job.folders) folders.push_back(root / f);
  std::error_code ec;
  for (const fs::path& folder : folders) {
    if (!fs::is_directory(folder, ec)) continue;
    for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
      if (IsTemporary(entry.path())) fs::remove(entry.path(), ec);
    }
  }

  summary->manifest_csv = (root / "manifest.csv").string();
  summary->manifest_json = (root / "manifest.json").string();
  AtomicStream csv_file(summary->manifest_csv), json_file(summary->manifest_json);
  std::ostream& csv = csv_file.out();
  csv << "volume_index,volume,sample,view,seed,noise_seed,translation_x_mm,translation_y_mm,"
         "translation_z_mm,rotation_x_deg,rotation_y_deg,rotation_z_deg,image,image_sha256,"
         "sidecar,sidecar_sha256,pose,pose_sha256";
  for (const std::string& l : job.label_files) {
    csv << ",mask_" << l << ",mask_" << l << "_sha256,mask_" << l << "_sidecar,mask_" << l
        << "_sidecar_sha256";
  }
  if (!o.landmarks.empty()) csv << ",landmarks,landmarks_sha256";
  csv << "\n";

  json volumes = json::array();
  for (size_t v = 0; v < o.volumes.size(); ++v) {
    volumes.push_back({{"index", v}, {"path", o.volumes[v]}, {"folder", job.folders[v]}});
  }
  std::ostream& manifest = json_file.out();
  manifest << "{\n  \"format\": \"ssmx-pairs-manifest\",\n  \"version\": " << kVersion
           << ",\n  \"parameters_sha256\": " << json(job.parameters_sha256).dump()
           << ",\n  \"parameters\": " << Indented(job.parameters.dump(2), 2)
           << ",\n  \"volumes\": " << Indented(volumes.dump(2), 2) << ",\n  \"samples\": [";
  for (int v = 0; v < static_cast<int>(o.volumes.size()); ++v) {
    for (int s = 0; s < o.per_volume; ++s) {
      json record = LoadRecord(job, v, s);
      WriteCsvRows(record, csv);
      record.erase("format");
      record.erase("version");
      record.erase("parameters_sha256");
      manifest << (v == 0 && s == 0 ? "\n    " : ",\n    ") << Indented(record.dump(2), 4);
    }
  }
  manifest << "\n  ]\n}\n";
  csv_file.Commit();
  json_file.Commit();
  WriteFileAtomically((root / "README.txt").string(), ReadmeText(job));
  summary->files_written += 3;
}

void CheckRange(const TrainingPairOptions& o, int volume, int begin, int end) {
  if (volume < 0 || volume >= static_cast<int>(o.volumes.size())) {
    throw InvalidInput("partition volume " + std::to_string(volume) + " outside 0.." +
                       std::to_string(static_cast<int>(o.volumes.size()) - 1));
  }
  if (begin < 0 || end > o.per_volume || begin > end) {
    throw InvalidInput("partition samples [" + std::to_string(begin) + ", " + std::to_string(end) +
                       ") outside [0, " + std::to_string(o.per_volume) + ")");
  }
}

}  // namespace

const char* PairImageFormatName(PairImageFormat format) {
  return format == PairImageFormat::kPng ? "png" : "tiff";
}

PairImageFormat ParsePairImageFormat(const std::string& name) {
  const std::string n = Lower(name);
  if (n == "png") return PairImageFormat::kPng;
  if (n == "tiff" || n == "tif") return PairImageFormat::kTiff;
  throw InvalidInput("image format " + name + ": expected png (16-bit) or tiff (float)");
}

std::string TrainingPairOptions::Validate() const {
  if (volumes.empty()) return "no input volumes; give at least one CT file or DICOM folder";
  const size_t n = volumes.size();
  if (!label_maps.empty() && label_maps.size() != n) {
    return "label maps: " + std::to_string(label_maps.size()) + " given for " + std::to_string(n) +
           " volumes; give one per volume, in the same order";
  }
  if (!landmarks.empty() && landmarks.size() != n) {
    return "landmarks: " + std::to_string(landmarks.size()) + " files given for " +
           std::to_string(n) + " volumes; give one per volume, in the same order";
  }
  if (per_volume < 1 || per_volume > 10000000) return "per_volume must be 1..10000000";
  if (views.empty()) return "views: give at least one (ap, lat)";
  for (size_t i = 0; i < views.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (views[i] == views[j]) return std::string("views: ") + NamedViewName(views[i]) + " twice";
    }
  }
  CarmGeometry check = detector;
  check.rotation = Eigen::Matrix3d::Identity();
  const std::string carm = check.Validate();
  if (!carm.empty()) return "detector: " + carm;
  if (!(pose_jitter_mm >= 0) || !std::isfinite(pose_jitter_mm)) {
    return "pose jitter (mm) must be a finite number >= 0";
  }
  if (!(pose_jitter_rad >= 0) || !(pose_jitter_rad <= M_PI)) {
    return "pose jitter (degrees) must be in 0..180";
  }
  if (i0 && (!(*i0 > 0) || !std::isfinite(*i0))) return "i0 must be a positive number, e.g. 1e5";
  if (png_window && !((*png_window)[1] > (*png_window)[0])) {
    return "PNG window: high must be above low";
  }
  if (!(mu_water_per_mm > 0) || !std::isfinite(mu_water_per_mm)) {
    return "mu_water must be a positive number (1/mm)";
  }
  std::string error;
  if (!projection.IsValid(&error)) return error;
  if (workers < 0) return "workers must be >= 0 (0: every core)";
  return "";
}

Eigen::Matrix3d SamplePose::Rotation() const {
  return (Eigen::AngleAxisd(angles_rad.z(), Eigen::Vector3d::UnitZ()) *
          Eigen::AngleAxisd(angles_rad.y(), Eigen::Vector3d::UnitY()) *
          Eigen::AngleAxisd(angles_rad.x(), Eigen::Vector3d::UnitX()))
      .toRotationMatrix();
}

Eigen::Matrix4d SamplePose::WorldFromCt() const {
  Eigen::Matrix4d m = Eigen::Matrix4d::Identity();
  const Eigen::Matrix3d r = Rotation();
  m.topLeftCorner<3, 3>() = r;
  m.topRightCorner<3, 1>() = center_mm + translation_mm - r * center_mm;
  return m;
}

uint64_t SampleSeed(uint64_t seed, int volume, int sample) {
  return SplitMix64(SplitMix64(seed ^ SplitMix64(static_cast<uint64_t>(volume))) ^
                    static_cast<uint64_t>(sample));
}

SamplePose DrawSamplePose(uint64_t sample_seed, const Eigen::Vector3d& center_mm, double jitter_mm,
                          double jitter_rad) {
  std::mt19937_64 rng(sample_seed);
  SamplePose pose;
  pose.center_mm = center_mm;
  for (int i = 0; i < 3; ++i) pose.translation_mm[i] = Symmetric(rng, jitter_mm);
  for (int i = 0; i < 3; ++i) pose.angles_rad[i] = Symmetric(rng, jitter_rad);
  return pose;
}

std::vector<std::pair<std::string, Eigen::Vector3d>> ReadLandmarksJson(const std::string& path) {
  json root;
  try {
    root = json::parse(ReadText(path));
  } catch (const json::parse_error& e) {
    throw InvalidInput(path + ": not valid JSON (" + e.what() + ")");
  }
  const auto point = [&](const json& value, const std::string& name) {
    if (!value.is_array() || value.size() != 3 || !value[0].is_number() || !value[1].is_number() ||
        !value[2].is_number()) {
      throw InvalidInput(path + ": landmark " + name + " must be [x, y, z] in LPS mm");
    }
    return Eigen::Vector3d(value[0].get<double>(), value[1].get<double>(), value[2].get<double>());
  };
  std::vector<std::pair<std::string, Eigen::Vector3d>> out;
  if (root.is_object() && root.contains("markups")) {
    // 3D Slicer markups: positions in coordinateSystem (RAS by default).
    for (const json& markup : root["markups"]) {
      const bool ras = markup.value("coordinateSystem", "RAS") != "LPS";
      if (!markup.contains("controlPoints")) continue;
      for (const json& cp : markup["controlPoints"]) {
        const std::string name = cp.value("label", "");
        if (name.empty() || !cp.contains("position")) {
          throw InvalidInput(path + ": a Slicer control point without label or position");
        }
        Eigen::Vector3d p = point(cp["position"], name);
        if (ras) p.head<2>() = -p.head<2>();
        out.emplace_back(name, p);
      }
    }
  } else {
    json map = root;
    if (root.is_object() && root.contains("landmarks_mm"))
      map = root["landmarks_mm"];
    else if (root.is_object() && root.contains("landmarks"))
      map = root["landmarks"];
    if (!map.is_object()) {
      throw InvalidInput(path +
                         ": expected {\"name\": [x, y, z], ...} (LPS mm) or a 3D Slicer "
                         "markups file");
    }
    for (auto it = map.begin(); it != map.end(); ++it)
      out.emplace_back(it.key(), point(it.value(), it.key()));
  }
  if (out.empty()) throw InvalidInput(path + ": holds no landmarks");
  std::set<std::string> names;
  for (const auto& [name, p] : out) {
    if (!p.allFinite()) throw InvalidInput(path + ": landmark " + name + " is not finite");
    if (!names.insert(name).second) throw InvalidInput(path + ": landmark " + name + " twice");
  }
  return out;
}

std::string TrainingPairSummary::BriefReport() const {
  std::ostringstream r;
  r << volumes << " volume(s), " << samples_total << " samples: " << samples_written
    << " generated, " << samples_skipped << " already complete; " << files_written
    << " files written";
  if (!manifest_csv.empty()) r << "; manifest " << manifest_csv;
  char times[160];
  std::snprintf(times, sizeof(times), "; read %.2f s, generate %.2f s, manifest %.2f s",
                seconds_read, seconds_generate, seconds_manifest);
  r << times;
  if (clipped_pixels > 0) r << "; " << clipped_pixels << " DRR pixels clipped by the PNG window";
  return r.str();
}

TrainingPairSummary GenerateTrainingPairs(const std::string& out_dir,
                                          const TrainingPairOptions& options) {
  const Job job = MakeJob(out_dir, options);
  for (const std::string& l : options.landmarks) ReadLandmarksJson(l);  // fail before any work
  OpenDataset(job, true);
  TrainingPairSummary summary = WholeDatasetSummary(options);
  for (int v = 0; v < summary.volumes; ++v) {
    RunVolumeRange(job, v, 0, options.per_volume, v * options.per_volume, summary.samples_total,
                   &summary);
  }
  const auto start = Clock::now();
  ReportProgress(options.progress, 1.0, "writing the manifest");
  WriteManifest(job, &summary);
  summary.seconds_manifest = Seconds(start);
  if (summary.clipped_pixels > 0) {
    summary.warnings.push_back(std::to_string(summary.clipped_pixels) +
                               " DRR pixels fell outside the PNG window and were clipped; widen "
                               "it (--window) or use --format tiff");
  }
  return summary;
}

TrainingPairSummary GenerateTrainingPairSamples(const std::string& out_dir,
                                                const TrainingPairOptions& options, int volume,
                                                int sample_begin, int sample_end) {
  const Job job = MakeJob(out_dir, options);
  CheckRange(options, volume, sample_begin, sample_end);
  if (!options.landmarks.empty()) ReadLandmarksJson(options.landmarks[volume]);
  OpenDataset(job, true);
  TrainingPairSummary summary;
  summary.volumes = 1;
  summary.samples_total = sample_end - sample_begin;
  RunVolumeRange(job, volume, sample_begin, sample_end, 0, summary.samples_total, &summary);
  return summary;
}

TrainingPairSummary WriteTrainingPairManifest(const std::string& out_dir,
                                              const TrainingPairOptions& options) {
  const auto start = Clock::now();
  const Job job = MakeJob(out_dir, options);
  OpenDataset(job, false);
  TrainingPairSummary summary = WholeDatasetSummary(options);
  for (int v = 0; v < summary.volumes; ++v) {
    std::vector<char> complete(options.per_volume, 0);
    std::vector<int64_t> clipped(options.per_volume, 0);
    internal::ParallelFor(
        options.per_volume, internal::ResolveThreads(options.workers), [&](int64_t s) {
          if (const std::optional<json> record = CompleteRecord(job, v, static_cast<int>(s))) {
            complete[s] = 1;
            clipped[s] = ClippedPixels(*record);
          }
        });
    for (int s = 0; s < options.per_volume; ++s) {
      if (!complete[s]) {
        throw InvalidInput(out_dir + ": sample " + std::to_string(s) + " of volume " +
                           std::to_string(v) + " (" + options.volumes[v] +
                           ") is missing or does not verify; run the partition that holds it "
                           "(again) before writing the manifest");
      }
      summary.clipped_pixels += clipped[s];
    }
  }
  summary.samples_skipped = summary.samples_total;
  WriteManifest(job, &summary);
  summary.seconds_manifest = Seconds(start);
  return summary;
}

}  // namespace ssmx::drr
