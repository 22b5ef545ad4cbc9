// A whole farm for end-to-end tests: a database (TestDatabase), coordinators, workers and sweepctl,
// as real processes on loopback, and SQL helpers to inspect what they wrote. Not thread-safe.
#pragma once

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "tests/support/cluster.h"
#include "tests/support/http.h"
#include "tests/support/process.h"

namespace sweepfarm::testing {

class Farm {
 public:
  // `db` must outlive the farm; its schema is reset.
  explicit Farm(TestDatabase* db);

  // Flags every later coordinator gets (e.g. --tls-cert, --auth-token-file), and flags every
  // later worker, sweepctl and sweepfarm-predict gets (e.g. --tls-ca, --auth-token-file).
  void SetSecurity(std::vector<std::string> coordinator_flags,
                   std::vector<std::string> client_flags);

  // Starts a coordinator on host:port (port 0: any free one) and waits until it serves; returns the
  // HOST:PORT it bound.
  std::string StartCoordinator(int lease_seconds = 30, int port = 0,
                               const std::string& host = "127.0.0.1");
  Process& coordinator() { return procs_[coordinator_index_]; }
  // The HOST:PORT of the last coordinator's Prometheus endpoint (every coordinator serves one).
  std::string MetricsAddress();
  // A CPU worker; its data set cache is dir()/cache-NAME unless `extra_flags` give --cache-dir.
  Process& StartWorker(const std::string& addr, const std::string& name,
                       const std::vector<std::string>& extra_flags);
  // Starts sweepfarm-serve against the coordinator at `addr` (with the client flags; `extra_flags`
  // name the model, alias...), output to dir()/name.log. It listens once it has loaded a version:
  // ServeAddress(name) waits for that.
  Process& StartServe(const std::string& addr, const std::string& name,
                      const std::vector<std::string>& extra_flags);
  // The HOST:PORT the service `name` listens on, once it does (waits up to `timeout_seconds`);
  // "" if it does not.
  std::string ServeAddress(const std::string& name, double timeout_seconds = 30);
  // Runs sweepctl; when it fails, `err` also lists the farm's processes that have exited.
  int Sweepctl(const std::vector<std::string>& args, std::string* out, std::string* err = nullptr);
  int Predict(const std::vector<std::string>& args, std::string* out, std::string* err = nullptr);
  // Starts sweepctl in the background (e.g. `watch`), output to dir()/name.log.
  Process StartSweepctl(const std::vector<std::string>& args, const std::string& name);

  std::string WriteFile(const std::string& name, const std::string& text);
  std::string ReadLog(const std::string& name);
  pqxx::result Query(const std::string& sql);  // Read-only.
  pqxx::result Exec(const std::string& sql);   // Read-write, committed.
  int64_t Count(const std::string& sql);
  // Polls `count_sql` until it is at least `at_least`, for up to `timeout_seconds`; true if
  // reached.
  bool WaitForCount(const std::string& count_sql, int64_t at_least, double timeout_seconds = 10);

  const std::string& dir() const { return dir_; }
  TestDatabase* db() { return db_; }
  std::vector<Process>& processes() { return procs_; }
  // One line per started process that has exited: its log, exit code and last log line.
  std::string ExitedProcesses();

 private:
  // A sweepctl or sweepfarm-predict command line: `binary`, `args`, then the client flags.
  std::vector<std::string> ClientArgv(const std::string& binary,
                                      const std::vector<std::string>& args) const;
  // Polls an --address-file; the HOST:PORT it names, or "".
  static std::string WaitForAddressFile(const std::string& path, double timeout_seconds = 30);

  TestDatabase* db_;
  std::string dir_;
  std::vector<Process> procs_;
  size_t coordinator_index_ = 0;
  std::vector<std::string> coordinator_flags_, client_flags_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// The metrics the alerting rules in deploy/prometheus/sweepfarm-rules.yaml use (every
// sweepfarm_* name in an expression), after checking that each rule has an alert name, an
// expression, a severity label and a summary; a problem goes to `error` (and nothing is returned).
std::vector<std::string> AlertRuleMetrics(std::string* error);

}  // namespace sweepfarm::testing
