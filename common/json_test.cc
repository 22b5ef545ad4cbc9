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

TEST(JsonValueTest, ParsesWhatTheWriterWrites) {
  JsonWriter w;
  w.BeginObject().Key("name").String("a\"b\n").Key("dims").BeginArray().Int(64).Int(16);
  w.EndArray().Key("ok").Bool(true).Key("none").Null().Key("x").Number(-1.5e-3).EndObject();
  JsonValue v;
  std::string error;
  ASSERT_TRUE(JsonValue::Parse(w.str(), &v, &error)) << error;
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.Find("name")->string(), "a\"b\n");
  ASSERT_EQ(v.Find("dims")->array().size(), 2u);
  EXPECT_EQ(v.Find("dims")->array()[1].number(), 16);
  EXPECT_TRUE(v.Find("ok")->boolean());
  EXPECT_EQ(v.Find("none")->type(), JsonValue::Type::kNull);
  EXPECT_DOUBLE_EQ(v.Find("x")->number(), -1.5e-3);
  EXPECT_EQ(v.Find("missing"), nullptr);
}

TEST(JsonWriterTest, NumbersReadBackExactlyInTheirShortestForm) {
  const double values[] = {0.017197301523717064, 0.1, 1e-5, -2.5e300, 0.8660714285714286, 3};
  JsonWriter w;
  w.BeginArray();
  for (double d : values) w.Number(d);
  w.EndArray();
  EXPECT_EQ(w.str(), "[0.017197301523717064,0.1,1e-05,-2.5e+300,0.8660714285714286,3]");
  JsonValue v;
  std::string error;
  ASSERT_TRUE(JsonValue::Parse(w.str(), &v, &error)) << error;
  for (size_t i = 0; i < std::size(values); ++i) EXPECT_EQ(v.array()[i].number(), values[i]);
  JsonWriter f;
  f.BeginArray().Number(0.1f).Number(0.6931472f).EndArray();
  EXPECT_EQ(f.str(), "[0.1,0.6931472]");
}

TEST(JsonValueTest, RefusesMalformedDocumentsWithAnOffset) {
  JsonValue v;
  std::string error;
  EXPECT_FALSE(JsonValue::Parse("{\"a\": [1, 2}", &v, &error));
  EXPECT_NE(error.find("expected ',' or ']' at byte 11"), std::string::npos) << error;
  EXPECT_FALSE(JsonValue::Parse("{\"a\": 1} x", &v, &error));
  EXPECT_FALSE(JsonValue::Parse("\"open", &v, &error));
  EXPECT_FALSE(JsonValue::Parse("", &v, &error));
  EXPECT_TRUE(JsonValue::Parse(" [ ] ", &v, &error)) << error;
  // \u with other than four hex digits (found by fuzz/model_fuzz: it threw from std::stoul).
  for (const char* bad : {"\"\\u\u001c\\ute\"", "\"\\u12\"", "\"\\u1x23\"", "\"\\u-123\""}) {
    EXPECT_FALSE(JsonValue::Parse(bad, &v, &error)) << bad;
    EXPECT_NE(error.find("four hex digits"), std::string::npos) << error;
  }
  ASSERT_TRUE(JsonValue::Parse("\"\\u00e9\\u20AC\"", &v, &error)) << error;
  EXPECT_EQ(v.string(), "\xc3\xa9\xe2\x82\xac");
}

}  // namespace
}  // namespace sweepfarm
