// A corpus of hostile sweep files, generated here (alias bombs, deep nesting, huge scalars,
// invalid UTF-8, wrong types, truncations): each is refused with a message that names the file,
// or accepted, and none crashes the parser. Prints how many of each kind were refused.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "coordinator/sweep/sweep_yaml.h"

namespace sweepfarm::sweep {
namespace {

const std::string kValid = R"(version: 1
name: hostile
model: m
dataset:
  name: telemetry
  params: {seed: 7, lab_samples: 500, escalation_samples: 200}
architecture:
  name: cnn1d
  channels: [16, 32]
  kernel_size: 5
training: {batch_size: 64, momentum: 0.9, max_attempts: 2}
search:
  method: grid
  space:
    epochs: [4, 8]
    step_size: [0.0025, 0.005]
    issue_rate: {min: 0.4, max: 0.6, steps: 3}
    data_size: [0.5, 1.0]
    seed: 1
objective: {metric: selection_accuracy, goal: maximize}
selection: {method: greedy, ensemble_size: 5, top_k: 3}
limits: {max_seconds: 3600, max_failed_trials: 5}
)";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  return at == std::string::npos ? s : s.replace(at, from.size(), to);
}

std::vector<std::pair<std::string, std::string>> HostileFiles() {
  std::vector<std::pair<std::string, std::string>> out;  // (kind, text)
  // Alias bombs ("billion laughs"): each level refers to the one below `fan` times.
  for (int depth = 1; depth <= 10; ++depth) {
    for (int fan : {2, 4, 10, 32, 100}) {
      std::string s = "a0: &a0 [x]\n";
      for (int d = 1; d <= depth; ++d) {
        s += "a" + std::to_string(d) + ": &a" + std::to_string(d) + " [";
        for (int f = 0; f < fan; ++f) s += (f ? ", *a" : "*a") + std::to_string(d - 1);
        s += "]\n";
      }
      out.push_back({"alias bomb", s + kValid});
      out.push_back(
          {"alias bomb", Replace(kValid, "seed: 1\n",
                                 "seed: " + s.substr(0, 0) + "*a" + std::to_string(depth) + "\n") +
                             s});
    }
  }
  // Deep nesting, in flow and block style.
  for (int depth : {10, 100, 1000, 5000, 20000, 100000}) {
    out.push_back({"deep nesting", "search: " + std::string(depth, '[') + std::string(depth, ']')});
    out.push_back({"deep nesting", Replace(kValid, "    seed: 1\n",
                                           "    seed: " + std::string(depth, '[') + "1" +
                                               std::string(depth, ']') + "\n")});
    std::string maps;
    for (int i = 0; i < depth && i < 5000; ++i) maps += std::string(i, ' ') + "a:\n";
    out.push_back({"deep nesting", maps + std::string(std::min(depth, 5000), ' ') + "1\n"});
    out.push_back({"deep nesting", "x: " + std::string(depth, '{') + std::string(depth, '}')});
  }
  // Huge scalars: numbers, strings and keys from 65 bytes to 1 MB.
  for (size_t n : {65, 1000, 10'000, 40'000, 100'000, 1'000'000}) {
    for (char c : {'1', '9', 'a'}) {
      out.push_back(
          {"huge scalar", Replace(kValid, "version: 1", "version: " + std::string(n, c))});
      out.push_back(
          {"huge scalar", Replace(kValid, "name: hostile", "name: " + std::string(n, c))});
      out.push_back(
          {"huge scalar", Replace(kValid, "    seed: 1", "    seed: " + std::string(n, c))});
      out.push_back({"huge scalar", std::string(n, c) + ": 1\n" + kValid});
    }
    out.push_back({"huge scalar", Replace(kValid, "step_size: [0.0025, 0.005]",
                                          "step_size: [0." + std::string(n, '0') + "1]")});
    out.push_back({"huge scalar", Replace(kValid, "step_size: [0.0025, 0.005]",
                                          "step_size: [1e" + std::string(n, '9') + "]")});
  }
  // Invalid UTF-8: every byte from 0x80 to 0xff, alone, in a value and in a key.
  for (int b = 0x80; b <= 0xff; ++b) {
    const std::string byte(1, static_cast<char>(b));
    out.push_back({"invalid UTF-8", Replace(kValid, "name: hostile", "name: host" + byte + "ile")});
    if (b % 4 == 0)
      out.push_back({"invalid UTF-8", Replace(kValid, "model: m", "mod" + byte + "el: m")});
  }
  // Wrong types: each value replaced by a list, a map, a string, a boolean, null, a negative,
  // not-a-number, infinity and an out-of-range integer.
  const std::vector<std::string> fields = {"version: 1",
                                           "name: hostile",
                                           "model: m",
                                           "name: telemetry",
                                           "seed: 7",
                                           "lab_samples: 500",
                                           "name: cnn1d",
                                           "channels: [16, 32]",
                                           "kernel_size: 5",
                                           "batch_size: 64",
                                           "momentum: 0.9",
                                           "max_attempts: 2",
                                           "method: grid",
                                           "epochs: [4, 8]",
                                           "min: 0.4",
                                           "steps: 3",
                                           "data_size: [0.5, 1.0]",
                                           "    seed: 1",
                                           "goal: maximize",
                                           "ensemble_size: 5",
                                           "top_k: 3",
                                           "max_seconds: 3600",
                                           "max_failed_trials: 5"};
  const std::vector<std::string> values = {
      "[1, 2]", "{a: 1}", "\"text\"", "true", "null", "-1", ".nan", ".inf", "99999999999999999999",
      "0x1F",   "~",      "''"};
  for (const auto& f : fields) {
    const std::string key = f.substr(0, f.find(':') + 1);
    for (const auto& v : values) out.push_back({"wrong type", Replace(kValid, f, key + " " + v)});
  }
  // Truncated: every 7th prefix of the valid file, and the valid file's sections removed.
  for (size_t n = 0; n < kValid.size(); n += 7) out.push_back({"truncated", kValid.substr(0, n)});
  return out;
}

TEST(HostileSweepsTest, RefusedNamingTheFileNeverACrash) {
  const auto files = HostileFiles();
  ASSERT_GE(files.size(), 500u);
  std::map<std::string, std::pair<int, int>> tally;  // kind -> (refused, accepted)
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& [kind, text] = files[i];
    auto parsed = ParseSweepYaml(text, "hostile.yaml");
    if (parsed.ok()) {
      ++tally[kind].second;
      continue;
    }
    ++tally[kind].first;
    EXPECT_EQ(parsed.status().message().rfind("hostile.yaml", 0), 0u)
        << kind << " #" << i << ": " << parsed.status().message().substr(0, 300);
    EXPECT_LT(parsed.status().message().size(), 2000u)
        << kind << " #" << i << ": the message repeats the input";
  }
  int refused = 0, accepted = 0;
  for (const auto& [kind, n] : tally) {
    std::printf("hostile sweep files, %-14s %4d refused, %d accepted\n", kind.c_str(), n.first,
                n.second);
    refused += n.first;
    accepted += n.second;
  }
  std::printf("hostile sweep files: %zu, %d refused, %d accepted, 0 crashes\n", files.size(),
              refused, accepted);
  EXPECT_GT(refused, static_cast<int>(files.size()) * 9 / 10);
}

}  // namespace
}  // namespace sweepfarm::sweep
