#include "ssmx/drr/projector.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "internal/parallel.h"
#include "ssmx/core/error.h"

namespace ssmx::drr {
namespace {

// Everything a kernel needs, in "shifted index" coordinates xi = ijk + 0.5, in
// which voxel n occupies [n, n+1) along each axis.
struct Grid {
  const float* mu;
  int64_t n[3];
  int64_t stride[3];
  double box_lo[3];  // clip box (shifted index)
  double box_hi[3];
  // Blocks of kBlock^3 voxels: 1 when one of their voxels is non-zero.
  const uint8_t* blocks;
  int64_t block_n[3];
  int64_t block_stride[3];
};

constexpr int kBlock = PreparedVolume::kBlockSize;

// Clips the segment a + t*dir, t in [0, 1], to the box; false when it misses.
inline bool Clip(const double a[3], const double dir[3], const double lo[3], const double hi[3],
                 double* t_in, double* t_out) {
  double t0 = 0.0, t1 = 1.0;
  for (int axis = 0; axis < 3; ++axis) {
    if (std::abs(dir[axis]) < 1e-300) {
      if (a[axis] < lo[axis] || a[axis] >= hi[axis]) return false;
      continue;
    }
    const double inv = 1.0 / dir[axis];
    double ta = (lo[axis] - a[axis]) * inv;
    double tb = (hi[axis] - a[axis]) * inv;
    if (ta > tb) std::swap(ta, tb);
    t0 = std::max(t0, ta);
    t1 = std::min(t1, tb);
  }
  *t_in = t0;
  *t_out = t1;
  return t0 < t1;
}

// Sum of count floats `stride` apart (runs are short: a plain loop is fastest).
inline float StridedSum(const float* p, int64_t stride, int64_t count) {
  float s = 0.0f;
  for (int64_t k = 0; k < count; ++k, p += stride) s += *p;
  return s;
}

// Integral of mu over t in [t0, t1] along a + t*dir (shifted index
// coordinates, the segment already clipped to the box) by exact voxel
// traversal: the sum over the voxels the ray crosses of mu times the length
// (in t) inside the voxel, as in Siddon (1985) and Jacobs et al. (1998); the
// caller multiplies by the segment's length in mm.
//
// The ray meets three sequences of planes. Along the axis m on which it moves
// fastest, the planes come once per voxel; the planes of the two other axes
// ("events") are rarer, the more so the closer the ray is to m (a DRR ray
// within 15 degrees of its main axis meets about one every four voxels).
// Between two events the ray stays in one column of voxels along m, whose
// whole slabs all have the length 1/|dir_m| in t: their sum is a strided
// load-and-add. So the merge of the three sequences, Siddon's per-voxel
// decision with its branch misprediction at every side crossing, happens once
// per event instead of once per voxel.
//
// Axes along which the ray moves down are mirrored inside the box
// (x' = lo + hi + 1 - x: voxel i' is voxel lo + hi - i', with a negative
// stride), so that indices only grow and floor is truncation. Every crossing
// parameter is computed from its plane's index, never accumulated, so rounding
// does not drift along the ray.
double IntegrateExact(const Grid& g, const double a[3], const double dir[3], double t0, double t1) {
  int m = std::abs(dir[1]) > std::abs(dir[0]) ? 1 : 0;
  if (std::abs(dir[2]) > std::abs(dir[m])) m = 2;
  const int axes[3] = {m, (m + 1) % 3, (m + 2) % 3};
  double o[3], d[3], inv[3];  // mirrored origin and direction, 1/d
  int64_t lo[3], hi[3], stride[3], index[3];
  int64_t offset = 0;
  for (int k = 0; k < 3; ++k) {
    const int axis = axes[k];
    lo[k] = static_cast<int64_t>(g.box_lo[axis]);
    hi[k] = static_cast<int64_t>(g.box_hi[axis]) - 1;  // last voxel
    if (dir[axis] >= 0) {
      o[k] = a[axis];
      d[k] = dir[axis];
      stride[k] = g.stride[axis];
    } else {
      o[k] = static_cast<double>(lo[k] + hi[k] + 1) - a[axis];
      d[k] = -dir[axis];
      stride[k] = -g.stride[axis];
      offset += (lo[k] + hi[k]) * g.stride[axis];
    }
    inv[k] = 1.0 / d[k];  // inf for d = 0: then the axis has no event (+inf)
    const double x = o[k] + t0 * d[k];
    // x >= lo >= 0 up to rounding, so truncation is floor (and a rounding
    // error below 0 is clamped); this avoids a libm call per axis and ray.
    index[k] = std::clamp(static_cast<int64_t>(x), lo[k], hi[k]);
    offset += index[k] * stride[k];
  }
  // Slabs index[0] .. last along the main axis (at least one: a segment of
  // zero length then gets a zero weight).
  const double x_end = o[0] + t1 * d[0];
  const int64_t end_floor = static_cast<int64_t>(x_end);
  const int64_t last =
      std::clamp(end_floor - (static_cast<double>(end_floor) == x_end ? 1 : 0), index[0], hi[0]);
  const float* mu = g.mu;
  const int64_t sm = stride[0], sp = stride[1], sq = stride[2];
  constexpr double kNever = std::numeric_limits<double>::infinity();
  int64_t n = index[0], ip = index[1], iq = index[2];
  double plane_p = static_cast<double>(ip + 1), plane_q = static_cast<double>(iq + 1);
  // The upper face of the box is not an event: the clipped ray ends there.
  double tp = ip < hi[1] ? (plane_p - o[1]) * inv[1] : kNever;
  double tq = iq < hi[2] ? (plane_q - o[2]) * inv[2] : kNever;
  double t = t0, sum = 0.0;
  for (;;) {
    // The ray stays in the column of voxels (., ip, iq) from t to the next
    // event te, over slabs n .. n_end: their whole-slab sum, minus the part of
    // the first slab before t and of the last one after te.
    const double te = std::min(std::min(tp, tq), t1);
    const int64_t n_end = std::clamp(static_cast<int64_t>(o[0] + te * d[0]), n, last);
    const int64_t run = n_end - n;
    const double head = t - (static_cast<double>(n) - o[0]) * inv[0];
    const double tail = (static_cast<double>(n_end + 1) - o[0]) * inv[0] - te;
    sum += static_cast<double>(StridedSum(mu + offset, sm, run + 1)) * inv[0] - mu[offset] * head -
           mu[offset + run * sm] * tail;
    offset += run * sm;
    n = n_end;
    t = te;
    if (te >= t1) break;
    if (tp <= tq) {
      offset += sp;
      ++ip;
      plane_p += 1.0;
      tp = ip < hi[1] ? (plane_p - o[1]) * inv[1] : kNever;
    } else {
      offset += sq;
      ++iq;
      plane_q += 1.0;
      tq = iq < hi[2] ? (plane_q - o[2]) * inv[2] : kNever;
    }
  }
  return sum;
}

// Walks the blocks that the ray p + s*v, s in [0, s_end], passes, one slab of
// blocks at a time along its main axis, and returns the s at which it first
// enters a slab in which one of the blocks it touches holds a non-zero voxel
// (s_end when there is none). Conservative: a block-slab counts as occupied
// when any block of the (at most 2 x 2) range its p and q extents span is.
double FirstOccupied(const Grid& g, const double p[3], const double v[3], double s_end) {
  int m = std::abs(v[1]) > std::abs(v[0]) ? 1 : 0;
  if (std::abs(v[2]) > std::abs(v[m])) m = 2;
  const int a1 = (m + 1) % 3, a2 = (m + 2) % 3;
  const double inv_block = 1.0 / kBlock;
  // Coordinates may be a rounding error below 0: truncation then gives 0,
  // which the clamps below would give anyway.
  const auto block_of = [&](double x, int axis) {
    return std::clamp(static_cast<int64_t>(x * inv_block), int64_t{0}, g.block_n[axis] - 1);
  };
  // Most rays start in an occupied block (the clip box is tight): one lookup.
  if (g.blocks[block_of(p[0], 0) + block_of(p[1], 1) * g.block_stride[1] +
               block_of(p[2], 2) * g.block_stride[2]]) {
    return 0.0;
  }
  const int64_t step = v[m] > 0 ? 1 : -1;
  int64_t bm = block_of(p[m], m);
  // On a block plane and moving down: the block below.
  if (step < 0 && bm > 0 && static_cast<double>(bm * kBlock) >= p[m]) --bm;
  const double ds = kBlock / std::abs(v[m]);
  double s_next = (static_cast<double>((bm + (step > 0 ? 1 : 0)) * kBlock) - p[m]) / v[m];
  double s = 0.0;
  while (s < s_end) {
    const double s_hi = std::min(s_next, s_end);
    const int64_t p_lo = block_of(std::min(p[a1] + s * v[a1], p[a1] + s_hi * v[a1]), a1);
    const int64_t p_hi = block_of(std::max(p[a1] + s * v[a1], p[a1] + s_hi * v[a1]), a1);
    const int64_t q_lo = block_of(std::min(p[a2] + s * v[a2], p[a2] + s_hi * v[a2]), a2);
    const int64_t q_hi = block_of(std::max(p[a2] + s * v[a2], p[a2] + s_hi * v[a2]), a2);
    const uint8_t* slab = g.blocks + bm * g.block_stride[m];
    for (int64_t bp = p_lo; bp <= p_hi; ++bp) {
      for (int64_t bq = q_lo; bq <= q_hi; ++bq) {
        if (slab[bp * g.block_stride[a1] + bq * g.block_stride[a2]]) return s;
      }
    }
    bm += step;
    if (bm < 0 || bm >= g.block_n[m]) break;
    s = s_hi;
    s_next += ds;
  }
  return s_end;
}

double TraverseExact(const Grid& g, const double a[3], const double dir[3]) {
  double t0, t1;
  if (!Clip(a, dir, g.box_lo, g.box_hi, &t0, &t1)) return 0.0;
  // Skip the empty blocks at both ends of the ray (air around the body): the
  // integral over them is zero.
  const double span = t1 - t0;
  const double start[3] = {a[0] + t0 * dir[0], a[1] + t0 * dir[1], a[2] + t0 * dir[2]};
  const double skip_front = FirstOccupied(g, start, dir, span);
  if (skip_front >= span) return 0.0;
  const double end[3] = {a[0] + t1 * dir[0], a[1] + t1 * dir[1], a[2] + t1 * dir[2]};
  const double back[3] = {-dir[0], -dir[1], -dir[2]};
  const double skip_back = FirstOccupied(g, end, back, span - skip_front);
  return IntegrateExact(g, a, dir, t0 + skip_front, t1 - skip_back);
}

inline float SampleTrilinear(const Grid& g, double x, double y, double z) {
  // x, y, z in ITK index coordinates (voxel centres at integers); values
  // beyond the outermost centres repeat the edge voxel (the voxel is a box).
  const double c[3] = {x, y, z};
  int64_t i0[3], i1[3];
  float f[3];
  for (int axis = 0; axis < 3; ++axis) {
    const double p = std::clamp(c[axis], 0.0, static_cast<double>(g.n[axis] - 1));
    int64_t i = static_cast<int64_t>(p);
    if (i > g.n[axis] - 2) i = std::max<int64_t>(g.n[axis] - 2, 0);
    i0[axis] = i * g.stride[axis];
    i1[axis] = std::min(i + 1, g.n[axis] - 1) * g.stride[axis];
    f[axis] = static_cast<float>(p - static_cast<double>(i));
  }
  const float* m = g.mu;
  const float c00 =
      m[i0[0] + i0[1] + i0[2]] + f[0] * (m[i1[0] + i0[1] + i0[2]] - m[i0[0] + i0[1] + i0[2]]);
  const float c10 =
      m[i0[0] + i1[1] + i0[2]] + f[0] * (m[i1[0] + i1[1] + i0[2]] - m[i0[0] + i1[1] + i0[2]]);
  const float c01 =
      m[i0[0] + i0[1] + i1[2]] + f[0] * (m[i1[0] + i0[1] + i1[2]] - m[i0[0] + i0[1] + i1[2]]);
  const float c11 =
      m[i0[0] + i1[1] + i1[2]] + f[0] * (m[i1[0] + i1[1] + i1[2]] - m[i0[0] + i1[1] + i1[2]]);
  const float c0 = c00 + f[1] * (c10 - c00);
  const float c1 = c01 + f[1] * (c11 - c01);
  return c0 + f[2] * (c1 - c0);
}

// Integral of trilinearly interpolated mu over t along a + t*dir (shifted index
// coordinates), midpoint rule with `samples_per_unit_t` samples per unit of t.
double TraverseTrilinear(const Grid& g, const double a[3], const double dir[3],
                         double samples_per_unit_t) {
  double t0, t1;
  if (!Clip(a, dir, g.box_lo, g.box_hi, &t0, &t1)) return 0.0;
  const int64_t count =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil((t1 - t0) * samples_per_unit_t)));
  const double h = (t1 - t0) / static_cast<double>(count);
  // Sample positions in ITK index coordinates: xi - 0.5.
  double x = a[0] - 0.5 + (t0 + 0.5 * h) * dir[0];
  double y = a[1] - 0.5 + (t0 + 0.5 * h) * dir[1];
  double z = a[2] - 0.5 + (t0 + 0.5 * h) * dir[2];
  const double dx = h * dir[0], dy = h * dir[1], dz = h * dir[2];
  double sum = 0.0;
  for (int64_t k = 0; k < count; ++k) {
    sum += SampleTrilinear(g, x, y, z);
    x += dx;
    y += dy;
    z += dz;
  }
  return sum * h;
}

