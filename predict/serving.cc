#include "predict/serving.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "common/metrics_server.h"
#include "engine/dataset.h"
#include "proto/grpc_status.h"

namespace sweepfarm::predict {
namespace {

// Adds `n` labels to `counts` (label -> samples).
void Tally(std::map<int64_t, int64_t>* counts, const int64_t* labels, int64_t n) {
  for (int64_t i = 0; i < n; ++i) ++(*counts)[labels[i]];
}

// One series of `name` per label counted: `head` with label="N", the count.
void ByLabel(std::ostream& out, const char* name, const std::string& head,
             const std::map<int64_t, int64_t>& counts) {
  for (const auto& [label, n] : counts) {
    out << name << WithLabel(head, "label", std::to_string(label)) << " " << n << "\n";
  }
}

}  // namespace

ModelFollower::ModelFollower(std::unique_ptr<v1::RegistryService::StubInterface> registry,
                             std::string model, std::string alias,
                             std::chrono::steady_clock::duration retry_base)
    : registry_(std::move(registry)),
      model_(std::move(model)),
      alias_(std::move(alias)),
      retry_base_(retry_base) {}

Status ModelFollower::Refresh(bool force) {
  // Which version the alias names now: the version alone, without artifacts.
  v1::GetModelRequest req;
  req.set_model(model_);
  req.set_alias(alias_);
  SF_ASSIGN_OR_RETURN(v1::ModelVersion named, GetVersion(registry_.get(), req, 10));
  const int version = named.version();
  const auto now = std::chrono::steady_clock::now();
  int attempts = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (current_ && current_->version.version() == version) {
      failed_.reset();  // The alias went back to the version served.
      return OkStatus();
    }
    if (failed_ && failed_->version == version) {
      if (!force && now < failed_->retry_at) return failed_->status;
      attempts = failed_->attempts;
    }
  }
  // Loaded by number: the alias may move again meanwhile, and the next refresh follows it.
  req.clear_alias();
  req.set_version(version);
  StatusOr<LoadedModel> loaded = LoadModel(registry_.get(), req);
  std::lock_guard<std::mutex> lock(mu_);
  if (!loaded.ok()) {
    // An unreachable registry (or a deadline) is not the version's fault: it is asked again at
    // the next refresh. Only the version's own failures back off.
    if (loaded.status().code() == StatusCode::kUnavailable) return loaded.status();
    ++load_failures_;
    const auto cap =
        std::max<std::chrono::steady_clock::duration>(std::chrono::minutes(5), retry_base_);
    auto delay = retry_base_ * (int64_t{2} << std::min(attempts, 20));
    failed_ = Failed{version, loaded.status(), attempts + 1, now + std::min(delay, cap)};
    return loaded.status();
  }
  failed_.reset();
  current_ = std::make_shared<const LoadedModel>(std::move(loaded).value());
  return OkStatus();
}

std::shared_ptr<const LoadedModel> ModelFollower::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

std::optional<std::chrono::steady_clock::time_point> ModelFollower::retry_at() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!failed_) return std::nullopt;
  return failed_->retry_at;
}

StatusOr<torch::Tensor> RequestSamples(const v1::PredictRequest& req,
                                       const std::vector<int64_t>& sample_shape,
                                       int64_t max_samples) {
  const int64_t n = req.samples_size();
  if (n == 0) return InvalidArgumentError("Predict: samples: none given");
  if (n > max_samples) {
    return InvalidArgumentError("Predict: samples: " + std::to_string(n) + " given, at most " +
                                std::to_string(max_samples) + " per call (--max-samples)");
  }
  int64_t per = 1;
  std::string shape;
  for (int64_t d : sample_shape) {
    per *= d;
    shape += (shape.empty() ? "" : "x") + std::to_string(d);
  }
  std::vector<int64_t> dims{n};
  dims.insert(dims.end(), sample_shape.begin(), sample_shape.end());
  torch::Tensor x = torch::empty(dims, torch::kFloat32);
  float* out = x.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& values = req.samples(static_cast<int>(i)).values();
    const std::string name = "Predict: samples[" + std::to_string(i) + "]";
    if (values.size() != per) {
      return InvalidArgumentError(name + " has " + std::to_string(values.size()) +
                                  " values; the model takes " + std::to_string(per) + " (" + shape +
                                  ", channels first)");
    }
    for (int64_t j = 0; j < per; ++j) {
      if (!std::isfinite(values[static_cast<int>(j)])) {
        return InvalidArgumentError(name + ".values[" + std::to_string(j) + "] is not finite");
      }
    }
    std::copy(values.begin(), values.end(), out + i * per);
  }
  return x;
}

