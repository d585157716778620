#include "ssmx/core/version.h"

namespace ssmx {
const char* Version() { return SSMX_VERSION_STRING; }
}  // namespace ssmx
