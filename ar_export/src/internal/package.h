#ifndef SSMX_AR_EXPORT_INTERNAL_PACKAGE_H_
#define SSMX_AR_EXPORT_INTERNAL_PACKAGE_H_

#include <string>
#include <utility>
#include <vector>

namespace ssmx::ar_export::internal {

// An uncompressed ("stored") zip archive whose every file's data starts at a
// multiple of `alignment` bytes from the start of the archive, as USDZ
// requires (64). The padding goes into each local header's extra field
// (header id 0x1986, as Pixar's usdzip does). Fixed timestamps (1980-01-01)
// keep the bytes reproducible. Throws InvalidInput past 4 GiB (no ZIP64).
std::string StoredZip(const std::vector<std::pair<std::string, std::string>>& files,
                      size_t alignment = 64);

// An 8-bit RGB PNG of `width` by `height` pixels; `rgb` holds width * height
// * 3 bytes, rows top to bottom.
std::string RgbPng(const std::string& rgb, int width, int height);

}  // namespace ssmx::ar_export::internal

#endif  // SSMX_AR_EXPORT_INTERNAL_PACKAGE_H_
