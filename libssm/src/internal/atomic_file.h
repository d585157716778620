#ifndef SSMX_SSM_INTERNAL_ATOMIC_FILE_H_
#define SSMX_SSM_INTERNAL_ATOMIC_FILE_H_

#include <string>

namespace ssmx::internal {

// Writes a file atomically: write to temp_path(), then Commit() renames it onto
// the final path. A temporary that was not committed is removed on
// destruction, so a failed or interrupted write never leaves a partial output
// under the final name. The temporary sits in the same folder (rename(2) is
// atomic only within a file system) and keeps the final extension, so writers
// that choose a format by extension (ITK, VTK) behave the same.
class AtomicFile {
 public:
  // Throws IoError when the folder of `path` does not exist.
  explicit AtomicFile(const std::string& path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  const std::string& temp_path() const { return temp_path_; }
  const std::string& path() const { return path_; }
  // Renames the temporary onto the final path; throws IoError on failure.
  void Commit();

 private:
  std::string path_;
  std::string temp_path_;
  bool committed_ = false;
};

}  // namespace ssmx::internal

#endif  // SSMX_SSM_INTERNAL_ATOMIC_FILE_H_
