// Child processes for end-to-end tests: started with fork/exec, output to a log file, killed on
// destruction. Not thread-safe.
#pragma once

#include <string>
#include <vector>

namespace sweepfarm::testing {

class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  Process(Process&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  ~Process();

  // Starts argv[0] with the given arguments; stdout and stderr go to log_path.
  static Process Start(const std::vector<std::string>& argv, const std::string& log_path);
  void Signal(int sig);
  // Waits for exit; returns the exit code (128 + signal if killed), or -1 on timeout.
  int Wait(double timeout_seconds = 30);
  bool running() const { return pid_ > 0; }
  int pid() const { return pid_; }

 private:
  int pid_ = -1;
};

// Runs a command to completion, capturing stdout; returns its exit code.
int RunCommand(const std::vector<std::string>& argv, std::string* out, std::string* err = nullptr);

}  // namespace sweepfarm::testing
