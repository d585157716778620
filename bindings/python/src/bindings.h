#ifndef SSMX_BINDINGS_PYTHON_BINDINGS_H_
#define SSMX_BINDINGS_PYTHON_BINDINGS_H_

// One function per area of the C++ library; module.cc calls them in
// dependency order. A capability that lands in C++ gets its own Bind...
// function here and a call in module.cc.

#include <pybind11/pybind11.h>

namespace ssmx::python {

namespace py = pybind11;

void BindErrors(py::module_& m);        // ssmx.Error hierarchy and the C++ -> Python translator
void BindCore(py::module_& m);          // Volume, VolumeGeometry, TriangleMesh, Image2D, logging
void BindSsmIo(py::module_& ssm);       // volumes, DICOM, meshes, primitives
void BindSurface(py::module_& ssm);     // surfaces, distances, label maps, voxelisation
void BindPhantom(py::module_& ssm);     // the phantom femur cohort
void BindShapeModel(py::module_& ssm);  // shape models, alignment, statismo files, metrics
void BindCorrespondence(py::module_& ssm);  // ICP and non-rigid template registration
void BindDrr(py::module_& drr);         // projection geometry, projectors, detector, X-ray IO
void BindPairs(py::module_& drr);       // training pairs (generate_pairs)
void BindArExport(py::module_& ar);     // GLB, USDZ, OBJ, viewer
void BindRegistration(py::module_& registration);  // Pose, rigid CT-to-X-ray registration
void BindFit(py::module_& registration);           // the biplanar shape-model fit (after Pose)

}  // namespace ssmx::python

#endif  // SSMX_BINDINGS_PYTHON_BINDINGS_H_
