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
  Process(Process&& other) noexcept
      : pid_(other.pid_), exit_code_(other.exit_code_), log_path_(std::move(other.log_path_)) {
    other.pid_ = -1;
  }
  ~Process();

  // Starts argv[0] with the given arguments; stdout and stderr go to log_path.
  static Process Start(const std::vector<std::string>& argv, const std::string& log_path);
  void Signal(int sig);
  // Waits for exit; returns the exit code (128 + signal if killed), or -1 on timeout.
  int Wait(double timeout_seconds = 30);
  bool running() const { return pid_ > 0; }
  int pid() const { return pid_; }
  // The exit code Wait() returned once the process was reaped; -1 before.
  int exit_code() const { return exit_code_; }
  const std::string& log_path() const { return log_path_; }

 private:
  int pid_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
};

// Exit code of RunCommand for a command it killed after its timeout.
inline constexpr int kTimedOut = 124;

// Runs a command to completion, capturing stdout (and stderr if `err`); returns its exit code. A
// command still running after `timeout_seconds` is killed: kTimedOut, and `err` says so. The
// timeout stays below ctest's, so that the test fails with its own message.
int RunCommand(const std::vector<std::string>& argv, std::string* out, std::string* err = nullptr,
               double timeout_seconds = 300);

}  // namespace sweepfarm::testing
