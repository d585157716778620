#include "internal/atomic_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "ssmx/core/atomic_write.h"
#include "ssmx/core/error.h"

namespace ssmx::internal {
namespace fs = std::filesystem;

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  static std::atomic<unsigned> counter{0};
  const fs::path target(path);
  fs::path folder = target.parent_path();
  if (folder.empty()) folder = ".";
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    throw IoError(path + ": cannot write, folder " + folder.string() +
                  " does not exist; create it first");
  }
  if (fs::is_directory(target, ec)) {
    throw IoError(path + ": cannot write, a folder of that name exists");
  }
  temp_path_ = (folder / (".ssmx-tmp-" + std::to_string(::getpid()) + "-" +
                          std::to_string(counter++) + "-" + target.filename().string()))
                   .string();
}

AtomicFile::~AtomicFile() {
  if (!committed_) std::remove(temp_path_.c_str());
}

void AtomicFile::Commit() {
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw IoError(path_ + ": cannot write (" + std::strerror(errno) + ")");
  }
  committed_ = true;
}

}  // namespace ssmx::internal

namespace ssmx {

void WriteFileAtomically(const std::string& path, const std::string& bytes) {
  internal::AtomicFile file(path);
  {
    std::ofstream out(file.temp_path(), std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw IoError(path + ": cannot write (disk full or no permission?)");
  }
  file.Commit();
}

}  // namespace ssmx
