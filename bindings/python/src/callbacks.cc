#include "callbacks.h"

namespace ssmx::python {

ProgressCallback GilFreeCall::Progress(py::handle callable) {
  if (callable.is_none()) return {};
  if (!PyCallable_Check(callable.ptr())) {
    throw py::type_error("progress: expected a callable progress(fraction, stage) or None, got " +
                         std::string(py::str(py::type::of(callable).attr("__name__"))));
  }
  // Raw handle: copies of the std::function must not touch reference counts
  // while the GIL is released; pybind11 holds the callable for the call.
  PyObject* function = callable.ptr();
  return [this, function](double fraction, const std::string& stage) {
    bool keep_going = true;
    const bool ok = WithGil([&] {
      const py::object result = py::reinterpret_borrow<py::object>(function)(fraction, stage);
      const int truth = result.is_none() ? 1 : PyObject_IsTrue(result.ptr());
      if (truth < 0) throw py::error_already_set();
      keep_going = truth == 1;
    });
    return ok && keep_going;
  };
}

ssm::VolumeReadOptions VolumeReadOptionsFor(const std::string& series, bool allow_gaps,
                                            GilFreeCall& call, py::handle progress) {
  ssm::VolumeReadOptions options;
  options.series = series;
  options.allow_gaps = allow_gaps;
  options.progress = call.Progress(progress);
  return options;
}

void GilFreeCall::RaiseKeptError() {
  if (!error_) return;
  py::error_already_set error = std::move(*error_);
  error_.reset();
  throw error;
}

}  // namespace ssmx::python