grpc::Status PredictionServiceImpl::Predict(grpc::ServerContext* ctx, const v1::PredictRequest* req,
                                            v1::PredictResponse* resp) {
  if (auto s = auth_.Admit(ctx, "Predict"); !s.ok()) return s;
  if (!req->model().empty() && req->model() != follower_->model()) {
    return ToGrpc(InvalidArgumentError("Predict: model: this server serves " + follower_->model() +
                                       ", not " + req->model()));
  }
  // Held for the whole call: a swap meanwhile does not pull the model from under it.
  std::shared_ptr<const LoadedModel> loaded = follower_->current();
  if (!loaded) {  // sweepfarm-serve listens only once one is; another host of this class may not.
    return ToGrpc(UnavailableError("Predict: no version of " + follower_->model() +
                                   " loaded yet (alias " + follower_->alias() + ")"));
  }
  const std::vector<int64_t> shape = engine::ChannelsFirstShape(loaded->model.sample_shape());
  auto sent = RequestSamples(*req, shape, max_samples_);
  if (!sent.ok()) return ToGrpc(sent.status());
  const torch::Tensor x = engine::ToChannelsLast(*sent);
  torch::Tensor probs = loaded->model.Predict(x).contiguous();
  const double threshold = loaded->version.decision_threshold();
  torch::Tensor labels = engine::DecideLabels(probs, threshold).contiguous();
  if (metrics_ != nullptr) {
    metrics_->CountSamples(probs.size(0));
    metrics_->CountLabels(labels.data_ptr<int64_t>(), labels.size(0));
    metrics_->CountInputs(x);
  }
  resp->set_model(loaded->version.model());
  resp->set_version(loaded->version.version());
  resp->set_alias(follower_->alias());
  for (int64_t d : shape) resp->add_sample_shape(d);
  resp->set_decision_threshold(threshold);
  *resp->mutable_classes() = loaded->version.dataset().classes();
  const int64_t classes = probs.size(1);
  const int64_t values = sent->numel() / std::max<int64_t>(sent->size(0), 1);
  const float* p = probs.data_ptr<float>();
  const float* in = sent->data_ptr<float>();
  const int64_t* l = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < probs.size(0); ++i) {
    v1::Prediction* out = resp->add_predictions();
    out->set_label(static_cast<int>(l[i]));
    out->mutable_probabilities()->Add(p + i * classes, p + (i + 1) * classes);
    if (recorder_ != nullptr && recorder_->Sample()) {
      out->set_id(recorder_->Record(loaded->version.model(), loaded->version.version(),
                                    in + i * values, values, p + i * classes, classes,
                                    static_cast<int>(l[i])));
    }
  }
  if (shadow_ != nullptr) shadow_->Offer(x, labels);
  return grpc::Status::OK;
}

ShadowScorer::ShadowScorer(const ModelFollower* follower, size_t capacity)
    : follower_(follower), capacity_(capacity) {
  thread_ = std::thread([this] { Run(); });
}

ShadowScorer::~ShadowScorer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ShadowScorer::Offer(torch::Tensor x, torch::Tensor served) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= capacity_) {
      dropped_ += x.size(0);
      return;
    }
    queue_.emplace_back(std::move(x), std::move(served));
  }
  wake_.notify_one();
}

