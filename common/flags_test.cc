#include "common/flags.h"

#include <gtest/gtest.h>

#include "common/build_info.h"

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

TEST(FlagsTest, AddressesNeedAPort) {
  Flags f;
  f.Define("coordinator", "127.0.0.1:50051", "HOST:PORT");
  for (const std::string ok : {"127.0.0.1:50051", "farm.example:443", "[::1]:50051",
                               "dns:///farm.example:50051", "unix:/run/sweepfarm.sock"}) {
    ASSERT_TRUE(f.Parse({"--coordinator", ok}).ok());
    auto a = f.GetAddress("coordinator");
    ASSERT_TRUE(a.ok()) << a.status().message();
    EXPECT_EQ(*a, ok);
  }
  for (const std::string bad :
       {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "h:70000", "::1", "[::1]", "h:x", ""}) {
    ASSERT_TRUE(f.Parse({"--coordinator", bad}).ok());
    auto a = f.GetAddress("coordinator");
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(a.status().message().find("--coordinator: \"" + bad + "\""), std::string::npos)
        << a.status().message();
  }
}

// --version asks for the version line, except where the program has a --version of its own
// (sweepctl's registry version): there only alone.
TEST(FlagsTest, VersionIsAskedForUnlessItIsTheProgramsOwnFlag) {
  Flags f;
  f.Define("top", "10", "n");
  ASSERT_TRUE(f.Parse({"--top", "3", "--version"}).ok());
  EXPECT_TRUE(f.version());
  Flags g;
  g.Define("version", "0", "registry version");
  ASSERT_TRUE(g.Parse({"registry", "show", "m", "--version", "3"}).ok());
  EXPECT_FALSE(g.version());
  EXPECT_EQ(g.Get("version"), "3");
  Flags h;
  h.Define("version", "0", "registry version");
  ASSERT_TRUE(h.Parse({"--version"}).ok());
  EXPECT_TRUE(h.version());
  EXPECT_EQ(
      VersionLine("sweepctl").rfind(std::string("sweepctl ") + ProjectVersion() + " (commit ", 0),
      0u);
  EXPECT_NE(std::string(BuildCommit()), "");
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
