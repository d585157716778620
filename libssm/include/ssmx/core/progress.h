#ifndef SSMX_CORE_PROGRESS_H_
#define SSMX_CORE_PROGRESS_H_

#include <functional>
#include <string>

namespace ssmx {

// Progress of a long operation. `fraction` is in [0, 1] and never decreases
// within one operation; `stage` is a short human-readable label ("reading
// slices"). Return true to continue, false to cancel: the operation then throws
// ssmx::Cancelled at its next check. Called from the thread that started the
// operation.
using ProgressCallback = std::function<bool(double fraction, const std::string& stage)>;

// Calls `callback` when it is set; throws ssmx::Cancelled when it returns false.
void ReportProgress(const ProgressCallback& callback, double fraction, const std::string& stage);

}  // namespace ssmx

#endif  // SSMX_CORE_PROGRESS_H_