void ShadowScorer::Run() {
  for (;;) {
    std::pair<torch::Tensor, torch::Tensor> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    const auto& [x, served] = batch;
    std::shared_ptr<const LoadedModel> shadow = follower_->current();
    // No version yet, or one that takes other inputs: not scored, counted.
    if (!shadow || shadow->model.sample_shape() !=
                       std::vector<int64_t>(x.sizes().begin() + 1, x.sizes().end())) {
      unscored_ += x.size(0);
      continue;
    }
    torch::Tensor probs = shadow->model.Predict(x);
    torch::Tensor labels =
        engine::DecideLabels(probs, shadow->version.decision_threshold()).contiguous();
    samples_ += labels.size(0);
    disagreements_ += labels.ne(served).sum().item<int64_t>();
    std::lock_guard<std::mutex> lock(labels_mu_);
    Tally(&labels_, labels.data_ptr<int64_t>(), labels.size(0));
  }
}

void ShadowScorer::Render(std::ostream& out, const std::string& labels) const {
  const std::string head = WithLabel(labels, "shadow_alias", follower_->alias());
  auto now = follower_->current();
  OneMetric(out, "sweepfarm_serve_shadow_version", "gauge",
            "The version --shadow-alias names, scored beside the served one (0: none loaded).",
            head, now ? now->version.version() : 0);
  OneMetric(out, "sweepfarm_serve_shadow_samples_total", "counter",
            "Served samples the shadow version also classified (off the request path).", head,
            samples_.load());
  OneMetric(out, "sweepfarm_serve_shadow_disagreements_total", "counter",
            "Of those, samples the shadow version labelled differently from the answer: what "
            "promoting it would change.",
            head, disagreements_.load());
  OneMetric(out, "sweepfarm_serve_shadow_dropped_total", "counter",
            "Served samples the shadow did not score: its queue was full, it had no version "
            "loaded, or its version takes other inputs.",
            head, dropped_ + unscored_);
  MetricFamily(out, "sweepfarm_serve_shadow_predictions_total", "counter",
               "Samples the shadow version classified, by its label.");
  std::lock_guard<std::mutex> lock(labels_mu_);
  ByLabel(out, "sweepfarm_serve_shadow_predictions_total", head, labels_);
}

void ServeMetrics::CountLabels(const int64_t* labels, int64_t n) {
  std::lock_guard<std::mutex> lock(labels_mu_);
  Tally(&labels_, labels, n);
}

void ServeMetrics::CountInputs(const torch::Tensor& x) {
  const int64_t channels = x.size(-1);
  torch::Tensor flat = x.reshape({-1, channels});
  torch::Tensor sums = flat.to(torch::kFloat64).sum(0).contiguous();
  const double* v = sums.data_ptr<double>();
  std::lock_guard<std::mutex> lock(labels_mu_);
  if (input_sums_.size() != static_cast<size_t>(channels)) {
    input_sums_.assign(channels, 0.0);  // A version with other inputs: counted afresh.
    input_values_ = 0;
  }
  for (int64_t c = 0; c < channels; ++c) input_sums_[c] += v[c];
  input_values_ += flat.size(0);
}

