#ifndef SSMX_CORE_ERROR_H_
#define SSMX_CORE_ERROR_H_

#include <stdexcept>
#include <string>

namespace ssmx {

// The one exception hierarchy of ssmx. Every public function reports bad input
// and failures by throwing one of these; library code never calls exit() or
// abort(), so Python and the CLI always get a catchable error.
//
// A message names the file or argument concerned, says what is wrong and, where
// there is one, what to do about it, in one line:
//   "ct/scan: missing slice between z=-40.0 and z=-46.0 mm (gap 6.0 mm, median
//    spacing 3.0 mm); pass --allow-gaps to interpolate"
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// The caller passed something unusable: a malformed file, an out-of-range
// parameter, inconsistent arrays. The CLI exits with status 2.
class InvalidInput : public Error {
 public:
  using Error::Error;
};

// A file could not be opened, read or written (missing, permissions, disk
// full). The CLI exits with status 2: it is the user's input that is wrong.
class IoError : public Error {
 public:
  using Error::Error;
};

// An iterative method stopped without meeting its convergence criterion.
class NotConverged : public Error {
 public:
  using Error::Error;
};

// A progress callback asked the running operation to stop.
class Cancelled : public Error {
 public:
  using Error::Error;
};

// A broken invariant inside ssmx: a bug. The CLI exits with status 1.
class InternalError : public Error {
 public:
  using Error::Error;
};

}  // namespace ssmx

#endif  // SSMX_CORE_ERROR_H_
