#include "tests/support/farm.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace sweepfarm::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

Farm::Farm(TestDatabase* db) : db_(db), dir_(MakeTempDir("sf-farm")) {
  procs_.reserve(256);  // Process references handed out stay valid.
  if (db_->ok()) db_->Reset();
}

std::vector<std::string> Farm::ClientArgv(const std::string& binary,
                                          const std::vector<std::string>& args) const {
  std::vector<std::string> argv{binary};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), client_flags_.begin(), client_flags_.end());
  return argv;
}

void Farm::SetSecurity(std::vector<std::string> coordinator_flags,
                       std::vector<std::string> client_flags) {
  coordinator_flags_ = std::move(coordinator_flags);
  client_flags_ = std::move(client_flags);
}

std::string Farm::StartCoordinator(int lease_seconds, int port, const std::string& host) {
  std::string addr_file = dir_ + "/address";
  std::remove(addr_file.c_str());
  std::remove((dir_ + "/metrics-address").c_str());
  std::vector<std::string> argv{SWEEPFARM_COORDINATOR,
                                "--db",
                                db_->dsn(),
                                "--listen",
                                host + ":" + std::to_string(port),
                                "--address-file",
                                addr_file,
                                "--lease-seconds",
                                std::to_string(lease_seconds),
                                "--reap-interval-ms",
                                "200",
                                "--metrics-listen",
                                host + ":0",
                                "--metrics-address-file",
                                dir_ + "/metrics-address"};
  argv.insert(argv.end(), coordinator_flags_.begin(), coordinator_flags_.end());
  procs_.push_back(Process::Start(argv, dir_ + "/coordinator.log"));
  coordinator_index_ = procs_.size() - 1;
  return WaitForAddressFile(addr_file);
}

Process& Farm::StartServe(const std::string& addr, const std::string& name,
                          const std::vector<std::string>& extra_flags) {
  const std::string addr_file = dir_ + "/" + name + ".address";
  std::remove(addr_file.c_str());
  std::vector<std::string> argv{SWEEPFARM_SERVE, "--coordinator",  addr,     "--listen",
                                "127.0.0.1:0",   "--address-file", addr_file};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  argv.insert(argv.end(), client_flags_.begin(), client_flags_.end());
  procs_.push_back(Process::Start(argv, dir_ + "/" + name + ".log"));
  return procs_.back();
}

std::string Farm::ServeAddress(const std::string& name, double timeout_seconds) {
  return WaitForAddressFile(dir_ + "/" + name + ".address", timeout_seconds);
}

std::string Farm::WaitForAddressFile(const std::string& path, double timeout_seconds) {
  for (int i = 0; i < timeout_seconds * 20; ++i) {
    std::ifstream in(path);
    std::string addr;
    if (in >> addr && !addr.empty()) return addr;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "";
}

std::string Farm::MetricsAddress() {
  std::ifstream in(dir_ + "/metrics-address");
  std::string addr;
  in >> addr;
  return addr;
}

Process& Farm::StartWorker(const std::string& addr, const std::string& name,
                           const std::vector<std::string>& extra_flags) {
  std::vector<std::string> argv{
      SWEEPFARM_WORKER, "--coordinator", addr, "--device", "cpu", "--threads", "1"};
  argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
  // Each worker its own data set cache in the farm's directory (as each host has its own disk),
  // unless the test names one.
  if (std::find(extra_flags.begin(), extra_flags.end(), "--cache-dir") == extra_flags.end()) {
    argv.insert(argv.end(), {"--cache-dir", dir_ + "/cache-" + name});
  }
  argv.insert(argv.end(), client_flags_.begin(), client_flags_.end());
  procs_.push_back(Process::Start(argv, dir_ + "/" + name + ".log"));
  return procs_.back();
}

int Farm::Sweepctl(const std::vector<std::string>& args, std::string* out, std::string* err) {
  int rc = RunCommand(ClientArgv(SWEEPFARM_SWEEPCTL, args), out, err);
  // A command that waits on the farm (watch, nightly) times out when its processes died: say
  // which, so the failure names the crash rather than the wait.
  if (rc != 0 && err != nullptr) *err += ExitedProcesses();
  return rc;
}

std::string Farm::ExitedProcesses() {
  std::string report;
  for (Process& p : procs_) {
    p.Wait(0);
    if (p.running() || p.exit_code() < 0) continue;
    std::ifstream in(p.log_path());
    std::string line, last;
    while (std::getline(in, line)) {
      if (!line.empty()) last = line;
    }
    report += "\n" + p.log_path() + ": exited with code " + std::to_string(p.exit_code()) +
              "; last line: " + last;
  }
  return report;
}

int Farm::Predict(const std::vector<std::string>& args, std::string* out, std::string* err) {
  return RunCommand(ClientArgv(SWEEPFARM_PREDICT, args), out, err);
}

Process Farm::StartSweepctl(const std::vector<std::string>& args, const std::string& name) {
  return Process::Start(ClientArgv(SWEEPFARM_SWEEPCTL, args), dir_ + "/" + name + ".log");
}

std::string Farm::WriteFile(const std::string& name, const std::string& text) {
  std::string path = dir_ + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::string Farm::ReadLog(const std::string& name) {
  std::ifstream in(dir_ + "/" + name + ".log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pqxx::result Farm::Query(const std::string& sql) {
  pqxx::connection c(db_->dsn());
  pqxx::read_transaction tx(c);
  return tx.exec(sql);
}

pqxx::result Farm::Exec(const std::string& sql) {
  pqxx::connection c(db_->dsn());
  pqxx::work tx(c);
  pqxx::result r = tx.exec(sql);
  tx.commit();
  return r;
}

int64_t Farm::Count(const std::string& sql) { return Query(sql)[0][0].as<int64_t>(); }

bool Farm::WaitForCount(const std::string& count_sql, int64_t at_least, double timeout_seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds);
  while (Count(count_sql) < at_least) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::vector<std::string> AlertRuleMetrics(std::string* error) {
  const std::string path =
      std::string(SWEEPFARM_SOURCE_DIR) + "/deploy/prometheus/sweepfarm-rules.yaml";
  std::set<std::string> names;
  try {
    const YAML::Node root = YAML::LoadFile(path);
    int rules = 0;
    for (const auto& group : root["groups"]) {
      for (const auto& rule : group["rules"]) {
        const std::string alert = rule["alert"] ? rule["alert"].as<std::string>() : "";
        if (alert.empty() || !rule["expr"] || !rule["labels"]["severity"] ||
            !rule["annotations"]["summary"]) {
          *error = path + ": rule " + std::to_string(rules) + " (" + alert +
                   ") lacks alert, expr, labels.severity or annotations.summary";
          return {};
        }
        const std::string expr = rule["expr"].as<std::string>();
        for (size_t at = expr.find("sweepfarm_"); at != std::string::npos;
             at = expr.find("sweepfarm_", at + 1)) {
          size_t end = at;
          while (end < expr.size() &&
                 (std::islower(static_cast<unsigned char>(expr[end])) || expr[end] == '_')) {
            ++end;
          }
          names.insert(expr.substr(at, end - at));
          at = end - 1;
        }
        ++rules;
      }
    }
    if (rules == 0) *error = path + ": no rules";
  } catch (const std::exception& e) {
    *error = path + ": " + e.what();
    return {};
  }
  return {names.begin(), names.end()};
}

}  // namespace sweepfarm::testing
