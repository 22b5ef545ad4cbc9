// A throwaway PostgreSQL database for a test run: a private cluster started with
// deploy/local/pg.sh, or the server named by SWEEPFARM_TEST_DSN. Not thread-safe.
#pragma once

#include <string>

namespace sweepfarm::testing {

class TestDatabase {
 public:
  TestDatabase();
  ~TestDatabase();
  const std::string& dsn() const { return dsn_; }
  bool ok() const { return !dsn_.empty(); }
  const std::string& error() const { return error_; }
  // Drops every table, so the next coordinator migrates from scratch.
  void Reset();
  // Crashes and restarts the server (pg_ctl restart -m immediate). Private clusters only.
  bool CrashRestart();
  bool is_private() const { return private_; }

 private:
  std::string run_dir_;
  std::string dsn_;
  std::string error_;
  bool private_ = false;
};

// A fresh directory for one test's files (logs, address files), under $SWEEPFARM_TEST_TMPDIR if
// set, else /tmp.
std::string MakeTempDir(const std::string& prefix);

}  // namespace sweepfarm::testing
