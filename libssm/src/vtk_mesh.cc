#include "internal/vtk_mesh.h"

#include <vtkCellArray.h>
#include <vtkDataArray.h>
#include <vtkDoubleArray.h>
#include <vtkIdList.h>
#include <vtkNew.h>
#include <vtkObject.h>
#include <vtkPointData.h>
#include <vtkPoints.h>

#include <vector>

namespace ssmx::internal {

void SilenceVtk() { vtkObject::GlobalWarningDisplayOff(); }

vtkSmartPointer<vtkPolyData> ToVtkPolyData(const TriangleMesh& mesh, bool with_normals,
                                           bool with_scalars) {
  vtkNew<vtkPoints> points;
  points->SetDataTypeToDouble();
  points->SetNumberOfPoints(mesh.num_vertices());
  for (Eigen::Index i = 0; i < mesh.num_vertices(); ++i) {
    points->SetPoint(i, mesh.vertices(i, 0), mesh.vertices(i, 1), mesh.vertices(i, 2));
  }
  vtkNew<vtkCellArray> polys;
  polys->AllocateExact(mesh.num_faces(), 3 * mesh.num_faces());
  for (Eigen::Index f = 0; f < mesh.num_faces(); ++f) {
    const vtkIdType ids[3] = {mesh.faces(f, 0), mesh.faces(f, 1), mesh.faces(f, 2)};
    polys->InsertNextCell(3, ids);
  }
  auto poly = vtkSmartPointer<vtkPolyData>::New();
  poly->SetPoints(points);
  poly->SetPolys(polys);
  if (with_normals && mesh.normals.rows() == mesh.num_vertices() && mesh.num_vertices() > 0) {
    vtkNew<vtkDoubleArray> normals;
    normals->SetName("Normals");
    normals->SetNumberOfComponents(3);
    normals->SetNumberOfTuples(mesh.num_vertices());
    for (Eigen::Index i = 0; i < mesh.num_vertices(); ++i) {
      normals->SetTuple3(i, mesh.normals(i, 0), mesh.normals(i, 1), mesh.normals(i, 2));
    }
    poly->GetPointData()->SetNormals(normals);
  }
  if (with_scalars) {
    for (const auto& [name, values] : mesh.scalars) {
      vtkNew<vtkDoubleArray> array;
      array->SetName(name.c_str());
      array->SetNumberOfValues(values.size());
      for (Eigen::Index i = 0; i < values.size(); ++i) array->SetValue(i, values[i]);
      poly->GetPointData()->AddArray(array);
    }
  }
  return poly;
}

TriangleMesh FromVtkPolyData(vtkPolyData* poly, int64_t* triangulated_out) {
  TriangleMesh mesh;
  const vtkIdType nv = poly->GetNumberOfPoints();
  mesh.vertices.resize(nv, 3);
  for (vtkIdType i = 0; i < nv; ++i) {
    double p[3];
    poly->GetPoint(i, p);
    mesh.vertices.row(i) << p[0], p[1], p[2];
  }
  std::vector<int32_t> faces;
  auto add_face = [&](vtkIdType a, vtkIdType b, vtkIdType c) {
    faces.push_back(static_cast<int32_t>(a));
    faces.push_back(static_cast<int32_t>(b));
    faces.push_back(static_cast<int32_t>(c));
  };
  int64_t triangulated = 0;
  vtkNew<vtkIdList> ids;
  if (vtkCellArray* polys = poly->GetPolys()) {
    faces.reserve(static_cast<size_t>(polys->GetNumberOfCells()) * 3);
    for (polys->InitTraversal(); polys->GetNextCell(ids);) {
      const vtkIdType n = ids->GetNumberOfIds();
      if (n < 3) continue;
      if (n > 3) ++triangulated;
      for (vtkIdType k = 1; k + 1 < n; ++k)
        add_face(ids->GetId(0), ids->GetId(k), ids->GetId(k + 1));
    }
  }
  if (vtkCellArray* strips = poly->GetStrips()) {
    for (strips->InitTraversal(); strips->GetNextCell(ids);) {
      ++triangulated;
      for (vtkIdType k = 0; k + 2 < ids->GetNumberOfIds(); ++k) {
        if (k % 2 == 0)
          add_face(ids->GetId(k), ids->GetId(k + 1), ids->GetId(k + 2));
        else
          add_face(ids->GetId(k + 1), ids->GetId(k), ids->GetId(k + 2));
      }
    }
  }
  mesh.faces = Eigen::Map<MatrixX3iR>(faces.data(), static_cast<Eigen::Index>(faces.size() / 3), 3);
  if (triangulated_out) *triangulated_out = triangulated;

  vtkPointData* pd = poly->GetPointData();
  if (vtkDataArray* normals = pd->GetNormals();
      normals && normals->GetNumberOfComponents() == 3 && normals->GetNumberOfTuples() == nv) {
    mesh.normals.resize(nv, 3);
    for (vtkIdType i = 0; i < nv; ++i) {
      const double* n = normals->GetTuple3(i);
      mesh.normals.row(i) << n[0], n[1], n[2];
    }
  }
  for (int a = 0; a < pd->GetNumberOfArrays(); ++a) {
    vtkDataArray* array = pd->GetArray(a);
    if (!array || array == pd->GetNormals() || array->GetNumberOfComponents() != 1 ||
        array->GetNumberOfTuples() != nv || !array->GetName()) {
      continue;
    }
    Eigen::VectorXd values(nv);
    for (vtkIdType i = 0; i < nv; ++i) values[i] = array->GetTuple1(i);
    mesh.scalars[array->GetName()] = values;
  }
  return mesh;
}

}  // namespace ssmx::internal
