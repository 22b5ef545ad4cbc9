#include "common/flags.h"

#include <gtest/gtest.h>

namespace sweepfarm {
namespace {

TEST(FlagsTest, ParsesBothFormsAndPositionals) {
  Flags f;
  f.Define("db", "", "dsn").Define("top", "10", "n").DefineBool("json", "json");
  ASSERT_TRUE(f.Parse({"leaderboard", "--db=postgresql://x", "7", "--top", "3", "--json"}).ok());
  EXPECT_EQ(f.Get("db"), "postgresql://x");
  EXPECT_EQ(*f.GetInt("top"), 3);
  EXPECT_TRUE(f.GetBool("json"));
  EXPECT_EQ(f.positionals(), (std::vector<std::string>{"leaderboard", "7"}));
}

TEST(FlagsTest, RejectsUnknownFlagsAndBadNumbers) {
  Flags f;
  f.Define("top", "10", "n");
  Status s = f.Parse({"--tpo", "3"});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("unknown flag --tpo"), std::string::npos);
  Flags g;
  g.Define("top", "10", "n");
  ASSERT_TRUE(g.Parse({"--top", "3x"}).ok());
  EXPECT_EQ(g.GetInt("top").status().code(), StatusCode::kInvalidArgument);
  Flags h;
  h.Define("top", "10", "n");
  EXPECT_FALSE(h.Parse({"--top"}).ok());
}

TEST(FlagsTest, HelpIsAskedForNotAnUnknownFlag) {
  for (const char* arg : {"--help", "-h"}) {
    Flags f;
    f.Define("top", "10", "the best N");
    ASSERT_TRUE(f.Parse({"list", arg}).ok()) << arg;
    EXPECT_TRUE(f.help()) << arg;
    EXPECT_EQ(f.positionals(), (std::vector<std::string>{"list"}));
    EXPECT_NE(f.Usage().find("--top"), std::string::npos);
  }
  Flags g;
  ASSERT_TRUE(g.Parse({"list"}).ok());
  EXPECT_FALSE(g.help());
}

}  // namespace
}  // namespace sweepfarm