Grid MakeGrid(const PreparedVolume& volume, ProjectorKind kind) {
  const VolumeGeometry& geo = volume.geometry();
  Grid g;
  g.mu = volume.data();
  for (int axis = 0; axis < 3; ++axis) g.n[axis] = geo.size[axis];
  g.stride[0] = 1;
  g.stride[1] = g.n[0];
  g.stride[2] = g.n[0] * g.n[1];
  g.blocks = volume.nonzero_blocks().data();
  const Eigen::Vector3i nb = volume.block_counts();
  for (int axis = 0; axis < 3; ++axis) g.block_n[axis] = nb[axis];
  g.block_stride[0] = 1;
  g.block_stride[1] = g.block_n[0];
  g.block_stride[2] = g.block_n[0] * g.block_n[1];
  const Eigen::Vector3i lo = volume.nonzero_min(), hi = volume.nonzero_max();
  for (int axis = 0; axis < 3; ++axis) {
    if (kind == ProjectorKind::kExact) {
      g.box_lo[axis] = lo[axis];
      g.box_hi[axis] = hi[axis] + 1.0;
    } else {
      // The interpolant reaches one voxel beyond the last non-zero centre;
      // shifted coordinates of [lo - 1, hi + 1] clamped to the voxel boxes.
      g.box_lo[axis] = std::max(0.0, lo[axis] - 0.5);
      g.box_hi[axis] = std::min(static_cast<double>(g.n[axis]), hi[axis] + 1.5);
    }
  }
  return g;
}

