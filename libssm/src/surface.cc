// Surface extraction from volumes: region selection on the voxel grid, VTK's
// flying edges, windowed-sinc smoothing and quadric decimation, and the mesh
// topology helpers they need (orientation, components, normals).
#include "ssmx/ssm/surface.h"

#include <vtkDiscreteFlyingEdges3D.h>
#include <vtkFloatArray.h>
#include <vtkFlyingEdges3D.h>
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPointData.h>
#include <vtkPolyData.h>
#include <vtkWindowedSincPolyDataFilter.h>

#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>

#include "internal/vtk_mesh.h"
#include "ssmx/core/error.h"
#include "ssmx/core/log.h"

namespace ssmx::ssm {
namespace {

// ---- Mesh topology ---------------------------------------------------------

// Connected components of the faces (sharing vertices): a label per face and,
// per component, its signed enclosed volume and face count.
struct FaceComponents {
  std::vector<int32_t> label;  // #F
  std::vector<double> volume_mm3;
  std::vector<int64_t> faces;
};

FaceComponents LabelFaceComponents(const TriangleMesh& mesh) {
  const int64_t nv = mesh.num_vertices(), nf = mesh.num_faces();
  std::vector<int64_t> parent(static_cast<size_t>(nv));
  std::iota(parent.begin(), parent.end(), 0);
  const auto find = [&](int64_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (int64_t f = 0; f < nf; ++f) {
    const int64_t a = find(mesh.faces(f, 0));
    parent[find(mesh.faces(f, 1))] = a;
    parent[find(mesh.faces(f, 2))] = a;
  }
  FaceComponents out;
  out.label.resize(static_cast<size_t>(nf));
  std::vector<int32_t> component_of_root(static_cast<size_t>(nv), -1);
  for (int64_t f = 0; f < nf; ++f) {
    const int64_t root = find(mesh.faces(f, 0));
    int32_t& c = component_of_root[root];
    if (c < 0) {
      c = static_cast<int32_t>(out.volume_mm3.size());
      out.volume_mm3.push_back(0);
      out.faces.push_back(0);
    }
    out.label[f] = c;
    const Eigen::Vector3d a = mesh.vertices.row(mesh.faces(f, 0)),
                          b = mesh.vertices.row(mesh.faces(f, 1)),
                          p = mesh.vertices.row(mesh.faces(f, 2));
    out.volume_mm3[c] += a.dot(b.cross(p)) / 6.0;
    ++out.faces[c];
  }
  return out;
}

// Component indices ordered by |enclosed volume|, then face count, descending.
std::vector<int32_t> ComponentsBySize(const FaceComponents& components) {
  std::vector<int32_t> order(components.volume_mm3.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t x, int32_t y) {
    const double vx = std::abs(components.volume_mm3[x]), vy = std::abs(components.volume_mm3[y]);
    if (vx != vy) return vx > vy;
    return components.faces[x] > components.faces[y];
  });
  return order;
}

// The faces with keep[f] true, their vertices renumbered in order of first
// use; normals and scalars follow their vertices.
TriangleMesh SubMesh(const TriangleMesh& mesh, const std::vector<char>& keep) {
  std::vector<int32_t> new_index(static_cast<size_t>(mesh.num_vertices()), -1);
  std::vector<int32_t> old_index;
  int64_t kept_faces = 0;
  for (int64_t f = 0; f < mesh.num_faces(); ++f) {
    if (!keep[f]) continue;
    ++kept_faces;
    for (int c = 0; c < 3; ++c) {
      int32_t& n = new_index[mesh.faces(f, c)];
      if (n < 0) {
        n = static_cast<int32_t>(old_index.size());
        old_index.push_back(mesh.faces(f, c));
      }
    }
  }
  TriangleMesh out;
  const auto nv = static_cast<Eigen::Index>(old_index.size());
  out.vertices.resize(nv, 3);
  for (Eigen::Index v = 0; v < nv; ++v) out.vertices.row(v) = mesh.vertices.row(old_index[v]);
  if (mesh.normals.rows() == mesh.num_vertices()) {
    out.normals.resize(nv, 3);
    for (Eigen::Index v = 0; v < nv; ++v) out.normals.row(v) = mesh.normals.row(old_index[v]);
  }
  for (const auto& [name, values] : mesh.scalars) {
    Eigen::VectorXd& s = out.scalars[name];
    s.resize(nv);
    for (Eigen::Index v = 0; v < nv; ++v) s[v] = values[old_index[v]];
  }
  out.faces.resize(kept_faces, 3);
  Eigen::Index row = 0;
  for (int64_t f = 0; f < mesh.num_faces(); ++f) {
    if (!keep[f]) continue;
    for (int c = 0; c < 3; ++c) out.faces(row, c) = new_index[mesh.faces(f, c)];
    ++row;
  }
  return out;
}

void RequireUsableMesh(const TriangleMesh& mesh, const char* what) { ValidateMesh(mesh, what); }

// Components with fewer vertices are not smoothed (see SmoothSurface).
constexpr int64_t kMinSmoothedComponentVertices = 100;

// ---- Region selection on the voxel grid --------------------------------------

constexpr uint8_t kInside = 1;
constexpr uint8_t kSeen = 2;
constexpr uint8_t kKept = 4;

// A boolean region on a box of the volume grid, padded with one layer of
// background on every side so that every voxel of the box has its six
// neighbours in the array.
struct PaddedRegion {
  Eigen::Vector3i box_min;  // volume index of the first voxel of the box
  Eigen::Vector3i size;     // padded size: box size + 2
  std::vector<uint8_t> state;

