// Schema migrations: numbered SQL files from db/migrations, embedded at build time and applied in
// order, each in its own transaction under an advisory lock, recorded in schema_version.
#pragma once

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/status.h"

namespace sweepfarm::store {

struct Migration {
  int version;
  std::string name;
  std::string sql;
};

const std::vector<Migration>& EmbeddedMigrations();

// Applies the migrations not yet recorded; safe to run from several processes at once.
// Returns the number applied.
StatusOr<int> ApplyMigrations(pqxx::connection& conn, const std::vector<Migration>& migrations);

}  // namespace sweepfarm::store
