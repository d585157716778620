#ifndef SSMX_SSM_CORRESPONDENCE_H_
#define SSMX_SSM_CORRESPONDENCE_H_

// Dense correspondence by non-rigid template registration: the reference
// mesh is deformed onto each target surface, so that every output mesh has
// the reference's vertices and faces and vertex i is the same anatomical point
// in all of them. The method and its choice are explained in
// docs/correspondence.md.

#include <Eigen/Core>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ssmx/core/progress.h"
#include "ssmx/core/triangle_mesh.h"
#include "ssmx/ssm/alignment.h"
#include "ssmx/ssm/icp.h"
#include "ssmx/ssm/shape_model.h"

namespace ssmx::ssm {

// A named point known on both surfaces: on (or near) the reference and on (or
// near) the target, LPS mm. Landmarks need not be vertices.
struct CorrespondenceLandmark {
  std::string name;
  Eigen::Vector3d reference_mm = Eigen::Vector3d::Zero();
  Eigen::Vector3d target_mm = Eigen::Vector3d::Zero();
};

struct CorrespondenceOptions {
  // The start: kRigid or kSimilarity. With >= 3 landmarks the reference is
  // first aligned by Umeyama on them, else by CentroidAlignment; then ICP
  // (`icp`, whose kind is replaced by this) refines the alignment.
  AlignmentKind alignment = AlignmentKind::kSimilarity;
  IcpOptions icp;
  // Stiffness weights alpha, one stage each, decreasing and > 0 (dimensionless:
  // see docs/correspondence.md for the normalisation of the energy).
  std::vector<double> stiffness = {10, 3, 1, 0.3, 0.1, 0.03, 0.01, 0.003};
  // Linear solves per stage at most; a stage ends earlier when an iteration
  // moves the vertices by less than tolerance_mm (area-weighted RMS).
  int max_iterations_per_stage = 4;
  double tolerance_mm = 0.02;
  // gamma of Amberg et al.: weight of the translation part of the per-vertex
  // affine transforms against their linear part in the stiffness term.
  double translation_weight = 1.0;
  // The closest-point (data) term: point-to-plane, plus this share of
  // point-to-point. Point-to-plane lets vertices slide along the target as
  // the stiffness asks (their tangential places are set by the regulariser,
  // not frozen where the previous step left them); the small point-to-point
  // share keeps the solve well posed. 1: plain point-to-point, as in Amberg
  // et al. See docs/correspondence.md for what it changes.
  double tangential_weight = 0.001;
  // Below this stiffness the tangential weight grows as (sliding_stiffness /
  // alpha)^2 (up to 1, point-to-point): vertices find their places along the
  // surface while the stiffness still governs them, and the soft last stages
  // only close the distance along the normal instead of letting vertices
  // drift along the target. 0: the tangential weight is the same at every
  // stage.
  double sliding_stiffness = 0.1;
  // Conjugate-gradient iterations per point-to-plane solve (each one back
  // substitution with the factorised point-to-point system).
  int cg_iterations = 10;
  // beta at the first stage; it falls in proportion to alpha, so landmarks
  // steer the start and leave the end to the surfaces.
  double landmark_weight = 1.0;
  // A closest-point pair counts only when the target face normal is within
  // this angle of the deforming reference's vertex normal (radians); pairs on
  // the wrong side of a thin part are thereby ignored.
  double max_normal_angle = 1.0471975511965976;  // 60 degrees
  // Finally move every vertex onto its closest point of the target (steps
  // that would flip a triangle are shortened, see RegisterTemplate).
  bool project_to_surface = true;
  // The sparse solves run on at most this many vertices: a larger reference
  // is decimated (DecimateSurface) to about this size for the stages, and
  // every reference vertex then takes the blended affine transforms of the
  // decimated face nearest to it. 0: always the full reference.
  int max_solve_vertices = 4000;
  ProgressCallback progress;

