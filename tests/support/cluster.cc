#include "tests/support/cluster.h"

#include <cstdlib>
#include <filesystem>
#include <pqxx/pqxx>

#include "tests/support/process.h"

namespace sweepfarm::testing {

std::string MakeTempDir(const std::string& prefix) {
  const char* base = std::getenv("SWEEPFARM_TEST_TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base ? base : "/tmp") + "/" + prefix + ".XXXXXX";
  char* dir = mkdtemp(tmpl.data());
  return dir ? dir : "/tmp";
}

TestDatabase::TestDatabase() {
  if (const char* env = std::getenv("SWEEPFARM_TEST_DSN"); env && *env) {
    dsn_ = env;
    Reset();
    return;
  }
  run_dir_ = MakeTempDir("sf-test-run");
  std::string out, err;
  int rc = RunCommand(
      {"/bin/bash", std::string(SWEEPFARM_SOURCE_DIR) + "/deploy/local/pg.sh", "start", run_dir_},
      &out, &err);
  if (rc != 0) {
    error_ = "pg.sh start failed: " + err;
    return;
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  dsn_ = out;
  private_ = true;
}

TestDatabase::~TestDatabase() {
  if (!private_) return;
  std::string out;
  RunCommand(
      {"/bin/bash", std::string(SWEEPFARM_SOURCE_DIR) + "/deploy/local/pg.sh", "stop", run_dir_},
      &out);
  std::error_code ec;
  std::filesystem::remove_all(run_dir_, ec);
}

bool TestDatabase::CrashRestart() {
  if (!private_) return false;
  std::string out;
  return RunCommand({"/bin/bash", std::string(SWEEPFARM_SOURCE_DIR) + "/deploy/local/pg.sh",
                     "crash-restart", run_dir_},
                    &out) == 0;
}

void TestDatabase::Reset() {
  pqxx::connection c(dsn_);
  pqxx::work tx(c);
  tx.exec("DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
  tx.commit();
}

}  // namespace sweepfarm::testing
