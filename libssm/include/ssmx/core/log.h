#ifndef SSMX_CORE_LOG_H_
#define SSMX_CORE_LOG_H_

#include <functional>
#include <sstream>
#include <string>

namespace ssmx {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// Levelled logging. Messages below the threshold are dropped before they are
// formatted. The default sink writes "ssmx: warning: message" lines to stderr.
//
// The threshold and the sink are process-wide (the one piece of global state in
// ssmx, as logging is for any library); both are safe to change and use from
// several threads. Messages never contain patient identifiers: the DICOM reader
// does not keep them, so nothing can log them.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// Replaces the sink; an empty function restores the default stderr sink.
using LogSink = std::function<void(LogLevel level, const std::string& message)>;
void SetLogSink(LogSink sink);

void Log(LogLevel level, const std::string& message);

// "debug", "info", "warning", "error", "off".
const char* LogLevelName(LogLevel level);

// Stream-style helper: SSMX_LOG(kWarning) << "spacing " << dz << " mm";
#define SSMX_LOG(level)                                        \
  if (::ssmx::LogLevel::level < ::ssmx::GetLogLevel()) {        \
  } else                                                       \
    ::ssmx::internal::LogLine(::ssmx::LogLevel::level).stream()

namespace internal {
class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {}
  ~LogLine() { Log(level_, stream_.str()); }
  std::ostringstream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};
}  // namespace internal

}  // namespace ssmx

#endif  // SSMX_CORE_LOG_H_
