// sweepfarm-serve's parts: a follower that keeps the version an alias names loaded (swapping in
// a new one only once it has loaded and verified), and the PredictionService that answers from
// whatever version is loaded at the moment a call arrives.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "predict/registry_client.h"
#include "proto/rpc_metrics.h"
#include "proto/security.h"
#include "sweepfarm/v1/predict.grpc.pb.h"

namespace sweepfarm::predict {

// Follows `alias` of `model` in the registry. Thread-safe.
class ModelFollower {
 public:
  ModelFollower(std::unique_ptr<v1::RegistryService::StubInterface> registry, std::string model,
                std::string alias);

  // Asks the registry which version the alias names; if it is not the one loaded, loads and
  // verifies it and swaps it in. On any failure (registry unreachable, unknown alias, a corrupt
  // artifact) the loaded version stays and the error is returned; the same version is tried
  // again at the next refresh.
  Status Refresh();

  // The version loaded now; null before the first successful load. Holders keep it alive
  // across a swap.
  std::shared_ptr<const LoadedModel> current() const;

  const std::string& model() const { return model_; }
  const std::string& alias() const { return alias_; }

 private:
  std::unique_ptr<v1::RegistryService::StubInterface> registry_;
  const std::string model_, alias_;
  mutable std::mutex mu_;
  std::shared_ptr<const LoadedModel> current_;  // Guarded by mu_.
};

// The samples of a request as one [N, sample_shape...] float32 tensor, or INVALID_ARGUMENT
// naming the first bad sample (too many or too few values, a value that is not finite), an
// empty request or more than `max_samples`.
StatusOr<torch::Tensor> RequestSamples(const v1::PredictRequest& req,
                                       const std::vector<int64_t>& sample_shape,
                                       int64_t max_samples);

// Prometheus metrics of sweepfarm-serve: its RPCs (by code, with a latency histogram), samples
// classified, the version it serves, and how its refreshes went. Thread-safe.
class ServeMetrics {
 public:
  void CountSamples(int64_t n) { samples_ += n; }
  // One refresh of the follower: whether it succeeded, and whether it swapped a version in.
  void CountRefresh(bool ok, bool swapped);
  std::string Render(const ModelFollower& follower) const;
  RpcMetrics& rpcs() { return rpcs_; }

 private:
  RpcMetrics rpcs_;
  std::atomic<int64_t> samples_{0}, refresh_failures_{0}, loads_{0};
  std::atomic<double> last_refresh_{0};  // Unix time of the last successful refresh.
};

class PredictionServiceImpl final : public v1::PredictionService::Service {
 public:
  // `metrics` may be null.
  PredictionServiceImpl(const ModelFollower* follower, TokenCheck auth, int64_t max_samples,
                        ServeMetrics* metrics = nullptr)
      : follower_(follower), auth_(std::move(auth)), max_samples_(max_samples), metrics_(metrics) {}

  grpc::Status Predict(grpc::ServerContext* ctx, const v1::PredictRequest* req,
                       v1::PredictResponse* resp) override;

 private:
  const ModelFollower* follower_;
  const TokenCheck auth_;
  const int64_t max_samples_;
  ServeMetrics* metrics_;
};

}  // namespace sweepfarm::predict
