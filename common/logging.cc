#include "common/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

namespace sweepfarm {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_prefix_mu;
std::string g_prefix;  // Guarded by g_prefix_mu.
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
void SetLogPrefix(const std::string& prefix) {
  std::lock_guard<std::mutex> lock(g_prefix_mu);
  g_prefix = prefix;
}
bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void LogLine(LogLevel level, const char* file, int line, const std::string& message) {
  static const char kLetters[] = {'D', 'I', 'W', 'E'};
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const char* base = std::strrchr(file, '/');
  base = base ? base + 1 : file;
  std::string prefix;
  {
    std::lock_guard<std::mutex> lock(g_prefix_mu);
    prefix = g_prefix;
  }
  char head[96];
  std::snprintf(head, sizeof(head), "%c%02d:%02d:%02d.%03d", kLetters[static_cast<int>(level)],
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  std::string out = std::string(head) + " " + (prefix.empty() ? "" : prefix + " ") + base + ":" +
                    std::to_string(line) + "] " + message + "\n";
  std::fwrite(out.data(), 1, out.size(), stderr);
}

}  // namespace sweepfarm