  bool IsValid(std::string* error) const;
};

struct CorrespondenceSummary {
  // The reference's faces with vertices on the target surface.
  TriangleMesh mesh;
  // target_from_reference of the rigid/similarity start (after ICP).
  SimilarityTransform initial;
  bool initial_from_landmarks = false;
  IcpSummary icp;
  int stages = 0;
  int iterations = 0;          // linear solves over all stages
  int64_t solve_vertices = 0;  // vertices of the level the solves ran on
  // Faces of `mesh` whose normal turned by 90 degrees or more against the
  // aligned reference (CountFlippedFaces). Zero unless the reference itself
  // has zero-area faces (they cannot be checked and are not counted).
  int64_t flipped_faces = 0;
  // Vertices whose move was shortened at least once to keep every face
  // unflipped (by the non-rigid steps and by the final projection).
  int64_t limited_vertices = 0;
  // After the final projection: vertices left off the surface (their
  // projection would have flipped a face) and the largest remaining
  // distance of a vertex to the target, mm.
  int64_t unprojected_vertices = 0;
  double max_vertex_distance_mm = 0;
  // Symmetric surface distance between `mesh` and the target
  // (ComputeSurfaceDistance: area-weighted, both directions pooled).
  double mean_distance_mm = 0;
  double rms_distance_mm = 0;
  double hausdorff_mm = 0;
  // Mean distance between the landmarks mapped through the correspondence
  // (the reference landmark's barycentric point on the output mesh) and the
  // target landmarks, mm; 0 without landmarks.
  double landmark_mean_error_mm = 0;
  // RegisterModel only (empty / 0 for RegisterTemplate): the fitted model
  // coefficients (standardised, a ~ N(0, I)), their Mahalanobis distance |a|,
  // the mean distance of the fitted model instance's vertices to the target
  // before refinement and projection (how much of the target the model itself
  // explains), and the fit's stages and iterations.
  Eigen::VectorXd model_coefficients;
  double model_mahalanobis = 0;
  double model_fit_mean_mm = 0;
  int model_fit_stages = 0;
  int model_fit_iterations = 0;
  double seconds = 0;

  std::string BriefReport() const;
};

// Optimal-step non-rigid ICP (B. Amberg, S. Romdhani, T. Vetter, "Optimal
// step nonrigid ICP algorithms for surface registration", CVPR 2007). Every
// reference vertex v_i gets an affine transform X_i (4 by 3); for a stiffness
// alpha the algorithm minimises, over all X_i at once, the quadratic
//   E(X) = sum_i w_i (|n_i . (y_i - u_i)|^2 + eps |P_i (y_i - u_i)|^2)
//        + alpha^2 sum_{edges ij} c_ij |G (X_i - X_j)|_F^2
//        + beta^2 sum_l |sum_k b_lk X_k^T [v_k;1] - t_l|^2
// with y_i = X_i^T [v_i;1], u_i the closest target point of the current
// vertex i, n_i the target normal there, P_i = I - n_i n_i^T, eps =
// options.tangential_weight (1: Amberg's point-to-point term), w_i its area
// weight (0 for rejected pairs), c_ij the edge's cotangent weight (1 on an
// equilateral mesh, at least 0.05), G = diag(1,1,1,gamma), and landmarks l at
// barycentric points b_l of the reference with targets t_l: by one sparse
// LDLT factorisation of the point-to-point system per stage, and conjugate
// gradients preconditioned with it for the point-to-plane part; closest
// points are updated and the solve repeated, and alpha decreases stage by
// stage (options.stiffness). Coordinates are centred and
// scaled by the reference's RMS radius, so the weights do not depend on units
// or mesh resolution.
//
// Folding is prevented: after every solve, and after the final projection
// onto the target, a face whose normal would turn by 90 degrees or more
// against the aligned reference has the moves of its vertices halved (then
// cancelled) until no face flips.
//   reference: the template, with faces; target: any surface mesh with faces.
// Throws InvalidInput for unusable meshes, options or landmarks (names the
// reference or target), NotConverged when a linear solve fails.
CorrespondenceSummary RegisterTemplate(const TriangleMesh& reference, const TriangleMesh& target,
                                       const std::vector<CorrespondenceLandmark>& landmarks = {},
                                       const CorrespondenceOptions& options = {});

// How RegisterModel fits a shape model to a surface.
struct ModelCorrespondenceOptions {
  // The start: the model mean aligned by a similarity transform as in
  // RegisterTemplate (Umeyama on >= 3 landmarks or the centroids, then ICP
  // with `icp`, whose kind is replaced). Then the pose of the instance,
  // estimated with its shape: kRigid (the start's scale is handed to the
  // shape coefficients) for a model whose modes carry size, kSimilarity for
  // one built with similarity alignment (its modes carry no size, the pose
  // does). Unset: ModelPoseKind(model).
  std::optional<AlignmentKind> pose;
  IcpOptions icp;
  // Standard deviation of the observation noise (mm) of the closest-point
  // observations, one stage each, > 0 and usually decreasing: large at first,
  // so the prior dominates while the closest points are still poor.
  std::vector<double> noise_mm = {8, 4, 2, 1, 0.5, 0.3};
  // Iterations (closest points, coefficients, pose) per stage at most; a stage
  // ends earlier when the instance moves by less than tolerance_mm (RMS).
  int max_iterations_per_stage = 6;
  double tolerance_mm = 0.01;
  // The closest-point observation: along the target normal, plus this share
  // of the full point-to-point distance (1: point-to-point).
  double tangential_weight = 0.1;
  // Noise SD of landmark observations (mm) at the first stage; it grows as
  // noise_mm falls (landmark_noise_mm * noise_mm[0] / noise_mm[stage]), so
  // landmarks steer the start and leave the end to the surface.
  double landmark_noise_mm = 1.0;
  // A closest-point pair counts only when the target face normal is within
  // this angle of the instance's vertex normal (radians).
  double max_normal_angle = 1.0471975511965976;  // 60 degrees
  // After the fit, the instance is refined onto the target by RegisterTemplate's
  // non-rigid ICP (these options; their alignment and icp are not used; by
  // default point-to-point, so the model's placement of the vertices along
  // the surface stays) and projected. refine_surface = false: only the
  // projection (refine.project_to_surface) follows the fit.
  bool refine_surface = true;
  CorrespondenceOptions refine = DefaultRefinement();
  ProgressCallback progress;

