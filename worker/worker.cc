#include "worker/worker.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "common/files.h"
#include "common/logging.h"
#include "common/rng.h"
#include "engine/data/codec.h"
#include "engine/data/read.h"
#include "engine/model_io.h"
#include "engine/trainer.h"
#include "proto/artifact_chunks.h"
#include "proto/grpc_status.h"

#ifdef SWEEPFARM_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace sweepfarm::worker {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::unique_ptr<grpc::ClientContext> Context(int deadline_ms) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms));
  return ctx;
}

std::string Hostname() {
  char buf[256] = {0};
  gethostname(buf, sizeof(buf) - 1);
  return buf;
}

// The fake trainer: waits `ms`, then returns results that depend only on each configuration.
StatusOr<engine::BundleResult> FakeTrain(const std::vector<engine::ModelConfig>& configs, int ms,
                                         const std::atomic<bool>& cancel) {
  auto start = std::chrono::steady_clock::now();
  for (int waited = 0; waited < ms; waited += 10) {
    if (cancel) return AbortedError("fake training cancelled");
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(10, ms - waited)));
  }
  engine::BundleResult r;
  for (const auto& c : configs) {
    engine::ModelResult m;
    for (int64_t e : c.eval_epochs) {
      uint64_t h = MixKey(c.seed, static_cast<uint64_t>(c.step_size * 1e9),
                          static_cast<uint64_t>(e * 1000 + c.data_size * 100 + c.issue_rate * 10));
      engine::EvalPoint p;
      p.epoch = e;
      p.steps = e;
      p.test_accuracy = 0.5 + 0.4 * static_cast<double>(h % 10000) / 10000.0;
      p.selection_accuracy = p.holdout_accuracy = p.test_accuracy;
      p.test_loss = 1 - p.test_accuracy;
      p.train_loss = p.test_loss;
      m.evals.push_back(p);
    }
    r.models.push_back(m);
  }
  r.wall_seconds = std::max(
      1e-6, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return r;
}

// Trials with the same key train as one model, evaluated at each of their epochs: those that
// differ only in epochs, unless a schedule other than constant ties the step size to the epochs.
// A resumed trial has its own (its checkpoint, `resume_from`, is its own starting point).
std::string SlotKey(const v1::TrialParams& p, int64_t resume_from, double weight_decay,
                    double smoothing, bool scheduled) {
  char buf[320];
  std::snprintf(buf, sizeof(buf), "%.17g|%.17g|%.17g|%llu|%lld|%.17g|%.17g|%d", p.step_size(),
                p.issue_rate(), p.data_size(), static_cast<unsigned long long>(p.seed()),
                static_cast<long long>(resume_from), weight_decay, smoothing,
                scheduled ? p.epochs() : 0);
  return buf;
}

// The optimizer and schedule a lease trains with: the trials' (one per lease: the lease
// statement groups by it) or else the sweep's; names were checked at submission.
void SetOptimizer(const v1::SweepSpec& spec, const v1::TrialParams& first,
                  engine::TrainOptions* topts) {
  const std::string& name =
      !first.optimizer().empty() ? first.optimizer() : spec.training().optimizer();
  if (auto k = engine::ParseOptimizer(name.empty() ? "sgd" : name); k.ok()) topts->optimizer = *k;
  const std::string& sched = spec.training().schedule();
  if (auto k = engine::ParseSchedule(sched.empty() ? "constant" : sched); k.ok()) {
    topts->schedule = *k;
  }
}

engine::ArchSpec ArchOf(const v1::SweepSpec& spec) {
  engine::ArchSpec arch;
  arch.name = spec.architecture().name();
  arch.channels.assign(spec.architecture().channels().begin(),
                       spec.architecture().channels().end());
  arch.hidden.assign(spec.architecture().hidden().begin(), spec.architecture().hidden().end());
  arch.kernel_size = spec.architecture().kernel_size();
  return arch;
}

// A checkpoint fits the bundle if it is for `data`'s inputs and classes and its tensors have the
// shapes of `model`, the sweep's model on `data`.
Status CheckpointFits(const engine::ModelWeights& w, const engine::FusedNet& model,
                      const engine::Dataset& data) {
  if (!(w.inputs == engine::InputsOf(data))) {
    return FailedPreconditionError("its inputs, classes or standardisation are not this dataset's");
  }
  return engine::CheckModelTensors(model, w.params, "its parameters");
}

}  // namespace

