#include "coordinator/store/migrations.h"

#include <pqxx/pqxx>

namespace sweepfarm::store {
namespace {
constexpr long long kMigrationLock = 0x5EEDFA4;
}  // namespace

StatusOr<int> ApplyMigrations(pqxx::connection& conn,
                              const std::vector<Migration>& migrations) try {
  int applied = 0;
  for (const auto& m : migrations) {
    pqxx::work tx(conn);
    tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")");
    tx.exec0(
        "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, name text NOT "
        "NULL, "
        "applied_at timestamptz NOT NULL DEFAULT now())");
    pqxx::result r = tx.exec_params("SELECT 1 FROM schema_version WHERE version = $1", m.version);
    if (!r.empty()) continue;  // Another process got there first, or it was applied before.
    tx.exec0(m.sql);
    tx.exec_params0("INSERT INTO schema_version (version, name) VALUES ($1, $2)", m.version,
                    m.name);
    tx.commit();
    ++applied;
  }
  return applied;
} catch (const pqxx::broken_connection& e) {
  return UnavailableError(std::string("migrations: database unreachable: ") + e.what());
} catch (const std::exception& e) {
  return InternalError(std::string("migrations: ") + e.what());
}

}  // namespace sweepfarm::store
