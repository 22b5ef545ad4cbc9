// The worker loop: register, lease a bundle of trials, train it fused on one device while
// heartbeating the leases, report results, repeat. Stop() (e.g. from SIGTERM) lets the bundle in
// hand finish and report, then returns. Run() and Stop() may be called from different threads.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "engine/dataset.h"
#include "engine/model_io.h"
#include "engine/trainer.h"
#include "proto/security.h"
#include "sweepfarm/v1/worker.grpc.pb.h"

namespace sweepfarm::worker {

struct WorkerOptions {
  std::string coordinator;     // HOST:PORT.
  TransportSecurity security;  // TLS (ca_pem) and the token, if the coordinator wants them.
  std::string device = "cpu";
  int capacity = 64;      // Most trials leased at once by one slot.
  int slots = 1;          // Bundles in flight at once (each its own lease loop, sharing datasets).
  int64_t max_fused = 0;  // Most models fused in one bundle (0: what device memory holds).
  // CPUs: models trained fused together in one sub-bundle (engine TrainOptions::cpu_max_fused).
  // 1: each model on its own with the standard layers, no steps computed for models that have
  // ended: on two cores the quickstart's CNN sweep took 8.7-10.7 s so, against 16.3-18.9 s
  // fused four at a time (bench/RESULTS.md, "Fused or one at a time on CPUs").
  int cpu_fuse = 1;
  // How long the coordinator may hold a LeaseWork call when nothing is queued (long polling: a
  // submitted sweep starts at once). Not with exit_when_idle, which asks once. A stopping worker
  // may wait this long for its call to end, as long as its longest pause between polls was.
  int lease_wait_ms = 2000;
  // When the coordinator answers "no work" sooner than it may wait (an older coordinator, or too
  // many waiting), the first pause before asking again; doubles up to 2 s.
  int idle_poll_ms = 250;
  int rpc_deadline_ms = 10000;
  bool exit_when_idle = false;  // Return once the queue is empty (tests, batch jobs).
  int drain_seconds = 60;       // After Stop(), how long the bundle in hand may still train.
  // "real": train with the engine. "fake": no training; deterministic results from the parameters
  // after fake_train_ms (control-plane tests and benchmarks).
  std::string trainer = "real";
  int fake_train_ms = 0;
  int upload_top = 3;  // Weights of the bundle's best N trials are uploaded (0: none).
  // Bundles train with the fused kernels (engine/kernels/: the whole step of cnn1d, the
  // convolutions of lenet) where they can take the shape; shapes they refuse use the default.
  bool step_kernel = false;
  // Fetched data sets are kept here as SHA256.sfdata and verified on every load; a file that
  // does not verify is fetched again.
  std::string cache_dir = "/tmp/sweepfarm-datasets";
};

class Worker {
 public:
  explicit Worker(WorkerOptions options);
  // Registers, then runs `slots` lease-train-report loops until stopped (or idle, if asked).
  Status Run();
  // Drains: the bundle in hand finishes and is reported if it can within drain_seconds; otherwise
  // its leases are handed back. Safe from a signal handler.
  void Stop() { stop_ = true; }
  int64_t trials_done() const { return trials_done_; }

 private:
  Status Register();
  Status SlotLoop(int slot);
  Status TrainAndReport(const v1::LeaseWorkResponse& lease);
  Status HandBack(const std::vector<v1::TrialLease>& leases);
  Status Report(const v1::ReportResultsRequest& req, double bundle_seconds);
  // Calls `call` again while it answers UNAVAILABLE (an outage, a coordinator restarting), backing
  // off from 100 ms to 2 s; once stopping, for at most drain_seconds more.
  Status Retrying(const char* what, const std::function<Status()>& call);
  // Streams an artifact (weights or a checkpoint, by `format`) of a leased trial.
  Status Upload(const v1::LeasedTrial& trial, const engine::EncodedWeights& weights,
                const std::string& format);
  // The checkpoint a promoted trial resumes from (its parent's), decoded and verified.
  StatusOr<engine::ModelWeights> FetchCheckpoint(const v1::LeasedTrial& trial);
  // The data set a sweep trains on, on the device (standardised unless the sweep says not),
  // from memory, the disk cache or the coordinator, in that order.
  StatusOr<std::shared_ptr<const engine::Dataset>> DatasetFor(const v1::DatasetSpec& spec,
                                                              bool standardize);
  // A data set's content: the disk cache's if it verifies, else fetched and cached.
  StatusOr<std::string> DatasetContent(const std::string& sha256);

  WorkerOptions options_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  std::string worker_id_;
  int lease_seconds_ = 30;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cancel_{false};  // Set when the drain period of a stop has run out.
  std::atomic<int64_t> trials_done_{0};
  // Datasets already on the device, by sha256 and standardisation; one loaded per worker, shared
  // by all bundles.
  std::mutex datasets_mu_;
  std::map<std::string, std::shared_ptr<const engine::Dataset>>
      datasets_;  // Guarded by datasets_mu_.
};

}  // namespace sweepfarm::worker
