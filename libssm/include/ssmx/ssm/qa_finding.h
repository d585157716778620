#ifndef SSMX_SSM_QA_FINDING_H_
#define SSMX_SSM_QA_FINDING_H_

#include <string>
#include <vector>

namespace ssmx::ssm {

enum class Severity { kInfo, kWarning, kError };
const char* SeverityName(Severity severity);  // "info", "warning", "error"

// One observation about an input, e.g. a gantry tilt or a missing slice.
//   code:      stable machine name ("gantry_tilt", "missing_slices", ...),
//              listed in docs/cli.md.
//   message:   one line for a person, with the numbers.
//   corrected: the reader repaired it (resampling, interpolation) and says so.
struct QaFinding {
  Severity severity = Severity::kInfo;
  std::string code;
  std::string message;
  bool corrected = false;
};

// Findings of at least `severity`.
std::vector<QaFinding> FindingsAtLeast(const std::vector<QaFinding>& findings,
                                       Severity severity);

}  // namespace ssmx::ssm

#endif  // SSMX_SSM_QA_FINDING_H_
