// A tiny JSON writer for reports (bench results, CLI --json output). Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sweepfarm {

std::string JsonEscape(const std::string& s);

// Builds one JSON value incrementally; commas are inserted automatically.
class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(const std::string& key);
  JsonWriter& String(const std::string& value);
  JsonWriter& Number(double value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  JsonWriter& Raw(const std::string& json);  // An already-serialised value.
  const std::string& str() const { return out_; }

 private:
  void Separate();
  std::string out_;
  std::vector<bool> first_;  // Per open container: no element written yet.
  bool after_key_ = false;
};

}  // namespace sweepfarm
