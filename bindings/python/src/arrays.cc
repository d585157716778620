#include "arrays.h"

#include <sstream>

namespace ssmx::python {
namespace {

std::string ShapeOf(const py::array& array) {
  std::ostringstream out;
  out << "(";
  for (py::ssize_t d = 0; d < array.ndim(); ++d) {
    out << (d ? ", " : "") << array.shape(d);
  }
  if (array.ndim() == 1) out << ",";
  out << ")";
  return out.str();
}

std::string Expected(const char* dtype_name, const std::string& shape_text) {
  return std::string("a C-contiguous numpy array of ") + dtype_name + " with shape " + shape_text;
}

}  // namespace

py::array RequireArrayOf(py::handle object, bool dtype_matches, const char* dtype_name,
                         const std::string& what, const std::vector<py::ssize_t>& shape,
                         const std::string& shape_text) {
  const std::string fix = std::string("np.ascontiguousarray(x, dtype=np.") + dtype_name + ")";
  if (!py::isinstance<py::array>(object)) {
    throw py::type_error(what + ": expected " + Expected(dtype_name, shape_text) + ", got " +
                         std::string(py::str(py::type::of(object).attr("__name__"))) + "; pass " +
                         fix);
  }
  const auto array = py::reinterpret_borrow<py::array>(object);
  if (!dtype_matches) {
    throw py::type_error(what + ": expected " + Expected(dtype_name, shape_text) + ", got dtype " +
                         std::string(py::str(array.dtype())) +
                         " (ssmx does not convert silently); pass " + fix);
  }
  bool shape_ok = array.ndim() == static_cast<py::ssize_t>(shape.size());
  for (size_t d = 0; shape_ok && d < shape.size(); ++d) {
    shape_ok = shape[d] < 0 || array.shape(d) == shape[d];
  }
  if (!shape_ok) {
    throw py::value_error(what + ": expected shape " + shape_text + ", got " + ShapeOf(array));
  }
  const int flags = py::detail::array_proxy(array.ptr())->flags;
  if (!(flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_)) {
    throw py::type_error(what +
                         ": the array is not C-contiguous (a slice, a transpose or Fortran "
                         "order?); ssmx does not copy silently; pass " +
                         fix);
  }
  if (!(flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_)) {
    throw py::type_error(what + ": the array's memory is not aligned; pass " + fix);
  }
  return array;
}

Rows RequireRows(py::handle object, const std::string& what, const std::string& shape_text) {
  return Rows{RequireArray<double>(object, what, {-1, 3}, shape_text)};
}

Points RequirePoints(py::handle object, const std::string& what) {
  Points points;
  if (py::isinstance<py::array>(object) && py::reinterpret_borrow<py::array>(object).ndim() == 2) {
    points.array = RequireArray<double>(object, what, {-1, 3}, "(N, 3)");
    return points;
  }
  // One point: any sequence of three numbers, copied.
  py::array_t<double, py::array::c_style | py::array::forcecast> one;
  try {
    one = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(object);
  } catch (const py::error_already_set&) {
    one = {};
  }
  if (!one || one.ndim() != 1 || one.shape(0) != 3) {
    throw py::type_error(what +
                         ": expected one point (3 numbers, mm) or a numpy float64 array of "
                         "shape (N, 3)");
  }
  points.array = py::array_t<double>({py::ssize_t{1}, py::ssize_t{3}}, one.data());
  points.single = true;
  return points;
}

}  // namespace ssmx::python
