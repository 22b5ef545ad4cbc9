// What sweepfarm-serve answered, recorded in the coordinator (DataService.RecordPredictions) so
// that engineers can confirm or correct it and the data set can grow from it. Off the request
// path: an answer takes an id and a place in a bounded queue, and one thread sends the queue in
// batches; when the coordinator cannot be reached the queue holds what it can and the rest is
// dropped (counted), never slowing an answer. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sweepfarm/v1/data.grpc.pb.h"

namespace sweepfarm::predict {

struct RecorderOptions {
  double fraction = 1.0;    // Share of answered samples recorded (--record-fraction).
  size_t capacity = 20000;  // Predictions waiting to be sent, at most.
  size_t batch = 500;       // Per RecordPredictions call.
  int flush_ms = 200;       // How long a prediction may wait for its batch.
};

class PredictionRecorder {
 public:
  PredictionRecorder(std::unique_ptr<v1::DataService::StubInterface> data, RecorderOptions options);
  ~PredictionRecorder();  // Sends what is queued (for up to 5 s), then stops.

  // Whether the next answered sample is recorded (its share of --record-fraction).
  bool Sample();
  // Queues one answered sample (model, version, input channels first, probabilities, label) and
  // returns its id, or "" if the queue is full (counted as dropped).
  std::string Record(const std::string& model, int version, const float* input, int64_t values,
                     const float* probabilities, int64_t classes, int label);

  int64_t recorded() const { return recorded_; }
  int64_t dropped() const { return dropped_; }
  int64_t failed_batches() const { return failed_; }

 private:
  void Run();
  std::string NewId();

  std::unique_ptr<v1::DataService::StubInterface> data_;
  const RecorderOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<v1::ServedPrediction> queue_;  // Guarded by mu_.
  bool stop_ = false;                       // Guarded by mu_.
  std::mt19937_64 ids_;                     // Guarded by mu_ (seeded from the OS).
  std::uniform_real_distribution<double> coin_{0.0, 1.0};
  std::atomic<int64_t> recorded_{0}, dropped_{0}, failed_{0};
  std::string last_error_;  // Run()'s own.
  std::thread thread_;
};

}  // namespace sweepfarm::predict