void ServeMetrics::CountRefresh(bool ok, bool swapped) {
  if (!ok) {
    ++refresh_failures_;
    return;
  }
  if (swapped) ++loads_;
  last_refresh_ =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string ServeMetrics::Render(const ModelFollower& follower, const ShadowScorer* shadow,
                                 const PredictionRecorder* recorder) const {
  std::ostringstream out;
  auto now = follower.current();
  const std::string labels =
      "{model=\"" + follower.model() + "\",alias=\"" + follower.alias() + "\"}";
  OneMetric(out, "sweepfarm_serve_version", "gauge",
            "The registry version being served (0: none loaded yet).", labels,
            now ? now->version.version() : 0);
  MetricFamily(out, "sweepfarm_serve_last_refresh_timestamp_seconds", "gauge",
               "When the registry last answered a refresh (Unix time; 0: never). Alert when it "
               "falls behind: the alias may have moved without this service following.");
  out << "sweepfarm_serve_last_refresh_timestamp_seconds" << labels << " " << std::fixed
      << std::setprecision(3) << last_refresh_.load() << "\n"
      << std::defaultfloat << std::setprecision(17);  // Sums and references: every digit.
  OneMetric(out, "sweepfarm_serve_refresh_failures_total", "counter",
            "Refreshes that failed (registry unreachable, alias unknown, a version that did not "
            "load or verify); the served version stayed.",
            labels, refresh_failures_.load());
  OneMetric(out, "sweepfarm_serve_version_load_failures_total", "counter",
            "Attempts to load a version that failed (a corrupt or missing artifact); each fetched "
            "its artifacts, so a failed version is retried with a backoff.",
            labels, follower.load_failures());
  OneMetric(out, "sweepfarm_serve_version_loads_total", "counter",
            "Versions loaded, verified and swapped in.", labels, loads_.load());
  OneMetric(out, "sweepfarm_serve_samples_total", "counter", "Samples classified.", labels,
            samples_.load());
  std::unique_lock<std::mutex> lock(labels_mu_);
  MetricFamily(out, "sweepfarm_serve_predictions_total", "counter",
               "Samples classified, by the label predicted (telemetry: 1 is the faulty "
               "component); the mix served, for drift alerts.");
  ByLabel(out, "sweepfarm_serve_predictions_total", labels, labels_);
  // Input drift: per channel, the sum of the values sent (rate(sum) / rate(values) is their
  // mean over a window) beside the served version's reference from its selection split.
  OneMetric(out, "sweepfarm_serve_input_values_total", "counter",
            "Values classified per input channel (samples x time steps).", labels, input_values_);
  MetricFamily(out, "sweepfarm_serve_input_sum", "counter",
               "The sum of the values classified, per input channel (telemetry: per metric).");
  for (size_t c = 0; c < input_sums_.size(); ++c) {
    out << "sweepfarm_serve_input_sum" << WithLabel(labels, "channel", std::to_string(c)) << " "
        << input_sums_[c] << "\n";
  }
  const v1::InputStats* ref =
      now && now->version.has_input_stats() ? &now->version.input_stats() : nullptr;
  // Each family's samples together, as the exposition format requires.
  for (const bool mean : {true, false}) {
    const char* name =
        mean ? "sweepfarm_serve_input_reference_mean" : "sweepfarm_serve_input_reference_stddev";
    MetricFamily(out, name, "gauge",
                 mean ? "The served version's inputs per channel: the mean over its selection "
                        "split."
                      : "The served version's inputs per channel: the standard deviation over "
                        "its selection split.");
    for (int c = 0; ref != nullptr && c < ref->mean_size() && c < ref->stddev_size(); ++c) {
      out << name << WithLabel(labels, "channel", std::to_string(c)) << " "
          << (mean ? ref->mean(c) : ref->stddev(c)) << "\n";
    }
  }
  lock.unlock();
  out << std::setprecision(6);  // The stream's default again, for the RPC histograms' bounds.
  if (shadow != nullptr) shadow->Render(out, labels);
  if (recorder != nullptr) {
    OneMetric(out, "sweepfarm_serve_predictions_recorded_total", "counter",
              "Answered samples recorded in the coordinator, to be confirmed or corrected.", labels,
              recorder->recorded());
    OneMetric(out, "sweepfarm_serve_predictions_unrecorded_total", "counter",
              "Answered samples that were to be recorded but were dropped (queue full, or the "
              "coordinator refused them).",
              labels, recorder->dropped());
  }
  rpcs_.Render(out);
  return out.str();
}

}  // namespace sweepfarm::predict
