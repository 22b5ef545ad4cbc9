// sweepfarm-serve's parts: a follower that keeps the version an alias names loaded (swapping in
// a new one only once it has loaded and verified), and the PredictionService that answers from
// whatever version is loaded at the moment a call arrives.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "predict/recorder.h"
#include "predict/registry_client.h"
#include "proto/rpc_metrics.h"
#include "proto/security.h"
#include "sweepfarm/v1/predict.grpc.pb.h"

namespace sweepfarm::predict {

// Follows `alias` of `model` in the registry. Thread-safe.
class ModelFollower {
 public:
  // `retry_base`: after a version fails to load, it is fetched again only after 2x, 4x, 8x...
  // this (at most 5 minutes, or `retry_base` if that is longer), or when Refresh is forced.
  ModelFollower(std::unique_ptr<v1::RegistryService::StubInterface> registry, std::string model,
                std::string alias,
                std::chrono::steady_clock::duration retry_base = std::chrono::seconds(10));

  // Asks the registry which version the alias names; if it is not the one loaded, loads and
  // verifies it and swaps it in. On any failure (registry unreachable, unknown alias, a corrupt
  // artifact) the loaded version stays and the error is returned. A version that failed to load
  // is not fetched again before its backoff ends (its error is returned meanwhile), unless
  // `force` (an operator's SIGHUP): a rotted artifact is not downloaded at every refresh.
  Status Refresh(bool force = false);

  // The version loaded now; null before the first successful load. Holders keep it alive
  // across a swap.
  std::shared_ptr<const LoadedModel> current() const;

  // Attempts to load a version that failed (each one fetched artifacts from the registry).
  int64_t load_failures() const { return load_failures_; }
  // While the alias names a version that failed to load: when it is tried again.
  std::optional<std::chrono::steady_clock::time_point> retry_at() const;

  const std::string& model() const { return model_; }
  const std::string& alias() const { return alias_; }

 private:
  struct Failed {
    int version = 0;
    Status status;
    int attempts = 0;
    std::chrono::steady_clock::time_point retry_at;
  };

  std::unique_ptr<v1::RegistryService::StubInterface> registry_;
  const std::string model_, alias_;
  const std::chrono::steady_clock::duration retry_base_;
  std::atomic<int64_t> load_failures_{0};
  mutable std::mutex mu_;
  std::shared_ptr<const LoadedModel> current_;  // Guarded by mu_.
  std::optional<Failed> failed_;                // Guarded by mu_.
};

// The samples of a request as one [N, shape...] float32 tensor (`shape` channels first, as the
// samples are sent), or INVALID_ARGUMENT naming the first bad sample (too many or too few values,
// a value that is not finite), an empty request or more than `max_samples`.
StatusOr<torch::Tensor> RequestSamples(const v1::PredictRequest& req,
                                       const std::vector<int64_t>& sample_shape,
                                       int64_t max_samples);

// --shadow-alias: scores every answered batch with a second version (the one `follower` keeps
// loaded, e.g. last night's challenger) off the request path, and counts how often its labels
// differ from the ones served: how much a promotion would change the diagnoses on live traffic,
// before it happens. One thread and a bounded queue: a batch that finds the queue full is
// dropped (counted), so the shadow never slows or changes an answer. Thread-safe.
class ShadowScorer {
 public:
  explicit ShadowScorer(const ModelFollower* follower, size_t capacity = 64);
  ~ShadowScorer();  // Stops after the batch in hand; the rest of the queue is dropped.

  // A batch answered: its samples [N, sample...] and the labels served [N] int64.
  void Offer(torch::Tensor x, torch::Tensor served);
  // Its metric families (HELP and TYPE even before any sample); `labels` as ServeMetrics'.
  void Render(std::ostream& out, const std::string& labels) const;

 private:
  void Run();

  const ModelFollower* follower_;
  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::pair<torch::Tensor, torch::Tensor>> queue_;  // Guarded by mu_.
  bool stop_ = false;                                          // Guarded by mu_.
  std::atomic<int64_t> samples_{0}, disagreements_{0}, dropped_{0}, unscored_{0};
  mutable std::mutex labels_mu_;
  std::map<int64_t, int64_t> labels_;  // The shadow's label -> samples. Guarded by labels_mu_.
  std::thread thread_;
};

// Prometheus metrics of sweepfarm-serve: its RPCs (by code, with a latency histogram), samples
// classified, the version it serves, and how its refreshes went. Thread-safe.
class ServeMetrics {
 public:
  void CountSamples(int64_t n) { samples_ += n; }
  // One answer's predicted labels, counted by label: the mix of what is served (a shift in it,
  // e.g. far more components called faulty than last week, says the data or the model moved).
  void CountLabels(const int64_t* labels, int64_t n);
  // One answer's samples [N, ..., channels]: each channel's sum of values, and the values per
  // channel, for the mean of what is sent against the version's reference (input drift).
  void CountInputs(const torch::Tensor& x);
  // One refresh of the follower: whether it succeeded, and whether it swapped a version in.
  void CountRefresh(bool ok, bool swapped);
  // With a shadow (--shadow-alias) and a recorder, their families too.
  std::string Render(const ModelFollower& follower, const ShadowScorer* shadow = nullptr,
                     const PredictionRecorder* recorder = nullptr) const;
  RpcMetrics& rpcs() { return rpcs_; }

 private:
  RpcMetrics rpcs_;
  std::atomic<int64_t> samples_{0}, refresh_failures_{0}, loads_{0};
  std::atomic<double> last_refresh_{0};  // Unix time of the last successful refresh.
  mutable std::mutex labels_mu_;
  std::map<int64_t, int64_t> labels_;  // Predicted label -> samples. Guarded by labels_mu_.
  std::vector<double> input_sums_;     // Per channel. Guarded by labels_mu_.
  int64_t input_values_ = 0;           // Per channel. Guarded by labels_mu_.
};

class PredictionServiceImpl final : public v1::PredictionService::Service {
 public:
  // `metrics`, `shadow` and `recorder` may be null.
  PredictionServiceImpl(const ModelFollower* follower, TokenCheck auth, int64_t max_samples,
                        ServeMetrics* metrics = nullptr, ShadowScorer* shadow = nullptr,
                        PredictionRecorder* recorder = nullptr)
      : follower_(follower),
        auth_(std::move(auth)),
        max_samples_(max_samples),
        metrics_(metrics),
        shadow_(shadow),
        recorder_(recorder) {}

  grpc::Status Predict(grpc::ServerContext* ctx, const v1::PredictRequest* req,
                       v1::PredictResponse* resp) override;

 private:
  const ModelFollower* follower_;
  const TokenCheck auth_;
  const int64_t max_samples_;
  ServeMetrics* metrics_;
  ShadowScorer* shadow_;
  PredictionRecorder* recorder_;
};

}  // namespace sweepfarm::predict
