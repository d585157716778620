#ifndef SSMX_CORE_ATOMIC_WRITE_H_
#define SSMX_CORE_ATOMIC_WRITE_H_

#include <string>

namespace ssmx {

// Writes `bytes` to `path` atomically: into a temporary file in the same
// folder, then renamed over `path`, so readers never see a partial file.
// Throws IoError naming the path when the folder is missing or the write fails.
void WriteFileAtomically(const std::string& path, const std::string& bytes);

}  // namespace ssmx

#endif  // SSMX_CORE_ATOMIC_WRITE_H_
