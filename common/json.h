// A tiny JSON writer for reports (bench results, CLI --json output). Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sweepfarm {

std::string JsonEscape(const std::string& s);

// The shortest text that reads back as the same value: a step size printed is the one stored,
// not a rounding of it ("0.1", "1e-05"; "inf" and "nan" as such). The float form is the
// shortest as a float (0.1f as "0.1").
std::string ShortestNumber(double value);
std::string ShortestNumber(float value);

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
  // A float in its shortest form as a float (0.1f as 0.1, not 0.10000000149011612).
  JsonWriter& Number(float value);
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

namespace sweepfarm {

// A parsed JSON value (object members in document order). Enough for the small documents this
// project stores (artifact architectures); not a general-purpose or streaming parser.
class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type() const { return type_; }
  bool is_object() const { return type_ == Type::kObject; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  double number() const { return number_; }
  bool boolean() const { return bool_; }
  const std::string& string() const { return string_; }
  const std::vector<JsonValue>& array() const { return array_; }
  // Object member, or nullptr if absent (or not an object).
  const JsonValue* Find(const std::string& key) const;

  // Parses a whole document; errors say at which byte offset and what was expected.
  static bool Parse(const std::string& text, JsonValue* out, std::string* error);

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> array_;
  std::vector<std::pair<std::string, JsonValue>> object_;
};

}  // namespace sweepfarm