// The world -> shifted-index affine map.
struct ShiftedIndexMap {
  Eigen::Matrix3d linear;
  Eigen::Vector3d offset;
  Eigen::Vector3d operator()(const Eigen::Vector3d& p) const { return linear * p + offset; }
};

ShiftedIndexMap MakeIndexMap(const VolumeGeometry& geo) {
  const Eigen::Matrix4d index_from_world = geo.IndexFromWorld();
  ShiftedIndexMap map;
  map.linear = index_from_world.topLeftCorner<3, 3>();
  map.offset = index_from_world.topRightCorner<3, 1>() + Eigen::Vector3d::Constant(0.5);
  return map;
}

double SamplesPerMm(const VolumeGeometry& geo, const ProjectionOptions& options) {
  return 1.0 / (options.step_voxels * geo.spacing_mm.minCoeff());
}

void CheckOptions(const ProjectionOptions& options) {
  std::string error;
  if (!options.IsValid(&error)) throw InvalidInput("projection options: " + error);
}

double IntegrateShifted(const Grid& grid, const Eigen::Vector3d& a, const Eigen::Vector3d& b,
                        double length_mm, ProjectorKind kind, double samples_per_mm) {
  const double pa[3] = {a.x(), a.y(), a.z()};
  const double dir[3] = {b.x() - a.x(), b.y() - a.y(), b.z() - a.z()};
  if (kind == ProjectorKind::kExact) return TraverseExact(grid, pa, dir) * length_mm;
  return TraverseTrilinear(grid, pa, dir, samples_per_mm * length_mm) * length_mm;
}

}  // namespace

