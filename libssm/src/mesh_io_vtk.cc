#include "internal/mesh_io_vtk.h"

#include <vtkNew.h>
#include <vtkPolyData.h>
#include <vtkPolyDataReader.h>
#include <vtkPolyDataWriter.h>
#include <vtkSmartPointer.h>
#include <vtkXMLPolyDataReader.h>
#include <vtkXMLPolyDataWriter.h>

#include "internal/vtk_mesh.h"
#include "ssmx/core/error.h"

namespace ssmx::internal {

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
      throw InvalidInput(path +
                         ": legacy VTK file does not hold POLYDATA; convert it to a surface first");
    }
    reader->Update();
    if (reader->GetErrorCode() != 0) {
      throw InvalidInput(path + ": cannot parse the legacy VTK file (malformed or truncated)");
    }
    poly = reader->GetOutput();
    if (report) report->format = "VTK (legacy)";
  }

  int64_t triangulated = 0;
  TriangleMesh mesh = FromVtkPolyData(poly, &triangulated);
  if (report) {
    report->polygons_triangulated = triangulated;
    if (triangulated)
      report->notes.push_back(std::to_string(triangulated) + " polygons or strips triangulated");
  }
  return mesh;
}

void WriteVtkMesh(const TriangleMesh& mesh, const std::string& temp_path, bool xml,
                  const ssm::MeshWriteOptions& options) {
  SilenceVtk();
  vtkSmartPointer<vtkPolyData> poly =
      ToVtkPolyData(mesh, options.write_normals, options.write_scalars);
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
  if (!ok)
    throw IoError(temp_path + ": VTK could not write the file (disk full or no permission?)");
}

}  // namespace ssmx::internal
