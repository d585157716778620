#ifndef SSMX_BINDINGS_PYTHON_CALLBACKS_H_
#define SSMX_BINDINGS_PYTHON_CALLBACKS_H_

// Long C++ calls run without the GIL, so other Python threads keep running and
// several ssmx calls can run in parallel. Python callables that the C++ code
// calls back (progress, slab consumers) take the GIL for the call. A Python
// exception raised in such a callable (KeyboardInterrupt included) stops the
// C++ operation (ssmx::Cancelled on the C++ side) and is re-raised unchanged
// once the C++ call has unwound.

#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <utility>

#include "ssmx/core/progress.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::python {

namespace py = pybind11;

class GilFreeCall {
 public:
  GilFreeCall() = default;
  GilFreeCall(const GilFreeCall&) = delete;
  GilFreeCall& operator=(const GilFreeCall&) = delete;

  // A ProgressCallback that calls `callable(fraction, stage)`: None or a true
  // result continues, a false result cancels (ssmx.Cancelled). An empty
  // callback for None. `callable` must outlive the call (it is an argument of
  // the bound function, held by pybind11).
  ProgressCallback Progress(py::handle callable);

  // Runs `call` with the GIL held and Python errors kept: returns false when
  // `call` raised (the error is kept for Run to re-raise) or an earlier
  // callback did.
  template <typename F>
  bool WithGil(F&& call) {
    py::gil_scoped_acquire gil;
    if (error_) return false;
    try {
      call();
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      return true;
    } catch (py::error_already_set& e) {
      error_.emplace(std::move(e));
    } catch (py::builtin_exception& e) {
      e.set_error();
      error_.emplace();
    }
    return false;
  }

  // Runs `body` with the GIL released. When a callback raised, that Python
  // exception replaces whatever the C++ code threw.
  template <typename F>
  auto Run(F&& body) -> decltype(body()) {
    try {
      py::gil_scoped_release release;
      return body();
    } catch (...) {
      RaiseKeptError();
      throw;
    }
  }

 private:
  void RaiseKeptError();
  std::optional<py::error_already_set> error_;
};

// The options of every volume reader binding (read_volume, read_volume_in_slabs,
// PreparedVolume.read_hounsfield), with `progress` routed through `call`.
ssm::VolumeReadOptions VolumeReadOptionsFor(const std::string& series, bool allow_gaps,
                                            GilFreeCall& call, py::handle progress);

// Runs `body` (which must not touch Python objects) with the GIL released.
template <typename F>
auto WithoutGil(F&& body) -> decltype(body()) {
  py::gil_scoped_release release;
  return body();
}

}  // namespace ssmx::python

#endif  // SSMX_BINDINGS_PYTHON_CALLBACKS_H_