// ---- PreparedVolume ---------------------------------------------------------

namespace {

void CheckVolume(const Volume& volume, const char* what) {
  if (volume.empty()) throw InvalidInput(std::string(what) + " is empty");
  const std::string problem = volume.geometry().Validate();
  if (!problem.empty()) throw InvalidInput(std::string(what) + ": " + problem);
}

template <typename T, typename F>
void ConvertVoxels(const T* in, float* out, int64_t count, const F& convert) {
  for (int64_t i = 0; i < count; ++i) out[i] = convert(static_cast<float>(in[i]));
}

template <typename F>
void ConvertVolume(const Volume& in, float* out, const F& convert) {
  if (in.voxel_type() == VoxelType::kInt16) {
    ConvertVoxels(in.data<int16_t>(), out, in.num_voxels(), convert);
  } else {
    ConvertVoxels(in.data<float>(), out, in.num_voxels(), convert);
  }
}

void CheckMuWater(double mu_water_per_mm) {
  if (!(mu_water_per_mm > 0) || !std::isfinite(mu_water_per_mm)) {
    throw InvalidInput(
        "mu_water must be a positive attenuation in 1/mm (default 0.02059 at "
        "about 60 keV)");
  }
}

}  // namespace

template <typename Convert>
PreparedVolume PreparedVolume::Converted(const Volume& in, const char* what,
                                         const Convert& convert) {
  CheckVolume(in, what);
  PreparedVolume prepared;
  prepared.geometry_ = in.geometry();
  prepared.mu_.resize(in.num_voxels());
  ConvertVolume(in, prepared.mu_.data(), convert);
  prepared.FindNonzeroBox();
  return prepared;
}

