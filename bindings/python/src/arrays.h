#ifndef SSMX_BINDINGS_PYTHON_ARRAYS_H_
#define SSMX_BINDINGS_PYTHON_ARRAYS_H_

// numpy at the boundary: strict checks of the arrays that come in, and arrays
// that go out as views of C++ buffers (no copy).
//
// Rule (docs/python.md): a large array argument (mesh, volume, image, point
// set) must already have the documented dtype, shape and C-contiguous layout;
// anything else raises TypeError (dtype, layout, not an array) or ValueError
// (shape) with the fix in the message, instead of being converted silently.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ssmx::python {

namespace py = pybind11;

template <typename T>
const char* DtypeName();
template <>
inline const char* DtypeName<double>() {
  return "float64";
}
template <>
inline const char* DtypeName<float>() {
  return "float32";
}
template <>
inline const char* DtypeName<int32_t>() {
  return "int32";
}
template <>
inline const char* DtypeName<int16_t>() {
  return "int16";
}

// True when `object` is a numpy array whose dtype is exactly T (native byte order).
template <typename T>
bool HasDtype(py::handle object) {
  return py::isinstance<py::array>(object) &&
         py::detail::npy_api::get().PyArray_EquivTypes_(
             py::reinterpret_borrow<py::array>(object).dtype().ptr(), py::dtype::of<T>().ptr());
}

// Checks that `object` is an aligned, C-contiguous numpy array of dtype
// `dtype_name` with shape `shape` (-1 = any extent) and returns it. `what`
// names the argument, `shape_text` spells the shape for people ("(V, 3)").
py::array RequireArrayOf(py::handle object, bool dtype_matches, const char* dtype_name,
                         const std::string& what, const std::vector<py::ssize_t>& shape,
                         const std::string& shape_text);

template <typename T>
py::array_t<T> RequireArray(py::handle object, const std::string& what,
                            const std::vector<py::ssize_t>& shape, const std::string& shape_text) {
  return py::reinterpret_borrow<py::array_t<T>>(
      RequireArrayOf(object, HasDtype<T>(object), DtypeName<T>(), what, shape, shape_text));
}

// A C-contiguous numpy array over `count(shape)` values at `data`, which
// `owner` keeps alive: the array's base is `owner` (a capsule or the Python
// object that holds the buffer). Writable unless `read_only`.
template <typename T>
py::array_t<T> ViewOf(const T* data, const std::vector<py::ssize_t>& shape, py::handle owner,
                      bool read_only = false) {
  py::array_t<T> array(shape, data, owner);
  if (read_only) {
    py::detail::array_proxy(array.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  }
  return array;
}

// Moves `value` to the heap and returns it with a capsule that deletes it:
// arrays built with ViewOf(..., capsule) then own the C++ buffer.
template <typename T>
std::pair<T*, py::capsule> Own(T&& value) {
  T* owned = new T(std::forward<T>(value));
  py::capsule capsule(owned, [](void* p) { delete static_cast<T*>(p); });
  return {owned, capsule};
}

// A (3,) or (N, 3) float64 point argument: small vectors come from any
// sequence (copied), point sets must be (N, 3) float64 C-contiguous arrays.
// `single` tells whether the input was one point.
struct Points {
  py::array_t<double> array;  // (N, 3)
  bool single = false;
  py::ssize_t count() const { return array.shape(0); }
  const double* row(py::ssize_t i) const { return array.data() + 3 * i; }
};
Points RequirePoints(py::handle object, const std::string& what);

// An (N, 3) float64 C-contiguous array seen as an Eigen row-major matrix, in
// place (no copy); `array` keeps the memory alive.
struct Rows {
  py::array_t<double> array;
  Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, 3, Eigen::RowMajor>> map() const {
    return {array.data(), array.shape(0), 3};
  }
};
Rows RequireRows(py::handle object, const std::string& what, const std::string& shape_text);

// Applies `f` (Eigen::Vector3d -> Eigen::Matrix<double, D, 1>) to every point
// with the GIL released. Returns a float (D = 1) or a (D,) array for one point,
// else an (N,) or (N, D) array that owns its buffer.
template <int D, typename F>
py::object MapPoints(const Points& points, F&& f) {
  const py::ssize_t n = points.count();
  std::vector<double> out(static_cast<size_t>(n) * D);
  {
    py::gil_scoped_release release;
    for (py::ssize_t i = 0; i < n; ++i) {
      Eigen::Map<Eigen::Matrix<double, D, 1>>(out.data() + i * D) =
          f(Eigen::Map<const Eigen::Vector3d>(points.row(i)));
    }
  }
  if (points.single && D == 1) return py::float_(out[0]);
  std::vector<py::ssize_t> shape;
  if (!points.single) shape.push_back(n);
  if (D > 1) shape.push_back(D);
  auto [owned, capsule] = Own(std::move(out));
  return ViewOf(owned->data(), shape, capsule);
}

}  // namespace ssmx::python

#endif  // SSMX_BINDINGS_PYTHON_ARRAYS_H_
