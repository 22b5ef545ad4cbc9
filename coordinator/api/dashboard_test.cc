#include "coordinator/api/dashboard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <tuple>

namespace sweepfarm::api {
namespace {

size_t Occurrences(const std::string& text, const std::string& piece) {
  size_t n = 0;
  for (size_t at = text.find(piece); at != std::string::npos; at = text.find(piece, at + 1)) ++n;
  return n;
}

v1::Trial Done(int64_t id, double selection, double holdout) {
  v1::Trial t;
  t.set_trial_id(id);
  t.set_state("succeeded");
  t.set_origin("search");
  t.mutable_params()->set_epochs(4);
  t.mutable_params()->set_step_size(0.01);
  t.mutable_result()->set_selection_accuracy(selection);
  t.mutable_result()->set_selection_score(selection);  // The default objective.
  t.mutable_result()->set_holdout_accuracy(holdout);
  for (float loss : {0.7f, 0.5f, 0.4f, 0.35f}) t.mutable_result()->add_train_loss_curve(loss);
  return t;
}

TEST(DashboardTest, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(HtmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(HtmlEscape("plain"), "plain");
}

TEST(DashboardTest, SweepPagePlotsFinishedTrialsAndRanksBySelection) {
  v1::SweepStatus s;
  s.set_sweep_id(7);
  s.set_name("night<script>");
  s.set_model("detector");
  s.set_state("done");
  s.set_baseline_accuracy(0.78);
  s.set_ended_early("limits.max_seconds (60 s after submission) reached");
  v1::SweepEvent* submit = s.add_history();
  submit->set_at("2026-11-27 12:00:00.123+00");
  submit->set_action("submit");
  submit->set_actor("alice via <root>@host (sweepctl)");
  submit->set_detail("5 trials");
  std::vector<v1::Trial> trials = {Done(12, 0.85, 0.84), Done(10, 0.80, 0.79),
                                   Done(11, 0.90, 0.86)};
  v1::Trial failed;
  failed.set_trial_id(13);
  failed.set_state("failed");
  failed.set_attempts(3);
  failed.set_last_error("worker w: <bad> data");
  trials.push_back(failed);
  v1::Trial queued;
  queued.set_trial_id(14);
  queued.set_state("cancelled");
  trials.push_back(queued);

  const std::string page = RenderSweepPage(s, trials);
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  EXPECT_NE(page.find("night&lt;script&gt;"), std::string::npos);
  EXPECT_NE(page.find("Ended early: limits.max_seconds"), std::string::npos);
  EXPECT_NE(page.find("<td>2026-11-27 12:00:00</td><td>submit</td><td>alice via &lt;root&gt;@host "
                      "(sweepctl)</td><td>5 trials</td>"),
            std::string::npos)
      << page;
  // One dot per succeeded trial, in trial order; the best-so-far line steps 0.80 -> 0.90.
  EXPECT_EQ(Occurrences(page, "<circle class=\"trial\""), 3u);
  const size_t t10 = page.find("<title>trial 10: 0.8000"), t11 = page.find("<title>trial 11:"),
               t12 = page.find("<title>trial 12:");
  ASSERT_NE(t10, std::string::npos);
  EXPECT_LT(t10, t11);
  EXPECT_LT(t11, t12);
  EXPECT_NE(page.find("majority-class baseline 0.7800"), std::string::npos);
  // The leaderboard by selection accuracy: 11, 12, 10.
  const size_t
      r1 = page.find(
          "<td class=\"n\">1</td><td class=\"n\"><a href=\"/sweeps/7/trials/11\">11</a></td>"),
      r2 = page.find(
          "<td class=\"n\">2</td><td class=\"n\"><a href=\"/sweeps/7/trials/12\">12</a></td>"),
      r3 = page.find(
          "<td class=\"n\">3</td><td class=\"n\"><a href=\"/sweeps/7/trials/10\">10</a></td>");
  ASSERT_NE(r1, std::string::npos) << page;
  EXPECT_LT(r1, r2);
  EXPECT_LT(r2, r3);
  EXPECT_NE(page.find("Leaderboard (3 of 3)"), std::string::npos);
  // One learning curve per ranked trial, best first, four epochs each.
  EXPECT_EQ(Occurrences(page, "<polyline class=\"curve\""), 3u);
  const size_t curve11 = page.find("<title>trial 11: epochs=4");
  ASSERT_NE(curve11, std::string::npos);
  EXPECT_LT(curve11, page.find("</polyline>", page.find("<title>trial 12: epochs=4")));
  EXPECT_NE(page.find("mean training loss by epoch (1 to 4), the 3 best trials"),
            std::string::npos);
  EXPECT_NE(page.find("worker w: &lt;bad&gt; data"), std::string::npos);
  EXPECT_EQ(page.find("http-equiv=\"refresh\""), std::string::npos);  // Done: no refresh.

  // A sweep ranked by balanced accuracy: its scores, not accuracy, order the page.
  s.set_objective("selection_balanced_accuracy");
  trials[0].mutable_result()->set_selection_score(0.95);  // Trial 12.
  const std::string balanced = RenderSweepPage(s, trials);
  EXPECT_NE(balanced.find("selection balanced accuracy by trial"), std::string::npos);
  EXPECT_NE(balanced.find("Ranked by selection balanced accuracy;"), std::string::npos);
  EXPECT_NE(
      balanced.find(
          "<td class=\"n\">1</td><td class=\"n\"><a href=\"/sweeps/7/trials/12\">12</a></td>"),
      std::string::npos);
  EXPECT_EQ(balanced.find("majority-class baseline"), std::string::npos);

  s.set_state("running");
  const std::string running = RenderSweepPage(s, {});
  EXPECT_NE(running.find("No finished trials yet."), std::string::npos);
  EXPECT_NE(running.find("http-equiv=\"refresh\""), std::string::npos);
}

// The whole leaderboard sorts by any metric column (links that toggle the direction), links each
// trial's page and the CSV, and names the registry versions the sweep produced.
TEST(DashboardTest, LeaderboardSortsLinksTrialsAndNamesItsVersions) {
  v1::SweepStatus s;
  s.set_sweep_id(7);
  s.set_name("night");
  s.set_model("detector");
  s.set_state("done");
  std::vector<v1::Trial> trials = {Done(10, 0.80, 0.91), Done(11, 0.90, 0.85),
                                   Done(12, 0.85, 0.88)};
  std::vector<v1::ModelVersion> versions(3);
  for (int i = 0; i < 3; ++i) {
    versions[i].set_model("detector");
    versions[i].set_version(3 - i);
    versions[i].set_sweep_id(i == 1 ? 7 : 20 + i);
    versions[i].set_decision(i == 1 ? "promoted" : "rejected");
  }
  const auto row = [](int rank, int trial) {
    return "<td class=\"n\">" + std::to_string(rank) +
           "</td><td class=\"n\"><a href=\"/sweeps/7/trials/" + std::to_string(trial) + "\">";
  };
  const std::string ranked = RenderSweepPage(s, trials, versions);
  EXPECT_NE(ranked.find("Registered as <a href=\"/models/detector\">detector v2</a> (promoted)."),
            std::string::npos)
      << ranked;
  EXPECT_EQ(ranked.find("detector v3"), std::string::npos);  // Another sweep's.
  EXPECT_NE(ranked.find("<a href=\"/sweeps/7/trials.csv\">"), std::string::npos);
  EXPECT_NE(ranked.find("<a href=\"/sweeps/7?sort=-holdout\">holdout</a>"), std::string::npos);
  EXPECT_NE(ranked.find("<a href=\"/sweeps/7?sort=test_loss\">test loss</a>"), std::string::npos);
  EXPECT_LT(ranked.find(row(1, 11)), ranked.find(row(2, 12)));
  EXPECT_LT(ranked.find(row(2, 12)), ranked.find(row(3, 10)));
  // By holdout, highest first: 10, 12, 11, each keeping its rank; the heading now sorts upwards.
  const std::string by_holdout = RenderSweepPage(s, trials, versions, "-holdout");
  ASSERT_NE(by_holdout.find(row(3, 10)), std::string::npos) << by_holdout;
  EXPECT_LT(by_holdout.find(row(3, 10)), by_holdout.find(row(2, 12)));
  EXPECT_LT(by_holdout.find(row(2, 12)), by_holdout.find(row(1, 11)));
  EXPECT_NE(by_holdout.find("<a href=\"/sweeps/7?sort=holdout\">holdout &#9660;</a>"),
            std::string::npos);
  EXPECT_NE(by_holdout.find("Sorted by holdout, highest first"), std::string::npos);
  const std::string upwards = RenderSweepPage(s, trials, versions, "holdout");
  EXPECT_LT(upwards.find(row(1, 11)), upwards.find(row(2, 12)));
  EXPECT_LT(upwards.find(row(2, 12)), upwards.find(row(3, 10)));
  // An unknown key ranks as usual.
  const std::string unknown = RenderSweepPage(s, trials, versions, "-<x>");
  EXPECT_LT(unknown.find(row(1, 11)), unknown.find(row(3, 10)));
  EXPECT_EQ(unknown.find("<x>"), std::string::npos);
}

// A trial's page: its parameters, results, learning curve, the chain it derives from (as far as
// the sweep holds it) and the trials derived from it.
TEST(DashboardTest, TrialPageShowsResultsCurveAndLineage) {
  v1::SweepStatus s;
  s.set_sweep_id(7);
  s.set_name("halving");
  std::vector<v1::Trial> trials = {Done(10, 0.8, 0.79), Done(11, 0.85, 0.84), Done(12, 0.9, 0.88),
                                   Done(13, 0.7, 0.7)};
  trials[0].set_origin("seed");
  trials[0].set_parent_trial_id(3);  // Of an earlier sweep.
  trials[1].set_origin("promoted");
  trials[1].set_parent_trial_id(10);
  trials[2].set_origin("promoted");
  trials[2].set_parent_trial_id(11);
  trials[3].set_origin("neighbour");
  trials[3].set_parent_trial_id(11);
  trials[1].set_worker_id("w<1>");
  const std::string page = RenderTrialPage(s, trials[1], trials);
  EXPECT_NE(page.find("<h2>Trial 11 of sweep <a href=\"/sweeps/7\">7</a>: halving</h2>"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("worker w&lt;1&gt;"), std::string::npos);
  EXPECT_NE(page.find("<code>epochs=4 step_size=0.01"), std::string::npos);
  EXPECT_NE(page.find("<td>accuracy</td><td class=\"n\">0.8500</td><td class=\"n\">0.8400</td>"),
            std::string::npos);
  EXPECT_EQ(Occurrences(page, "<polyline class=\"curve\""), 1u);
  EXPECT_NE(page.find("Origin: promoted &larr; trial <a href=\"/sweeps/7/trials/10\">10</a> (seed) "
                      "&larr; trial 3 (of an earlier sweep)."),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("Derived from it: <a href=\"/sweeps/7/trials/12\">12</a> (promoted), "
                      "<a href=\"/sweeps/7/trials/13\">13</a> (neighbour)."),
            std::string::npos)
      << page;
  // No confusion matrices recorded: no section.
  EXPECT_EQ(page.find("Confusion matrices"), std::string::npos);
  // With them: a table per part, rows by true class, each row's recall.
  v1::Trial with = trials[1];
  for (int64_t v : {30, 10, 5, 55}) with.mutable_result()->add_selection_confusion(v);
  for (int64_t v : {3, 1, 2}) with.mutable_result()->add_holdout_confusion(v);  // Not square.
  const std::string confused = RenderTrialPage(s, with, trials);
  const size_t at = confused.find("<h3>Confusion matrices</h3>");
  ASSERT_NE(at, std::string::npos) << confused;
  EXPECT_EQ(Occurrences(confused, "<table class=\"confusion\">"), 1u);
  EXPECT_NE(confused.find("<caption>selection</caption>", at), std::string::npos);
  EXPECT_NE(confused.find(">30</td>", at), std::string::npos);
  EXPECT_NE(confused.find("<td class=\"n\">0.750</td></tr>", at), std::string::npos);  // 30/40.
  EXPECT_NE(confused.find("<td class=\"n\">0.917</td></tr>", at), std::string::npos);  // 55/60.
}

TEST(DashboardTest, ParallelCoordinatesShowTheSearchedParametersAndTheObjective) {
  v1::SweepStatus s;
  s.set_sweep_id(8);
  s.set_state("done");
  std::vector<v1::Trial> trials = {Done(1, 0.80, 0.79), Done(2, 0.90, 0.88), Done(3, 0.85, 0.84)};
  // Searched: epochs, step size over 20x (a log axis), issue rate (one trial the natural mix);
  // data size stays 0 everywhere, so it gets no axis.
  trials[0].mutable_params()->set_epochs(2);
  trials[0].mutable_params()->set_step_size(0.001);
  trials[1].mutable_params()->set_step_size(0.02);
  trials[0].mutable_params()->set_issue_rate(-1);
  trials[1].mutable_params()->set_issue_rate(0.6);
  trials[2].mutable_params()->set_issue_rate(0.4);
  const std::string page = RenderSweepPage(s, trials);
  EXPECT_NE(page.find("<h3>Parameters</h3>"), std::string::npos) << page;
  EXPECT_NE(page.find("aria-label=\"parameters and selection accuracy of each trial\""),
            std::string::npos);
  EXPECT_EQ(Occurrences(page, "<polyline class=\"pc\""), 3u);
  EXPECT_EQ(Occurrences(page, "<line class=\"axis\""), 4u);  // 3 parameters + the objective.
  EXPECT_NE(page.find(">step_size (log)</text>"), std::string::npos);
  EXPECT_NE(page.find(">natural</text>"), std::string::npos);
  EXPECT_EQ(page.find(">data_size"), std::string::npos);
  // Worst first, best last (on top), the best in orange (searched from the plot on: the history
  // plot above titles its dots alike).
  const size_t plot = page.find("<h3>Parameters</h3>");
  const size_t worst = page.find("<title>trial 1: 0.8000", plot),
               mid = page.find("<title>trial 3: 0.85", plot),
               best = page.find("<title>trial 2: 0.9000", plot);
  ASSERT_NE(best, std::string::npos) << page;
  EXPECT_LT(worst, mid);
  EXPECT_LT(mid, best);
  EXPECT_GT(page.rfind("stroke=\"#cc6600\"", best), mid);
  EXPECT_EQ(page.find("stroke=\"#cc6600\"", plot), page.rfind("stroke=\"#cc6600\"", best));
  // Nothing searched varies: no plot.
  const std::string flat = RenderSweepPage(s, {Done(1, 0.8, 0.8), Done(2, 0.9, 0.9)});
  EXPECT_EQ(flat.find("<h3>Parameters</h3>"), std::string::npos);
}

// One slice plot per searched parameter that varies, categories by name, axes titled.
TEST(DashboardTest, SlicePlotsShowTheObjectiveAgainstEachSearchedParameter) {
  v1::SweepStatus s;
  s.set_sweep_id(9);
  s.set_state("done");
  std::vector<v1::Trial> trials = {Done(1, 0.80, 0.79), Done(2, 0.90, 0.88), Done(3, 0.85, 0.84)};
  trials[0].mutable_params()->set_step_size(0.001);
  trials[1].mutable_params()->set_step_size(0.02);
  trials[0].mutable_params()->set_optimizer("adamw");
  trials[1].mutable_params()->set_optimizer("sgd");
  trials[2].mutable_params()->set_optimizer("adamw");
  trials[1].mutable_params()->set_architecture("mlp");
  const std::string page = RenderSweepPage(s, trials);
  const size_t at = page.find("<h3>Slices: selection accuracy against each parameter</h3>");
  ASSERT_NE(at, std::string::npos) << page;
  EXPECT_EQ(Occurrences(page, "<svg class=\"slice\""), 3u);  // architecture, optimizer, step.
  for (const char* name : {"architecture", "optimizer", "step_size"}) {
    EXPECT_NE(page.find(std::string("aria-label=\"selection accuracy against ") + name + "\""),
              std::string::npos)
        << name;
  }
  EXPECT_EQ(Occurrences(page, "<circle class=\"dot\""), 9u);
  EXPECT_NE(page.find(">step_size (log)</text>", at), std::string::npos);
  // Category ticks by name (the sweep's own kind shown as such), sorted.
  const size_t adamw = page.find(">adamw</text>", at), sgd = page.find(">sgd</text>", at);
  ASSERT_NE(adamw, std::string::npos) << page;
  ASSERT_NE(sgd, std::string::npos);
  EXPECT_LT(adamw, sgd);
  EXPECT_NE(page.find(">sweep&#39;s</text>", at), std::string::npos) << page.substr(at, 3000);
  // The best trial's dot is orange in each plot.
  EXPECT_EQ(Occurrences(page, "fill=\"#cc6600\" fill-opacity=\"0.6\"><title>trial 2:"), 3u);
  // Nothing varies: no slices.
  const std::string flat = RenderSweepPage(s, {Done(1, 0.8, 0.8), Done(2, 0.9, 0.9)});
  EXPECT_EQ(flat.find("<h3>Slices"), std::string::npos);
}

// Which parameters mattered: a bar per parameter that varied (as `sweepctl importance`), signed
// and strongest first, and where each one's best values lay.
TEST(DashboardTest, ImportanceShowsWhichParametersMattered) {
  v1::SweepStatus s;
  s.set_sweep_id(10);
  s.set_state("done");
  std::vector<v1::Trial> trials;
  for (int i = 0; i < 6; ++i) {
    // Larger steps score better throughout; the seed hardly matters (one swap in the order).
    trials.push_back(Done(i + 1, 0.80 + 0.02 * i, 0.8));
    trials.back().mutable_params()->set_step_size(0.001 * (i + 1));
    trials.back().mutable_params()->set_seed(i == 1 ? 5 : i == 4 ? 1 : (i % 3) + 1);
  }
  trials.push_back(Done(7, 0.99, 0.99));
  trials.back().set_state("failed");  // Not a result: not counted.
  const std::string page = RenderSweepPage(s, trials);
  const size_t at = page.find("<h3>Which parameters mattered</h3>");
  ASSERT_NE(at, std::string::npos) << page;
  EXPECT_NE(page.find("aria-label=\"parameter importance\"", at), std::string::npos);
  EXPECT_NE(page.find("6 succeeded trial(s)", at), std::string::npos) << page.substr(at, 4000);
  // step_size first (Spearman +1, the full half-width bar, blue), then seed.
  const size_t step = page.find(">step_size</text>", at), seed = page.find(">seed</text>", at);
  ASSERT_NE(step, std::string::npos);
  ASSERT_NE(seed, std::string::npos);
  EXPECT_LT(step, seed);
  EXPECT_NE(page.find("<title>step_size: Spearman 1.00 over 6 values</title>", at),
            std::string::npos);
  EXPECT_NE(page.find(">+1.00</text>", at), std::string::npos);
  EXPECT_NE(
      page.find("<tr><td>step_size</td><td class=\"n\">6</td><td class=\"n\">0.005 - 0.006", at),
      std::string::npos)
      << page.substr(at, 4000);
  // One trial: nothing to correlate.
  EXPECT_EQ(RenderSweepPage(s, {Done(1, 0.8, 0.8)}).find("Which parameters"), std::string::npos);
}

TEST(DashboardTest, HomeAndModelPagesLinkAndEscape) {
  v1::SweepStatus s;
  s.set_sweep_id(3);
  s.set_name("n");
  s.set_model("detector");
  s.set_state("running");
  s.set_total(10);
  s.set_succeeded(4);
  s.set_failed(1);
  v1::ListVersionsResponse versions;
  v1::ModelVersion* v = versions.add_versions();
  v->set_version(2);
  v->set_sweep_id(3);
  v->set_decision("promoted");
  v->set_holdout_accuracy(0.875);
  v->set_reason("beats v1 by <0.01>");
  (*versions.mutable_aliases())["champion"] = 2;
  v->add_aliases("champion");
  v1::ClassificationReport* r = v->mutable_holdout_report();
  r->set_samples(8);
  r->set_classes(2);
  for (int n : {1, 1, 1, 5}) r->add_confusion(n);
  for (auto [precision, recall, support] :
       {std::tuple{0.5, 0.5, 2}, std::tuple{5.0 / 6, 5.0 / 6, 6}}) {
    auto* m = r->add_per_class();
    m->set_precision(precision);
    m->set_recall(recall);
    m->set_f1(precision);
    m->set_support(support);
    m->set_predicted(support);
  }
  r->set_accuracy(0.75);
  r->set_balanced_accuracy(2.0 / 3);
  r->set_roc_auc(0.8125);
  v->set_decision_threshold(0.625);
  v->set_threshold_tuned(true);
  v->set_holdout_score(0.75);
  v->set_argmax_holdout_score(0.625);
  v1::ModelVersion* old = versions.add_versions();  // Registered before reports were kept.
  old->set_version(1);
  old->set_decision("promoted");
  v1::AuditEntry* a = versions.add_audit();
  a->set_action("promote");
  a->set_alias("champion");
  a->set_to_version(2);
  a->set_actor("alice via root@host (sweepctl)");
  v1::WorkerInfo w;
  w.set_worker_id("w-1");
  w.set_alive(false);

  const std::string home = RenderHomePage({s}, {{"detector", versions}}, {w});
  EXPECT_NE(home.find("<a href=\"/sweeps/3\">3</a>"), std::string::npos) << home;
  EXPECT_NE(home.find("<progress max=\"10\" value=\"5\"></progress> 5/10"), std::string::npos);
  EXPECT_NE(home.find("<td>v2</td><td class=\"n\">0.8750</td>"), std::string::npos) << home;
  EXPECT_NE(home.find("class=\"bad\">lost"), std::string::npos);

  const std::string model = RenderModelPage("detector", versions);
  EXPECT_NE(model.find("<b>champion</b> &rarr; v2"), std::string::npos);
  EXPECT_NE(model.find("beats v1 by &lt;0.01&gt;"), std::string::npos);
  EXPECT_NE(model.find("<td>alice via root@host (sweepctl)</td>"), std::string::npos);
  EXPECT_NE(model.find("<a href=\"/sweeps/3\">3</a>"), std::string::npos);
  EXPECT_EQ(Occurrences(model, "<circle class=\"version\""), 2u);
  EXPECT_NE(model.find("<title>v2 (promoted): holdout 0.8750</title>"), std::string::npos);
  // The versions' balanced accuracy and AUC ("-" for a version without a report), and the
  // champion's report: per class, with its row of the confusion matrix.
  EXPECT_NE(model.find("<td class=\"n\">0.8750</td><td class=\"n\">0.6667</td>"
                       "<td class=\"n\">0.8125</td>"),
            std::string::npos)
      << model;
  EXPECT_NE(model.find("<td class=\"n\">v1</td>"), std::string::npos);
  EXPECT_NE(model.find("<td class=\"n\">-</td><td class=\"n\">-</td>"), std::string::npos);
  EXPECT_NE(model.find("<h3>Champion v2 on its holdout (8 samples)</h3>"), std::string::npos);
  EXPECT_NE(model.find("ROC AUC 0.8125"), std::string::npos);
  EXPECT_NE(model.find("<tr><td class=\"n\">1</td><td class=\"n\">0.8333</td><td "
                       "class=\"n\">0.8333</td><td class=\"n\">0.8333</td><td class=\"n\">6</td>"
                       "<td class=\"n\">6</td><td class=\"n\">1</td><td class=\"n\">5</td></tr>"),
            std::string::npos)
      << model;
  EXPECT_EQ(Occurrences(model, "on its holdout"), 1u);
  // The decision threshold: v2's tuned one, v1's argmax; the champion's report says what it did.
  EXPECT_NE(model.find("<td class=\"n\">0.8125</td><td class=\"n\">0.6250</td>"), std::string::npos)
      << model;
  EXPECT_NE(model.find("<td class=\"n\">-</td><td class=\"n\">argmax</td>"), std::string::npos)
      << model;
  EXPECT_NE(model.find("Label 1 when its probability exceeds 0.6250 (tuned on the selection "
                       "split); at the argmax the holdout score would be 0.6250, not 0.7500."),
            std::string::npos)
      << model;
}

}  // namespace
}  // namespace sweepfarm::api
