#include "predict/recorder.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "common/logging.h"
#include "proto/grpc_status.h"

namespace sweepfarm::predict {
namespace {

std::string NowRfc3339() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[64];  // Room for any int the compiler cannot rule out.
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms));
  return buf;
}

}  // namespace

PredictionRecorder::PredictionRecorder(std::unique_ptr<v1::DataService::StubInterface> data,
                                       RecorderOptions options)
    : data_(std::move(data)), options_(options) {
  std::random_device os;  // getrandom(2): ids others cannot guess.
  std::seed_seq seed{os(), os(), os(), os(), os(), os(), os(), os()};
  ids_.seed(seed);
  thread_ = std::thread([this] { Run(); });
}

PredictionRecorder::~PredictionRecorder() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool PredictionRecorder::Sample() {
  if (options_.fraction >= 1) return true;
  if (options_.fraction <= 0) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return coin_(ids_) < options_.fraction;
}

std::string PredictionRecorder::NewId() {
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(ids_()),
                static_cast<unsigned long long>(ids_()));
  return buf;
}

std::string PredictionRecorder::Record(const std::string& model, int version, const float* input,
                                       int64_t values, const float* probabilities, int64_t classes,
                                       int label) {
  v1::ServedPrediction p;
  p.set_model(model);
  p.set_version(version);
  p.mutable_input()->Add(input, input + values);
  p.mutable_probabilities()->Add(probabilities, probabilities + classes);
  p.set_label(label);
  p.set_served_at(NowRfc3339());
  std::string id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= options_.capacity) {
      ++dropped_;
      return "";
    }
    id = NewId();
    p.set_id(id);
    queue_.push_back(std::move(p));
    if (queue_.size() < options_.batch) return id;
  }
  wake_.notify_one();
  return id;
}

void PredictionRecorder::Run() {
  auto backoff = std::chrono::milliseconds(options_.flush_ms);
  for (;;) {
    v1::RecordPredictionsRequest req;
    bool stopping;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, backoff, [&] { return stop_ || queue_.size() >= options_.batch; });
      stopping = stop_;
      const size_t n = std::min(queue_.size(), options_.batch);
      for (size_t i = 0; i < n; ++i) *req.add_predictions() = queue_[i];
    }
    if (req.predictions_size() == 0) {
      if (stopping) return;
      continue;
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(stopping ? 5 : 10));
    v1::RecordPredictionsResponse resp;
    Status s = FromGrpc(data_->RecordPredictions(&ctx, req, &resp), "RecordPredictions");
    const bool retry = s.code() == StatusCode::kUnavailable;
    if (!s.ok()) {
      ++failed_;
      if (s.message() != last_error_) {
        SF_LOG(Warning) << "recording predictions: " << s.message()
                        << (retry ? " (kept, retried)" : " (dropped)");
        last_error_ = s.message();
      }
    } else {
      last_error_.clear();
      recorded_ += resp.recorded() + resp.duplicates();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!retry || stopping) {
        if (!s.ok()) dropped_ += req.predictions_size();
        queue_.erase(queue_.begin(), queue_.begin() + req.predictions_size());
      }
      if (stopping && (queue_.empty() || retry)) return;
    }
    backoff = retry ? std::min(backoff * 2, std::chrono::milliseconds(5000))
                    : std::chrono::milliseconds(options_.flush_ms);
  }
}

}  // namespace sweepfarm::predict
