#include "predict/serving.h"

#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "common/metrics_server.h"
#include "proto/grpc_status.h"

namespace sweepfarm::predict {

ModelFollower::ModelFollower(std::unique_ptr<v1::RegistryService::StubInterface> registry,
                             std::string model, std::string alias)
    : registry_(std::move(registry)), model_(std::move(model)), alias_(std::move(alias)) {}

Status ModelFollower::Refresh() {
  // Which version the alias names now: the version alone, without artifacts.
  v1::GetModelRequest req;
  req.set_model(model_);
  req.set_alias(alias_);
  SF_ASSIGN_OR_RETURN(v1::ModelVersion named, GetVersion(registry_.get(), req, 10));
  const int version = named.version();
  if (auto now = current(); now && now->version.version() == version) return OkStatus();
  // Loaded by number: the alias may move again meanwhile, and the next refresh follows it.
  req.clear_alias();
  req.set_version(version);
  SF_ASSIGN_OR_RETURN(LoadedModel loaded, LoadModel(registry_.get(), req));
  auto next = std::make_shared<const LoadedModel>(std::move(loaded));
  std::lock_guard<std::mutex> lock(mu_);
  current_ = std::move(next);
  return OkStatus();
}

std::shared_ptr<const LoadedModel> ModelFollower::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
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
                                  ", channels-last)");
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
  auto x = RequestSamples(*req, loaded->model.sample_shape(), max_samples_);
  if (!x.ok()) return ToGrpc(x.status());
  torch::Tensor probs = loaded->model.Predict(*x).contiguous();
  torch::Tensor labels = probs.argmax(1);
  if (metrics_ != nullptr) metrics_->CountSamples(probs.size(0));
  resp->set_model(loaded->version.model());
  resp->set_version(loaded->version.version());
  resp->set_alias(follower_->alias());
  for (int64_t d : loaded->model.sample_shape()) resp->add_sample_shape(d);
  const int64_t classes = probs.size(1);
  const float* p = probs.data_ptr<float>();
  const int64_t* l = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < probs.size(0); ++i) {
    v1::Prediction* out = resp->add_predictions();
    out->set_label(static_cast<int>(l[i]));
    out->mutable_probabilities()->Add(p + i * classes, p + (i + 1) * classes);
  }
  return grpc::Status::OK;
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

std::string ServeMetrics::Render(const ModelFollower& follower) const {
  std::ostringstream out;
  auto now = follower.current();
  const std::string labels =
      "{model=\"" + follower.model() + "\",alias=\"" + follower.alias() + "\"}";
  MetricFamily(out, "sweepfarm_serve_version", "gauge",
               "The registry version being served (0: none loaded yet).");
  out << "sweepfarm_serve_version" << labels << " " << (now ? now->version.version() : 0) << "\n";
  MetricFamily(out, "sweepfarm_serve_last_refresh_timestamp_seconds", "gauge",
               "When the registry last answered a refresh (Unix time; 0: never). Alert when it "
               "falls behind: the alias may have moved without this service following.");
  out << "sweepfarm_serve_last_refresh_timestamp_seconds" << labels << " " << std::fixed
      << std::setprecision(3) << last_refresh_.load() << "\n"
      << std::defaultfloat;
  MetricFamily(out, "sweepfarm_serve_refresh_failures_total", "counter",
               "Refreshes that failed (registry unreachable, alias unknown, a version that did "
               "not load or verify); the served version stayed.");
  out << "sweepfarm_serve_refresh_failures_total" << labels << " " << refresh_failures_ << "\n";
  MetricFamily(out, "sweepfarm_serve_version_loads_total", "counter",
               "Versions loaded, verified and swapped in.");
  out << "sweepfarm_serve_version_loads_total" << labels << " " << loads_ << "\n";
  MetricFamily(out, "sweepfarm_serve_samples_total", "counter", "Samples classified.");
  out << "sweepfarm_serve_samples_total" << labels << " " << samples_ << "\n";
  rpcs_.Render(out);
  return out.str();
}

}  // namespace sweepfarm::predict
