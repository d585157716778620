#include "ssmx/ssm/qa_finding.h"

namespace ssmx::ssm {

const char* SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kError: return "error";
  }
  return "unknown";
}

std::vector<QaFinding> FindingsAtLeast(const std::vector<QaFinding>& findings,
                                       Severity severity) {
  std::vector<QaFinding> out;
  for (const QaFinding& f : findings) {
    if (static_cast<int>(f.severity) >= static_cast<int>(severity)) out.push_back(f);
  }
  return out;
}

}  // namespace ssmx::ssm
