#include "common/files.h"

#include <gtest/gtest.h>

namespace sweepfarm {
namespace {

TEST(Utf8Test, AcceptsUtf8) {
  EXPECT_TRUE(CheckUtf8("", "f").ok());
  EXPECT_TRUE(CheckUtf8("name: \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n", "f").ok());
  EXPECT_TRUE(CheckUtf8("\xf4\x8f\xbf\xbf", "f").ok()) << "U+10FFFF";
}

TEST(Utf8Test, NamesLineAndColumnOfTheFirstBadByte) {
  struct Case {
    std::string text, where;
  };
  for (const Case& c : std::vector<Case>{
           {"a\nbc\xff", "f:2:3: not UTF-8 (byte 0xff)"},
           {"\xc0\xaf", "f:1:1: not UTF-8 (byte 0xc0)"},          // Overlong '/'.
           {"x\xe0\x80\xaf", "f:1:2: not UTF-8 (byte 0xe0)"},     // Overlong, 3 bytes.
           {"\xed\xa0\x80", "f:1:1: not UTF-8 (byte 0xed)"},      // A surrogate.
           {"\xf4\x90\x80\x80", "f:1:1: not UTF-8 (byte 0xf4)"},  // Past U+10FFFF.
           {"ok\n\n  \xe2\x82", "f:3:3: not UTF-8 (byte 0xe2)"},  // Cut short.
           {"\x80", "f:1:1: not UTF-8 (byte 0x80)"},              // A lone continuation.
       }) {
    Status s = CheckUtf8(c.text, "f");
    ASSERT_FALSE(s.ok()) << c.where;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message().rfind(c.where, 0), 0u) << s.message();
  }
}

}  // namespace
}  // namespace sweepfarm
