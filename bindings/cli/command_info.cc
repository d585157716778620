#include <cstdio>
#include <filesystem>
#include <iostream>

#include "arguments.h"
#include "commands.h"
#include "ssmx/ssm/dicom_series.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::cli {

int RunInfo(const std::vector<std::string>& argv, const Settings& settings) {
  Arguments args("info", "PATH [--series KEY] [--allow-gaps] [--json]",
                 "Says what PATH is. A volume (DICOM folder or file, NIfTI, MetaImage, NRRD): size,\n"
                 "spacing, origin, direction (LPS), value range and every DICOM QA finding. A mesh\n"
                 "(STL, PLY, OBJ, VTK, VTP): counts, bounds, watertightness and problems. A DICOM\n"
                 "folder holding several series: the list of series. Patient data is never shown.",
                 "ssmx info ct/series/ --json");
  args.Option("series", "KEY", "read this series of a DICOM folder (a SeriesInstanceUID or geometry-N)")
      .Option("allow-gaps", "", "interpolate across missing slices instead of refusing the series");
  if (!args.Parse(argv)) return 0;
  if (args.positional().size() != 1) {
    throw UsageError("ssmx info: expected exactly one PATH, got " + std::to_string(args.positional().size()) +
                     "; see ssmx info --help");
  }
  const std::string path = args.positional()[0];
  nlohmann::json info;
  std::error_code ec;
  if (ssm::HasMeshExtension(path)) {
    ssm::MeshReadReport report;
    const TriangleMesh mesh = ssm::ReadMesh(path, &report);
    info = MeshJson(path, mesh, report);
  } else {
    if (std::filesystem::is_directory(path, ec) && !args.Has("series")) {
      const auto series = ssm::ListDicomSeries(path);
      if (series.size() > 1) info = SeriesListJson(path, series);
    }
    if (info.is_null()) {
      ssm::VolumeReadOptions options;
      options.series = args.Value("series");
      options.allow_gaps = args.Flag("allow-gaps");
      options.progress = TerminalProgress(settings);
      info = VolumeJson(path, ssm::ReadVolume(path, options));
    }
  }
  if (args.Flag("json")) {
    std::cout << info.dump(2) << std::endl;
  } else if (info["kind"] == "mesh") {
    std::cout << MeshText(info);
  } else if (info["kind"] == "volume") {
    std::cout << VolumeText(info);
  } else {
    std::cout << SeriesListText(info);
  }
  return 0;
}

}  // namespace ssmx::cli
