// Shared by the store's own files (store.cc, datasets.cc), not by its users: the pooled
// connection runner, the mapping of libpqxx's exceptions to a status, and JSON of protobufs.
#pragma once

#include <google/protobuf/message.h>

#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/store/store.h"

namespace sweepfarm::store {

using Statement = std::pair<std::string, std::string>;  // Name and SQL.

// Each file's prepared statements, prepared on every pooled connection.
const std::vector<Statement>& SweepStatements();    // store.cc
const std::vector<Statement>& DatasetStatements();  // datasets.cc

Status FromException(const std::exception& e, const char* op);
std::string ToJson(const google::protobuf::Message& m);
void FromJsonInto(const std::string& json, google::protobuf::Message* m);
template <typename T>
T FromJson(const std::string& json) {
  T m;
  FromJsonInto(json, &m);
  return m;
}

// Runs fn(connection) with a pooled connection, reconnecting a broken one first, and maps
// exceptions to a status in this one place.
class Store::Conn {
 public:
  template <typename Fn>
  static auto Run(Store* store, const char* op, Fn fn)
      -> decltype(fn(std::declval<pqxx::connection&>())) {
    std::unique_ptr<pqxx::connection> conn = store->Acquire();
    if (!conn || !conn->is_open()) {
      auto fresh = store->Connect();
      if (!fresh.ok()) {
        store->Release(std::move(conn));
        return fresh.status();
      }
      conn = std::move(fresh).value();
    }
    decltype(fn(*conn)) result = Status(StatusCode::kInternal, "unset");
    try {
      result = fn(*conn);
    } catch (const std::exception& e) {
      result = FromException(e, op);
    }
    store->Release(std::move(conn));
    return result;
  }
};

}  // namespace sweepfarm::store