PreparedVolume PreparedVolume::FromHounsfield(const Volume& ct, double mu_water_per_mm) {
  CheckMuWater(mu_water_per_mm);
  return Converted(ct, "CT volume", [mu_water_per_mm](float hu) {
    return AttenuationFromHounsfield(hu, mu_water_per_mm);
  });
}

PreparedVolume PreparedVolume::FromHounsfieldMasked(const Volume& ct, const Volume& mask,
                                                    double mu_water_per_mm) {
  PreparedVolume prepared = FromHounsfield(ct, mu_water_per_mm);
  CheckVolume(mask, "label mask");
  const VolumeGeometry& a = ct.geometry();
  const VolumeGeometry& b = mask.geometry();
  if (a.size != b.size || !a.spacing_mm.isApprox(b.spacing_mm, 1e-5) ||
      (a.origin_mm - b.origin_mm).norm() > 1e-3 * a.spacing_mm.minCoeff() ||
      !a.direction.isApprox(b.direction, 1e-5)) {
    throw InvalidInput(
        "the label map's grid differs from the CT's (size, spacing, origin or "
        "direction); resample the labels onto the CT first");
  }
  std::vector<float> keep(mask.num_voxels());
  ConvertVolume(mask, keep.data(), [](float v) { return v != 0.0f ? 1.0f : 0.0f; });
  for (size_t i = 0; i < keep.size(); ++i) prepared.mu_[i] *= keep[i];
  prepared.FindNonzeroBox();
  return prepared;
}

PreparedVolume PreparedVolume::FromAttenuation(const Volume& mu) {
  PreparedVolume prepared = Converted(mu, "attenuation volume", [](float v) { return v; });
  for (float v : prepared.mu_) {
    if (!(v >= 0.0f) || !std::isfinite(v)) {
      throw InvalidInput(
          "attenuation volume has a negative or non-finite value; mu must be >= 0 (1/mm)");
    }
  }
  return prepared;
}

PreparedVolume PreparedVolume::FromMask(const Volume& labels) {
  return Converted(labels, "label volume", [](float v) { return v != 0.0f ? 1.0f : 0.0f; });
}

PreparedVolume PreparedVolume::ReadHounsfield(const std::string& path, double mu_water_per_mm,
                                              const ssm::VolumeReadOptions& options) {
  CheckMuWater(mu_water_per_mm);
  std::unique_ptr<Builder> builder;
  ssm::ReadVolumeInSlabs(
      path, 16,
      [&](const VolumeGeometry& whole, const Volume& slab, int k_begin) {
        if (!builder) builder = std::make_unique<Builder>(whole, mu_water_per_mm);
        builder->AddHounsfieldSlab(slab, k_begin);
      },
      options);
  if (!builder) throw InvalidInput(path + ": the volume has no slices");
  return builder->Finish();
}

