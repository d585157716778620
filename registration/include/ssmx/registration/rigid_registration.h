#ifndef SSMX_REGISTRATION_RIGID_REGISTRATION_H_
#define SSMX_REGISTRATION_RIGID_REGISTRATION_H_

#include <Eigen/Core>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ssmx/core/image2d.h"
#include "ssmx/core/progress.h"
#include "ssmx/core/volume.h"
#include "ssmx/drr/projection_geometry.h"
#include "ssmx/drr/projector.h"
#include "ssmx/drr/xray_image_io.h"
#include "ssmx/registration/pose.h"

namespace ssmx::registration {

// Rigid (6 degrees of freedom) intensity-based 2D/3D registration of a CT
// against one or more calibrated X-ray views (docs/rigid_registration.md).
//
// The CT is moved by a Pose (scale fixed at 1, rotation about pose.center):
// a CT point x goes to world = pose(x). Its DRR in a view with the 3x4 matrix
// P is the projection of the unmoved CT with P * pose.Matrix(), because
// pixel = P * world = (P * world_from_ct) * x. The registration finds the pose
// that maximises the similarity of these DRRs to the X-ray images, summed over
// the views.
//
// Similarity (per view, over the pixels of the view):
//   kNcc: normalised cross-correlation of the line-integral images.
//   kGradientCorrelation: the mean of the NCCs of the u- and v-derivatives
//     (Sobel) of the line-integral images (Penney et al., IEEE TMI 17(4) 1998).
// Both are written as least squares: with z = (a - mean a) / std a,
//   sum over pixels of (z_drr - z_xray)^2 / N = 2 (1 - NCC),
// so the cost (1/2) sum r^2 with r = (z_drr - z_xray) / sqrt(N) equals
// sum over views of (1 - similarity), and Ceres' Levenberg-Marquardt is a
// Gauss-Newton method on the similarity. Derivatives are forward or central
// differences of whole DRRs with steps in millimetres (see
// RigidRegistrationOptions::step_pixels).
enum class Similarity { kNcc, kGradientCorrelation };
const char* SimilarityName(Similarity similarity);  // "ncc", "gc"
// Parses "ncc" or "gc" / "gradient-correlation"; throws InvalidInput otherwise.
Similarity ParseSimilarity(const std::string& name);

// One level of the multi-resolution schedule: the detector binned by
// `detector_binning` (a coarser pixel grid with the same geometry,
// docs/geometry.md section 3; the X-ray is averaged over b x b blocks) and the
// CT averaged over `volume_shrink`^3 voxel blocks.
struct RigidRegistrationLevel {
  int detector_binning = 1;
  int volume_shrink = 1;
};

struct RigidRegistrationOptions {
  Similarity similarity = Similarity::kNcc;
  // Coarse to fine; each level starts from the previous level's pose.
  std::vector<RigidRegistrationLevel> levels = {{4, 2}, {2, 1}, {1, 1}};
  // Levenberg-Marquardt iterations per level.
  int max_iterations_per_level = 25;
  // Stop a level when the relative decrease of the cost in an iteration is
  // below this (Ceres' function_tolerance) ...
  double function_tolerance = 1e-6;
  // ... or when an accepted step moves the CT by less than this fraction of
  // the level's pixel size at the pose centre (mm at the lever arm for
  // rotations; 0.01 of a 1.4 mm pixel is 0.014 mm).
  double step_tolerance_pixels = 0.01;
  // Finite-difference step, as a fraction of the level's detector pixel size
  // at the pose centre (pixel pitch * source-to-centre / source-to-detector):
  // every parameter is moved so that the CT moves by about this much at the
  // lever arm (rotations) or everywhere (translations). DRRs are only smooth
  // above the voxel and pixel scale, so a step tied to the pixel is more
  // reliable than one tied to the machine epsilon.
  double step_pixels = 0.5;
  // Central differences (12 DRRs per view and Jacobian) instead of forward
  // differences (6).
  bool central_differences = true;
  // Region of interest. When >= 0, each level compares only the pixels within
  // this distance (mm on the detector) of the volume's footprint (where its
  // DRR is non-zero) at the level's start pose. Needed for one bone cut out
  // of a CT (PreparedVolume::FromHounsfieldMasked): elsewhere the X-ray shows
  // anatomy that the bone-only DRR lacks. Negative (the default): every pixel,
  // right for a whole CT.
  double roi_margin_mm = -1.0;
  // A fixed background (not owned; must outlive the call; nullptr = none):
  // the DRR of `background` moved by `background_pose` is added to the
  // volume's DRR in every view. For one bone: the CT without the bone
  // (FromHounsfieldMasked with the inverted mask) at the pose the whole CT
  // was registered to, so that the bone's DRR is compared with an X-ray of
  // everything. Its scale must be 1.
  const drr::PreparedVolume* background = nullptr;
  Pose background_pose;
  // Projector and threads for the DRRs (threads 0 = every core).
  drr::ProjectionOptions projection{drr::ProjectorKind::kExact, 0.5, 0};
  // Reports the fraction done after each iteration (may be empty).
  ProgressCallback progress;

