#ifndef SSMX_BINDINGS_PYTHON_HOLDERS_H_
#define SSMX_BINDINGS_PYTHON_HOLDERS_H_

// The Python faces of the three big value types: ssmx.TriangleMesh,
// ssmx.Volume and ssmx.Image2D. Each holds numpy arrays (never a C++ object
// that a view could outlive):
//  - coming from C++, the C++ value is moved to the heap and the arrays are
//    views of its buffers, owned by a capsule (no copy; they stay valid for as
//    long as any array or holder refers to them);
//  - going into C++, the arrays are checked strictly (arrays.h) and copied into
//    the C++ value type, which owns its storage.
// Type casters (bottom) make every bound C++ function that takes or returns
// TriangleMesh, Volume or Image2D do this automatically. A function that takes
// a TriangleMesh* (edits in place) is bound by hand.

#include <pybind11/pybind11.h>

#include <string>

#include "arrays.h"
#include "ssmx/core/image2d.h"
#include "ssmx/core/triangle_mesh.h"
#include "ssmx/core/volume.h"

namespace ssmx::python {

// ssmx.TriangleMesh: vertices (V, 3) float64, faces (F, 3) int32, normals
// (V, 3) or (0, 3) float64, scalars {name: (V,) float64}.
class Mesh {
 public:
  Mesh(py::handle vertices, py::handle faces, py::handle normals, py::handle scalars);

  const py::array& vertices() const { return vertices_; }
  const py::array& faces() const { return faces_; }
  const py::array& normals() const { return normals_; }
  const py::dict& scalars() const { return scalars_; }
  void set_vertices(py::handle array);
  void set_faces(py::handle array);
  void set_normals(py::handle array);  // None = no normals
  void set_scalars(py::handle mapping);

  // A copy as the C++ value type. Checks dtypes and layouts (TypeError) and
  // that normals and scalars have one row per vertex (ValueError); index
  // ranges and finiteness are the C++ functions' business (ssmx.InvalidInput).
  TriangleMesh ToCpp() const;
  // Moves `mesh` into a new ssmx.TriangleMesh whose arrays view its buffers.
  static py::object FromCpp(TriangleMesh&& mesh);
  // Replaces this holder's arrays by views of `mesh` (for in-place functions).
  void Assign(TriangleMesh&& mesh);

 private:
  Mesh() = default;
  py::array vertices_;
  py::array faces_;
  py::array normals_;
  py::dict scalars_;
};

// ssmx.Volume: voxels as a (k, j, i) array of int16 or float32 and the
// geometry that places them in LPS mm.
class VolumeHolder {
 public:
  VolumeHolder(py::handle array, const VolumeGeometry& geometry);

  const py::array& array() const { return array_; }
  const VolumeGeometry& geometry() const { return geometry_; }
  void set_array(py::handle array);
  void set_geometry(const VolumeGeometry& geometry);
  VoxelType voxel_type() const;

  Volume ToCpp() const;  // a copy
  static py::object FromCpp(Volume&& volume);

 private:
  py::array array_;
  VolumeGeometry geometry_;
};

// ssmx.Image2D: pixels (rows, cols) float32, row 0 at the top, with the pixel
// pitch and the quantity the values mean.
class ImageHolder {
 public:
  ImageHolder(py::handle pixels, ImageQuantity quantity, double pixel_spacing_u_mm,
              double pixel_spacing_v_mm);

  const py::array& pixels() const { return pixels_; }
  void set_pixels(py::handle pixels);
  ImageQuantity quantity = ImageQuantity::kIntensity;
  double pixel_spacing_u_mm = 1.0;
  double pixel_spacing_v_mm = 1.0;

  Image2D ToCpp() const;  // a copy
  static py::object FromCpp(Image2D&& image);

 private:
  py::array pixels_;
};

// (k, j, i), the numpy shape of a volume with this geometry.
std::vector<py::ssize_t> NumpyShape(const VolumeGeometry& geometry);

}  // namespace ssmx::python

namespace pybind11::detail {

// Casters between the C++ value types and their holders. Loading copies into
// C++ (strict checks); casting a C++ value moves it into views (no copy), a
// const reference is copied once into the new owner.
template <typename Cpp, typename Holder>
struct HolderCaster {
  PYBIND11_TYPE_CASTER(Cpp, const_name("object"));
  bool load(handle src, bool) {
    if (!isinstance<Holder>(src)) return false;
    value = src.cast<const Holder&>().ToCpp();
    return true;
  }
  static handle cast(Cpp&& src, return_value_policy, handle) {
    return Holder::FromCpp(std::move(src)).release();
  }
  static handle cast(const Cpp& src, return_value_policy, handle) {
    Cpp copy = src;
    return Holder::FromCpp(std::move(copy)).release();
  }
};

template <>
struct type_caster<ssmx::TriangleMesh> : HolderCaster<ssmx::TriangleMesh, ssmx::python::Mesh> {
  static constexpr auto name = const_name("TriangleMesh");
};
template <>
struct type_caster<ssmx::Volume> : HolderCaster<ssmx::Volume, ssmx::python::VolumeHolder> {
  static constexpr auto name = const_name("Volume");
};
template <>
struct type_caster<ssmx::Image2D> : HolderCaster<ssmx::Image2D, ssmx::python::ImageHolder> {
  static constexpr auto name = const_name("Image2D");
};

}  // namespace pybind11::detail

#endif  // SSMX_BINDINGS_PYTHON_HOLDERS_H_
