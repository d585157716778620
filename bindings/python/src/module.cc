// ssmx._core: the compiled half of the `ssmx` package. The Python modules
// ssmx, ssmx.ssm, ssmx.drr and ssmx.ar_export re-export what is defined here.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "ssmx/core/version.h"

PYBIND11_MODULE(_core, m) {
  namespace py = pybind11;
  m.doc() = "ssmx compiled core (use the `ssmx` package, not this module)";
  m.attr("__version__") = ssmx::Version();
  ssmx::python::BindErrors(m);
  ssmx::python::BindCore(m);
  py::module_ ssm =
      m.def_submodule("ssm", "Volumes, meshes, surfaces, distances, phantoms, shape models");
  ssmx::python::BindSsmIo(ssm);
  ssmx::python::BindSurface(ssm);
  ssmx::python::BindPhantom(ssm);
  ssmx::python::BindShapeModel(ssm);
  ssmx::python::BindCorrespondence(ssm);
  py::module_ drr = m.def_submodule("drr", "Projection geometry, DRRs, detector model, X-ray IO");
  ssmx::python::BindDrr(drr);
  ssmx::python::BindPairs(drr);
  py::module_ registration =
      m.def_submodule("registration", "Poses and 2D/3D registration (rigid CT, shape-model fit)");
  ssmx::python::BindRegistration(registration);
  ssmx::python::BindFit(registration);
  py::module_ ar = m.def_submodule("ar_export", "GLB, USDZ, OBJ/STL/PLY export and the viewer");
  ssmx::python::BindArExport(ar);
}
