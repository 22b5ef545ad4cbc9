#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace sweepfarm::testing {
namespace {

std::vector<char*> Argv(const std::vector<std::string>& args) {
  std::vector<char*> v;
  for (const auto& a : args) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Process::~Process() {
  if (pid_ > 0) {
    Signal(SIGKILL);
    Wait(10);
  }
}

Process Process::Start(const std::vector<std::string>& argv, const std::string& log_path) {
  Process p;
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    auto v = Argv(argv);
    execv(v[0], v.data());
    std::perror("execv");
    _exit(127);
  }
  p.pid_ = pid;
  p.log_path_ = log_path;
  return p;
}

void Process::Signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

int Process::Wait(double timeout_seconds) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() > deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int RunCommand(const std::vector<std::string>& argv, std::string* out, std::string* err,
               double timeout_seconds) {
  char out_path[] = "/tmp/sf_cmd_out_XXXXXX";
  char err_path[] = "/tmp/sf_cmd_err_XXXXXX";
  int out_fd = mkstemp(out_path);
  int err_fd = mkstemp(err_path);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    auto v = Argv(argv);
    execv(v[0], v.data());
    std::perror("execv");
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  int status = 0;
  bool timed_out = false;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (out) *out = ReadAll(out_path);
  if (err) *err = ReadAll(err_path);
  unlink(out_path);
  unlink(err_path);
  if (timed_out) {
    if (err) {
      *err += "\n" + argv[0] + ": killed after " +
              std::to_string(static_cast<int>(timeout_seconds)) + " s";
    }
    return kTimedOut;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace sweepfarm::testing
