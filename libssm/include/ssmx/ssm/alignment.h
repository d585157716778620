#ifndef SSMX_SSM_ALIGNMENT_H_
#define SSMX_SSM_ALIGNMENT_H_

// Alignment of point sets with known correspondence: the closed-form
// least-squares rigid / similarity transform (Umeyama 1991) and generalised
// Procrustes analysis over a cohort of shapes.

#include <Eigen/Core>
#include <string>
#include <vector>

#include "ssmx/core/triangle_mesh.h"

namespace ssmx::ssm {

enum class AlignmentKind {
  kNone,        // shapes are used as they are
  kRigid,       // rotation + translation
  kSimilarity,  // rotation + translation + isotropic scale
};
// "none", "rigid", "similarity"; Parse throws InvalidInput naming `what`.
const char* AlignmentKindName(AlignmentKind kind);
AlignmentKind ParseAlignmentKind(const std::string& name, const std::string& what);

// y = scale * rotation * x + translation.
struct SimilarityTransform {
  double scale = 1.0;
  Eigen::Matrix3d rotation = Eigen::Matrix3d::Identity();  // proper rotation, det +1
  Eigen::Vector3d translation = Eigen::Vector3d::Zero();

  Eigen::Matrix4d Matrix() const;  // homogeneous 4x4
  // points: #P by 3; returns the transformed #P by 3.
  MatrixX3dR Apply(const Eigen::Ref<const MatrixX3dR>& points) const;
};

// The transform T that minimises the mean squared distance
//   (1/n) sum_i || target_i - (s R source_i + t) ||^2
// over rotations R (det R = +1), translations t and, with `with_scaling`,
// scales s > 0 (else s = 1), in closed form by the SVD of the cross-covariance
// (S. Umeyama, "Least-squares estimation of transformation parameters between
// two point patterns", IEEE TPAMI 13(4):376-380, 1991). Reflections are never
// returned: when the best orthogonal matrix has det -1 the smallest singular
// direction is flipped, as in the paper.
//   source, target: #P by 3, row i of one corresponds to row i of the other.
// Throws InvalidInput when the sizes differ, #P < 3 or the source is
// degenerate (all points equal).
SimilarityTransform Umeyama(const Eigen::Ref<const MatrixX3dR>& source,
                            const Eigen::Ref<const MatrixX3dR>& target, bool with_scaling);

struct ProcrustesOptions {
  AlignmentKind kind = AlignmentKind::kRigid;
  int max_iterations = 100;
  double tolerance_mm = 1e-6;  // stop when the mean shape moves less (RMS over points)
};

struct ProcrustesResult {
  std::vector<MatrixX3dR> aligned;              // each #P by 3, in the frame of shapes[0]
  std::vector<SimilarityTransform> transforms;  // aligned[i] = transforms[i].Apply(shapes[i])
  MatrixX3dR mean;                              // #P by 3, the Procrustes mean
  int iterations = 0;
  double mean_change_mm = 0;  // RMS move of the mean in the last iteration
};

// Generalised Procrustes analysis (Gower 1975): every shape is aligned to the
// current mean by Umeyama, the mean is recomputed, until it stops moving.
// This minimises sum_i sum_p || T_i(x_ip) - m_p ||^2 over the transforms T_i
// and the mean m. The gauge (the frame of the result) is fixed by aligning each
// new mean to shapes[0] by a rigid transform and, for similarity, by giving it
// the average centroid size of the input shapes, so that the result stays in
// the shapes' own millimetres and frame. kNone returns the shapes unchanged.
//   shapes: each #P by 3, all with the same #P >= 3.
ProcrustesResult GeneralizedProcrustes(const std::vector<MatrixX3dR>& shapes,
                                       const ProcrustesOptions& options = {});

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_ALIGNMENT_H_