  static CorrespondenceOptions DefaultRefinement();
  bool IsValid(std::string* error) const;
};

// The pose kind RegisterModel uses for `model` by default: kSimilarity when
// the model's build history (ModelInfo::builders, latest first) records
// alignment "similarity", else kRigid (rigid or no alignment, or unknown:
// size is then in the modes).
AlignmentKind ModelPoseKind(const ShapeModel& model);

// Model-based correspondence: a shape model (ShapeModel, e.g. from
// ReadStatismoModel) is fitted to the target surface, and the fitted
// instance, refined onto the surface, is the output; vertex i then is what
// the model calls vertex i. This is the Gaussian-process registration of
// Luethi et al. ("Gaussian Process Morphable Models", IEEE TPAMI 2018) with
// the model's own low-rank covariance as the prior: for each noise level
// sigma, repeatedly, every vertex of the posed instance takes its closest
// target point u_i (pairs whose normals differ by more than max_normal_angle
// are dropped) and the coefficients are the posterior mean
//   a = argmin sum_i [(1-eps)(n_i . (x_i(a) - y_i))^2 + eps |x_i(a) - y_i|^2]
//       / sigma^2 + |a|^2 (+ landmark terms)
// with x(a) = mean + W a, y_i = pose^-1(u_i) and n_i the target normal in
// model space (a K by K solve), then the pose is re-estimated by Umeyama
// between the instance and the closest points. The prior decides where each
// vertex lies along the surface, which the surface itself cannot tell on
// spherical and cylindrical parts (see docs/correspondence.md). No face of the
// output is flipped against the posed model mean (folds of the instance are
// untangled, else its steps shortened; then RegisterTemplate's guard).
// Landmarks: reference_mm on (or near) the model mean.
// Throws InvalidInput for an empty model, a bad target or options,
// NotConverged when a solve fails.
CorrespondenceSummary RegisterModel(const ShapeModel& model, const TriangleMesh& target,
                                    const std::vector<CorrespondenceLandmark>& landmarks = {},
                                    const ModelCorrespondenceOptions& options = {});

// The faces of `mesh` (same faces as `reference`) whose normal has turned by
// 90 degrees or more from the normal of the same reference face rotated by
// `rotation` (n_mesh . R n_ref <= 0; a collapsed face counts). Zero-area
// reference faces are not counted. Throws InvalidInput when the faces differ.
int64_t CountFlippedFaces(const TriangleMesh& reference, const TriangleMesh& mesh,
                          const Eigen::Matrix3d& rotation = Eigen::Matrix3d::Identity());

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_CORRESPONDENCE_H_
