#include "ssmx/core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <utility>

#include "ssmx/core/error.h"
#include "ssmx/core/progress.h"

namespace ssmx {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kWarning)};

std::mutex& SinkMutex() {
  static std::mutex mutex;
  return mutex;
}

LogSink& Sink() {
  static LogSink sink;
  return sink;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }

LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

void SetLogSink(LogSink sink) {
  std::lock_guard<std::mutex> lock(SinkMutex());
  Sink() = std::move(sink);
}

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: return "off";
  }
  return "unknown";
}

void Log(LogLevel level, const std::string& message) {
  if (level == LogLevel::kOff || static_cast<int>(level) < g_level.load()) return;
  std::lock_guard<std::mutex> lock(SinkMutex());
  if (Sink()) {
    Sink()(level, message);
  } else {
    std::fprintf(stderr, "ssmx: %s: %s\n", LogLevelName(level), message.c_str());
  }
}

void ReportProgress(const ProgressCallback& callback, double fraction, const std::string& stage) {
  if (!callback) return;
  if (!callback(fraction, stage)) throw Cancelled("cancelled by the progress callback during " + stage);
}

}  // namespace ssmx
