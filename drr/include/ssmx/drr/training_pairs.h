#ifndef SSMX_DRR_TRAINING_PAIRS_H_
#define SSMX_DRR_TRAINING_PAIRS_H_

// Synthetic X-ray / CT training pairs at scale (docs/pairs.md): for every input
// CT and sample index, a seeded random patient pose, DRRs of the named views
// (AP, LAT) about the CT's centre, optional Poisson noise, projected label masks
// and landmarks, one folder per CT, a manifest with the SHA-256 of every file
// and a README. Same options -> same bytes, for any number of worker threads or
// processes, and an interrupted run continues where it stopped.

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ssmx/core/progress.h"
#include "ssmx/drr/projection_geometry.h"
#include "ssmx/drr/projector.h"

namespace ssmx::drr {

enum class PairImageFormat { kPng, kTiff };
const char* PairImageFormatName(PairImageFormat format);  // "png", "tiff"
// Parses "png" / "tiff" / "tif"; throws InvalidInput otherwise.
PairImageFormat ParsePairImageFormat(const std::string& name);

// Everything that decides the bytes of a dataset (and, apart from `workers`,
// `projection.threads` and `progress`, goes into its parameter hash).
struct TrainingPairOptions {
  // CT files or DICOM folders in HU (ssm::ReadVolume); the position in this list
  // is the volume index of file names and seeds.
  std::vector<std::string> volumes;
  // Empty, or one label map per volume (a folder of masks or a label-map file,
  // ssm/label_map.h). A label map may have any grid: masks are projected in LPS.
  std::vector<std::string> label_maps;
  // Labels to project from every label map (names or numeric ids). Empty with
  // label maps: every label the first label map lists.
  std::vector<std::string> labels;
  std::string label_table;  // for label-map files without a table beside them
  // Empty, or one landmarks file per volume (LPS mm; ReadLandmarksJson).
  std::vector<std::string> landmarks;

  int per_volume = 100;  // samples per volume
  std::vector<NamedView> views = {NamedView::kAP, NamedView::kLAT};
  // Detector and distances (rotation and isocentre are replaced by the view
  // about the volume's centre).
  CarmGeometry detector = [] {
    CarmGeometry d;
    d.rows = d.cols = 256;
    d.pixel_spacing_u_mm = d.pixel_spacing_v_mm = 1.6;  // 410 mm at the detector
    return d;
  }();
  // Pose jitter: each translation component uniform in [-mm, +mm], each of the
  // three rotation angles (about x, y, z through the volume centre) uniform in
  // [-rad, +rad].
  double pose_jitter_mm = 10.0;
  double pose_jitter_rad = 0.17453292519943295;  // 10 degrees
  // Images are line integrals without i0; with i0, intensities I0 exp(-L) with
  // Poisson noise (seeded per sample and view).
  std::optional<double> i0;
  uint64_t seed = 7;
  PairImageFormat format = PairImageFormat::kPng;
  // PNG window of the DRRs in their quantity; default [0, 16] for line
  // integrals and [0, i0] for intensities. Masks are always [0, 1].
  std::optional<std::array<double, 2>> png_window;
  double mu_water_per_mm = kDefaultMuWaterPerMm;
  // Projector and its threads per image (0: every core). With several workers
  // each image is projected by one thread.
  ProjectionOptions projection;
  std::string dicom_series;  // for DICOM folders holding several series
  bool allow_gaps = false;

  // Sample-level threads (0: every core). Does not change the output.
  int workers = 0;
  ProgressCallback progress;

  // Empty string when valid, else what is wrong (naming the option).
  std::string Validate() const;
};

// One sample's rigid pose of the CT in the world of the views:
// world = R (x - center) + center + translation, R = Rz(c) Ry(b) Rx(a) with
// angles_rad = (a, b, c). The views see the CT moved by this pose; their
// projection matrices (in the sidecars) are P_named * world_from_ct, so that
// they map the CT file's own LPS coordinates to pixels.
struct SamplePose {
  Eigen::Vector3d angles_rad = Eigen::Vector3d::Zero();
  Eigen::Vector3d translation_mm = Eigen::Vector3d::Zero();
  Eigen::Vector3d center_mm = Eigen::Vector3d::Zero();
  Eigen::Matrix3d Rotation() const;
  Eigen::Matrix4d WorldFromCt() const;
};

// The seed of sample `sample` of volume `volume`: SplitMix64 mixing of
// (seed, volume, sample), so every sample has its own stream whatever the
// order of generation.
uint64_t SampleSeed(uint64_t seed, int volume, int sample);
// The pose of a sample: std::mt19937_64 seeded with SampleSeed, 53-bit uniform
// mapping (no std:: distributions), drawn in the order tx, ty, tz, a, b, c.
SamplePose DrawSamplePose(uint64_t sample_seed, const Eigen::Vector3d& center_mm, double jitter_mm,
                          double jitter_rad);

// Named landmarks in LPS mm from JSON: {"name": [x, y, z], ...}, optionally
// under "landmarks" or "landmarks_mm", or a 3D Slicer markups file
// (markups[].controlPoints[] with label and position; RAS converted to LPS).
// Throws IoError / InvalidInput naming the file.
std::vector<std::pair<std::string, Eigen::Vector3d>> ReadLandmarksJson(const std::string& path);

struct TrainingPairSummary {
  int volumes = 0;
  int samples_total = 0;    // samples asked for in this call
  int samples_written = 0;  // generated now
  int samples_skipped = 0;  // already complete and verified (resume)
  int64_t files_written = 0;
  int64_t clipped_pixels = 0;               // DRR pixels outside the PNG window (clipped)
  std::string manifest_csv, manifest_json;  // empty when no manifest was written
  double seconds_read = 0, seconds_generate = 0, seconds_manifest = 0;
  std::vector<std::string> warnings;
  std::string BriefReport() const;
};

// The whole dataset into `out_dir` (created when missing; it must be empty or
// a dataset made with the same options): every sample of every volume, then
// the manifest and README.txt. Samples already complete (their record exists
// and every file's SHA-256 matches it) are skipped. Throws InvalidInput when
// `out_dir` holds a dataset made with other options, naming those that differ.
TrainingPairSummary GenerateTrainingPairs(const std::string& out_dir,
                                          const TrainingPairOptions& options);

// One partition, for running a dataset on many processes or machines: samples
// [sample_begin, sample_end) of volume `volume`, without the manifest. Any
// number of partitions may write into one folder at once.
TrainingPairSummary GenerateTrainingPairSamples(const std::string& out_dir,
                                                const TrainingPairOptions& options, int volume,
                                                int sample_begin, int sample_end);

// The final step after the partitions: checks that every sample is complete
// (throws InvalidInput listing the first missing one otherwise), removes
// temporary files left by killed writers, and writes manifest.csv,
// manifest.json and README.txt.
TrainingPairSummary WriteTrainingPairManifest(const std::string& out_dir,
                                              const TrainingPairOptions& options);

}  // namespace ssmx::drr

#endif  // SSMX_DRR_TRAINING_PAIRS_H_
