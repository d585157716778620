#include "internal/mesh_io_vtk.h"

#include <vtkCellArray.h>
#include <vtkDataArray.h>
#include <vtkDoubleArray.h>
#include <vtkIdList.h>
#include <vtkNew.h>
#include <vtkObject.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkPolyDataReader.h>
#include <vtkPolyDataWriter.h>
#include <vtkSmartPointer.h>
#include <vtkXMLPolyDataReader.h>
#include <vtkXMLPolyDataWriter.h>

#include <vector>

#include "ssmx/core/error.h"

namespace ssmx::internal {
namespace {

// VTK reports problems through its output window; ssmx reports them as
// exceptions instead, so the window stays silent.
void SilenceVtk() { vtkObject::GlobalWarningDisplayOff(); }

}  // namespace

TriangleMesh ReadVtkMesh(const std::string& path, bool xml, ssm::MeshReadReport* report) {
  SilenceVtk();
  vtkSmartPointer<vtkPolyData> poly;
  if (xml) {
    vtkNew<vtkXMLPolyDataReader> reader;
    if (!reader->CanReadFile(path.c_str())) {
      throw InvalidInput(path + ": not a VTK XML PolyData (.vtp) file");
    }
    reader->SetFileName(path.c_str());
    reader->Update();
    if (reader->GetErrorCode() != 0 || reader->GetNumberOfPoints() == 0) {
      throw InvalidInput(path + ": cannot parse the VTP file (malformed or truncated XML)");
    }
    poly = reader->GetOutput();
    if (report) report->format = "VTP";
  } else {
    vtkNew<vtkPolyDataReader> reader;
    reader->SetFileName(path.c_str());
    if (!reader->OpenVTKFile() || !reader->ReadHeader()) {
      reader->CloseVTKFile();
      throw InvalidInput(path + ": not a legacy VTK file (no \"# vtk DataFile\" header)");
    }
    reader->CloseVTKFile();
    if (!reader->IsFilePolyData()) {
      throw InvalidInput(path + ": legacy VTK file does not hold POLYDATA; convert it to a surface first");
    }
    reader->Update();
    if (reader->GetErrorCode() != 0) {
      throw InvalidInput(path + ": cannot parse the legacy VTK file (malformed or truncated)");
    }
    poly = reader->GetOutput();
    if (report) report->format = "VTK (legacy)";
  }

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
  vtkCellArray* polys = poly->GetPolys();
  vtkNew<vtkIdList> ids;
  for (polys->InitTraversal(); polys->GetNextCell(ids);) {
    const vtkIdType n = ids->GetNumberOfIds();
    if (n < 3) continue;
    if (n > 3) ++triangulated;
    for (vtkIdType k = 1; k + 1 < n; ++k) add_face(ids->GetId(0), ids->GetId(k), ids->GetId(k + 1));
  }
  vtkCellArray* strips = poly->GetStrips();
  for (strips->InitTraversal(); strips->GetNextCell(ids);) {
    ++triangulated;
    for (vtkIdType k = 0; k + 2 < ids->GetNumberOfIds(); ++k) {
      if (k % 2 == 0) add_face(ids->GetId(k), ids->GetId(k + 1), ids->GetId(k + 2));
      else add_face(ids->GetId(k + 1), ids->GetId(k), ids->GetId(k + 2));
    }
  }
  mesh.faces = Eigen::Map<MatrixX3iR>(faces.data(), static_cast<Eigen::Index>(faces.size() / 3), 3);
  if (report) {
    report->polygons_triangulated = triangulated;
    if (triangulated) report->notes.push_back(std::to_string(triangulated) + " polygons or strips triangulated");
  }

  vtkPointData* pd = poly->GetPointData();
  if (vtkDataArray* normals = pd->GetNormals(); normals && normals->GetNumberOfComponents() == 3 &&
                                               normals->GetNumberOfTuples() == nv) {
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

void WriteVtkMesh(const TriangleMesh& mesh, const std::string& temp_path, bool xml,
                  const ssm::MeshWriteOptions& options) {
  SilenceVtk();
  vtkNew<vtkPoints> points;
  points->SetDataTypeToDouble();
  points->SetNumberOfPoints(mesh.num_vertices());
  for (Eigen::Index i = 0; i < mesh.num_vertices(); ++i) {
    points->SetPoint(i, mesh.vertices(i, 0), mesh.vertices(i, 1), mesh.vertices(i, 2));
  }
  vtkNew<vtkCellArray> polys;
  for (Eigen::Index f = 0; f < mesh.num_faces(); ++f) {
    const vtkIdType ids[3] = {mesh.faces(f, 0), mesh.faces(f, 1), mesh.faces(f, 2)};
    polys->InsertNextCell(3, ids);
  }
  vtkNew<vtkPolyData> poly;
  poly->SetPoints(points);
  poly->SetPolys(polys);
  if (options.write_normals && mesh.normals.rows() == mesh.num_vertices() && mesh.num_vertices() > 0) {
    vtkNew<vtkDoubleArray> normals;
    normals->SetName("Normals");
    normals->SetNumberOfComponents(3);
    normals->SetNumberOfTuples(mesh.num_vertices());
    for (Eigen::Index i = 0; i < mesh.num_vertices(); ++i) {
      normals->SetTuple3(i, mesh.normals(i, 0), mesh.normals(i, 1), mesh.normals(i, 2));
    }
    poly->GetPointData()->SetNormals(normals);
  }
  if (options.write_scalars) {
    for (const auto& [name, values] : mesh.scalars) {
      vtkNew<vtkDoubleArray> array;
      array->SetName(name.c_str());
      array->SetNumberOfValues(values.size());
      for (Eigen::Index i = 0; i < values.size(); ++i) array->SetValue(i, values[i]);
      poly->GetPointData()->AddArray(array);
    }
  }
  int ok = 0;
  if (xml) {
    vtkNew<vtkXMLPolyDataWriter> writer;
    writer->SetFileName(temp_path.c_str());
    writer->SetInputData(poly);
    writer->SetDataModeToBinary();
    ok = writer->Write();
  } else {
    vtkNew<vtkPolyDataWriter> writer;
    writer->SetFileName(temp_path.c_str());
    writer->SetInputData(poly);
    writer->SetFileTypeToBinary();
    writer->SetHeader("ssmx");
    ok = writer->Write();
  }
  if (!ok) throw IoError(temp_path + ": VTK could not write the file (disk full or no permission?)");
}

}  // namespace ssmx::internal