Worker::Worker(WorkerOptions options) : options_(std::move(options)) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetMaxReceiveMessageSize(16 << 20);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  stub_ = v1::WorkerService::NewStub(OpenChannel(options_.coordinator, options_.security, args));
}

Status Worker::Register() {
  v1::RegisterWorkerRequest req;
  req.set_host(Hostname() + ":" + std::to_string(getpid()));
  req.set_device(options_.device);
  req.set_capacity(options_.capacity);
  v1::RegisterWorkerResponse resp;
  auto ctx = Context(options_.rpc_deadline_ms);
  SF_RETURN_IF_ERROR(
      Unreachable(FromGrpc(stub_->RegisterWorker(ctx.get(), req, &resp), "RegisterWorker"),
                  "the coordinator", options_.coordinator, "--coordinator"));
  worker_id_ = resp.worker_id();
  lease_seconds_ = resp.lease_seconds() > 0 ? resp.lease_seconds() : 30;
  SetLogPrefix("worker " + worker_id_);
  SF_LOG(Info) << "registered with " << options_.coordinator << " (" << options_.device
               << ", capacity " << options_.capacity << ")";
  return OkStatus();
}

Status Worker::Run() {
  int backoff_ms = options_.idle_poll_ms;
  // Register, retrying while the coordinator is not reachable yet.
  while (!stop_) {
    Status s = Register();
    if (s.ok()) break;
    if (s.code() != StatusCode::kUnavailable) return s;
    SF_LOG(Warning) << s.message() << "; retrying in " << backoff_ms << " ms";
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 2000);
  }
  std::vector<std::thread> threads;
  std::vector<Status> results(options_.slots);
  for (int slot = 0; slot < options_.slots; ++slot) {
    threads.emplace_back([this, slot, &results] { results[slot] = SlotLoop(slot); });
  }
  for (auto& t : threads) t.join();
  SF_LOG(Info) << "stopping after " << trials_done_ << " trial(s)";
  for (const auto& r : results) SF_RETURN_IF_ERROR(r);
  return OkStatus();
}

Status Worker::SlotLoop(int slot) {
#ifdef SWEEPFARM_WITH_CUDA
  // Each slot trains on its own stream, so bundles overlap on the device.
  std::optional<c10::cuda::CUDAStreamGuard> stream;
  if (options_.device == "cuda") stream.emplace(c10::cuda::getStreamFromPool());
#endif
  (void)slot;
  int backoff_ms = options_.idle_poll_ms;
  while (!stop_) {
    v1::LeaseWorkRequest req;
    req.set_worker_id(worker_id_);
    req.set_max_trials(options_.capacity);
    const int wait_ms = options_.exit_when_idle ? 0 : options_.lease_wait_ms;
    req.set_wait_ms(wait_ms);
    v1::LeaseWorkResponse lease;
    auto ctx = Context(options_.rpc_deadline_ms + wait_ms);
    const auto asked = std::chrono::steady_clock::now();
    Status s = Unreachable(FromGrpc(stub_->LeaseWork(ctx.get(), req, &lease), "LeaseWork"),
                           "the coordinator", options_.coordinator, "--coordinator");
    if (!s.ok()) {
      if (s.code() != StatusCode::kUnavailable) return s;
      SF_LOG(Warning) << s.message() << "; retrying in " << backoff_ms << " ms";
    } else if (lease.trials_size() > 0) {
      backoff_ms = options_.idle_poll_ms;
      SF_RETURN_IF_ERROR(TrainAndReport(lease));
      continue;
    } else if (options_.exit_when_idle) {
      break;
    } else if (wait_ms > 0 &&
               std::chrono::steady_clock::now() - asked >= std::chrono::milliseconds(wait_ms / 2)) {
      // The coordinator held the call for work that did not come: ask again at once.
      backoff_ms = options_.idle_poll_ms;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 2000);
  }
  return OkStatus();
}

Status Worker::HandBack(const std::vector<v1::TrialLease>& leases) {
  v1::ReleaseLeasesRequest req;
  req.set_worker_id(worker_id_);
  for (const auto& l : leases) *req.add_leases() = l;
  v1::ReleaseLeasesResponse resp;
  auto ctx = Context(options_.rpc_deadline_ms);
  Status s = FromGrpc(stub_->ReleaseLeases(ctx.get(), req, &resp), "ReleaseLeases");
  if (s.ok()) SF_LOG(Info) << "handed back " << resp.released() << " lease(s)";
  // If the coordinator cannot be reached, the leases expire and are re-queued anyway.
  return s.code() == StatusCode::kUnavailable ? OkStatus() : s;
}

