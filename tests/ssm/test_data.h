// Where tests find the real data set (/work/shared/data, see its README) and
// their scratch folders. Header-only; any test may include it.
#ifndef SSMX_TESTS_SSM_TEST_DATA_H_
#define SSMX_TESTS_SSM_TEST_DATA_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace ssmx::testing {

// The data folder: $SSMX_DATA when set and existing, else
// SSMX_SOURCE_DIR/../shared/data when it exists, else "".
inline std::string DataDir() {
  std::error_code ec;
  if (const char* env = std::getenv("SSMX_DATA")) {
    if (*env && std::filesystem::is_directory(env, ec)) return env;
  }
#ifdef SSMX_SOURCE_DIR
  const std::string fallback = SSMX_SOURCE_DIR "/../shared/data";
  if (std::filesystem::is_directory(fallback, ec)) return fallback;
#endif
  return "";
}

// DataDir()/relative_path; "" when the data folder or that path is missing.
inline std::string DataPath(const std::string& relative_path) {
  const std::string dir = DataDir();
  if (dir.empty()) return "";
  const std::string path = dir + "/" + relative_path;
  std::error_code ec;
  return std::filesystem::exists(path, ec) ? path : "";
}

// A fresh, empty folder <::testing::TempDir() or /tmp>/ssmx_<name>_<pid>.
inline std::string TempDir(const std::string& name) {
  std::string base = ::testing::TempDir();
  std::error_code ec;
  if (base.empty() || !std::filesystem::is_directory(base, ec)) base = "/tmp";
  const std::filesystem::path dir = std::filesystem::path(base) /
                                    ("ssmx_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir);  // throws when it cannot
  return dir.string();
}

}  // namespace ssmx::testing

// Skips the current test when DataDir()/relative_path does not exist.
// Use at the top level of a TEST body: SSMX_REQUIRE_DATA("dicom/ge_head_tilt");
#define SSMX_REQUIRE_DATA(relative_path)                                          \
  if (::ssmx::testing::DataPath(relative_path).empty()) {                         \
    GTEST_SKIP() << "test data " << (relative_path) << " not found; set SSMX_DATA"; \
  } else                                                                          \
    static_cast<void>(0)

#endif  // SSMX_TESTS_SSM_TEST_DATA_H_
