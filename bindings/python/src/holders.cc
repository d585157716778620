#include "holders.h"

#include <cstring>

#include "ssmx/core/error.h"

namespace ssmx::python {
namespace {

py::array RequireScalar(py::handle values, const std::string& name) {
  return RequireArray<double>(values, "TriangleMesh.scalars[\"" + name + "\"]", {-1}, "(V,)");
}

py::array EmptyNormals() { return py::array_t<double>(std::vector<py::ssize_t>{0, 3}); }

template <typename T>
void CopyInto(const py::array& array, T* destination) {
  if (array.size() > 0) std::memcpy(destination, array.data(), array.size() * sizeof(T));
}

}  // namespace

// ---- Mesh -------------------------------------------------------------------

Mesh::Mesh(py::handle vertices, py::handle faces, py::handle normals, py::handle scalars) {
  set_vertices(vertices);
  set_faces(faces);
  set_normals(normals);
  set_scalars(scalars);
}

void Mesh::set_vertices(py::handle array) {
  vertices_ = RequireArray<double>(array, "TriangleMesh.vertices", {-1, 3}, "(V, 3)");
}

void Mesh::set_faces(py::handle array) {
  faces_ = RequireArray<int32_t>(array, "TriangleMesh.faces", {-1, 3}, "(F, 3)");
}

void Mesh::set_normals(py::handle array) {
  normals_ = array.is_none()
                 ? EmptyNormals()
                 : RequireArray<double>(array, "TriangleMesh.normals", {-1, 3}, "(V, 3)");
}

void Mesh::set_scalars(py::handle mapping) {
  py::dict scalars;
  if (!mapping.is_none()) {
    if (!py::isinstance<py::dict>(mapping)) {
      throw py::type_error("TriangleMesh.scalars: expected a dict {name: (V,) float64 array}");
    }
    for (auto item : py::reinterpret_borrow<py::dict>(mapping)) {
      if (!py::isinstance<py::str>(item.first)) {
        throw py::type_error("TriangleMesh.scalars: names must be str");
      }
      scalars[item.first] = RequireScalar(item.second, item.first.cast<std::string>());
    }
  }
  scalars_ = scalars;
}

TriangleMesh Mesh::ToCpp() const {
  // Re-checked here: the arrays may have been replaced through the dict or
  // the numpy API since they were set.
  const py::array v = RequireArray<double>(vertices_, "TriangleMesh.vertices", {-1, 3}, "(V, 3)");
  const py::array f = RequireArray<int32_t>(faces_, "TriangleMesh.faces", {-1, 3}, "(F, 3)");
  const py::array n = RequireArray<double>(normals_, "TriangleMesh.normals", {-1, 3}, "(V, 3)");
  const py::ssize_t num_vertices = v.shape(0);
  if (n.shape(0) != 0 && n.shape(0) != num_vertices) {
    throw py::value_error("TriangleMesh.normals: " + std::to_string(n.shape(0)) + " rows for " +
                          std::to_string(num_vertices) +
                          " vertices (give one per vertex, or None)");
  }
  TriangleMesh mesh;
  mesh.vertices.resize(num_vertices, 3);
  CopyInto<double>(v, mesh.vertices.data());
  mesh.faces.resize(f.shape(0), 3);
  CopyInto<int32_t>(f, mesh.faces.data());
  mesh.normals.resize(n.shape(0), 3);
  CopyInto<double>(n, mesh.normals.data());
  for (auto item : scalars_) {
    const std::string name = py::str(item.first);
    const py::array values = RequireScalar(item.second, name);
    if (values.shape(0) != num_vertices) {
      throw py::value_error("TriangleMesh.scalars[\"" + name +
                            "\"]: " + std::to_string(values.shape(0)) + " values for " +
                            std::to_string(num_vertices) + " vertices");
    }
    Eigen::VectorXd& target = mesh.scalars[name];
    target.resize(num_vertices);
    CopyInto<double>(values, target.data());
  }
  return mesh;
}

void Mesh::Assign(TriangleMesh&& cpp) {
  auto [owned, capsule] = Own(std::move(cpp));
  const py::ssize_t nv = owned->num_vertices();
  vertices_ = ViewOf(owned->vertices.data(), {nv, 3}, capsule);
  faces_ = ViewOf(owned->faces.data(), {owned->num_faces(), 3}, capsule);
  normals_ =
      owned->normals.rows() > 0 ? ViewOf(owned->normals.data(), {nv, 3}, capsule) : EmptyNormals();
  py::dict scalars;
  for (const auto& [name, values] : owned->scalars) {
    scalars[py::str(name)] = ViewOf(values.data(), {nv}, capsule);
  }
  scalars_ = scalars;
}

py::object Mesh::FromCpp(TriangleMesh&& cpp) {
  Mesh holder;
  holder.Assign(std::move(cpp));
  return py::cast(std::move(holder));
}

// ---- Volume -----------------------------------------------------------------

std::vector<py::ssize_t> NumpyShape(const VolumeGeometry& geometry) {
  return {geometry.size.z(), geometry.size.y(), geometry.size.x()};
}

namespace {

std::string ShapeText(const VolumeGeometry& geometry) {
  return "(" + std::to_string(geometry.size.z()) + ", " + std::to_string(geometry.size.y()) + ", " +
         std::to_string(geometry.size.x()) + ") = (k, j, i) of the geometry's size";
}

py::array RequireVoxels(py::handle array, const VolumeGeometry& geometry) {
  const std::string what = "Volume.array";
  if (HasDtype<float>(array)) {
    return RequireArray<float>(array, what, NumpyShape(geometry), ShapeText(geometry));
  }
  if (HasDtype<int16_t>(array)) {
    return RequireArray<int16_t>(array, what, NumpyShape(geometry), ShapeText(geometry));
  }
  if (py::isinstance<py::array>(array)) {
    throw py::type_error(what + ": voxels must be int16 (HU, labels) or float32, got dtype " +
                         std::string(py::str(py::reinterpret_borrow<py::array>(array).dtype())) +
                         " (ssmx does not convert silently); pass "
                         "np.ascontiguousarray(x, dtype=np.float32) or x.astype(np.int16)");
  }
  return RequireArray<float>(array, what, NumpyShape(geometry), ShapeText(geometry));
}

void RequireValidGeometry(const VolumeGeometry& geometry) {
  const std::string problem = geometry.Validate();
  if (!problem.empty()) throw InvalidInput("Volume geometry: " + problem);
}

}  // namespace

VolumeHolder::VolumeHolder(py::handle array, const VolumeGeometry& geometry) {
  RequireValidGeometry(geometry);
  array_ = RequireVoxels(array, geometry);
  geometry_ = geometry;
}

void VolumeHolder::set_array(py::handle array) { array_ = RequireVoxels(array, geometry_); }

void VolumeHolder::set_geometry(const VolumeGeometry& geometry) {
  RequireValidGeometry(geometry);
  RequireVoxels(array_, geometry);
  geometry_ = geometry;
}

VoxelType VolumeHolder::voxel_type() const {
  return HasDtype<int16_t>(array_) ? VoxelType::kInt16 : VoxelType::kFloat32;
}

Volume VolumeHolder::ToCpp() const {
  const py::array voxels = RequireVoxels(array_, geometry_);
  Volume volume(geometry_, voxel_type());
  if (volume.voxel_type() == VoxelType::kInt16) {
    CopyInto<int16_t>(voxels, volume.data<int16_t>());
  } else {
    CopyInto<float>(voxels, volume.data<float>());
  }
  return volume;
}

py::object VolumeHolder::FromCpp(Volume&& cpp) {
  const VolumeGeometry geometry = cpp.geometry();
  auto [owned, capsule] = Own(std::move(cpp));
  py::array array;
  if (owned->voxel_type() == VoxelType::kInt16) {
    array = ViewOf(owned->data<int16_t>(), NumpyShape(geometry), capsule);
  } else {
    array = ViewOf(owned->data<float>(), NumpyShape(geometry), capsule);
  }
  return py::cast(VolumeHolder(array, geometry));
}

// ---- Image2D ----------------------------------------------------------------

ImageHolder::ImageHolder(py::handle pixels, ImageQuantity quantity_in, double du, double dv)
    : quantity(quantity_in), pixel_spacing_u_mm(du), pixel_spacing_v_mm(dv) {
  set_pixels(pixels);
}

void ImageHolder::set_pixels(py::handle pixels) {
  pixels_ = RequireArray<float>(pixels, "Image2D.pixels", {-1, -1}, "(rows, cols)");
}

Image2D ImageHolder::ToCpp() const {
  const py::array p = RequireArray<float>(pixels_, "Image2D.pixels", {-1, -1}, "(rows, cols)");
  Image2D image(static_cast<int>(p.shape(0)), static_cast<int>(p.shape(1)));
  CopyInto<float>(p, image.pixels.data());
  image.quantity = quantity;
  image.pixel_spacing_u_mm = pixel_spacing_u_mm;
  image.pixel_spacing_v_mm = pixel_spacing_v_mm;
  return image;
}

py::object ImageHolder::FromCpp(Image2D&& cpp) {
  const int rows = cpp.rows, cols = cpp.cols;
  const ImageQuantity quantity = cpp.quantity;
  const double du = cpp.pixel_spacing_u_mm, dv = cpp.pixel_spacing_v_mm;
  auto [owned, capsule] = Own(std::move(cpp.pixels));
  return py::cast(ImageHolder(ViewOf(owned->data(), {rows, cols}, capsule), quantity, du, dv));
}

}  // namespace ssmx::python