StatusOr<std::string> Worker::DatasetContent(const std::string& sha256) {
  const std::string path = options_.cache_dir + "/" + sha256 + ".sfdata";
  if (auto cached = data::ReadFileBytes(path, data::kMaxEncodedBytes); cached.ok()) {
    if (data::ContentHash(*cached) == sha256) {
      SF_LOG(Info) << "data set " << sha256.substr(0, 12) << " from the cache (" << cached->size()
                   << " bytes)";
      return std::move(cached).value();
    }
    SF_LOG(Warning) << path << " does not verify against its name: fetching it again";
    std::filesystem::remove(path);
  }
  auto start = std::chrono::steady_clock::now();
  v1::FetchDatasetRequest req;
  req.set_worker_id(worker_id_);
  req.set_sha256(sha256);
  auto ctx = Context(options_.rpc_deadline_ms * 30);
  auto reader = stub_->FetchDataset(ctx.get(), req);
  v1::DataChunk chunk;
  std::string content;
  int64_t expected = -1;
  while (reader->Read(&chunk)) {
    if (chunk.has_version()) expected = chunk.version().size_bytes();
    content += chunk.data();
    if (expected >= 0 && static_cast<int64_t>(content.size()) > expected) {
      ctx->TryCancel();
      reader->Finish();
      return DataLossError("FetchDataset: data set " + sha256 + " sent more than its " +
                           std::to_string(expected) + " bytes");
    }
  }
  SF_RETURN_IF_ERROR(FromGrpc(reader->Finish(), "FetchDataset"));
  // Never train on bytes that do not hash to the version's address.
  if (const std::string digest = data::ContentHash(content); digest != sha256) {
    return DataLossError("FetchDataset: data set " + sha256 + " arrived as " +
                         std::to_string(content.size()) + " bytes hashing to " + digest);
  }
  SF_LOG(Info) << "data set " << sha256.substr(0, 12) << " fetched from the coordinator ("
               << content.size() << " bytes, " << SecondsSince(start) << " s)";
  std::error_code ec;
  std::filesystem::create_directories(options_.cache_dir, ec);
  if (Status s = WriteFileAtomically(path, content); !s.ok()) {
    SF_LOG(Warning) << "not cached: " << s.message();  // Training goes on from memory.
  }
  return content;
}

StatusOr<std::shared_ptr<const engine::Dataset>> Worker::DatasetFor(const v1::DatasetSpec& spec,
                                                                    bool standardize) {
  std::string key = spec.sha256() + (standardize ? "|standardized" : "|raw");
  std::lock_guard<std::mutex> lock(datasets_mu_);  // One slot loads; the others wait and share it.
  if (auto it = datasets_.find(key); it != datasets_.end()) return it->second;
  auto start = std::chrono::steady_clock::now();
  std::shared_ptr<const engine::Dataset> ds;
  if (spec.sha256().empty()) {
    // Leased from a coordinator that predates data set versions: the built-in, made here.
    engine::DatasetParams params(spec.params().begin(), spec.params().end());
    SF_ASSIGN_OR_RETURN(ds, engine::MakeDataset(spec.name(), params));
    key = spec.name() + ds->hash + key;
  } else {
    SF_ASSIGN_OR_RETURN(std::string content, DatasetContent(spec.sha256()));
    SF_ASSIGN_OR_RETURN(data::Table table, data::Decode(content));
    ds = engine::DatasetFromTable(table, spec.name() + "@" + std::to_string(spec.version()),
                                  spec.sha256());
  }
  if (standardize) ds = engine::Standardized(*ds);
  auto on_device = ds->To(torch::Device(options_.device));
  SF_LOG(Info) << "dataset " << on_device->name << " ready on " << options_.device << " ("
               << on_device->train.size() << " train, " << on_device->test.size() << " test, "
               << (standardize ? "standardised" : "raw") << ", " << SecondsSince(start) << " s)";
  datasets_[key] = on_device;
  return on_device;
}

