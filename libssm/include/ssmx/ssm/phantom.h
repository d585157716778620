#ifndef SSMX_SSM_PHANTOM_H_
#define SSMX_SSM_PHANTOM_H_

// A parametric phantom femur: an implicit (signed-distance) bone built from
// anatomical primitives, meshed by the surface extraction path, with a template
// mesh that is mapped through each subject's deformation so that every subject
// has the same vertices; and a synthetic CT of each subject. The model, its
// parameters (mean, SD and source) and its limits are documented in
// docs/phantom.md.
//
// Frames. Each femur has its own straight "femur frame" F (right-femur
// convention): origin at the intersection of the femoral neck axis with the
// proximal shaft axis, +z along the proximal shaft axis towards the head's end,
// +x medial, +y posterior. The shaft is bent by the anterior bow below the
// trochanters, and the bone is then placed in patient LPS millimetres in
// anatomical standing position by `world_from_femur`: knee centre (midpoint of
// the epicondyles) at the origin, transepicondylar axis along x, femoral
// mechanical axis (head centre to knee centre) vertical in the sagittal plane,
// +z superior, head medial. A left femur is the mirror image (x -> -x) of the
// right femur with the same parameters, so medial is -x for a left femur.

#include <Eigen/Core>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ssmx/core/progress.h"
#include "ssmx/core/triangle_mesh.h"
#include "ssmx/core/volume.h"

namespace ssmx::ssm {

enum class BodySide { kRight, kLeft };
const char* BodySideName(BodySide side);  // "right", "left"

// The true parameters of one phantom femur. Lengths in mm, angles in radians.
struct FemurParameters {
  double length_mm = 447.0;  // physiological length: head top to condyle plane, vertical
  double neck_shaft_angle =
      2.1764;  // 3D angle between neck axis and proximal shaft axis (124.7 deg)
  double anteversion =
      0.25307;  // neck axis vs transepicondylar axis about the shaft axis (14.5 deg)
  double head_radius_mm = 23.35;
  double neck_length_mm = 52.2;     // shaft axis to head centre along the neck axis
  double bow_radius_mm = 1030.0;    // anterior bow radius of curvature; >= 1e8: straight shaft
  double condylar_width_mm = 83.9;  // epicondylar (bicondylar) width
  double shaft_diameter_mm = 27.5;  // mid-shaft periosteal diameter
  double bicondylar_angle =
      0.16232;  // shaft axis vs the normal of the infracondylar plane (9.3 deg)
  double cortical_thickness_mm = 5.5;  // mid-diaphysis; thinner towards the ends (see docs)
  double cortical_hu = 1500.0;
  double trabecular_hu = 220.0;
  BodySide side = BodySide::kRight;

  // Empty when valid, else what is wrong ("neck_shaft_angle_deg 170 outside 100..160").
  std::string Validate() const;
};

// One varying parameter of the cohort: its name at the JSON/CLI edge (with
// `_deg` or `_mm`/`_hu` suffix), mean and SD in those units, the truncation
// range of the sampler, and the literature source of mean and SD.
struct FemurParameterMode {
  std::string name;
  double mean = 0;
  double sd = 0;
  double min = 0;
  double max = 0;
  std::string source;
};
// The modes in sampling order. The mean of every mode gives MeanFemurParameters().
const std::vector<FemurParameterMode>& FemurParameterModes();
FemurParameters MeanFemurParameters(BodySide side = BodySide::kRight);
// Parameters <-> {name: value} in edge units (degrees for angles), as in the
// cohort JSON. FromNamedValues throws InvalidInput for a missing, unknown or
// invalid value, naming it and `what`.
std::map<std::string, double> FemurParametersToNamedValues(const FemurParameters& parameters);
FemurParameters FemurParametersFromNamedValues(const std::map<std::string, double>& values,
                                               BodySide side, const std::string& what);

enum class CohortSides { kRight, kLeft, kAlternate };

// `n` subjects drawn independently: every mode from a normal distribution with
// its mean and SD, truncated to [min, max] by redrawing. Byte-reproducible:
// std::mt19937_64 seeded with `seed` and an own Box-Muller transform (no
// std:: distributions, whose output differs between standard libraries).
std::vector<FemurParameters> SampleFemurParameters(int n, uint64_t seed,
                                                   CohortSides sides = CohortSides::kRight);

// Named anatomical points of a femur in world LPS mm.
//   femoral_head_center, femoral_head_top, greater_trochanter_tip,
//   lesser_trochanter, medial_epicondyle, lateral_epicondyle,
//   intercondylar_notch, medial_condyle_distal, lateral_condyle_distal,
//   knee_center, neck_shaft_point (the origin of the femur frame).
using LandmarkMap = std::map<std::string, Eigen::Vector3d>;

// The implicit femur of one subject. Immutable and thread-safe after
// construction.
class PhantomFemur {
 public:
  // Throws InvalidInput when parameters.Validate() fails.
  explicit PhantomFemur(const FemurParameters& parameters);