  int64_t Index(int a, int b, int c) const {
    return a + static_cast<int64_t>(size.x()) * (b + static_cast<int64_t>(size.y()) * c);
  }
  int64_t Count() const { return static_cast<int64_t>(state.size()); }
  bool Interior(int a, int b, int c) const {
    return a > 0 && b > 0 && c > 0 && a < size.x() - 1 && b < size.y() - 1 && c < size.z() - 1;
  }
};

// Span flood fill over 6-connected voxels whose state satisfies `accept` and
// lacks `mark`, from interior seeds: each popped seed is grown into a run along
// i, and one seed per run of candidates is pushed in the four neighbouring
// rows, so the stack holds runs rather than voxels. Runs stop at the padding,
// which is never accepted unmarked. Marks the voxels; returns how many.
template <typename Accept>
int64_t Flood(PaddedRegion* region, std::vector<int64_t> stack, const Accept& accept,
              uint8_t mark) {
  const int64_t sy = region->size.x(),
                sz = static_cast<int64_t>(region->size.x()) * region->size.y();
  const int64_t rows[4] = {sy, -sy, sz, -sz};
  std::vector<uint8_t>& s = region->state;
  const auto open = [&](int64_t v) { return !(s[v] & mark) && accept(s[v]); };
  int64_t marked = 0;
  while (!stack.empty()) {
    const int64_t seed = stack.back();
    stack.pop_back();
    if (!open(seed)) continue;
    int64_t first = seed, last = seed;
    while (open(first - 1)) --first;
    while (open(last + 1)) ++last;
    for (int64_t v = first; v <= last; ++v) s[v] |= mark;
    marked += last - first + 1;
    for (int64_t row : rows) {
      bool in_run = false;
      for (int64_t v = first + row; v <= last + row; ++v) {
        const bool candidate = open(v);
        if (candidate && !in_run) stack.push_back(v);
        in_run = candidate;
      }
    }
  }
  return marked;
}

bool IsInside(uint8_t s) { return (s & kInside) != 0; }
bool IsBackground(uint8_t s) { return (s & kInside) == 0; }

// Keeps the largest 6-connected piece of the region (by voxel count).
void KeepLargestPiece(PaddedRegion* region) {
  int64_t best_seed = -1, best_size = 0, pieces = 0;
  for (int64_t v = 0; v < region->Count(); ++v) {
    if (IsInside(region->state[v]) && !(region->state[v] & kSeen)) {
      const int64_t size = Flood(region, {v}, IsInside, kSeen);
      ++pieces;
      if (size > best_size) {
        best_size = size;
        best_seed = v;
      }
    }
  }
  Flood(region, {best_seed}, IsInside, kKept);
  for (uint8_t& s : region->state) s = (s & kKept) ? kInside : 0;
  SSMX_LOG(kDebug) << "surface: kept the largest of " << pieces << " pieces (" << best_size
                   << " voxels)";
}

// Background not 6-connected to the padding layer becomes region. The padding
// is background by construction and stands for everything outside the box.
void FillCavities(PaddedRegion* region) {
  const Eigen::Vector3i& n = region->size;
  std::vector<int64_t> seeds;
  for (int c = 0; c < n.z(); ++c) {
    for (int b = 0; b < n.y(); ++b) {
      for (int a = 0; a < n.x(); ++a) {
        const int64_t v = region->Index(a, b, c);
        if (!region->Interior(a, b, c)) {
          region->state[v] |=
              kSeen;  // outside; never expanded (its neighbours may lie off the array)
        } else if (IsBackground(region->state[v]) &&
                   (a == 1 || b == 1 || c == 1 || a == n.x() - 2 || b == n.y() - 2 ||
                    c == n.z() - 2)) {
          seeds.push_back(v);
        }
      }
    }
  }
  Flood(region, seeds, IsBackground, kSeen);
  int64_t filled = 0;
  for (uint8_t& s : region->state) {
    const bool cavity = IsBackground(s) && !(s & kSeen);
    filled += cavity ? 1 : 0;
    s = (IsInside(s) || cavity) ? kInside : 0;
  }
  SSMX_LOG(kDebug) << "surface: filled " << filled << " cavity voxels";
}

// Bounding box of the region's voxels in padded coordinates; false when empty.
bool RegionBox(const PaddedRegion& region, Eigen::Vector3i* lo, Eigen::Vector3i* hi) {
  *lo = region.size;
  *hi = Eigen::Vector3i::Constant(-1);
  for (int c = 0; c < region.size.z(); ++c) {
    for (int b = 0; b < region.size.y(); ++b) {
      for (int a = 0; a < region.size.x(); ++a) {
        if (region.state[region.Index(a, b, c)] & kInside) {
          *lo = lo->cwiseMin(Eigen::Vector3i(a, b, c));
          *hi = hi->cwiseMax(Eigen::Vector3i(a, b, c));
        }
      }
    }
  }
  return (*hi)(0) >= 0;
}

// Reads voxel values as float whatever the voxel type.
class VoxelReader {
 public:
  explicit VoxelReader(const Volume& volume)
      : volume_(volume),
        i16_(volume.voxel_type() == VoxelType::kInt16 ? volume.data<int16_t>() : nullptr),
        f32_(volume.voxel_type() == VoxelType::kFloat32 ? volume.data<float>() : nullptr) {
    if (!i16_ && !f32_) throw InternalError("surface: a volume without voxels reached the reader");
  }
  float operator()(int i, int j, int k) const {
    const int64_t n = volume_.LinearIndex(i, j, k);
    if (i16_) return static_cast<float>(i16_[n]);
    return f32_ ? f32_[n] : 0.0f;
  }
  // The value at the voxel of the volume nearest to (i, j, k) (clamped index).
  float Clamped(int i, int j, int k) const {
    const Eigen::Vector3i& n = volume_.geometry().size;
    return (*this)(std::clamp(i, 0, n.x() - 1), std::clamp(j, 0, n.y() - 1),
                   std::clamp(k, 0, n.z() - 1));
  }

