#ifndef SSMX_REGISTRATION_BIPLANAR_FIT_H_
#define SSMX_REGISTRATION_BIPLANAR_FIT_H_

// Fitting a statistical shape model to calibrated X-ray views (an AP + lateral
// pair, or more): the pose and the shape coefficients that make the model's
// occluding contours fall on the image edges (docs/biplanar_fit.md).

#include <Eigen/Core>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ssmx/core/image2d.h"
#include "ssmx/core/progress.h"
#include "ssmx/core/triangle_mesh.h"
#include "ssmx/drr/projection_geometry.h"
#include "ssmx/registration/pose.h"
#include "ssmx/registration/xray_features.h"
#include "ssmx/ssm/shape_model.h"

namespace ssmx::registration {

// Which way the image gradient points across a bone's outline. Bone is
// bright in line integrals, path lengths and presentation radiographs
// (MONOCHROME2 after ssmx's reading) and dark in raw detector intensities.
enum class EdgePolarity { kAuto, kBoneBright, kBoneDark, kAny };
// "auto", "bright", "dark", "any" (the CLI's --polarity and Python's names).
const char* EdgePolarityName(EdgePolarity polarity);
// Throws InvalidInput for any other name.
EdgePolarity ParseEdgePolarity(const std::string& name);

// One calibrated X-ray: the image (any quantity; intensities with a known i0
// are best given as line integrals) and the geometry of its sidecar.
struct FitView {
  Image2D image;
  drr::ProjectionGeometry geometry;
  std::string name;                             // for reports, e.g. "AP" or the file name
  EdgePolarity polarity = EdgePolarity::kAuto;  // kAuto: FitOptions::polarity decides
};

// Reads a view for fitting or registration: any image drr::ReadXrayImage
// reads (PNG, TIFF, MetaImage, NIfTI, NRRD) with its sidecar, or a DICOM
// radiograph (CR, DX, ...; .dcm or any file with the DICOM preamble) with a
// sidecar beside it (SidecarPath) that gives its geometry; the DICOM image is
// presentation data, bone bright (polarity kBoneBright). Throws IoError /
// InvalidInput naming the file, e.g. when a DICOM radiograph has no sidecar.
FitView ReadFitView(const std::string& path);

// Named 2D points marked on one view, pixel coordinates (u = column, v = row).
using ViewLandmarks = std::map<std::string, Eigen::Vector2d>;

// The closest point to the rays of a landmark through its views (least
// squares over >= 2 rays). Throws InvalidInput when fewer than two views see
// it or the rays are parallel.
Eigen::Vector3d TriangulateLandmark(const std::vector<drr::ProjectionGeometry>& geometries,
                                    const std::vector<std::optional<Eigen::Vector2d>>& points,
                                    const std::string& name);

// The model-to-world pose from >= 3 landmarks that the model names and that
// at least two views show: each is triangulated, then Umeyama (rigid, or
// similarity when `with_scale`) maps the model mean's landmark vertices onto
// them. The pose's centre is the centroid of the model mean. Throws
// InvalidInput naming what is missing.
Pose PoseFromLandmarks(const ssm::ShapeModel& model,
                       const std::vector<drr::ProjectionGeometry>& geometries,
                       const std::vector<ViewLandmarks>& landmarks, bool with_scale,
                       std::vector<std::string>* used = nullptr);

// Reads 2D landmarks: {"format": "ssmx-landmarks-2d", "views": [{"points":
// {"name": [u, v], ...}}, ...]} with one entry per view in the order the views
// are given (docs/biplanar_fit.md). Throws IoError / InvalidInput.
std::vector<ViewLandmarks> ReadLandmarks2d(const std::string& path, int num_views);

struct FitOptions {
  int modes = 20;          // shape modes fitted (clamped to the model's)
  bool fit_scale = false;  // an isotropic scale in the pose
  EdgeOptions edges;       // pyramid levels and edge detection
  // kAuto: kBoneDark for images whose quantity is kIntensity, else kBoneBright.
  // A contour point only sees edges whose gradient points into the bone
  // (+-67.5 degrees), so the medullary canal's edges cannot capture it.
  EdgePolarity polarity = EdgePolarity::kAuto;
  int outer_iterations = 8;    // contour recomputations per level, at most
  int solver_iterations = 30;  // Levenberg-Marquardt iterations per solve, at most
  double edge_noise_px = 1.0;  // assumed edge localisation noise, level pixels
  double robust_scale = 2.0;   // Cauchy loss scale, in units of edge_noise_px
  // Without landmarks, first: the pose and the first `capture_modes` modes
  // that best match the instance's projected path length to the images
  // (gradient correlation at the coarsest level, compass search) ...
  bool intensity_capture = true;
  // ... over the start's projected footprint grown by this margin (mm at the
  // isocentre; 0: the whole image), so that the edges of the soft tissue and
  // of a CT's scan range cannot draw the bone.
  double intensity_roi_mm = 40.0;
  // Size and length vary most in bones, so the ends of the mean shape cannot
  // both match before the first modes are free.
  int capture_modes = 2;
  // Then, optionally, the pose and the capture modes fitted to the edges at
  // the coarsest level with a robust scale this many times wider (1: no
  // such stage, the default: measured worse after the intensity capture,
  // docs/biplanar_fit.md).
  double capture_factor = 1.0;
  // A fit without landmarks that ends with a raised quality flag is run again
  // from 4 alternative starts (moved 15 mm along and turned 10 degrees about
  // the model's long axis); the best result counts (no flag, then the
  // smallest worst-view median residual).
  bool restarts = true;
  // Landmarks given for the start also stay in the cost: each marked point
  // pulls its model vertex's projection with this standard deviation
  // (full-resolution pixels). 0: landmarks only start the fit.
  double landmark_sd_px = 3.0;
  double symmetric_weight =
      0.0;  // weight of the image-edge-to-contour term (0: off, the default; docs)
  double symmetric_band_px = 2.5;  // edges this close to the projected silhouette count, level px
  // Region of interest: image edges farther than this from the start's
  // projected silhouette (mm at the isocentre) are ignored, so that the
  // soft-tissue outline and other bones cannot capture the contour. 0: off.
  double roi_margin_mm = 25.0;
  // Coarse search of the start (translation grid, then rotation grid) at the
  // coarsest level: always when neither landmarks nor a pose are given,
  // optional otherwise.
  bool search = false;
  double search_translation_mm = 20.0;  // +- range of the translation grid (steps of range/2)
  double search_rotation_deg = 10.0;    // +- range of the rotation grid (3 values per axis)
  // Quality thresholds (docs/biplanar_fit.md, "Quality flags").
  double max_median_residual_px = 1.5;   // full-resolution pixels, per view
  double max_mahalanobis = 0;            // 0: sqrt of the chi-square 99 % quantile for K modes
  double max_pose_change_mm = 40.0;      // from the start, the model centroid
  double max_view_residual_ratio = 3.0;  // median residual of the worst / best view
  ProgressCallback progress;
  std::string IsValid() const;  // empty when valid
};

// Where the start came from.
enum class FitStart { kGivenPose, kLandmarks, kSearch };
const char* FitStartName(FitStart start);  // "given_pose", "landmarks", "search"

struct FitInitialization {
  std::optional<Pose> pose;              // world_from_model; its centre is replaced
  std::vector<ViewLandmarks> landmarks;  // empty, or one entry per view
};

struct ViewResidualStats {
  std::string name;
  int contour_points = 0;
  double mean_px = 0;  // |distance to the nearest edge|, full-resolution pixels
  double median_px = 0;
  double p95_px = 0;
  double rms_px = 0;
};

struct QualityFlag {
  std::string
      name;  // residual_too_high, shape_implausible, pose_at_search_edge, views_inconsistent
  bool raised = false;
  double value = 0;
  double threshold = 0;
};

struct FitResult {
  // The reconstructed surface in world LPS mm, with the per-vertex scalar
  // "posterior_std_mm": sqrt of the trace of the vertex's posterior covariance
  // (the RMS length of its 3D error under the Laplace approximation, with the
  // unfitted modes and the model noise added).
  TriangleMesh mesh;
  Pose pose;                     // world_from_model, centre = the model mean's centroid
  Eigen::VectorXd coefficients;  // standardised shape coefficients (N(0, 1) prior), fitted modes
  Pose initial_pose;
  FitStart start = FitStart::kGivenPose;
  std::vector<std::string> landmarks_used;
  double initial_cost = 0;
  double final_cost = 0;
  int iterations = 0;  // Levenberg-Marquardt iterations over every solve
  int solves = 0;
  int restarts = 0;  // alternative starts tried (see FitOptions::restarts)
  double seconds = 0;
  double mahalanobis = 0;    // |coefficients|
  double edge_noise_px = 0;  // estimated from the final residuals (full-res px)
  std::vector<ViewResidualStats> views;
  std::vector<QualityFlag> flags;
  // Projected silhouette points at the start and at the end, full-res px, per view.
  std::vector<std::vector<Eigen::Vector2d>> initial_contours;
  std::vector<std::vector<Eigen::Vector2d>> final_contours;

  bool AnyFlagRaised() const;
  // The fit summary (docs/biplanar_fit.md, "Outputs") as JSON text.
  std::string SummaryJson() const;
};

// Fits `model` to the views. Throws InvalidInput for a model without faces,
// fewer than one view, images that disagree with their geometry, or invalid
// options; Cancelled when the progress callback says so.
FitResult FitShapeModel(const ssm::ShapeModel& model, const std::vector<FitView>& views,
                        const FitInitialization& initialization, const FitOptions& options = {});

// PNG bytes: the view's normalised X-ray with the start's silhouette (red) and
// the fitted silhouette (green) drawn on it.
std::string RenderFitOverlayPng(const FitView& view, const std::vector<Eigen::Vector2d>& initial,
                                const std::vector<Eigen::Vector2d>& fitted);

}  // namespace ssmx::registration

#endif  // SSMX_REGISTRATION_BIPLANAR_FIT_H_
