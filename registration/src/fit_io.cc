#include <filesystem>
#include <fstream>

#include "ssmx/core/error.h"
#include "ssmx/drr/sidecar.h"
#include "ssmx/drr/xray_image_io.h"
#include "ssmx/registration/biplanar_fit.h"
#include "ssmx/ssm/radiograph_io.h"

namespace ssmx::registration {

FitView ReadFitView(const std::string& path) {
  FitView view;
  view.name = std::filesystem::path(path).filename().string();
  if (!ssm::LooksLikeDicomFile(path)) {
    if (std::filesystem::exists(path) && !std::filesystem::exists(drr::SidecarPath(path))) {
      throw IoError(path + ": no geometry sidecar " + drr::SidecarPath(path) +
                    " beside it; every X-ray view needs its JSON sidecar (docs/geometry.md "
                    "section 6)");
    }
    drr::XrayImage xray = drr::ReadXrayImage(path);
    view.image = std::move(xray.image);
    view.geometry = xray.sidecar.geometry;
    return view;
  }
  ssm::DicomRadiograph radiograph = ssm::ReadDicomRadiograph(path);
  const std::string sidecar_path = drr::SidecarPath(path);
  if (!std::filesystem::exists(sidecar_path)) {
    throw InvalidInput(path +
                       ": a DICOM radiograph carries no usable projection geometry; write "
                       "its sidecar " +
                       sidecar_path + " (the 3x4 matrix of the view, docs/geometry.md section 6)");
  }
  const drr::Sidecar sidecar = drr::ReadSidecar(sidecar_path);
  if (sidecar.geometry.rows() != radiograph.image.rows ||
      sidecar.geometry.cols() != radiograph.image.cols) {
    throw InvalidInput(
        sidecar_path + ": the sidecar describes " + std::to_string(sidecar.geometry.cols()) + "x" +
        std::to_string(sidecar.geometry.rows()) + " pixels but " + path + " has " +
        std::to_string(radiograph.image.cols) + "x" + std::to_string(radiograph.image.rows));
  }
  view.image = std::move(radiograph.image);
  view.geometry = sidecar.geometry;
  view.polarity = EdgePolarity::kBoneBright;
  return view;
}

}  // namespace ssmx::registration