Eigen::Vector3i PreparedVolume::block_counts() const {
  return (geometry_.size.array() + (kBlockSize - 1)) / kBlockSize;
}

void PreparedVolume::FindNonzeroBox() {
  const Eigen::Vector3i n = geometry_.size;
  const Eigen::Vector3i nb = block_counts();
  nonzero_blocks_.assign(static_cast<size_t>(nb.prod()), 0);
  Eigen::Vector3i lo = n, hi = Eigen::Vector3i::Constant(-1);
  const float* mu = mu_.data();
  for (int k = 0; k < n.z(); ++k) {
    for (int j = 0; j < n.y(); ++j) {
      const float* row = mu + (static_cast<int64_t>(k) * n.y() + j) * n.x();
      uint8_t* blocks = nonzero_blocks_.data() +
                        static_cast<int64_t>(nb.x()) * (j / kBlockSize + nb.y() * (k / kBlockSize));
      // Which blocks of the row hold a non-zero voxel: an OR of the bit
      // patterns without the sign bit (so -0 counts as zero), which vectorises.
      int first_block = -1, last_block = -1;
      for (int b = 0; b < nb.x(); ++b) {
        const int begin = b * kBlockSize, end = std::min(n.x(), begin + kBlockSize);
        uint32_t bits = 0;
        for (int i = begin; i < end; ++i) {
          uint32_t v;
          std::memcpy(&v, row + i, sizeof v);
          bits |= v & 0x7fffffffu;
        }
        if (bits != 0) {
          blocks[b] = 1;
          if (first_block < 0) first_block = b;
          last_block = b;
        }
      }
      if (first_block < 0) continue;
      int first = first_block * kBlockSize,
          last = std::min(n.x(), (last_block + 1) * kBlockSize) - 1;
      while (row[first] == 0.0f) ++first;
      while (row[last] == 0.0f) --last;
      lo = lo.cwiseMin(Eigen::Vector3i(first, j, k));
      hi = hi.cwiseMax(Eigen::Vector3i(last, j, k));
    }
  }
  nonzero_min_ = lo;
  nonzero_max_ = hi;
}

PreparedVolume::Builder::Builder(const VolumeGeometry& geometry, double mu_water_per_mm)
    : volume_(std::make_unique<PreparedVolume>()), mu_water_per_mm_(mu_water_per_mm) {
  const std::string problem = geometry.Validate();
  if (!problem.empty()) throw InvalidInput("CT volume: " + problem);
  CheckMuWater(mu_water_per_mm);
  volume_->geometry_ = geometry;
  volume_->mu_.resize(geometry.NumVoxels());
  filled_.assign(geometry.size.z(), false);
}

void PreparedVolume::Builder::AddHounsfieldSlab(const Volume& slab_hu, int k_begin) {
  if (!volume_) throw InvalidInput("PreparedVolume::Builder used after Finish()");
  const Eigen::Vector3i n = volume_->geometry_.size;
  const Eigen::Vector3i s = slab_hu.geometry().size;
  if (s.x() != n.x() || s.y() != n.y() || k_begin < 0 || k_begin + s.z() > n.z()) {
    throw InvalidInput("CT slab " + std::to_string(s.x()) + "x" + std::to_string(s.y()) + "x" +
                       std::to_string(s.z()) + " at slice " + std::to_string(k_begin) +
                       " does not fit the volume");
  }
  float* out = volume_->mu_.data() + static_cast<int64_t>(k_begin) * n.x() * n.y();
  const double mu_water = mu_water_per_mm_;
  ConvertVolume(slab_hu, out,
                [mu_water](float hu) { return AttenuationFromHounsfield(hu, mu_water); });
  for (int k = 0; k < s.z(); ++k) filled_[k_begin + k] = true;
}

PreparedVolume PreparedVolume::Builder::Finish() {
  if (!volume_) throw InvalidInput("PreparedVolume::Builder::Finish() called twice");
  for (size_t k = 0; k < filled_.size(); ++k) {
    if (!filled_[k]) {
      throw InvalidInput("CT slice " + std::to_string(k) + " was never added to the volume");
    }
  }
  PreparedVolume result = std::move(*volume_);
  volume_.reset();
  result.FindNonzeroBox();
  return result;
}

