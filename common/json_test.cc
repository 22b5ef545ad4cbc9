#include "common/json.h"

#include <gtest/gtest.h>

namespace sweepfarm {
namespace {

TEST(JsonWriterTest, WritesNestedValuesWithCommas) {
  JsonWriter w;
  w.BeginObject()
      .Key("a")
      .Int(1)
      .Key("b")
      .BeginArray()
      .Number(0.5)
      .String("x\"y")
      .Null()
      .EndArray();
  w.Key("c").Bool(false).EndObject();
  EXPECT_EQ(w.str(), R"({"a":1,"b":[0.5,"x\"y",null],"c":false})");
}

TEST(JsonWriterTest, EscapesControlCharacters) {
  EXPECT_EQ(JsonEscape("a\nb\x01"), "\"a\\nb\\u0001\"");
}

}  // namespace
}  // namespace sweepfarm
