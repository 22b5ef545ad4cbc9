#include "cli/export.h"

#include "common/json.h"

namespace sweepfarm::cli {

std::string CsvField(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string TrialsCsv(const std::vector<v1::Trial>& trials) {
  static const char* kHeader[] = {"trial_id",
                                  "state",
                                  "origin",
                                  "parent_trial_id",
                                  "rung",
                                  "attempts",
                                  "epochs",
                                  "step_size",
                                  "issue_rate",
                                  "data_size",
                                  "seed",
                                  "channels",
                                  "kernel_size",
                                  "architecture",
                                  "optimizer",
                                  "weight_decay",
                                  "smoothing",
                                  "selection_accuracy",
                                  "holdout_accuracy",
                                  "selection_balanced_accuracy",
                                  "holdout_balanced_accuracy",
                                  "selection_score",
                                  "test_accuracy",
                                  "test_loss",
                                  "train_loss",
                                  "baseline_accuracy",
                                  "resumed_epochs",
                                  "wall_seconds",
                                  "samples_per_second",
                                  "bundle_size",
                                  "device",
                                  "worker_id",
                                  "last_error",
                                  "train_loss_curve"};
  std::string out;
  for (const char* h : kHeader) out += std::string(out.empty() ? "" : ",") + h;
  out += "\r\n";
  for (const v1::Trial& t : trials) {
    const v1::TrialParams& p = t.params();
    std::string channels;
    for (int i = 0; i < p.channels_size(); ++i) {
      channels += (i ? "x" : "") + std::to_string(p.channels(i));
    }
    // A result exists once the trial succeeded; other states leave its fields empty.
    const bool done = t.state() == "succeeded";
    const v1::TrialResult& r = t.result();
    auto result = [&](double v) { return done ? ShortestNumber(v) : std::string(); };
    std::string curve;  // The learning curve, one value per epoch, ';' between them.
    if (done) {
      for (float v : r.train_loss_curve()) curve += (curve.empty() ? "" : ";") + ShortestNumber(v);
    }
    const std::vector<std::string> row = {
        std::to_string(t.trial_id()),
        t.state(),
        t.origin(),
        t.parent_trial_id() > 0 ? std::to_string(t.parent_trial_id()) : "",
        std::to_string(t.rung()),
        std::to_string(t.attempts()),
        std::to_string(p.epochs()),
        ShortestNumber(p.step_size()),
        p.issue_rate() < 0 ? "" : ShortestNumber(p.issue_rate()),  // Negative: the natural mix.
        ShortestNumber(p.data_size()),
        std::to_string(p.seed()),
        channels,
        p.kernel_size() > 0 ? std::to_string(p.kernel_size()) : "",
        p.architecture(),
        p.optimizer(),
        p.has_weight_decay() ? ShortestNumber(p.weight_decay()) : "",
        p.has_smoothing() ? ShortestNumber(p.smoothing()) : "",
        result(r.selection_accuracy()),
        result(r.holdout_accuracy()),
        result(r.selection_balanced_accuracy()),
        result(r.holdout_balanced_accuracy()),
        result(r.selection_score()),
        result(r.test_accuracy()),
        result(r.test_loss()),
        result(r.train_loss()),
        result(r.baseline_accuracy()),
        done ? std::to_string(r.resumed_epochs()) : "",
        result(r.wall_seconds()),
        result(r.samples_per_second()),
        done ? std::to_string(r.bundle_size()) : "",
        done ? r.device() : "",
        t.worker_id(),
        t.last_error(),
        curve};
    for (size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + CsvField(row[i]);
    out += "\r\n";
  }
  return out;
}

}  // namespace sweepfarm::cli