  const FemurParameters& parameters() const { return parameters_; }

  // Signed distance to the bone surface at a world LPS point, mm, negative
  // inside. Exact where one primitive dominates; within the smooth-union blends
  // and on the bent shaft it is a close approximation (gradient norm 0.9..1.1).
  double SignedDistance(const Eigen::Vector3d& p_world) const;
  // Central-difference gradient of SignedDistance (step h mm).
  Eigen::Vector3d Gradient(const Eigen::Vector3d& p_world, double h = 0.05) const;

  // A box that contains the bone, world mm.
  Bounds3d bounds() const;
  // 4x4 rigid transform from the femur frame F (right-femur convention) to
  // world LPS; for a left femur it includes the x mirror (determinant -1).
  Eigen::Matrix4d WorldFromFemur() const;
  // Analytic landmarks (see LandmarkMap).
  LandmarkMap Landmarks() const;
  // Derived quantities: chord length of the straight shaft, femoral offset,
  // bow sagitta, world_from_femur sagittal tilt, in mm and degrees by name.
  std::map<std::string, double> DerivedMeasures() const;

  // The deformation of the cohort: maps a point of the mean right femur
  // (MeanFemurParameters(kRight)), world mm, to the corresponding point of
  // this femur, world mm. Each anatomical part (head, neck, proximal block,
  // shaft, distal block) moves by its own transform; parts are blended by
  // weights that fall off with the distance to each part in the mean femur.
  Eigen::Vector3d MapFromMean(const Eigen::Vector3d& p_mean_world) const;

  // Moves `p` onto the zero level set along the gradient (Newton steps).
  // Returns the distance moved, mm.
  double ProjectToSurface(Eigen::Vector3d* p, int max_iterations = 8) const;

  // Tissue classes used by the CT synthesis at a world point: the straight-
  // frame shaft parameter t in [0, 1] (0 at the neck-shaft point, 1 at the
  // knee centre; outside for the ends), cortical thickness there (mm) and the
  // fraction of trabecular bone (vs marrow) in the interior there.
  struct Interior {
    double cortical_thickness_mm;
    double trabecular_fraction;
  };
  Interior InteriorAt(const Eigen::Vector3d& p_world) const;

  // Private implementation detail, public for the .cc helpers only.
  struct Geometry;