 private:
  const Volume& volume_;
  const int16_t* i16_;
  const float* f32_;
};

// The padded region {inside(value)} over the bounding box of those voxels.
template <typename Inside>
PaddedRegion FindRegion(const Volume& volume, const Inside& inside, int64_t* count) {
  const VoxelReader read(volume);
  const Eigen::Vector3i& n = volume.geometry().size;
  Eigen::Vector3i lo = n, hi = Eigen::Vector3i::Constant(-1);
  *count = 0;
  for (int k = 0; k < n.z(); ++k) {
    for (int j = 0; j < n.y(); ++j) {
      for (int i = 0; i < n.x(); ++i) {
        if (inside(read(i, j, k))) {
          ++*count;
          lo = lo.cwiseMin(Eigen::Vector3i(i, j, k));
          hi = hi.cwiseMax(Eigen::Vector3i(i, j, k));
        }
      }
    }
  }
  PaddedRegion region;
  if (*count == 0) return region;
  region.box_min = lo;
  region.size = hi - lo + Eigen::Vector3i::Constant(3);
  region.state.assign(static_cast<size_t>(region.size.cast<int64_t>().prod()), 0);
  for (int k = lo.z(); k <= hi.z(); ++k) {
    for (int j = lo.y(); j <= hi.y(); ++j) {
      for (int i = lo.x(); i <= hi.x(); ++i) {
        if (inside(read(i, j, k))) {
          region.state[region.Index(i - lo.x() + 1, j - lo.y() + 1, k - lo.z() + 1)] = kInside;
        }
      }
    }
  }
  return region;
}

// ---- Extraction ----------------------------------------------------------------

// How the scalar field handed to VTK is made from the region and the volume.
struct FieldSpec {
  bool discrete = false;  // label surface: a 0/1 field and discrete flying edges
  double iso = 0.5;       // iso value (continuous case)
};

TriangleMesh ExtractRegionSurface(const Volume& volume, PaddedRegion region, const FieldSpec& spec,
                                  const SurfaceOptions& options) {
  std::string error;
  if (!options.IsValid(&error)) throw InvalidInput("surface options: " + error);
  ReportProgress(options.progress, 0.1, "selecting the region");
  if (options.keep == KeepComponents::kLargest) KeepLargestPiece(&region);
  if (options.fill_holes) FillCavities(&region);

  Eigen::Vector3i lo, hi;
  if (!RegionBox(region, &lo, &hi))
    throw InternalError("surface: the region vanished during selection");
  // The image handed to VTK: the region's box plus one layer of background.
  const Eigen::Vector3i image_min = lo - Eigen::Vector3i::Ones();
  const Eigen::Vector3i dims = hi - lo + Eigen::Vector3i::Constant(3);
  const int64_t num_points = dims.cast<int64_t>().prod();
  vtkNew<vtkImageData> image;
  image->SetDimensions(dims.x(), dims.y(), dims.z());
  image->SetOrigin(0, 0, 0);
  image->SetSpacing(1, 1, 1);
  vtkNew<vtkFloatArray> field;
  field->SetName("field");
  field->SetNumberOfValues(num_points);
  // Volume index of image point (0, 0, 0).
  const Eigen::Vector3i volume_offset = region.box_min - Eigen::Vector3i::Ones() + image_min;

  if (spec.discrete) {
    for (int c = 0; c < dims.z(); ++c) {
      for (int b = 0; b < dims.y(); ++b) {
        for (int a = 0; a < dims.x(); ++a) {
          const bool in =
              region.state[region.Index(a + image_min.x(), b + image_min.y(), c + image_min.z())] &
              kInside;
          field->SetValue(
              a + static_cast<vtkIdType>(dims.x()) * (b + static_cast<vtkIdType>(dims.y()) * c),
              in ? 1.f : 0.f);
        }
      }
    }
  } else {
    // Region voxels get a value above iso and the others one below it, so the
    // surface follows the selected region. Values are mirrored about iso where
    // the region and the data disagree (removed pieces, filled cavities, the
    // padding outside the volume), which puts the crossing halfway between
    // voxel centres; the padding outside the volume mirrors its nearest voxel,
    // so a region cut by the border is capped on the volume's boundary.
    // Values within `margin` of iso are pushed to iso ± margin: a vertex then
    // never sits on a voxel centre, where it would make zero-area triangles.
    const VoxelReader read(volume);
    const double iso = spec.iso;
    double lo_value = std::numeric_limits<double>::infinity(), hi_value = -lo_value;
    for (int c = 0; c < dims.z(); ++c) {
      for (int b = 0; b < dims.y(); ++b) {
        for (int a = 0; a < dims.x(); ++a) {
          const double v =
              read.Clamped(a + volume_offset.x(), b + volume_offset.y(), c + volume_offset.z());
          if (std::isfinite(v)) {
            lo_value = std::min(lo_value, v);
            hi_value = std::max(hi_value, v);
          }
        }
      }
    }
    const double margin = 1e-4 * std::max({hi_value - lo_value, std::abs(iso) * 1e-3, 1e-6});
    for (int c = 0; c < dims.z(); ++c) {
      for (int b = 0; b < dims.y(); ++b) {
        for (int a = 0; a < dims.x(); ++a) {
          const int i = a + volume_offset.x(), j = b + volume_offset.y(), k = c + volume_offset.z();
          double v = read.Clamped(i, j, k);
          if (!std::isfinite(v)) v = lo_value;
          const bool in =
              region.state[region.Index(a + image_min.x(), b + image_min.y(), c + image_min.z())] &
              kInside;
          double out;
          if (in) {
            out = std::max(v > iso ? v : 2 * iso - v, iso + margin);
          } else {
            out = std::min(v > iso ? 2 * iso - v : v, iso - margin);
          }
          field->SetValue(
              a + static_cast<vtkIdType>(dims.x()) * (b + static_cast<vtkIdType>(dims.y()) * c),
              static_cast<float>(out));
        }
      }
    }
  }
  image->GetPointData()->SetScalars(field);

  ReportProgress(options.progress, 0.3, "extracting the surface");
  internal::SilenceVtk();
  vtkSmartPointer<vtkPolyData> poly;
  if (spec.discrete) {
    vtkNew<vtkDiscreteFlyingEdges3D> filter;
    filter->SetInputData(image);
    filter->SetValue(0, 1.0);
    filter->ComputeNormalsOff();
    filter->ComputeGradientsOff();
    filter->ComputeScalarsOff();
    filter->Update();
    poly = filter->GetOutput();
  } else {
    vtkNew<vtkFlyingEdges3D> filter;
    filter->SetInputData(image);
    filter->SetValue(0, spec.iso);
    filter->ComputeNormalsOff();
    filter->ComputeGradientsOff();
    filter->ComputeScalarsOff();
    filter->Update();
    poly = filter->GetOutput();
  }
  TriangleMesh mesh = internal::FromVtkPolyData(poly);
  mesh.scalars.clear();
  mesh.normals.resize(0, 3);
  if (mesh.num_faces() == 0) throw InternalError("surface: flying edges produced no triangles");

  // Image coordinates -> volume index -> LPS mm.
  const VolumeGeometry& g = volume.geometry();
  const Eigen::Matrix3d linear = g.direction * g.spacing_mm.asDiagonal();
  const Eigen::Vector3d translation = g.origin_mm + linear * volume_offset.cast<double>();
  for (Eigen::Index v = 0; v < mesh.num_vertices(); ++v) {
    mesh.vertices.row(v) = (linear * mesh.vertices.row(v).transpose() + translation).transpose();
  }
  OrientOutward(&mesh);

  if (options.keep == KeepComponents::kLargest) {
    // The voxel piece is 6-connected, yet marching-cubes topology may still
    // split it where it is thin; keep the shell that encloses the most and,
    // without cavity filling, the inner shells (negative volume).
    const FaceComponents components = LabelFaceComponents(mesh);
    if (components.volume_mm3.size() > 1) {
      const int32_t largest = ComponentsBySize(components).front();
      std::vector<char> keep(static_cast<size_t>(mesh.num_faces()));
      for (int64_t f = 0; f < mesh.num_faces(); ++f) {
        const int32_t c = components.label[f];
        keep[f] = c == largest || (!options.fill_holes && components.volume_mm3[c] < 0);
      }
      mesh = SubMesh(mesh, keep);
    }
  }
  if (options.smooth_iterations > 0) {
    ReportProgress(options.progress, 0.6, "smoothing");
    mesh = SmoothSurface(mesh, options.smooth_iterations, options.smooth_passband);
  }
  if (options.target_faces > 0 && mesh.num_faces() > options.target_faces) {
    ReportProgress(options.progress, 0.8, "decimating");
    mesh = DecimateSurface(mesh, options.target_faces);
  }
  mesh.normals = ComputeVertexNormals(mesh);
  const MeshCheck check = CheckMesh(mesh);
  if (!check.watertight()) {
    SSMX_LOG(kWarning) << "surface: the extracted mesh is not watertight: "
                       << (check.Problems().empty() ? std::string() : check.Problems().front());
  }
  ReportProgress(options.progress, 1.0, "surface done");
  return mesh;
}

std::string ValueList(const std::set<float>& values) {
  std::ostringstream out;
  int shown = 0;
  for (float v : values) {
    if (shown++ == 20) {
      out << ", ... (" << values.size() << " values)";
      break;
    }
    out << (shown > 1 ? ", " : "") << v;
  }
  return out.str();
}

}  // namespace

const char* KeepComponentsName(KeepComponents keep) {
  return keep == KeepComponents::kLargest ? "largest" : "all";
}

KeepComponents ParseKeepComponents(const std::string& name) {
  if (name == "largest") return KeepComponents::kLargest;
  if (name == "all") return KeepComponents::kAll;
  throw InvalidInput("keep components: expected \"largest\" or \"all\", got \"" + name + "\"");
}

bool SurfaceOptions::IsValid(std::string* error) const {
  std::string message;
  if (smooth_iterations < 0) {
    message = "smooth_iterations must be >= 0, got " + std::to_string(smooth_iterations);
  } else if (!(smooth_passband > 0 && smooth_passband <= 2)) {
    message = "smooth_passband must be in (0, 2], got " + std::to_string(smooth_passband);
  } else if (target_faces < 0 || (target_faces > 0 && target_faces < 4)) {
    message =
        "target_faces must be 0 (no decimation) or at least 4, got " + std::to_string(target_faces);
  }
  if (error) *error = message;
  return message.empty();
}

TriangleMesh ExtractIsoSurface(const Volume& volume, double iso_value,
                               const SurfaceOptions& options) {
  if (volume.empty()) throw InvalidInput("iso-surface: the volume is empty");
  if (!std::isfinite(iso_value)) throw InvalidInput("iso-surface: the iso value must be finite");
  std::string error;
  if (!options.IsValid(&error)) throw InvalidInput("surface options: " + error);
  ReportProgress(options.progress, 0.0, "finding the region");
  int64_t count = 0;
  PaddedRegion region = FindRegion(
      volume, [iso_value](float v) { return v > iso_value; }, &count);
  if (count == 0) {
    const auto [lo, hi] = volume.Range();
    std::ostringstream msg;
    msg << "iso-surface: no voxel lies above " << iso_value << " (the values range from " << lo
        << " to " << hi << "); choose a lower threshold";
    throw InvalidInput(msg.str());
  }
  FieldSpec spec;
  spec.iso = iso_value;
  return ExtractRegionSurface(volume, std::move(region), spec, options);
}

TriangleMesh ExtractLabelSurface(const Volume& labels, int label, const SurfaceOptions& options) {
  if (labels.empty()) throw InvalidInput("label surface: the label volume is empty");
  std::string error;
  if (!options.IsValid(&error)) throw InvalidInput("surface options: " + error);
  ReportProgress(options.progress, 0.0, "finding the label");
  const auto value = static_cast<float>(label);
  int64_t count = 0;
  PaddedRegion region = FindRegion(
      labels, [value](float v) { return v == value; }, &count);
  if (count == 0) {
    std::set<float> present;
    const VoxelReader read(labels);
    const Eigen::Vector3i& n = labels.geometry().size;
    for (int k = 0; k < n.z() && present.size() <= 1000; ++k) {
      for (int j = 0; j < n.y(); ++j) {
        for (int i = 0; i < n.x(); ++i) present.insert(read(i, j, k));
      }
    }
    throw InvalidInput("label surface: no voxel has the label " + std::to_string(label) +
                       "; the volume holds the values " + ValueList(present));
  }
  FieldSpec spec;
  spec.discrete = true;
  return ExtractRegionSurface(labels, std::move(region), spec, options);
}

TriangleMesh SmoothSurface(const TriangleMesh& mesh, int iterations, double passband) {
  RequireUsableMesh(mesh, "smoothing");
  if (iterations < 0)
    throw InvalidInput("smoothing: iterations must be >= 0, got " + std::to_string(iterations));
  if (!(passband > 0 && passband <= 2)) {
    throw InvalidInput("smoothing: the pass band must be in (0, 2], got " +
                       std::to_string(passband));
  }
  TriangleMesh out = mesh;
  if (iterations == 0) return out;
  internal::SilenceVtk();
  vtkNew<vtkWindowedSincPolyDataFilter> filter;
  filter->SetInputData(internal::ToVtkPolyData(mesh));
  filter->SetNumberOfIterations(iterations);
  filter->SetPassBand(passband);
  filter->NormalizeCoordinatesOn();  // makes the pass band independent of the mesh's size
  filter->BoundarySmoothingOff();
  filter->FeatureEdgeSmoothingOff();
  filter->NonManifoldSmoothingOn();
  filter->Update();
  vtkPolyData* result = filter->GetOutput();
  if (result->GetNumberOfPoints() != mesh.num_vertices()) {
    throw InternalError("smoothing: VTK changed the number of vertices");
  }
  // Components with few vertices are left as they are: their lowest shape
  // modes lie above the pass band, so the filter would shrink them to a point.
  const FaceComponents components = LabelFaceComponents(mesh);
  std::vector<int64_t> component_vertices(components.faces.size(), 0);
  std::vector<int32_t> component_of(static_cast<size_t>(mesh.num_vertices()), -1);
  for (int64_t f = 0; f < mesh.num_faces(); ++f) {
    for (int c = 0; c < 3; ++c) {
      int32_t& owner = component_of[mesh.faces(f, c)];
      if (owner < 0) ++component_vertices[owner = components.label[f]];
    }
  }
  for (vtkIdType v = 0; v < result->GetNumberOfPoints(); ++v) {
    const int32_t owner = component_of[v];
    if (owner < 0 || component_vertices[owner] < kMinSmoothedComponentVertices) continue;
    double p[3];
    result->GetPoint(v, p);
    out.vertices.row(v) << p[0], p[1], p[2];
  }
  if (out.normals.rows() != 0) out.normals = ComputeVertexNormals(out);
  return out;
}

MatrixX3dR ComputeVertexNormals(const TriangleMesh& mesh) {
  MatrixX3dR normals = MatrixX3dR::Zero(mesh.num_vertices(), 3);
  for (int64_t f = 0; f < mesh.num_faces(); ++f) {
    const Eigen::Vector3d a = mesh.vertices.row(mesh.faces(f, 0)),
                          b = mesh.vertices.row(mesh.faces(f, 1)),
                          c = mesh.vertices.row(mesh.faces(f, 2));
    const Eigen::RowVector3d n = (b - a).cross(c - a).transpose();  // length = twice the area
    for (int k = 0; k < 3; ++k) normals.row(mesh.faces(f, k)) += n;
  }
  for (Eigen::Index v = 0; v < normals.rows(); ++v) {
    const double length = normals.row(v).norm();
    if (length > 0) normals.row(v) /= length;
  }
  return normals;
}

bool OrientOutward(TriangleMesh* mesh) {
  double volume = 0;
  for (int64_t f = 0; f < mesh->num_faces(); ++f) {
    const Eigen::Vector3d a = mesh->vertices.row(mesh->faces(f, 0)),
                          b = mesh->vertices.row(mesh->faces(f, 1)),
                          c = mesh->vertices.row(mesh->faces(f, 2));
    volume += a.dot(b.cross(c));
  }
  if (volume >= 0) return false;
  mesh->faces.col(1).swap(mesh->faces.col(2));
  if (mesh->normals.rows() != 0) mesh->normals = ComputeVertexNormals(*mesh);
  return true;
}

std::vector<TriangleMesh> SplitComponents(const TriangleMesh& mesh) {
  RequireUsableMesh(mesh, "split components");
  const FaceComponents components = LabelFaceComponents(mesh);
  std::vector<TriangleMesh> out;
  for (int32_t c : ComponentsBySize(components)) {
    std::vector<char> keep(static_cast<size_t>(mesh.num_faces()));
    for (int64_t f = 0; f < mesh.num_faces(); ++f) keep[f] = components.label[f] == c;
    out.push_back(SubMesh(mesh, keep));
  }
  return out;
}

TriangleMesh KeepLargestComponent(const TriangleMesh& mesh) {
  RequireUsableMesh(mesh, "largest component");
  const FaceComponents components = LabelFaceComponents(mesh);
  const int32_t largest = ComponentsBySize(components).front();
  std::vector<char> keep(static_cast<size_t>(mesh.num_faces()));
  for (int64_t f = 0; f < mesh.num_faces(); ++f) keep[f] = components.label[f] == largest;
  return SubMesh(mesh, keep);
}

}  // namespace ssmx::ssm