// ---- Projection --------------------------------------------------------------

const char* ProjectorKindName(ProjectorKind kind) {
  return kind == ProjectorKind::kExact ? "exact" : "trilinear";
}

ProjectorKind ParseProjectorKind(const std::string& name) {
  if (name == "exact") return ProjectorKind::kExact;
  if (name == "trilinear") return ProjectorKind::kTrilinear;
  throw InvalidInput("unknown projector \"" + name + "\": expected exact or trilinear");
}

bool ProjectionOptions::IsValid(std::string* error) const {
  if (!(step_voxels > 0) || !(step_voxels <= 4) || !std::isfinite(step_voxels)) {
    if (error) *error = "the trilinear step must lie in (0, 4] voxels";
    return false;
  }
  if (threads < 0) {
    if (error) *error = "threads must be >= 0 (0 = every core)";
    return false;
  }
  return true;
}

Image2D Project(const PreparedVolume& volume, const ProjectionGeometry& geometry,
                const ProjectionOptions& options) {
  CheckOptions(options);
  if (volume.empty()) throw InvalidInput("projection of an empty volume");
  if (geometry.rows() <= 0) throw InvalidInput("projection geometry is not set");
  Image2D image(geometry.rows(), geometry.cols());
  image.pixel_spacing_u_mm = geometry.pixel_spacing_u_mm();
  image.pixel_spacing_v_mm = geometry.pixel_spacing_v_mm();
  image.quantity = ImageQuantity::kLineIntegral;
  if (volume.nonzero_max().x() < volume.nonzero_min().x()) return image;  // all zero

  const Grid grid = MakeGrid(volume, options.projector);
  const ShiftedIndexMap index_map = MakeIndexMap(volume.geometry());
  const Eigen::Vector3d source = geometry.SourcePosition();
  const Eigen::Vector3d a = index_map(source);
  // Detector point of pixel (u, v): s + SID * M^-1 (u, v, 1): affine in (u, v).
  const Eigen::Vector3d p00 = geometry.DetectorPoint(0, 0);
  const Eigen::Vector3d pu = geometry.DetectorPoint(1, 0) - p00;
  const Eigen::Vector3d pv = geometry.DetectorPoint(0, 1) - p00;
  const double samples_per_mm = SamplesPerMm(volume.geometry(), options);

  constexpr int kTile = 16;
  const int tiles_u = (geometry.cols() + kTile - 1) / kTile;
  const int tiles_v = (geometry.rows() + kTile - 1) / kTile;
  internal::ParallelFor(
      static_cast<int64_t>(tiles_u) * tiles_v, internal::ResolveThreads(options.threads),
      [&](int64_t tile) {
        const int u0 = static_cast<int>(tile % tiles_u) * kTile;
        const int v0 = static_cast<int>(tile / tiles_u) * kTile;
        const int u1 = std::min(u0 + kTile, geometry.cols());
        const int v1 = std::min(v0 + kTile, geometry.rows());
        for (int v = v0; v < v1; ++v) {
          for (int u = u0; u < u1; ++u) {
            const Eigen::Vector3d pixel = p00 + u * pu + v * pv;
            const double length = (pixel - source).norm();
            image.pixels[static_cast<size_t>(v) * image.cols + u] =
                static_cast<float>(IntegrateShifted(grid, a, index_map(pixel), length,
                                                    options.projector, samples_per_mm));
          }
        }
      });
  return image;
}

double IntegrateSegment(const PreparedVolume& volume, const Eigen::Vector3d& from_mm,
                        const Eigen::Vector3d& to_mm, const ProjectionOptions& options) {
  CheckOptions(options);
  if (volume.empty()) throw InvalidInput("integration through an empty volume");
  if (volume.nonzero_max().x() < volume.nonzero_min().x()) return 0.0;
  const Grid grid = MakeGrid(volume, options.projector);
  const ShiftedIndexMap index_map = MakeIndexMap(volume.geometry());
  return IntegrateShifted(grid, index_map(from_mm), index_map(to_mm), (to_mm - from_mm).norm(),
                          options.projector, SamplesPerMm(volume.geometry(), options));
}

}  // namespace ssmx::drr