 private:
  FemurParameters parameters_;
  std::shared_ptr<const Geometry> geometry_;
  std::shared_ptr<const Geometry> mean_geometry_;
};

// How phantom femurs are meshed.
struct PhantomMeshOptions {
  double spacing_mm = 0.6;   // sampling grid of the signed distance
  int target_faces = 20000;  // quadric decimation target (0: no decimation)
  int snap_iterations = 8;   // Newton steps that move vertices onto the exact implicit surface
  ProgressCallback progress;
  std::string IsValid() const;  // empty when valid
};

// The shared template: the mean right femur meshed by the extraction path,
// with named landmark vertices and the head region (vertices of the head cap,
// for sphere fits).
struct FemurTemplate {
  TriangleMesh mesh;  // mean right femur, world mm
  std::map<std::string, int>
      landmark_vertices;           // name -> vertex index (see LandmarkMap; no head centre)
  std::vector<int> head_vertices;  // vertices on the spherical head cap
  std::vector<int> part;           // #V: 0 head, 1 neck, 2 proximal, 3 shaft, 4 distal
};
FemurTemplate MakeFemurTemplate(const PhantomMeshOptions& options = {});

// Extracts the independent ("remeshed") surface of one femur: its signed
// distance sampled on a grid, ExtractIsoSurface, decimation, snap.
TriangleMesh MeshPhantomFemur(const PhantomFemur& femur, const PhantomMeshOptions& options = {});

// How well the corresponding mesh fits the implicit surface.
struct CorrespondenceReport {
  double max_snap_mm = 0;  // largest move from the mapped position onto the surface
  double mean_snap_mm = 0;
  double max_residual_mm = 0;  // largest |signed distance| left after the snap
  int64_t flipped_faces = 0;   // faces whose normal turned by more than 90 degrees vs the template
};
// The template mapped through femur.MapFromMean() and snapped onto the
// surface: same vertex count and faces as the template, vertex i the same
// anatomical point in every subject. Left femurs have their faces reversed
// so that they stay outward.
TriangleMesh CorrespondingFemurMesh(const FemurTemplate& femur_template, const PhantomFemur& femur,
                                    int snap_iterations = 8,
                                    CorrespondenceReport* report = nullptr);

// CT synthesis. Tissues: air, a thigh (an elliptic soft-tissue cylinder with a
// subcutaneous fat layer around the bone), cortical bone of the femur's
// cortical thickness, a trabecular interior and, in the diaphysis, a medullary
// canal of marrow. Boundaries are anti-aliased by the partial-volume fraction
// of each voxel (a linear ramp of the signed distance over the voxel's extent
// along the surface normal).
struct PhantomCtOptions {
  double spacing_mm = 0.8;  // isotropic voxel size
  double margin_mm = 12.0;  // air margin around the thigh (left-right, anterior-posterior)
  // The scan range beyond both ends of the bone (superior-inferior); the thigh
  // fills it, so the CT ends with a flat cut of soft tissue this far from the
  // head and the condyles, as a clinical CT's scan range does.
  double scan_extension_mm = 12.0;
  double air_hu = -1000.0;
  double muscle_hu = 40.0;
  double fat_hu = -100.0;
  double marrow_hu = 20.0;
  double fat_thickness_mm = 8.0;
  double thigh_margin_mm = 35.0;  // soft tissue beyond the bone's bounds (ML/AP)
  double noise_sd_hu = 0.0;       // Gaussian noise, seeded
  uint64_t noise_seed = 0;
  bool partial_volume = true;
  int threads = 0;  // 0: hardware concurrency; the result does not depend on it
  ProgressCallback progress;
  std::string IsValid() const;
};
// An int16 HU volume in world LPS (identity direction).
Volume SynthesizePhantomCt(const PhantomFemur& femur, const PhantomCtOptions& options = {});

// A cohort on disk: <out>/cohort.json and per subject femur_NNN.<ext>
// (corresponding mesh), with `remeshed` femur_NNN_remeshed.<ext>, with `ct`
// femur_NNN_ct.nii.gz. Everything written atomically; same options -> same bytes.
struct PhantomCohortOptions {
  int n = 10;
  uint64_t seed = 1;
  CohortSides sides = CohortSides::kRight;
  bool remeshed = false;
  bool ct = false;
  std::string mesh_extension = ".ply";   // any WriteMesh extension
  std::string ct_extension = ".nii.gz";  // any WriteVolume extension
  PhantomMeshOptions mesh;
  PhantomCtOptions ct_options;
  ProgressCallback progress;
  std::string IsValid() const;
};

struct PhantomSubjectSummary {
  std::string id;
  FemurParameters parameters;
  std::string mesh_path, remeshed_path, ct_path;
  CorrespondenceReport correspondence;
  double remeshed_mean_distance_mm =
      -1;  // corresponding vs remeshed, symmetric mean; -1 when not remeshed
};
struct PhantomCohortSummary {
  std::string json_path;
  int64_t template_vertices = 0, template_faces = 0;
  std::vector<PhantomSubjectSummary> subjects;
  double seconds = 0;
  std::string BriefReport() const;
};
PhantomCohortSummary WritePhantomCohort(const std::string& out_dir,
                                        const PhantomCohortOptions& options);

// Reads the parameters of every subject from a cohort.json (what
// WritePhantomCohort wrote). Throws IoError / InvalidInput naming the file.
std::vector<FemurParameters> ReadPhantomCohortParameters(const std::string& json_path);

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_PHANTOM_H_
