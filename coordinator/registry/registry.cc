#include "coordinator/registry/registry.h"

#include <cstdio>
#include <optional>
#include <tuple>
#include <utility>

#include "common/logging.h"
#include "coordinator/selection/ensemble.h"
#include "coordinator/selection/report.h"

namespace sweepfarm::registry {
namespace {

std::string Fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", v);
  return buf;
}

void ToProto(const selection::ClassificationReport& r, v1::ClassificationReport* out) {
  out->set_samples(r.samples);
  out->set_classes(r.classes);
  for (int64_t n : r.confusion) out->add_confusion(n);
  for (const auto& m : r.per_class) {
    auto* c = out->add_per_class();
    c->set_precision(m.precision);
    c->set_recall(m.recall);
    c->set_f1(m.f1);
    c->set_support(m.support);
    c->set_predicted(m.predicted);
  }
  out->set_accuracy(r.accuracy);
  out->set_balanced_accuracy(r.balanced_accuracy);
  out->set_macro_f1(r.macro_f1);
  out->set_log_loss(r.log_loss);
  if (r.roc_auc) out->set_roc_auc(*r.roc_auc);
}

// The members' predictions among `preds`, in the ensemble's order.
std::vector<const selection::Predictions*> Members(
    const selection::Ensemble& e, const std::vector<selection::Predictions>& preds) {
  std::vector<const selection::Predictions*> members;
  for (int64_t id : e.trial_ids) {
    for (const auto& p : preds) {
      if (p.trial_id == id) members.push_back(&p);
    }
  }
  return members;
}

void Summarize(const std::string& method, const selection::Ensemble& e,
               const std::vector<selection::Predictions>& selection,
               const std::vector<int32_t>& selection_labels,
               const std::vector<selection::Predictions>& holdout,
               const std::vector<int32_t>& holdout_labels, int classes, v1::EnsembleSummary* out) {
  out->set_method(method);
  for (size_t i = 0; i < e.trial_ids.size(); ++i) {
    out->add_trial_ids(e.trial_ids[i]);
    out->add_weights(e.weights[i]);
  }
  out->set_selection_score(e.selection_score);
  out->set_selection_accuracy(selection::Accuracy(
      selection::Average(Members(e, selection), e.weights, selection_labels.size() * classes),
      selection_labels, classes));
  const std::vector<float> probs =
      selection::Average(Members(e, holdout), e.weights, holdout_labels.size() * classes);
  out->set_holdout_accuracy(selection::Accuracy(probs, holdout_labels, classes));
  if (auto report = selection::Classify(probs, holdout_labels, classes); report.ok()) {
    ToProto(*report, out->mutable_holdout_report());
  }
}

// A model's class probabilities on samples (samples x classes, row-major) and their labels.
struct LabelledProbs {
  std::vector<float> probs;
  std::vector<int32_t> labels;
};

// An ensemble's float32 class probabilities and the labels of `count` samples of the dataset's
// test split from `from` (the selection part, then the holdout).
LabelledProbs SplitPredictions(const engine::EnsembleModel& model, const engine::Dataset& data,
                               int64_t from, int64_t count) {
  torch::Tensor x = data.test.x.narrow(0, from, count);
  torch::Tensor y = data.test.y.narrow(0, from, count).to(torch::kInt32).contiguous();
  std::vector<float> probs;
  probs.reserve(static_cast<size_t>(count * model.classes()));
  for (int64_t i = 0; i < count; i += 2048) {
    const int64_t n = std::min<int64_t>(2048, count - i);
    torch::Tensor p = model.Predict(x.narrow(0, i, n)).to(torch::kFloat32).contiguous();
    probs.insert(probs.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
  }
  return {std::move(probs),
          std::vector<int32_t>(y.data_ptr<int32_t>(), y.data_ptr<int32_t>() + y.numel())};
}

// An ensemble's predictions on the dataset's holdout split (from its weights, in float32), or
// nullopt if the split is empty.
std::optional<LabelledProbs> HoldoutPredictions(const engine::EnsembleModel& model,
                                                const engine::Dataset& data) {
  const int64_t sel = data.SelectionSize();
  if (data.test.size() == sel) return std::nullopt;
  return SplitPredictions(model, data, sel, data.test.size() - sel);
}

// The report of `holdout` (HoldoutPredictions) with labels decided by `threshold` (0: the
// argmax), or nullopt without a holdout.
std::optional<selection::ClassificationReport> HoldoutReport(
    const std::optional<LabelledProbs>& holdout, int64_t classes, double threshold) {
  if (!holdout) return std::nullopt;
  auto report =
      selection::Classify(holdout->probs, holdout->labels, static_cast<int>(classes), threshold);
  if (!report.ok()) return std::nullopt;  // Sizes agree by construction; thresholds are checked.
  return std::move(report).value();
}

// "telemetry@3", or the name alone for versions from before data set versions.
std::string DataVersion(const v1::DatasetSpec& d) {
  return d.version() > 0 ? d.name() + "@" + std::to_string(d.version()) : d.name();
}

}  // namespace

StatusOr<EnsembleReport> BuildEnsembles(store::Store* store, datasets::DataSets* datasets,
                                        int64_t sweep_id, const EnsembleOptions& o) {
  SF_ASSIGN_OR_RETURN(auto loaded, store->LoadCandidates(sweep_id, o.candidates, o.with_artifacts));
  auto& [spec, cands] = loaded;
  if (cands.empty()) {
    SF_ASSIGN_OR_RETURN(v1::SweepStatus status, store->GetSweepStatus(sweep_id));
    if (!status.pruned_at().empty()) {
      return FailedPreconditionError("sweep " + std::to_string(sweep_id) + " was pruned at " +
                                     status.pruned_at() + ": its stored predictions are gone");
    }
    return FailedPreconditionError("sweep " + std::to_string(sweep_id) +
                                   " has no succeeded trials with stored predictions" +
                                   (o.with_artifacts ? " and uploaded weights" : ""));
  }
  const auto& first = cands.front();
  for (const auto& c : cands) {
    if (c.samples != first.samples || c.classes != first.classes ||
        c.selection_size != first.selection_size || c.dataset_hash != first.dataset_hash) {
      return FailedPreconditionError("trials " + std::to_string(first.trial_id) + " and " +
                                     std::to_string(c.trial_id) + " were scored on different data");
    }
  }
  EnsembleReport report;
  report.spec = spec;
  report.dataset_hash = first.dataset_hash;
  SF_ASSIGN_OR_RETURN(report.data, datasets->Tensors(spec.dataset()));
  if (report.data->hash != first.dataset_hash) {
    return FailedPreconditionError("dataset " + spec.dataset().name() + " here has hash " +
                                   report.data->hash + ", the trials were scored on " +
                                   first.dataset_hash);
  }
  torch::Tensor y = report.data->test.y.to(torch::kInt32).contiguous();
  std::vector<int32_t> labels(y.data_ptr<int32_t>(), y.data_ptr<int32_t>() + y.numel());
  if (static_cast<int>(labels.size()) != first.samples) {
    return FailedPreconditionError("stored predictions cover " + std::to_string(first.samples) +
                                   " samples, the test split has " + std::to_string(labels.size()));
  }
  const size_t sel = static_cast<size_t>(first.selection_size), cls = first.classes;
  std::vector<int32_t> sel_labels(labels.begin(), labels.begin() + sel);
  std::vector<int32_t> hold_labels(labels.begin() + sel, labels.end());
  std::vector<selection::Predictions> sel_preds, hold_preds;
  for (const auto& c : cands) {
    std::vector<float> p = selection::HalfToFloat(c.probs_f16);
    sel_preds.push_back({c.trial_id, std::vector<float>(p.begin(), p.begin() + sel * cls)});
    hold_preds.push_back({c.trial_id, std::vector<float>(p.begin() + sel * cls, p.end())});
  }
  const int k = std::min<int>(o.top_k, static_cast<int>(cands.size()));
  const std::optional<selection::Metric> metric = selection::MetricNamed(spec.objective_metric());
  if (!metric) {
    return FailedPreconditionError("sweep " + std::to_string(sweep_id) + " has objective " +
                                   spec.objective_metric() + ", which ensembles cannot use");
  }
  SF_ASSIGN_OR_RETURN(
      auto greedy, selection::GreedySelect(sel_preds, sel_labels, first.classes, o.size, *metric));
  SF_ASSIGN_OR_RETURN(auto top, selection::TopK(sel_preds, sel_labels, first.classes, k, *metric));
  // The sweep's own bags (selection.bags, bag_fraction), seeded by the sweep: the same every time.
  const int bags = spec.selection().bags() > 0 ? spec.selection().bags() : 20;
  const double fraction =
      spec.selection().bag_fraction() > 0 ? spec.selection().bag_fraction() : 0.5;
  SF_ASSIGN_OR_RETURN(auto bagged,
                      selection::BaggedSelect(sel_preds, sel_labels, first.classes, o.size, *metric,
                                              bags, fraction, static_cast<uint64_t>(sweep_id)));
  selection::Ensemble single{{first.trial_id}, {1.0}, first.selection_score};
  v1::BuildEnsembleResponse& r = report.summary;
  for (auto [method, e, out] : {std::tuple{"greedy", &greedy, r.mutable_greedy()},
                                std::tuple{"bagged", &bagged, r.mutable_bagged()},
                                std::tuple{"top_k", &top, r.mutable_top_k()},
                                std::tuple{"best_single", &single, r.mutable_best_single()}}) {
    Summarize(method, *e, sel_preds, sel_labels, hold_preds, hold_labels, first.classes, out);
  }
  r.set_objective(spec.objective_metric().empty() ? "selection_accuracy" : spec.objective_metric());
  r.set_candidates(static_cast<int32_t>(cands.size()));
  r.set_selection_samples(static_cast<int32_t>(sel));
  r.set_holdout_samples(static_cast<int32_t>(hold_labels.size()));
  return report;
}

StatusOr<engine::EnsembleModel> LoadEnsemble(store::Store* store, const v1::ModelVersion& v) {
  std::vector<engine::MemberArtifact> members;
  for (const auto& m : v.members()) {
    SF_ASSIGN_OR_RETURN(store::Artifact a, store->LoadArtifact(m.sha256()));
    members.push_back({m.trial_id(), m.weight(), a.format, a.arch_json, a.content, m.sha256()});
  }
  return engine::LoadEnsemble(members, v.model() + " v" + std::to_string(v.version()));
}

StatusOr<v1::ModelVersion> Registry::Resolve(const std::string& model, int version,
                                             const std::string& alias0) {
  if (version == 0) {
    const std::string alias = alias0.empty() ? "champion" : alias0;
    SF_ASSIGN_OR_RETURN(version, store_->AliasVersion(model, alias));
    if (version == 0) return NotFoundError("model " + model + " has no alias " + alias);
  }
  return store_->GetVersion(model, version);
}

StatusOr<v1::PublishSweepResponse> Registry::Publish(int64_t sweep_id, const std::string& actor,
                                                     bool dry_run) {
  SF_ASSIGN_OR_RETURN(v1::SweepStatus status, store_->GetSweepStatus(sweep_id));
  if (status.state() == "cancelled") {
    return FailedPreconditionError("sweep " + std::to_string(sweep_id) +
                                   " was cancelled: " + status.cancel_reason());
  }
  if (status.state() != "done") {
    return FailedPreconditionError("sweep " + std::to_string(sweep_id) + " is still running (" +
                                   std::to_string(status.queued()) + " queued, " +
                                   std::to_string(status.running()) + " running)");
  }
  v1::PublishSweepResponse resp;
  SF_ASSIGN_OR_RETURN(int published, store_->PublishedVersion(status.model(), sweep_id));
  if (published > 0) {
    SF_ASSIGN_OR_RETURN(*resp.mutable_version(), store_->GetVersion(status.model(), published));
    resp.set_promoted(resp.version().decision() == "promoted");
    resp.set_already_published(true);
    return resp;
  }
  if (!status.pruned_at().empty()) {
    return FailedPreconditionError("sweep " + std::to_string(sweep_id) + " was pruned at " +
                                   status.pruned_at() +
                                   ": its stored predictions and weights are gone, so it can no "
                                   "longer be published");
  }
  SF_ASSIGN_OR_RETURN(v1::SweepSpec spec, store_->GetSweepSpec(sweep_id));
  const v1::SelectionSpec& sel = spec.selection();
  EnsembleOptions o;
  o.size = sel.ensemble_size() > 0 ? sel.ensemble_size() : 10;
  o.candidates = sel.candidates() > 0 ? sel.candidates() : 20;
  o.top_k = sel.top_k() > 0 ? sel.top_k() : 5;
  o.with_artifacts = true;
  SF_ASSIGN_OR_RETURN(EnsembleReport report, BuildEnsembles(store_, datasets_, sweep_id, o));
  *resp.mutable_greedy() = report.summary.greedy();
  *resp.mutable_bagged() = report.summary.bagged();
  *resp.mutable_top_k() = report.summary.top_k();
  // The sweep's best trial by its objective, whether or not its weights were uploaded (the
  // candidates are only those with weights).
  v1::EnsembleSummary* single = resp.mutable_best_single();
  single->set_method("best_single");
  single->add_trial_ids(status.best_trial_id());
  single->add_weights(1.0);
  single->set_selection_accuracy(status.best_selection_accuracy());
  single->set_selection_score(status.best_selection_score());
  single->set_holdout_accuracy(status.best_holdout_accuracy());
  const std::string method = sel.method().empty() ? "greedy" : sel.method();
  const v1::EnsembleSummary& chosen = method == "top_k"    ? report.summary.top_k()
                                      : method == "bagged" ? report.summary.bagged()
                                                           : report.summary.greedy();

  v1::ModelVersion v;
  v.set_model(status.model());
  v.set_sweep_id(sweep_id);
  v.set_method(method);
  v.set_selection_accuracy(chosen.selection_accuracy());
  v.set_objective(report.summary.objective());
  // The gate compares the objective's metric on the holdout part (BuildEnsembles checked it).
  const selection::Metric objective = *selection::MetricNamed(v.objective());
  const std::string metric =
      objective == selection::Metric::kBalancedAccuracy ? "holdout balanced accuracy " : "holdout ";
  v.set_margin(sel.promotion_margin());
  v.set_holdout_samples(report.summary.holdout_samples());
  v.set_dataset_hash(report.dataset_hash);
  *v.mutable_dataset() = report.spec.dataset();
  *v.mutable_architecture() = report.spec.architecture();
  v.set_code_version(code_version_);
  v.set_best_single_trial_id(status.best_trial_id());
  v.set_best_single_holdout_accuracy(status.best_holdout_accuracy());
  for (int i = 0; i < chosen.trial_ids_size(); ++i) {
    v1::ModelMember* m = v.add_members();
    m->set_trial_id(chosen.trial_ids(i));
    m->set_weight(chosen.weights(i));
  }
  // The challenger from its stored weights (every artifact verified) on this sweep's holdout.
  std::vector<engine::MemberArtifact> artifacts;
  for (const auto& m : v.members()) {
    SF_ASSIGN_OR_RETURN(std::string sha, store_->TrialArtifact(m.trial_id()));
    SF_ASSIGN_OR_RETURN(store::Artifact a, store_->LoadArtifact(sha));
    artifacts.push_back({m.trial_id(), m.weight(), a.format, a.arch_json, a.content, sha});
  }
  SF_ASSIGN_OR_RETURN(engine::EnsembleModel challenger,
                      engine::LoadEnsemble(artifacts, "sweep " + std::to_string(sweep_id)));
  // The label it serves: the argmax, a configured threshold, or the one that scores best by the
  // objective on the selection split (the part the members were chosen on; the holdout stays
  // unseen for the gate).
  double threshold = sel.decision_threshold();
  std::string tuned_note;
  if (sel.tune_threshold()) {
    if (challenger.classes() != 2) {
      return FailedPreconditionError("sweep " + std::to_string(sweep_id) +
                                     ": selection.threshold tuned needs a binary model, this one "
                                     "has " +
                                     std::to_string(challenger.classes()) + " classes");
    }
    const auto [probs, labels] =
        SplitPredictions(challenger, *report.data, 0, report.data->SelectionSize());
    SF_ASSIGN_OR_RETURN(selection::TunedThreshold tuned,
                        selection::TuneThreshold(probs, labels, objective, sel.min_issue_recall()));
    threshold = tuned.threshold;
    tuned_note =
        "; threshold " + Fixed(threshold) + " tuned on the selection split (" +
        Fixed(tuned.at_half) + " there at the argmax, " + Fixed(tuned.score) + " tuned" +
        (sel.min_issue_recall() > 0 ? ", keeping issue recall >= " + Fixed(sel.min_issue_recall())
                                    : std::string()) +
        ")";
  }
  v.set_decision_threshold(threshold);
  v.set_threshold_tuned(sel.tune_threshold());
  // One forward pass over the holdout serves both the threshold's report and the argmax's.
  const auto predictions = HoldoutPredictions(challenger, *report.data);
  if (auto holdout = HoldoutReport(predictions, challenger.classes(), threshold)) {
    v.set_holdout_accuracy(holdout->accuracy);
    v.set_holdout_score(selection::ScoreOf(objective, *holdout));
    ToProto(*holdout, v.mutable_holdout_report());
  }
  if (threshold > 0) {
    if (auto argmax = HoldoutReport(predictions, challenger.classes(), 0)) {
      v.set_argmax_holdout_score(selection::ScoreOf(objective, *argmax));
    }
  }

  // The reference inputs a prediction service compares what it is sent with.
  if (const int64_t n = report.data->SelectionSize(); n > 0) {
    torch::Tensor x = report.data->test.x.narrow(0, 0, n).to(torch::kFloat64);
    x = x.reshape({-1, x.size(-1)});
    torch::Tensor mean = x.mean(0).contiguous(), stddev = x.std(0, false).contiguous();
    v1::InputStats* stats = v.mutable_input_stats();
    stats->mutable_mean()->Add(mean.data_ptr<double>(), mean.data_ptr<double>() + mean.numel());
    stats->mutable_stddev()->Add(stddev.data_ptr<double>(),
                                 stddev.data_ptr<double>() + stddev.numel());
    stats->set_samples(n);
  }

  // The champion on the same holdout.
  SF_ASSIGN_OR_RETURN(int champion, store_->AliasVersion(status.model(), "champion"));
  bool promote = false;
  std::string reason;
  if (champion == 0) {
    promote = true;
    reason = "first version of " + status.model() + ": no champion to beat (" + metric +
             Fixed(v.holdout_score()) + ")";
  } else {
    v.set_compared_version(champion);
    const std::string cv = "champion v" + std::to_string(champion);
    SF_ASSIGN_OR_RETURN(v1::ModelVersion current, store_->GetVersion(status.model(), champion));
    auto loaded = LoadEnsemble(store_, current);
    if (!loaded.ok()) {
      promote = true;
      reason = cv + " cannot be loaded (" + loaded.status().message() + "); replaced";
    } else if (loaded->sample_shape() != challenger.sample_shape() ||
               loaded->classes() != challenger.classes()) {
      reason = cv +
               " takes other inputs than this sweep's models; not comparable (promote by "
               "hand if intended)";
    } else {
      const auto theirs = HoldoutReport(HoldoutPredictions(*loaded, *report.data),
                                        loaded->classes(), current.decision_threshold());
      v.set_champion_holdout_accuracy(theirs ? theirs->accuracy : 0.0);
      v.set_champion_holdout_score(theirs ? selection::ScoreOf(objective, *theirs) : 0.0);
      promote = v.holdout_score() > v.champion_holdout_score() + sel.promotion_margin();
      reason = metric + Fixed(v.holdout_score()) + (promote ? " beats " : " does not beat ") + cv +
               "'s " + Fixed(v.champion_holdout_score()) + " by more than the margin " +
               Fixed(sel.promotion_margin());
      // Both re-scored on this sweep's holdout, whatever data the champion learned from.
      const std::string mine = DataVersion(v.dataset()),
                        theirs_data = DataVersion(current.dataset());
      v.set_compared_dataset(theirs_data);
      if (mine != theirs_data) {
        reason +=
            " (both on " + mine + "'s holdout; the champion learned from " + theirs_data + ")";
      }
    }
  }
  v.set_decision(promote ? "promoted" : "rejected");
  v.set_reason(reason + tuned_note);
  if (dry_run) {
    *resp.mutable_version() = std::move(v);
    resp.set_promoted(promote);
    resp.set_validated_only(true);
    return resp;
  }
  auto version = store_->RegisterVersion(v, champion, actor);
  if (!version.ok() && version.status().code() == StatusCode::kAlreadyExists) {
    return Publish(sweep_id, actor);  // Published concurrently: report that version.
  }
  if (!version.ok()) return version.status();
  SF_LOG(Info) << status.model() << " v" << *version << " from sweep " << sweep_id << ": "
               << v.decision() << " (" << reason << ")";
  SF_ASSIGN_OR_RETURN(*resp.mutable_version(), store_->GetVersion(status.model(), *version));
  resp.set_promoted(promote);
  return resp;
}

}  // namespace sweepfarm::registry
