#include "coordinator/sweep/sweep_yaml.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "coordinator/sweep/tpe.h"

namespace sweepfarm::sweep {
namespace {

constexpr char kValid[] = R"(version: 1
name: test-sweep
model: detector
dataset:
  name: telemetry
  params: {seed: 3, lab_samples: 1000}
architecture:
  name: cnn1d
  channels: [8, 16]
training:
  batch_size: 32
search:
  method: grid
  space:
    epochs: [2, 4]
    step_size: {min: 0.001, max: 0.01, steps: 3}
    issue_rate: [0.4, 0.6]
    data_size: 1.0
objective:
  metric: selection_accuracy
)";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

// Asserts that `yaml` is refused with INVALID_ARGUMENT and a message containing each of `parts`.
void ExpectError(const std::string& yaml, const std::vector<std::string>& parts) {
  auto r = ParseSweepYaml(yaml, "s.yaml");
  ASSERT_FALSE(r.ok()) << "accepted:\n" << yaml;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  for (const auto& p : parts) {
    EXPECT_NE(r.status().message().find(p), std::string::npos)
        << "missing \"" << p << "\" in: " << r.status().message();
  }
}

TEST(SweepYamlTest, ParsesAValidSweep) {
  auto r = ParseSweepYaml(kValid, "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->spec.name(), "test-sweep");
  EXPECT_EQ(r->spec.dataset().params().at("lab_samples"), 1000);
  EXPECT_EQ(r->spec.training().batch_size(), 32);
  EXPECT_EQ(r->spec.training().max_attempts(), 3);
  EXPECT_EQ(r->trials.size(), 2u * 3u * 2u);
  EXPECT_EQ(r->spec.architecture().kernel_size(), 5);  // Default filled in.
  EXPECT_EQ(r->spec_hash.size(), 16u);
}

std::string ReadSource(const std::string& path) {
  std::ifstream in(std::string(SWEEPFARM_SOURCE_DIR) + "/" + path);
  EXPECT_TRUE(in) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The spec hash names the definition: the same text hashes the same at every parse (maps
// included, whose iteration order protobuf does not fix), and another text differently.
TEST(SweepYamlTest, SpecHashIsDeterministic) {
  const std::string text = ReadSource("sweeps/quickstart.yaml");
  auto first = ParseSweepYaml(text, "a.yaml");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_GE(first->spec.dataset().params().size(), 2u);
  for (int i = 0; i < 50; ++i) {
    auto again = ParseSweepYaml(text, "b.yaml");
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(again->spec_hash, first->spec_hash) << "parse " << i;
  }
  auto other = ParseSweepYaml(text + "\npriority: 5\n", "a.yaml");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_NE(other->spec_hash, first->spec_hash);
}

TEST(SweepYamlTest, ShippedSweepsAreValid) {
  const std::map<std::string, size_t> trials = {
      {"sweeps/quickstart.yaml", 144},       {"sweeps/perfpsychic.yaml", 1000},
      {"sweeps/nightly.yaml", 48},           {"sweeps/fashion-mnist.yaml", 64},
      {"sweeps/fashion-mnist-cpu.yaml", 16}, {"sweeps/halving.yaml", 54},
  };
  for (const auto& [f, n] : trials) {
    auto r = ParseSweepYaml(ReadSource(f), f);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->trials.size(), n) << f;
  }
  // The sweep the Kubernetes CronJob runs, from its ConfigMap.
  const std::string k8s = "deploy/k8s/nightly-cronjob.yaml";
  std::vector<YAML::Node> docs = YAML::LoadAll(ReadSource(k8s));
  ASSERT_FALSE(docs.empty());
  auto r = ParseSweepYaml(docs[0]["data"]["nightly.yaml"].as<std::string>(), k8s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->spec.has_seed_from());
  EXPECT_EQ(r->spec.limits().max_seconds(), 14400);
}

// Successive halving: the first rung drawn at random with the first rung's epochs, the rungs
// from a range (geometric in eta, ending at max) or a list, and the planned trial count.
TEST(SweepYamlTest, HalvingPlansItsRungs) {
  const std::string halving =
      Replace(Replace(kValid, "  method: grid\n", "  method: halving\n  budget: 30\n  eta: 3\n"),
              "epochs: [2, 4]", "epochs: {min: 5, max: 75}");
  auto r = ParseSweepYaml(halving, "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->spec.method(), "halving");
  EXPECT_EQ(r->spec.eta(), 3);
  ASSERT_EQ(r->spec.rung_epochs_size(), 4);
  const int want[] = {5, 15, 45, 75};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r->spec.rung_epochs(i), want[i]) << i;
  ASSERT_EQ(r->trials.size(), 30u);
  std::set<double> steps;
  for (const auto& t : r->trials) {
    EXPECT_EQ(t.epochs(), 5);
    steps.insert(t.step_size());
  }
  EXPECT_GT(steps.size(), 20u);  // Drawn at random, not a grid.
  EXPECT_EQ(r->planned_trials, 30 + 10 + 3 + 1);
  EXPECT_FALSE(r->spec.restart_promoted());  // Promoted trials resume by default.
  auto restart =
      ParseSweepYaml(Replace(halving, "  eta: 3\n", "  eta: 3\n  resume: false\n"), "s.yaml");
  ASSERT_TRUE(restart.ok()) << restart.status().ToString();
  EXPECT_TRUE(restart->spec.restart_promoted());

  // A list names the rungs; eta defaults to 3; a rung of fewer than eta keeps one.
  auto l = ParseSweepYaml(
      Replace(Replace(kValid, "  method: grid\n", "  method: halving\n  budget: 4\n"),
              "epochs: [2, 4]", "epochs: [1, 2, 8]"),
      "s.yaml");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->spec.eta(), 3);
  EXPECT_EQ(l->spec.rung_epochs_size(), 3);
  EXPECT_EQ(l->planned_trials, 4 + 1 + 1);

  // Grid and random sweeps have no rungs.
  auto g = ParseSweepYaml(kValid, "s.yaml");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->spec.rung_epochs_size(), 0);
  EXPECT_EQ(g->planned_trials, 12);
}

// TPE: the first round drawn at random, `round_size` trials (default min(budget, 16)); the
// budget counts every round.
TEST(SweepYamlTest, TpePlansRounds) {
  const std::string tpe =
      Replace(kValid, "  method: grid\n", "  method: tpe\n  budget: 40\n  round_size: 12\n");
  auto r = ParseSweepYaml(tpe, "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->spec.method(), "tpe");
  EXPECT_EQ(r->spec.round_size(), 12);
  EXPECT_EQ(r->trials.size(), 12u);
  EXPECT_EQ(r->planned_trials, 40);
  EXPECT_EQ(r->space.params.count("step_size"), 1u);
  auto d = ParseSweepYaml(Replace(kValid, "  method: grid\n", "  method: tpe\n  budget: 40\n"),
                          "s.yaml");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->spec.round_size(), 16);
  EXPECT_EQ(d->trials.size(), 16u);
  ExpectError(Replace(kValid, "  method: grid\n", "  method: tpe\n"),
              {"search.budget", "required for tpe"});
  ExpectError(Replace(kValid, "  method: grid\n", "  method: tpe\n  budget: 8\n  round_size: 9\n"),
              {"s.yaml:", "search.round_size", "out of range [1, 8]"});
  auto mv = ParseSweepYaml(
      Replace(kValid, "  method: grid\n", "  method: tpe\n  budget: 8\n  multivariate: true\n"),
      "s.yaml");
  ASSERT_TRUE(mv.ok()) << mv.status().ToString();
  EXPECT_TRUE(mv->spec.tpe_multivariate());
  EXPECT_TRUE(TpeOptionsFor(mv->spec).multivariate);
  ExpectError(Replace(kValid, "  method: grid\n", "  method: grid\n  multivariate: true\n"),
              {"search.multivariate", "only for method: tpe"});
  ExpectError(
      Replace(kValid, "  method: grid\n", "  method: tpe\n  budget: 8\n  multivariate: yes\n"),
      {"search.multivariate", "expected true or false"});
  ExpectError(Replace(kValid, "  method: grid\n", "  method: grid\n  round_size: 4\n"),
              {"search.round_size", "only for method: tpe"});
}

TEST(SweepYamlTest, HalvingErrorsNameTheField) {
  const std::string base = Replace(kValid, "  method: grid\n", "  method: halving\n  budget: 8\n");
  ExpectError(Replace(kValid, "  method: grid\n", "  method: halving\n"),
              {"search.budget", "required for halving"});
  ExpectError(Replace(kValid, "  method: grid\n", "  method: grid\n  eta: 2\n"),
              {"search.eta", "only for method: halving"});
  ExpectError(Replace(base, "budget: 8\n", "budget: 8\n  eta: 1\n"), {"search.eta"});
  ExpectError(Replace(kValid, "  method: grid\n", "  method: grid\n  resume: true\n"),
              {"search.resume", "only for method: halving"});
  ExpectError(Replace(base, "budget: 8\n", "budget: 8\n  resume: yes\n"),
              {"s.yaml:", "search.resume", "expected true or false, got \"yes\""});
  ExpectError(Replace(base, "epochs: [2, 4]", "epochs: 4"),
              {"search.space.epochs", "at least two rungs"});
  ExpectError(Replace(base, "epochs: [2, 4]", "epochs: [4, 2]"),
              {"search.space.epochs[1]", "increasing"});
  ExpectError(Replace(base, "epochs: [2, 4]", "epochs: {min: 2, max: 20, steps: 4}"),
              {"search.space.epochs.steps", "does not apply"});
  ExpectError(Replace(base, "epochs: [2, 4]", "epochs: {min: 4, max: 4}"),
              {"search.space.epochs", "at least two rungs"});
  ExpectError(Replace(base, "method: halving", "method: hyperband"),
              {"search.method", "grid, random, halving or tpe"});
}

TEST(SweepYamlTest, ArchitectureSearchListsChannelsAndKernelSizes) {
  const std::string arch = Replace(kValid, "    data_size: 1.0\n",
                                   "    data_size: 1.0\n    channels: [[8, 16], [16, 32]]\n"
                                   "    kernel_size: [3, 7]\n");
  auto r = ParseSweepYaml(arch, "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->trials.size(), 2u * 2u * 12u);
  EXPECT_EQ(r->space.channel_choices, (std::vector<std::vector<int32_t>>{{8, 16}, {16, 32}}));
  EXPECT_EQ(r->trials.front().channels(1), 16);
  EXPECT_EQ(r->trials.front().kernel_size(), 3);
  EXPECT_EQ(r->trials.back().channels(1), 32);
  EXPECT_EQ(r->trials.back().kernel_size(), 7);
  EXPECT_EQ(r->spec.architecture().kernel_size(), 5);  // The sweep's own stays.
  // A plain sweep's trials carry no architecture of their own.
  EXPECT_EQ(ParseSweepYaml(kValid, "s.yaml")->trials.front().channels_size(), 0);

  ExpectError(Replace(arch, "channels: [[8, 16], [16, 32]]", "channels: [8, 16]"),
              {"s.yaml:", "search.space.channels[0]", "expected a list of integers"});
  ExpectError(Replace(arch, "channels: [[8, 16], [16, 32]]", "channels: {min: 8, max: 64}"),
              {"search.space.channels", "a list of channel lists", "architecture.channels"});
  ExpectError(Replace(arch, "channels: [[8, 16], [16, 32]]", "channels: [[8, 16], [8, 16, 32]]"),
              {"search.space.channels[1]", "takes 2 channel counts, got 3"});
  ExpectError(Replace(arch, "channels: [[8, 16], [16, 32]]", "channels: [[8, 16], [8, 16]]"),
              {"search.space.channels[1]", "duplicate channel list"});
  ExpectError(Replace(arch, "channels: [[8, 16], [16, 32]]", "channels: [[8, 2000]]"),
              {"search.space.channels[0][1]", "1024"});
  ExpectError(Replace(arch, "kernel_size: [3, 7]", "kernel_size: 3"),
              {"search.space.kernel_size", "architecture.kernel_size"});
  ExpectError(Replace(arch, "kernel_size: [3, 7]", "kernel_size: {min: 3, max: 7, steps: 3}"),
              {"search.space.kernel_size", "a list of kernel sizes"});
  ExpectError(Replace(arch, "kernel_size: [3, 7]", "kernel_size: [3, 3]"),
              {"search.space.kernel_size[1]", "duplicate value"});
  // Checked against the inputs: LeNet's two convolutions and poolings leave nothing of a 28x28
  // image with kernels of 11.
  std::string lenet = Replace(arch, "name: telemetry\n  params: {seed: 3, lab_samples: 1000}",
                              "name: fashion-mnist");
  lenet = Replace(Replace(lenet, "name: cnn1d", "name: lenet"), "    issue_rate: [0.4, 0.6]\n", "");
  ASSERT_TRUE(ParseSweepYaml(lenet, "s.yaml").ok());
  ExpectError(Replace(lenet, "kernel_size: [3, 7]", "kernel_size: [3, 11, 7]"),
              {"s.yaml:", "search.space.kernel_size[1]", "kernel_size 11 too large"});
}

TEST(SweepYamlTest, PriorityIsAnIntegerFromMinus1000To1000) {
  EXPECT_EQ(ParseSweepYaml(kValid, "s.yaml")->spec.priority(), 0);
  auto r = ParseSweepYaml(kValid + std::string("priority: -20\n"), "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->spec.priority(), -20);
  ExpectError(kValid + std::string("priority: 1001\n"), {"s.yaml:", "priority", "1000"});
  ExpectError(kValid + std::string("priority: high\n"), {"priority", "expected"});
}

TEST(SweepYamlTest, ObjectiveIsAccuracyOrBalancedAccuracy) {
  EXPECT_EQ(ParseSweepYaml(kValid, "s.yaml")->spec.objective_metric(), "selection_accuracy");
  auto r = ParseSweepYaml(
      Replace(kValid, "metric: selection_accuracy", "metric: selection_balanced_accuracy"),
      "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->spec.objective_metric(), "selection_balanced_accuracy");
  EXPECT_NE(r->spec_hash, ParseSweepYaml(kValid, "s.yaml")->spec_hash);
  ExpectError(Replace(kValid, "metric: selection_accuracy", "metric: holdout_accuracy"),
              {"s.yaml:20:", "objective.metric", "\"holdout_accuracy\" unsupported",
               "selection_accuracy, selection_balanced_accuracy"});
  ExpectError(kValid + std::string("  goal: minimize\n"),
              {"objective.goal", "the objective is maximized"});
}

TEST(SweepYamlTest, LimitsTimeAndFailedTrials) {
  EXPECT_FALSE(ParseSweepYaml(kValid, "s.yaml")->spec.has_limits());
  auto r = ParseSweepYaml(
      kValid + std::string("limits: {max_seconds: 5400, max_failed_trials: 20}\n"), "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->spec.limits().max_seconds(), 5400);
  EXPECT_EQ(r->spec.limits().max_failed_trials(), 20);
  r = ParseSweepYaml(kValid + std::string("limits:\n  max_seconds: 1.5\n"), "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->spec.limits().max_failed_trials(), 0);  // None.
  ExpectError(kValid + std::string("limits: {max_seconds: 0}\n"),
              {"s.yaml:21:", "limits.max_seconds", "[1, 2592000]"});
  ExpectError(kValid + std::string("limits: {max_failed_trials: 2.5}\n"),
              {"s.yaml:21:", "limits.max_failed_trials", "integer"});
  ExpectError(kValid + std::string("limits: {max_trials: 5}\n"),
              {"limits.max_trials", "unknown key", "max_failed_trials, max_seconds"});
  ExpectError(kValid + std::string("limits: 60\n"), {"limits", "expected a mapping"});
}

TEST(SweepYamlTest, UnknownKeyNamesLineAndField) {
  ExpectError(Replace(kValid, "  batch_size: 32", "  batch_size: 32\n  bacth: 1"),
              {"s.yaml:12:3", "training.bacth", "unknown key", "allowed here"});
}

TEST(SweepYamlTest, YamlBooleanWhereNumberExpected) {
  ExpectError(Replace(kValid, "epochs: [2, 4]", "epochs: [2, no]"),
              {"s.yaml:15:", "search.space.epochs[1]", "boolean in YAML 1.1"});
}

TEST(SweepYamlTest, QuotedNumberIsRefused) {
  ExpectError(Replace(kValid, "batch_size: 32", "batch_size: \"32\""),
              {"training.batch_size", "quoted string"});
}

// A 40 KB number crashed the coordinator (std::regex recursed once per character); long scalars
// are refused by length, names of any length by a linear scan.
TEST(SweepYamlTest, HugeScalarsAreRefusedWithoutCrashing) {
  for (size_t n : {65, 10'000, 40'000, 1'000'000}) {
    ExpectError(Replace(kValid, "version: 1", "version: " + std::string(n, '1')),
                {"s.yaml:1:10", "version", std::to_string(n) + " characters (at most 64)"});
    ExpectError(Replace(kValid, "batch_size: 32", "batch_size: " + std::string(n, '9') + ".5"),
                {"training.batch_size", "characters (at most 64)"});
    ExpectError(Replace(kValid, "name: test-sweep", "name: " + std::string(n, 'a')), {"name"});
  }
  // 64 characters are still read as a number (and then range-checked).
  ExpectError(Replace(kValid, "batch_size: 32", "batch_size: " + std::string(64, '9')),
              {"training.batch_size", "out of range"});
}

TEST(SweepYamlTest, NumberGrammar) {
  for (const char* good : {"0.9", ".9", "9e-1", "0.90", "+0.9", "90E-2"}) {
    std::string y =
        Replace(kValid, "  batch_size: 32", std::string("  batch_size: 32\n  momentum: ") + good);
    auto r = ParseSweepYaml(y, "s.yaml");
    ASSERT_TRUE(r.ok()) << good << ": " << r.status().ToString();
    EXPECT_DOUBLE_EQ(r->spec.training().momentum(), 0.9) << good;
  }
  for (const char* bad : {"0x1", ".", "e5", "1e", "1e+", "--1", "1.2.3", "1_000", ".e1", "1 e1"}) {
    std::string y =
        Replace(kValid, "  batch_size: 32", std::string("  batch_size: 32\n  momentum: ") + bad);
    ExpectError(y, {"training.momentum", "expected a number"});
  }
}

// naive_bayes's smoothing: a training default, searched per trial, positive.
TEST(SweepYamlTest, SmoothingIsSetOrSearched) {
  auto r = ParseSweepYaml(Replace(kValid, "  batch_size: 32", "  batch_size: 32\n  smoothing: 0.5"),
                          "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_DOUBLE_EQ(r->spec.training().smoothing(), 0.5);
  r = ParseSweepYaml(
      Replace(kValid, "    data_size: 1.0", "    data_size: 1.0\n    smoothing: [0.1, 1, 10]"),
      "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->trials.size(), 36u);
  std::set<double> seen;
  for (const auto& t : r->trials) {
    ASSERT_TRUE(t.has_smoothing());
    seen.insert(t.smoothing());
  }
  EXPECT_EQ(seen, (std::set<double>{0.1, 1, 10}));
  ExpectError(Replace(kValid, "  batch_size: 32", "  batch_size: 32\n  smoothing: 0"),
              {"training.smoothing", "out of range"});
  ExpectError(Replace(kValid, "    data_size: 1.0", "    data_size: 1.0\n    smoothing: [0, 1]"),
              {"search.space.smoothing"});
}

TEST(SweepYamlTest, OptimizersSchedulesAndWeightDecay) {
  auto r = ParseSweepYaml(
      Replace(kValid, "  batch_size: 32",
              "  batch_size: 32\n  optimizer: adamw\n  schedule: cosine\n  weight_decay: 0.01"),
      "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->spec.training().optimizer(), "adamw");
  EXPECT_EQ(r->spec.training().schedule(), "cosine");
  EXPECT_DOUBLE_EQ(r->spec.training().weight_decay(), 0.01);
  // Searched: each trial carries its optimizer and decay; the grid multiplies by both.
  r = ParseSweepYaml(Replace(kValid, "    data_size: 1.0",
                             "    data_size: 1.0\n    optimizer: [sgd, adam]\n"
                             "    weight_decay: [0, 0.001]"),
                     "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->trials.size(), 48u);
  std::set<std::string> seen;
  for (const auto& t : r->trials) {
    ASSERT_TRUE(t.has_weight_decay());
    seen.insert(t.optimizer() + "/" + std::to_string(t.weight_decay()));
  }
  EXPECT_EQ(seen.size(), 4u);
  ExpectError(Replace(kValid, "  batch_size: 32", "  batch_size: 32\n  optimizer: rmsprop"),
              {"s.yaml:12:14", "training.optimizer", "unknown optimizer 'rmsprop'"});
  ExpectError(Replace(kValid, "  batch_size: 32", "  batch_size: 32\n  schedule: linear"),
              {"training.schedule", "expected constant, cosine or step"});
  ExpectError(Replace(kValid, "  batch_size: 32", "  batch_size: 32\n  weight_decay: 1"),
              {"training.weight_decay", "out of range"});
  ExpectError(
      Replace(kValid, "    data_size: 1.0", "    data_size: 1.0\n    optimizer: [sgd, sgd]"),
      {"search.space.optimizer[1]", "duplicate optimizer sgd"});
  ExpectError(Replace(kValid, "    data_size: 1.0", "    data_size: 1.0\n    optimizer: adam"),
              {"search.space.optimizer", "a fixed one belongs in training.optimizer"});
  ExpectError(Replace(kValid, "    data_size: 1.0", "    data_size: 1.0\n    optimizer: [lbfgs]"),
              {"search.space.optimizer[0]", "unknown optimizer"});
}

TEST(SweepYamlTest, OutOfRangeValues) {
  ExpectError(Replace(kValid, "issue_rate: [0.4, 0.6]", "issue_rate: [0.4, 1.5]"),
              {"search.space.issue_rate[1]", "out of range [0, 1]"});
  ExpectError(Replace(kValid, "data_size: 1.0", "data_size: 0"),
              {"search.space.data_size", "(0, 1]"});
  ExpectError(Replace(kValid, "epochs: [2, 4]", "epochs: [2, 4.5]"), {"expected an integer"});
  ExpectError(Replace(kValid, "lab_samples: 1000", "lab_samples: 10"),
              {"dataset.params.lab_samples"});
}

TEST(SweepYamlTest, EmptyAndOverLargeGrids) {
  ExpectError(Replace(kValid, "epochs: [2, 4]", "epochs: []"),
              {"search.space.epochs", "empty list"});
  std::string big = Replace(kValid, "  method: grid", "  method: grid\n  budget: 5");
  ExpectError(big, {"search.space", "12 points", "budget of 5"});
  std::string huge = Replace(kValid, "steps: 3}", "steps: 100000}");
  huge = Replace(huge, "data_size: 1.0", "data_size: {min: 0.1, max: 1, steps: 100000}");
  ExpectError(huge, {"points, over the limit"});
}

TEST(SweepYamlTest, DuplicateKeys) {
  ExpectError(Replace(kValid, "  batch_size: 32", "  batch_size: 32\n  batch_size: 64"),
              {"s.yaml:12:3", "training.batch_size", "duplicate key"});
  ExpectError(Replace(kValid, "issue_rate: [0.4, 0.6]", "issue_rate: [0.4, 0.4]"),
              {"duplicate value"});
}

TEST(SweepYamlTest, MissingRequiredFields) {
  ExpectError(Replace(kValid, "model: detector\n", ""), {"model", "required key missing"});
  ExpectError(Replace(kValid, "    step_size: {min: 0.001, max: 0.01, steps: 3}\n", ""),
              {"search.space.step_size", "required"});
}

TEST(SweepYamlTest, UnknownDatasetAndArchitecture) {
  ExpectError(Replace(kValid, "name: telemetry", "name: telemetri"),
              {"dataset.params",
               "only the built-in data sets (telemetry, fashion-mnist) take "
               "parameters; telemetri is a stored data set"});
  ExpectError(Replace(Replace(kValid, "name: telemetry", "name: telemetri"),
                      "  params: {seed: 3, lab_samples: 1000}\n", ""),
              {"dataset.name", "unknown dataset \"telemetri\" (built in: telemetry"});
  ExpectError(Replace(kValid, "name: cnn1d", "name: resnet"),
              {"architecture.name", "cnn1d, cnn2d, lenet"});
  ExpectError(Replace(kValid, "name: cnn1d", "name: lenet"),
              {"architecture", "takes image samples (CxHxW)", "16x64",
               "use cnn1d, logistic, mlp, linear_svm, naive_bayes"});
}

// A resolver standing in for the coordinator's data sets: "logs" has versions 1-3 of 4x32
// series in two classes, "pics" version 1 of 1x8x8 images in three.
StatusOr<DatasetInfo> FakeResolve(const v1::DatasetSpec& d) {
  if (d.name() == "logs") {
    if (d.version() > 3) return NotFoundError("data set logs has no version 9 (its latest is 3)");
    return DatasetInfo{
        d.version() > 0 ? d.version() : 3, std::string(64, 'a'), {4, 32}, {"ok", "slow"}};
  }
  if (d.name() == "pics") return DatasetInfo{1, std::string(64, 'b'), {1, 8, 8}, {"a", "b", "c"}};
  if (d.name() == "telemetry") {
    return DatasetInfo{7, std::string(64, 'c'), {16, 64}, {"healthy", "faulty"}};
  }
  return NotFoundError("no data set named " + d.name());
}

TEST(SweepYamlTest, StoredDataSetsAreResolvedAndShapeTheArchitecture) {
  const DatasetResolver resolve = FakeResolve;
  std::string logs = Replace(kValid, "  name: telemetry\n  params: {seed: 3, lab_samples: 1000}",
                             "  name: logs\n  version: 2");
  logs = Replace(logs, "  channels: [8, 16]", "  channels: [8, 16]\n  kernel_size: 3");
  auto r = ParseSweepYaml(logs, "s.yaml", &resolve);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const v1::DatasetSpec& d = r->spec.dataset();
  EXPECT_EQ(d.version(), 2);
  EXPECT_EQ(d.sha256(), std::string(64, 'a'));
  EXPECT_EQ(d.shape_size(), 2);
  EXPECT_EQ(d.classes(1), "slow");
  EXPECT_FALSE(d.latest());
  // No version: the latest, and every night's latest when it grows.
  auto latest =
      ParseSweepYaml(Replace(logs, "  version: 2", "  feedback: true"), "s.yaml", &resolve);
  ASSERT_TRUE(latest.ok()) << latest.status().ToString();
  EXPECT_TRUE(latest->spec.dataset().latest());
  EXPECT_TRUE(latest->spec.dataset().feedback());
  EXPECT_EQ(latest->spec.dataset().version(), 3);
  ExpectError(Replace(logs, "  version: 2", "  version: 2\n  feedback: true"),
              {"dataset.feedback", "version: latest"});
  // The resolver's refusal, at the section's line.
  auto missing = ParseSweepYaml(Replace(logs, "version: 2", "version: 9"), "s.yaml", &resolve);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("s.yaml:5:3: dataset: data set logs has no version 9"),
            std::string::npos)
      << missing.status().message();
  ExpectError(Replace(logs, "version: 2", "version: two"),
              {"dataset.version", "expected an integer"});
  // Three classes: no issue rate to resample, no decision threshold.
  std::string pics = Replace(logs, "name: logs", "name: pics");
  pics = Replace(pics, "name: cnn1d", "name: cnn2d");
  pics = Replace(pics, "    issue_rate: [0.4, 0.6]\n", "");
  auto images = ParseSweepYaml(pics, "s.yaml", &resolve);
  ASSERT_TRUE(images.ok()) << images.status().ToString();
  EXPECT_EQ(images->spec.architecture().name(), "cnn2d");
  auto wrong = ParseSweepYaml(Replace(pics, "name: cnn2d", "name: cnn1d"), "s.yaml", &resolve);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find(
                "takes series samples (CxL), the data's samples are "
                "1x8x8 (use cnn2d, lenet, logistic, mlp, linear_svm, naive_bayes)"),
            std::string::npos)
      << wrong.status().message();
  auto rate =
      ParseSweepYaml(Replace(pics, "    data_size: 1.0", "    data_size: 1.0\n    issue_rate: 0.5"),
                     "s.yaml", &resolve);
  ASSERT_FALSE(rate.ok());
  EXPECT_NE(rate.status().message().find("binary"), std::string::npos);
}

TEST(SweepYamlTest, ASweepMaySearchArchitectureKinds) {
  std::string y = Replace(kValid, "    data_size: 1.0",
                          "    data_size: 1.0\n    architecture: [cnn1d, mlp, logistic]");
  auto r = ParseSweepYaml(y, "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // 3 kinds x 3 step sizes x 2 issue rates x 2 epochs; kinds first in the grid's order.
  ASSERT_EQ(r->trials.size(), 36u);
  EXPECT_EQ(r->trials.front().architecture(), "cnn1d");
  EXPECT_EQ(r->trials.back().architecture(), "logistic");
  // A trial of another kind than the sweep's trains that kind's defaults; of the sweep's kind,
  // the sweep's settings.
  v1::ArchitectureSpec mlp = TrialArchitecture(r->spec.architecture(), r->trials.back());
  EXPECT_EQ(mlp.name(), "logistic");
  EXPECT_EQ(mlp.channels_size(), 0);
  v1::ArchitectureSpec cnn = TrialArchitecture(r->spec.architecture(), r->trials.front());
  EXPECT_EQ(cnn.channels(1), 16);
  ExpectError(
      Replace(kValid, "    data_size: 1.0", "    data_size: 1.0\n    architecture: [cnn1d, lenet]"),
      {"search.space.architecture[1]", "lenet takes image samples"});
  ExpectError(
      Replace(kValid, "    data_size: 1.0", "    data_size: 1.0\n    architecture: [mlp, mlp]"),
      {"search.space.architecture[1]", "duplicate"});
  ExpectError(Replace(kValid, "    data_size: 1.0", "    data_size: 1.0\n    architecture: mlp"),
              {"search.space.architecture", "expected a list"});
  ExpectError(
      Replace(kValid, "    data_size: 1.0",
              "    data_size: 1.0\n    architecture: [cnn1d, mlp]\n    kernel_size: [3, 5]"),
      {"search.space.architecture", "not supported"});
}

TEST(SweepYamlTest, BaggedSelection) {
  auto r = ParseSweepYaml(kValid, "s.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->spec.selection().bags(), 20);
  EXPECT_DOUBLE_EQ(r->spec.selection().bag_fraction(), 0.5);
  const std::string with =
      kValid + std::string("selection: {method: bagged, bags: 7, bag_fraction: 0.3}\n");
  auto b = ParseSweepYaml(with, "s.yaml");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->spec.selection().method(), "bagged");
  EXPECT_EQ(b->spec.selection().bags(), 7);
  EXPECT_DOUBLE_EQ(b->spec.selection().bag_fraction(), 0.3);
  ExpectError(kValid + std::string("selection: {bag_fraction: 0}\n"),
              {"selection.bag_fraction", "(0, 1]"});
  ExpectError(kValid + std::string("selection: {method: vote}\n"),
              {"must be greedy, bagged or top_k"});
}

TEST(SweepYamlTest, TrainingStandardizesUnlessTold) {
  auto r = ParseSweepYaml(kValid, "s.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->spec.training().raw_inputs());
  auto raw = ParseSweepYaml(
      Replace(kValid, "  batch_size: 32", "  batch_size: 32\n  standardize: false"), "s.yaml");
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_TRUE(raw->spec.training().raw_inputs());
  ExpectError(Replace(kValid, "  batch_size: 32", "  batch_size: 32\n  standardize: no"),
              {"training.standardize", "expected true or false"});
}

TEST(SweepYamlTest, WrongTypes) {
  ExpectError(Replace(kValid, "channels: [8, 16]", "channels: 8"),
              {"architecture.channels", "list"});
  ExpectError(Replace(kValid, "  method: grid", "  method: [grid]"),
              {"search.method", "expected a string"});
  ExpectError(Replace(kValid, "dataset:\n  name: telemetry\n  params: {seed: 3, lab_samples: 1000}",
                      "dataset: telemetry"),
              {"dataset", "expected a mapping"});
}

TEST(SweepYamlTest, GridRangeNeedsSteps_RandomNeedsBudget) {
  ExpectError(Replace(kValid, "steps: 3}", "scale: log}"),
              {"search.space.step_size", "needs `steps`"});
  ExpectError(Replace(kValid, "method: grid", "method: random"), {"search.budget", "required"});
  ExpectError(Replace(kValid, "method: grid", "method: bayes"),
              {"search.method", "grid, random, halving or tpe"});
}

TEST(SweepYamlTest, IssueRateOnlyForBinaryDatasets) {
  std::string fm = Replace(kValid, "name: telemetry\n  params: {seed: 3, lab_samples: 1000}",
                           "name: fashion-mnist");
  fm = Replace(fm, "name: cnn1d\n  channels: [8, 16]", "name: lenet");
  ExpectError(fm, {"search.space.issue_rate", "binary"});
  auto ok = ParseSweepYaml(Replace(fm, "    issue_rate: [0.4, 0.6]\n", ""), "fm.yaml");
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(SweepYamlTest, DecisionThresholdIsArgmaxTunedOrAProbabilityForBinaryDatasets) {
  auto parse = [](const std::string& value) {
    return ParseSweepYaml(std::string(kValid) + "selection: {threshold: " + value + "}\n",
                          "s.yaml");
  };
  const auto defaults = ParseSweepYaml(kValid, "s.yaml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->spec.selection().tune_threshold());
  EXPECT_EQ(defaults->spec.selection().decision_threshold(), 0.0);
  auto argmax = parse("argmax");
  ASSERT_TRUE(argmax.ok()) << argmax.status().ToString();
  EXPECT_FALSE(argmax->spec.selection().tune_threshold());
  EXPECT_EQ(argmax->spec.selection().decision_threshold(), 0.0);
  auto tuned = parse("tuned");
  ASSERT_TRUE(tuned.ok()) << tuned.status().ToString();
  EXPECT_TRUE(tuned->spec.selection().tune_threshold());
  auto fixed = parse("0.35");
  ASSERT_TRUE(fixed.ok()) << fixed.status().ToString();
  EXPECT_FALSE(fixed->spec.selection().tune_threshold());
  EXPECT_DOUBLE_EQ(fixed->spec.selection().decision_threshold(), 0.35);

  ExpectError(std::string(kValid) + "selection: {threshold: 1}\n",
              {"s.yaml:21:24:", "selection.threshold", "out of range (0, 1)"});
  ExpectError(std::string(kValid) + "selection: {threshold: 0}\n",
              {"selection.threshold", "out of range (0, 1)"});
  ExpectError(std::string(kValid) + "selection: {threshold: best}\n",
              {"selection.threshold", "argmax, tuned or a probability", "got \"best\""});
  ExpectError(std::string(kValid) + "selection: {threshold: \"0.3\"}\n",
              {"selection.threshold", "argmax, tuned or a probability"});
  ExpectError(std::string(kValid) + "selection: {threshold: [0.3]}\n",
              {"selection.threshold", "argmax, tuned or a probability"});
  std::string fm = Replace(kValid, "name: telemetry\n  params: {seed: 3, lab_samples: 1000}",
                           "name: fashion-mnist");
  fm = Replace(Replace(fm, "name: cnn1d\n  channels: [8, 16]", "name: lenet"),
               "    issue_rate: [0.4, 0.6]\n", "");
  ExpectError(fm + "selection: {threshold: tuned}\n",
              {"selection.threshold", "binary datasets", "fashion-mnist"});
  EXPECT_TRUE(ParseSweepYaml(fm + "selection: {threshold: argmax}\n", "s.yaml").ok());

  // A floor on the faulty components' recall, for tuned thresholds only.
  auto floor = parse("tuned, min_issue_recall: 0.95");
  ASSERT_TRUE(floor.ok()) << floor.status().ToString();
  EXPECT_DOUBLE_EQ(floor->spec.selection().min_issue_recall(), 0.95);
  EXPECT_EQ(tuned->spec.selection().min_issue_recall(), 0.0);
  ExpectError(std::string(kValid) + "selection: {threshold: 0.4, min_issue_recall: 0.9}\n",
              {"s.yaml:21:", "selection.min_issue_recall", "set selection.threshold: tuned"});
  ExpectError(std::string(kValid) + "selection: {min_issue_recall: 0.9}\n",
              {"selection.min_issue_recall", "set selection.threshold: tuned"});
  ExpectError(std::string(kValid) + "selection: {threshold: tuned, min_issue_recall: 1.5}\n",
              {"selection.min_issue_recall", "out of range (0, 1]"});
  ExpectError(std::string(kValid) + "selection: {threshold: tuned, min_issue_recall: 0}\n",
              {"selection.min_issue_recall", "out of range (0, 1]"});
}

TEST(SweepYamlTest, SyntaxErrorsAndWrongVersion) {
  ExpectError("version: 1\nname: [unclosed\n", {"s.yaml:", "YAML syntax"});
  ExpectError(Replace(kValid, "version: 1", "version: 2"), {"version", "only version 1"});
  ExpectError("", {"empty sweep definition"});
  ExpectError(Replace(kValid, "name: test-sweep", "name: \"bad name!\""),
              {"name", "letters, digits"});
}

TEST(SweepYamlTest, LogScaleNeedsPositiveMinAndMaxAboveMin) {
  ExpectError(
      Replace(kValid, "{min: 0.001, max: 0.01, steps: 3}", "{min: 0.01, max: 0.001, steps: 3}"),
      {"search.space.step_size.max", ">= min"});
  ExpectError(
      Replace(kValid, "data_size: 1.0", "data_size: {min: 0.5, max: 1, scale: cubic, steps: 2}"),
      {"search.space.data_size.scale", "log or linear"});
}

TEST(SweepYamlTest, SelectionAndSeedFromSections) {
  auto defaults = ParseSweepYaml(kValid, "s.yaml");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->spec.selection().method(), "greedy");
  EXPECT_EQ(defaults->spec.selection().ensemble_size(), 10);
  EXPECT_EQ(defaults->spec.selection().promotion_margin(), 0.0);
  EXPECT_FALSE(defaults->spec.has_seed_from());
  const std::string extra =
      "selection: {method: top_k, top_k: 3, candidates: 8, promotion_margin: 0.01}\n"
      "seed_from:\n  model: detector\n  top: 4\n  step_factor: 2\n";
  auto r = ParseSweepYaml(std::string(kValid) + extra, "s.yaml");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->spec.selection().method(), "top_k");
  EXPECT_EQ(r->spec.selection().top_k(), 3);
  EXPECT_DOUBLE_EQ(r->spec.selection().promotion_margin(), 0.01);
  EXPECT_EQ(r->spec.seed_from().model(), "detector");
  EXPECT_EQ(r->spec.seed_from().top(), 4);
  EXPECT_EQ(r->spec.seed_from().step_factor(), 2);
  EXPECT_DOUBLE_EQ(r->spec.seed_from().epochs_spread(), 0.25);  // Default.

  ExpectError(std::string(kValid) + "selection: {method: bagging}\n",
              {"s.yaml:21:21:", "selection.method", "greedy, bagged or top_k"});
  ExpectError(std::string(kValid) + "selection: {top_k: 9, candidates: 4}\n",
              {"selection.top_k", "at most selection.candidates (4)"});
  ExpectError(std::string(kValid) + "selection: {promotion_margin: 2}\n",
              {"selection.promotion_margin", "out of range"});
  ExpectError(std::string(kValid) + "seed_from: {top: 3}\n",
              {"seed_from.model", "required key missing"});
  ExpectError(std::string(kValid) + "seed_from: {model: m, step_factor: 0.5}\n",
              {"seed_from.step_factor", "out of range [1, 10]"});
  ExpectError(std::string(kValid) + "seed_from: {model: m, neighbours: 3}\n",
              {"seed_from.neighbours", "unknown key"});
}

}  // namespace
}  // namespace sweepfarm::sweep
