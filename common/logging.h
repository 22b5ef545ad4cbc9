// Minimal leveled logging to stderr. Thread-safe: each message is written with one call.
#pragma once

#include <sstream>
#include <string>

namespace sweepfarm {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

void SetLogLevel(LogLevel level);
void SetLogPrefix(const std::string& prefix);  // e.g. "worker-1"; set once at start-up.
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, const char* file, int line, const std::string& message);

class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line)
      : level_(level), file_(file), line_(line) {}
  ~LogMessage() { LogLine(level_, file_, line_, stream_.str()); }
  std::ostringstream& stream() { return stream_; }

 private:
  LogLevel level_;
  const char* file_;
  int line_;
  std::ostringstream stream_;
};

namespace internal {
// Turns the stream expression into void, so that both branches of SF_LOG's ?: have one type.
// & binds more loosely than <<, so it applies to the whole chain.
struct LogVoidify {
  void operator&(std::ostream&) {}
};
}  // namespace internal

}  // namespace sweepfarm

// An expression, not an if statement, so that `if (x) SF_LOG(Info) << ...; else ...` parses as
// written. The operands of << are evaluated only when the level is enabled.
#define SF_LOG(level)                                       \
  !::sweepfarm::LogEnabled(::sweepfarm::LogLevel::k##level) \
      ? (void)0                                             \
      : ::sweepfarm::internal::LogVoidify() &               \
            ::sweepfarm::LogMessage(::sweepfarm::LogLevel::k##level, __FILE__, __LINE__).stream()