  bool IsValid(std::string* error) const;
};

// One X-ray view prepared for registration: its line integral image (an
// intensity image I is turned into -log(I / I0), with I0 from the sidecar or
// the image maximum: NCC and GC do not depend on I0) and its geometry.
struct RegistrationView {
  Image2D line_integral;
  drr::ProjectionGeometry geometry;
  std::string name;  // names the view in errors (e.g. its file); may be empty
};

// Checks an X-ray and converts it to a RegistrationView. `what` names the view
// in errors (e.g. its file). Throws InvalidInput for a mask or path-length
// image, a size that disagrees with the geometry, non-finite or negative
// intensities, or an image without contrast.
RegistrationView PrepareView(const drr::XrayImage& xray, const std::string& what);

// The truth, when known: mTRE (mm) is reported over `targets` (#T by 3, CT
// frame, LPS mm) between the estimated and the true pose.
struct RegistrationTruth {
  Pose pose;
  Eigen::MatrixX3d targets;
};

struct RigidRegistrationLevelSummary {
  RigidRegistrationLevel level;
  int iterations = 0;
  double initial_score = 0.0;  // mean similarity over the views
  double final_score = 0.0;
  double seconds = 0.0;
  std::optional<double> mtre_mm;  // after the level, with a truth
};

struct RigidRegistrationSummary {
  Pose pose;  // world_from_ct, about the CT centre
  Similarity similarity = Similarity::kNcc;
  double initial_score = 0.0;       // mean over views at the start, finest level
  double final_score = 0.0;         // mean over views at the result, finest level
  std::vector<double> view_scores;  // per view at the result, finest level
  int iterations = 0;               // over all levels
  int drr_count = 0;                // DRRs computed (all views and levels)
  double seconds = 0.0;
  std::vector<RigidRegistrationLevelSummary> levels;
  std::optional<double> initial_mtre_mm;
  std::optional<double> final_mtre_mm;

  std::string BriefReport() const;
};

// Registers `volume` (a CT from PreparedVolume::FromHounsfield, or one bone of
// it from FromHounsfieldMasked) to the views, starting from `initial`
// (its scale must be 1; its center is kept). Throws InvalidInput for no views,
// an empty volume, a start pose whose scale is not 1, options that are not
// valid, a level coarser than a view, or a volume that does not project onto
// a view at the start pose.
RigidRegistrationSummary RegisterRigid(const drr::PreparedVolume& volume,
                                       const std::vector<RegistrationView>& views,
                                       const Pose& initial,
                                       const RigidRegistrationOptions& options = {},
                                       const std::optional<RegistrationTruth>& truth = {});

// The similarity (Similarity::kNcc: NCC; kGradientCorrelation: GC) of two
// images of the same size, over all pixels; 0 when either has no contrast.
double ImageSimilarity(const Image2D& a, const Image2D& b, Similarity similarity);
// The same over the pixels where `roi` (rows x cols, row-major) is non-zero;
// an empty `roi` is every pixel. Throws InvalidInput when the sizes differ.
double ImageSimilarity(const Image2D& a, const Image2D& b, Similarity similarity,
                       const std::vector<uint8_t>& roi);

// The DRR (line integral) of `volume` moved by `pose`, seen by `geometry`:
// the projection with geometry.matrix() * pose.Matrix(). Scale must be 1.
Image2D ProjectPosed(const drr::PreparedVolume& volume, const Pose& pose,
                     const drr::ProjectionGeometry& geometry,
                     const drr::ProjectionOptions& options = {});

// A copy of `volume` physically moved by the rigid `pose` through its header
// alone: voxel centre x lies at pose(x) afterwards (origin and direction
// change; the voxels do not). Projecting it is the independent route to what
// ProjectPosed computes; used to simulate X-rays of a known pose. Throws
// InvalidInput when the scale is not 1.
Volume MoveVolume(const Volume& volume, const Pose& pose);

// The CT outside `mask` (a bone's label on the CT's grid): the background
// for registering that bone (RigidRegistrationOptions::background). Throws
// InvalidInput when the grids differ.
drr::PreparedVolume VolumeOutsideMask(const Volume& ct, const Volume& mask,
                                      double mu_water_per_mm = drr::kDefaultMuWaterPerMm);

// The volume averaged over shrink^3 voxel blocks (the coarse levels' volume):
// spacing * shrink, ceil(size / shrink) voxels, the new voxel (0, 0, 0) at the
// centre of the old block; voxels beyond the edge count as air (zero), as the
// projector sees them, so a uniform box of whole blocks keeps its extent and
// its line integrals. Throws InvalidInput for a factor outside 1..16 or an
// empty volume.
drr::PreparedVolume ShrinkVolume(const drr::PreparedVolume& volume, int shrink);

// The centre of the volume's non-zero voxel box in LPS mm (for a masked bone,
// the bone's box): the default pose centre. Throws InvalidInput when empty.
Eigen::Vector3d VolumeCenter(const drr::PreparedVolume& volume);

// Target points for mTRE: the centres (LPS mm, #T by 3) of the voxels whose
// attenuation is at least `min_mu_per_mm` (a CT: e.g. bone above 200 HU,
// AttenuationFromHounsfield(200); a masked bone: any value > 0), thinned by a
// fixed voxel stride to at most `max_points`. Throws InvalidInput when none.
Eigen::MatrixX3d TargetPoints(const drr::PreparedVolume& volume, float min_mu_per_mm,
                              int max_points = 20000);

// `pose` moved by a random rigid step of exactly `translation_mm` (uniform
// direction) and `rotation_rad` (about a uniform axis through the moved
// centre), drawn from std::mt19937_64(seed) with the library's own
// distributions: the same seed gives the same pose on every platform.
Pose PerturbPose(const Pose& pose, double translation_mm, double rotation_rad, uint64_t seed);

// The geometry of a view binned by `binning` (docs/geometry.md section 3):
// floor(cols / b) x floor(rows / b) pixels of b times the pitch.
drr::ProjectionGeometry BinnedGeometry(const drr::ProjectionGeometry& geometry, int binning);
// The image averaged over binning x binning blocks (the incomplete last
// row/column of blocks is dropped, matching BinnedGeometry).
Image2D BinImage(const Image2D& image, int binning);

}  // namespace ssmx::registration

#endif  // SSMX_REGISTRATION_RIGID_REGISTRATION_H_