Status Worker::TrainAndReport(const v1::LeaseWorkResponse& lease) {
  const v1::SweepSpec& spec = lease.spec();
  std::vector<v1::TrialLease> held;
  for (const auto& t : lease.trials()) {
    v1::TrialLease l;
    l.set_trial_id(t.trial_id());
    l.set_lease_token(t.lease_token());
    held.push_back(l);
  }
  // Heartbeats run beside training, every third of the lease.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread heartbeat([&] {
    std::unique_lock<std::mutex> lock(mu);
    auto next_beat =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(lease_seconds_ * 1000 / 3);
    std::optional<std::chrono::steady_clock::time_point> drain_deadline;
    while (!cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return done; })) {
      auto now = std::chrono::steady_clock::now();
      if (stop_ && !drain_deadline) {
        drain_deadline = now + std::chrono::seconds(options_.drain_seconds);
        SF_LOG(Info) << "draining: the bundle in hand has " << options_.drain_seconds << " s";
      }
      if (drain_deadline && now >= *drain_deadline && !cancel_) {
        SF_LOG(Warning) << "drain period over: stopping training and handing the leases back";
        cancel_ = true;
      }
      if (now < next_beat) continue;
      next_beat = now + std::chrono::milliseconds(lease_seconds_ * 1000 / 3);
      v1::HeartbeatRequest req;
      req.set_worker_id(worker_id_);
      for (const auto& l : held) *req.add_leases() = l;
      v1::HeartbeatResponse resp;
      // Not under the lock, so the end of training is never held up by a slow heartbeat.
      auto ctx = Context(std::max(500, lease_seconds_ * 1000 / 3));
      lock.unlock();
      grpc::Status s = stub_->Heartbeat(ctx.get(), req, &resp);
      lock.lock();
      if (!s.ok()) {
        SF_LOG(Warning) << "Heartbeat: " << s.error_message();
      } else if (resp.lost_trial_ids_size() > 0) {
        SF_LOG(Warning) << resp.lost_trial_ids_size() << " lease(s) lost while training";
      }
    }
  });

  StatusOr<std::shared_ptr<const engine::Dataset>> data = InternalError("not loaded");
  if (options_.trainer != "fake") data = DatasetFor(spec.dataset(), !spec.training().raw_inputs());
  // Promoted trials of a halving sweep resume from their parents' checkpoints. Without one (not
  // uploaded, or unusable) a trial trains from scratch, which gives the same model.
  std::map<int, engine::ModelWeights> resume;       // By trial index.
  std::optional<StatusOr<engine::FusedNet>> model;  // The sweep's model, built for the first.
  auto start = std::chrono::steady_clock::now();
  int fetches = 0;
  engine::TrainOptions topts;
  if (lease.trials_size() > 0) SetOptimizer(spec, lease.trials(0).params(), &topts);
  // Only SGD with a constant step size resumes (a checkpoint holds no Adam moments or schedule
  // position); other promoted trials train from scratch.
  const bool resumable = topts.optimizer == engine::OptimizerKind::kSgd &&
                         topts.schedule == engine::RateSchedule::kConstant;
  for (int i = 0; i < lease.trials_size() && data.ok() && resumable; ++i) {
    const auto& t = lease.trials(i);
    if (t.resume_epochs() <= 0 || t.resume_epochs() >= t.params().epochs()) continue;
    if (!model) {
      model = engine::FusedNet::Create(ArchOf(spec), (*data)->sample_shape(), (*data)->num_classes,
                                       {0}, torch::kCPU);
    }
    auto w = FetchCheckpoint(t);
    ++fetches;
    Status fits = !w.ok()        ? w.status()
                  : !model->ok() ? model->status()
                                 : CheckpointFits(*w, **model, **data);
    if (!fits.ok()) {
      SF_LOG(Warning) << "trial " << t.trial_id()
                      << " trains from scratch: checkpoint: " << fits.ToString();
      continue;
    }
    resume.emplace(i, std::move(w).value());
  }
  if (fetches > 0) {
    SF_LOG(Info) << "fetched " << resume.size() << " of " << fetches << " checkpoint(s) in "
                 << SecondsSince(start) << " s";
  }

  // Group trials into model slots; each slot is evaluated at every epoch count it was asked for.
  std::map<std::string, size_t> slot_of;
  std::vector<engine::ModelConfig> configs;
  std::vector<std::vector<int>> slot_trials;
  for (int i = 0; i < lease.trials_size(); ++i) {
    const auto& p = lease.trials(i).params();
    auto resumed = resume.find(i);
    const double weight_decay =
        p.has_weight_decay() ? p.weight_decay() : spec.training().weight_decay();
    const double smoothing = p.has_smoothing()                 ? p.smoothing()
                             : spec.training().smoothing() > 0 ? spec.training().smoothing()
                                                               : 1.0;
    std::string key =
        SlotKey(p, resumed == resume.end() ? 0 : lease.trials(i).trial_id(), weight_decay,
                smoothing, topts.schedule != engine::RateSchedule::kConstant);
    auto [it, fresh] = slot_of.try_emplace(key, configs.size());
    if (fresh) {
      configs.push_back(engine::ModelConfig{
          p.seed(), p.step_size(), p.issue_rate(), p.data_size(), {}, weight_decay});
      configs.back().smoothing = smoothing;
      if (resumed != resume.end()) {
        configs.back().start_epoch = lease.trials(i).resume_epochs();
        configs.back().init_params = std::move(resumed->second.params);
        configs.back().init_momentum = std::move(resumed->second.momentum);
      }
      slot_trials.emplace_back();
    }
    configs[it->second].eval_epochs.push_back(p.epochs());
    slot_trials[it->second].push_back(i);
  }
  for (auto& c : configs) {
    std::sort(c.eval_epochs.begin(), c.eval_epochs.end());
    c.eval_epochs.erase(std::unique(c.eval_epochs.begin(), c.eval_epochs.end()),
                        c.eval_epochs.end());
  }
  topts.arch = ArchOf(spec);
  topts.batch_size = spec.training().batch_size();
  topts.momentum = spec.training().momentum();
  topts.device = torch::Device(options_.device);

  topts.cancel = &cancel_;
  topts.max_fused = options_.max_fused;
  topts.cpu_max_fused = options_.cpu_fuse;
  topts.keep_predictions = true;
  StatusOr<engine::BundleResult> result = InternalError("not run");
  std::string dataset_hash = "fake";
  double baseline = 0;
  if (options_.trainer == "fake") {
    result = FakeTrain(configs, options_.fake_train_ms, cancel_);
  } else if (!data.ok()) {
    result = data.status();
  } else {
    dataset_hash = (*data)->hash;
    baseline = (*data)->MajorityBaseline();
    SF_LOG(Info) << "training " << lease.trials_size() << " trial(s) of sweep " << lease.sweep_id()
                 << " as " << configs.size() << " fused model(s)";
    if (options_.step_kernel) {
      topts.kernels = engine::TrainOptions::Kernels::kFusedStep;
      result = engine::TrainFused(**data, configs, topts);
      if (result.ok()) SF_LOG(Info) << "trained with the fused step kernel";
      if (!result.ok() && result.status().code() == StatusCode::kInvalidArgument) {
        SF_LOG(Warning) << result.status().message() << "; training with the default kernels";
        topts.kernels = engine::TrainOptions::Kernels::kAuto;
        result = engine::TrainFused(**data, configs, topts);
      }
    } else {
      result = engine::TrainFused(**data, configs, topts);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  heartbeat.join();

  if (!result.ok() && result.status().code() == StatusCode::kAborted && cancel_) {
    return HandBack(held);  // Drained: another worker trains these from the start.
  }
  // Checkpoints before the results: when a result ends its rung, the trials promoted from it are
  // leased at once, and their checkpoints must be there.
  if (result.ok() && options_.trainer == "real") {
    start = std::chrono::steady_clock::now();
    int uploads = 0, uploaded = 0;
    for (size_t slot = 0; slot < configs.size(); ++slot) {
      for (int i : slot_trials[slot]) {
        const auto& trial = lease.trials(i);
        if (!trial.save_checkpoint() || trial.params().epochs() != configs[slot].eval_epochs.back())
          continue;
        const engine::EncodedWeights c =
            engine::EncodeCheckpoint(topts.arch, engine::InputsOf(**data), result->final_params,
                                     result->final_momentum, static_cast<int64_t>(slot));
        Status s = Upload(trial, c, engine::kCheckpointFormat);
        ++uploads;
        uploaded += s.ok();
        if (!s.ok()) {
          SF_LOG(Warning) << "checkpoint of trial " << trial.trial_id() << ": " << s.ToString();
        }
      }
    }
    if (uploads > 0) {
      SF_LOG(Info) << "uploaded " << uploaded << " of " << uploads << " checkpoint(s) in "
                   << SecondsSince(start) << " s";
    }
  }
  v1::ReportResultsRequest req;
  req.set_worker_id(worker_id_);
  for (size_t slot = 0; slot < configs.size(); ++slot) {
    for (int i : slot_trials[slot]) {
      const auto& trial = lease.trials(i);
      v1::TrialReport* rep = req.add_reports();
      rep->set_trial_id(trial.trial_id());
      rep->set_lease_token(trial.lease_token());
      if (!result.ok()) {
        rep->set_ok(false);
        rep->set_error(result.status().ToString());
        continue;
      }
      const auto& evals = result->models[slot].evals;
      auto e = std::find_if(evals.begin(), evals.end(), [&](const engine::EvalPoint& p) {
        return p.epoch == trial.params().epochs();
      });
      rep->set_ok(true);
      v1::TrialResult* m = rep->mutable_result();
      m->set_test_accuracy(e->test_accuracy);
      m->set_test_loss(e->test_loss);
      m->set_train_loss(e->train_loss);
      m->set_wall_seconds(result->wall_seconds);
      m->set_samples_per_second(static_cast<double>(e->steps * topts.batch_size) /
                                result->wall_seconds);
      m->set_steps(e->steps);
      m->set_dataset_hash(dataset_hash);
      m->set_device(options_.device);
      m->set_bundle_size(static_cast<int>(configs.size()));
      m->set_baseline_accuracy(baseline);
      m->set_selection_accuracy(e->selection_accuracy);
      m->set_holdout_accuracy(e->holdout_accuracy);
      m->set_selection_balanced_accuracy(e->selection_balanced_accuracy);
      m->set_holdout_balanced_accuracy(e->holdout_balanced_accuracy);
      m->set_resumed_epochs(static_cast<int32_t>(configs[slot].start_epoch));
      m->mutable_train_loss_curve()->Add(e->train_curve.begin(), e->train_curve.end());
      m->mutable_selection_confusion()->Add(e->selection_confusion.begin(),
                                            e->selection_confusion.end());
      m->mutable_holdout_confusion()->Add(e->holdout_confusion.begin(), e->holdout_confusion.end());
      if (e->probs.defined()) {
        torch::Tensor p = e->probs.contiguous();
        v1::Predictions* pred = m->mutable_predictions();
        pred->set_samples(static_cast<int32_t>(p.size(0)));
        pred->set_classes(static_cast<int32_t>(p.size(1)));
        pred->set_selection_size(static_cast<int32_t>((*data)->SelectionSize()));
        pred->set_probs_f16(std::string(static_cast<const char*>(p.data_ptr()), p.nbytes()));
      }
    }
  }
  if (!result.ok()) SF_LOG(Error) << "bundle failed: " << result.status().ToString();
  // Requests of at most about 4 MiB (predictions can be large), each retried until answered.
  std::vector<v1::ReportResultsRequest> batches(1);
  size_t bytes = 0;
  for (auto& rep : *req.mutable_reports()) {
    size_t size = rep.ByteSizeLong();
    if (batches.back().reports_size() > 0 && bytes + size > (4u << 20)) {
      batches.emplace_back();
      bytes = 0;
    }
    batches.back().set_worker_id(worker_id_);
    *batches.back().add_reports() = std::move(rep);
    bytes += size;
  }
  for (const auto& batch : batches) {
    SF_RETURN_IF_ERROR(Report(batch, result.ok() ? result->wall_seconds : 0.0));
  }
  if (!result.ok() || options_.trainer != "real" || options_.upload_top <= 0) return OkStatus();

  // Upload the weights of the bundle's best trials (by the sweep's objective) that can enter an
  // ensemble: those whose epoch count is their slot's last, since only final weights are kept.
  const bool balanced = spec.objective_metric() == "selection_balanced_accuracy";
  std::vector<std::tuple<double, size_t, int>> best;  // (score, slot, trial index)
  for (size_t slot = 0; slot < configs.size(); ++slot) {
    const engine::EvalPoint& last = result->models[slot].evals.back();
    for (int i : slot_trials[slot]) {
      if (lease.trials(i).params().epochs() == last.epoch) {
        best.push_back(
            {balanced ? last.selection_balanced_accuracy : last.selection_accuracy, slot, i});
      }
    }
  }
  std::sort(best.begin(), best.end(),
            [](const auto& a, const auto& b) { return std::get<0>(a) > std::get<0>(b); });
  if (static_cast<int>(best.size()) > options_.upload_top) best.resize(options_.upload_top);
  for (const auto& [acc, slot, i] : best) {
    Status s = Upload(lease.trials(i),
                      engine::EncodeWeights(topts.arch, engine::InputsOf(**data),
                                            result->final_params, static_cast<int64_t>(slot)),
                      engine::kWeightsFormat);
    if (!s.ok())
      SF_LOG(Warning) << "weights of trial " << lease.trials(i).trial_id() << ": " << s.ToString();
  }
  return OkStatus();
}

Status Worker::Upload(const v1::LeasedTrial& trial, const engine::EncodedWeights& weights,
                      const std::string& format) {
  // Idempotent: the coordinator stores the same weights again as nothing new.
  return Retrying("the upload", [&]() -> Status {
    auto ctx = Context(options_.rpc_deadline_ms * 3);
    ctx->set_wait_for_ready(true);
    v1::UploadArtifactResponse resp;
    auto writer = stub_->UploadArtifact(ctx.get(), &resp);
    v1::ArtifactChunk head;
    head.set_trial_id(trial.trial_id());
    head.set_lease_token(trial.lease_token());
    head.set_worker_id(worker_id_);
    head.set_sha256(weights.sha256);
    head.set_format(format);
    head.set_arch_json(weights.arch_json);
    WriteArtifactChunks(head, weights.content,
                        [&](const v1::ArtifactChunk& chunk) { return writer->Write(chunk); });
    writer->WritesDone();
    return FromGrpc(writer->Finish(), "UploadArtifact");
  });
}

StatusOr<engine::ModelWeights> Worker::FetchCheckpoint(const v1::LeasedTrial& trial) {
  v1::GetCheckpointRequest req;
  req.set_worker_id(worker_id_);
  req.set_trial_id(trial.trial_id());
  req.set_lease_token(trial.lease_token());
  auto ctx = Context(options_.rpc_deadline_ms);
  auto reader = stub_->GetCheckpoint(ctx.get(), req);
  v1::ArtifactChunk first, chunk;
  std::string content;
  if (reader->Read(&first)) {
    content = first.data();
    while (reader->Read(&chunk)) content += chunk.data();
  }
  SF_RETURN_IF_ERROR(FromGrpc(reader->Finish(), "GetCheckpoint"));
  if (first.format() != engine::kCheckpointFormat) {
    return DataLossError("GetCheckpoint: got format \"" + first.format() + "\"");
  }
  return engine::DecodeWeights(first.format(), first.arch_json(), content, first.sha256());
}

Status Worker::Retrying(const char* what, const std::function<Status()>& call) {
  int backoff_ms = 100;
  std::optional<std::chrono::steady_clock::time_point> give_up;
  while (true) {
    Status s = call();
    if (s.code() != StatusCode::kUnavailable) return s;
    // Stopping: the drain period bounds the retries (leases not reported expire and re-queue).
    if (stop_ && !give_up) {
      give_up = std::chrono::steady_clock::now() + std::chrono::seconds(options_.drain_seconds);
    }
    if (give_up && std::chrono::steady_clock::now() >= *give_up) return s;
    SF_LOG(Warning) << s.message() << "; retrying " << what << " in " << backoff_ms << " ms";
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 2000);
  }
}

Status Worker::Report(const v1::ReportResultsRequest& req, double bundle_seconds) {
  // Reporting must not be lost to an outage or a coordinator restart: retried until it answers
  // (a report is idempotent: one already accepted counts as a duplicate).
  return Retrying("the report", [&]() -> Status {
    v1::ReportResultsResponse resp;
    auto ctx = Context(options_.rpc_deadline_ms);
    // Wait for a ready channel (a restarting coordinator) rather than fail fast and back off.
    ctx->set_wait_for_ready(true);
    SF_RETURN_IF_ERROR(FromGrpc(stub_->ReportResults(ctx.get(), req, &resp), "ReportResults"));
    trials_done_ += resp.accepted();
    SF_LOG(Info) << "reported " << req.reports_size() << " trial(s): " << resp.accepted()
                 << " accepted, " << resp.duplicates() << " duplicate, " << resp.rejected_stale()
                 << " stale; bundle " << bundle_seconds << " s";
    return OkStatus();
  });
}

}  // namespace sweepfarm::worker
