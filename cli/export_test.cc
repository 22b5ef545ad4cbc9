#include "cli/export.h"

#include <gtest/gtest.h>

#include <sstream>

namespace sweepfarm::cli {
namespace {

std::vector<std::string> Lines(const std::string& csv) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < csv.size()) {
    size_t end = csv.find("\r\n", at);
    out.push_back(csv.substr(at, end - at));
    at = end + 2;
  }
  return out;
}

TEST(CsvTest, FieldsAreQuotedOnlyWhenTheyMustBe) {
  EXPECT_EQ(CsvField("plain"), "plain");
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
}

TEST(CsvTest, OneRowPerTrialWithEmptyFieldsForWhatItLacks) {
  std::vector<v1::Trial> trials(2);
  trials[0].set_trial_id(7);
  trials[0].set_state("succeeded");
  trials[0].set_origin("neighbour");
  trials[0].set_parent_trial_id(3);
  trials[0].set_attempts(1);
  trials[0].set_worker_id("w1");
  auto* p = trials[0].mutable_params();
  p->set_epochs(4);
  p->set_step_size(0.005);
  p->set_issue_rate(0.5);
  p->set_data_size(1);
  p->set_seed(42);
  p->add_channels(16);
  p->add_channels(32);
  p->set_kernel_size(9);
  p->set_architecture("cnn2d");
  p->set_optimizer("adamw");
  p->set_weight_decay(0.01);
  p->set_smoothing(0.5);
  auto* r = trials[0].mutable_result();
  r->set_selection_accuracy(0.875);
  r->set_holdout_accuracy(0.86);
  r->set_selection_balanced_accuracy(0.75);
  r->set_holdout_balanced_accuracy(0.5);
  r->set_selection_score(0.75);  // A sweep whose objective is selection_balanced_accuracy.
  r->set_test_accuracy(0.87);
  r->set_device("cpu");
  r->set_bundle_size(8);
  for (float loss : {0.7f, 0.55f, 0.5f, 0.125f}) r->add_train_loss_curve(loss);
  trials[1].set_trial_id(8);
  trials[1].set_state("failed");
  trials[1].set_origin("search");
  trials[1].set_attempts(3);
  trials[1].mutable_params()->set_epochs(2);
  trials[1].mutable_params()->set_issue_rate(-1);
  trials[1].mutable_result()->set_selection_accuracy(0.5);  // Not a result: not shown.
  trials[1].set_last_error("trainer: bad, \"really\"");

  const auto lines = Lines(TrialsCsv(trials));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].rfind("trial_id,state,origin,parent_trial_id,rung,attempts,epochs,", 0), 0u)
      << lines[0];
  EXPECT_EQ(
      lines[1].rfind("7,succeeded,neighbour,3,0,1,4,0.005,0.5,1,42,16x32,9,cnn2d,adamw,0.01,0.5,"
                     "0.875,0.86,0.75,0.5,"
                     "0.75,0.87,",
                     0),
      0u)
      << lines[1];
  EXPECT_NE(lines[1].find(",8,cpu,w1,"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[1].substr(lines[1].rfind(',')), ",0.7;0.55;0.5;0.125") << lines[1];
  EXPECT_EQ(lines[2].rfind("8,failed,search,,0,3,2,0,,0,0,,,,,,,,,,,,,", 0), 0u) << lines[2];
  EXPECT_NE(lines[2].find(",\"trainer: bad, \"\"really\"\"\""), std::string::npos) << lines[2];
  // Every row has as many fields as the header (no quoted field here holds a comma but one).
  auto fields = [](const std::string& line) {
    int n = 1;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      if (c == ',' && !quoted) ++n;
    }
    return n;
  };
  EXPECT_EQ(fields(lines[1]), fields(lines[0]));
  EXPECT_EQ(fields(lines[2]), fields(lines[0]));
}

}  // namespace
}  // namespace sweepfarm::cli
