#ifndef SSMX_CLI_OUTPUT_H_
#define SSMX_CLI_OUTPUT_H_

#include <nlohmann/json.hpp>
#include <string>

#include "ssmx/core/progress.h"
#include "ssmx/core/triangle_mesh.h"
#include "ssmx/ssm/dicom_series.h"
#include "ssmx/ssm/mesh_io.h"
#include "ssmx/ssm/volume_io.h"

namespace ssmx::cli {

// Global CLI settings, from -v / --quiet.
struct Settings {
  bool quiet = false;
  int verbosity = 0;
};

nlohmann::json VolumeJson(const std::string& path, const ssm::VolumeReadResult& result);
nlohmann::json MeshJson(const std::string& path, const TriangleMesh& mesh,
                        const ssm::MeshReadReport& report);
nlohmann::json SeriesListJson(const std::string& path,
                              const std::vector<ssm::DicomSeriesSummary>& series);

// The same content as text for a person.
std::string VolumeText(const nlohmann::json& info);
std::string MeshText(const nlohmann::json& info);
std::string SeriesListText(const nlohmann::json& info);

// `v` with `precision` digits after the point ("%.*f").
std::string Fmt(double v, int precision = 3);

// A progress bar on stderr when it is a terminal, nothing otherwise (and
// nothing with --quiet).
ProgressCallback TerminalProgress(const Settings& settings);

// Progress of a long job with an estimated time to completion, on stderr:
// a bar with the ETA when stderr is a terminal, otherwise a plain line each
// time another 10 % is done (or every 30 s), so logs of batch jobs stay
// readable. Nothing with --quiet. `what` prefixes the plain lines.
ProgressCallback EtaProgress(const Settings& settings, const std::string& what);

}  // namespace ssmx::cli

#endif  // SSMX_CLI_OUTPUT_H_
