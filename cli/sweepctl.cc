// sweepctl: the command line for people and nightly jobs. Prints results on stdout (plain or
// --json) and diagnostics on stderr; exit 0 on success, 1 on failure, 2 on bad usage.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "common/flags.h"
#include "common/json.h"
#include "proto/grpc_status.h"
#include "sweepfarm/v1/sweep.grpc.pb.h"

using namespace sweepfarm;

namespace {

constexpr char kUsage[] =
    "usage: sweepctl [--coordinator HOST:PORT] COMMAND ...\n"
    "  submit FILE                        submit a sweep; prints its id\n"
    "  watch ID                           live progress until the sweep ends\n"
    "  status ID [--json]                 trials by state (failed ones with their reasons)\n"
    "  leaderboard ID [--top N] [--json]  trials ranked by selection accuracy\n"
    "  ensemble ID [--size N] [--candidates N] [--top-k N] [--json]\n"
    "                                     ensembles of the best trials (greedy, top-k) against\n"
    "                                     the best single trial, on selection and holdout\n";

class Client {
 public:
  Client(const std::string& address, int deadline_ms) : deadline_ms_(deadline_ms) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(256 << 20);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
    stub_ = v1::SweepService::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  template <typename Req, typename Resp, typename Fn>
  Status Call(const char* rpc, Fn fn, const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms_));
    return FromGrpc((stub_.get()->*fn)(&ctx, req, resp), rpc);
  }

 private:
  int deadline_ms_;
  std::unique_ptr<v1::SweepService::Stub> stub_;
};

int Fail(const Status& s) {
  std::cerr << "sweepctl: " << s.message() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

StatusOr<int64_t> SweepId(const std::vector<std::string>& pos) {
  if (pos.size() != 2) return InvalidArgumentError(std::string("expected one sweep ID\n") + kUsage);
  auto id = ParseInt(pos[1], "sweep ID");
  if (!id.ok() || *id <= 0) {
    return InvalidArgumentError("sweep ID must be a positive integer, got \"" + pos[1] + "\"");
  }
  return *id;
}

std::string FormatParams(const v1::TrialParams& p) {
  char rate[16] = "natural";
  if (p.issue_rate() >= 0) std::snprintf(rate, sizeof(rate), "%.3g", p.issue_rate());
  char buf[160];
  std::snprintf(buf, sizeof(buf), "epochs=%d step_size=%.4g issue_rate=%s data_size=%.3g seed=%llu",
                p.epochs(), p.step_size(), rate, p.data_size(),
                static_cast<unsigned long long>(p.seed()));
  return buf;
}

void ParamsJson(JsonWriter& w, const v1::TrialParams& p) {
  w.BeginObject().Key("epochs").Int(p.epochs()).Key("step_size").Number(p.step_size());
  w.Key("issue_rate");
  if (p.issue_rate() < 0) {
    w.Null();
  } else {
    w.Number(p.issue_rate());
  }
  w.Key("data_size").Number(p.data_size()).Key("seed").Int(static_cast<int64_t>(p.seed()));
  w.EndObject();
}

std::string Duration(double s) {
  char buf[32];
  if (s < 0 || !std::isfinite(s)) return "?";
  if (s < 60) {
    std::snprintf(buf, sizeof(buf), "%.0fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof(buf), "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%dh%02dm", static_cast<int>(s) / 3600,
                  static_cast<int>(s) % 3600 / 60);
  }
  return buf;
}

int Submit(Client& c, const std::vector<std::string>& pos) {
  if (pos.size() != 2) {
    return Fail(InvalidArgumentError(std::string("submit needs one FILE\n") + kUsage));
  }
  std::ifstream in(pos[1]);
  if (!in) return Fail(InvalidArgumentError(pos[1] + ": cannot read"));
  std::stringstream text;
  text << in.rdbuf();
  v1::SubmitSweepRequest req;
  req.set_yaml(text.str());
  req.set_source_name(pos[1]);
  v1::SubmitSweepResponse resp;
  if (Status s = c.Call("SubmitSweep", &v1::SweepService::Stub::SubmitSweep, req, &resp); !s.ok()) {
    return Fail(s);
  }
  std::cerr << "sweep " << resp.sweep_id() << ": " << resp.trials() << " trials queued (spec "
            << resp.spec_hash() << ")\n";
  std::cout << resp.sweep_id() << "\n";
  return 0;
}

int ShowStatus(Client& c, int64_t id, bool json) {
  v1::GetSweepStatusRequest req;
  req.set_sweep_id(id);
  v1::SweepStatus s;
  if (Status st = c.Call("GetSweepStatus", &v1::SweepService::Stub::GetSweepStatus, req, &s);
      !st.ok()) {
    return Fail(st);
  }
  v1::ListTrialsResponse trials;
  if (s.failed() > 0 || s.retried() > 0) {
    v1::ListTrialsRequest lreq;
    lreq.set_sweep_id(id);
    if (Status st = c.Call("ListTrials", &v1::SweepService::Stub::ListTrials, lreq, &trials);
        !st.ok()) {
      return Fail(st);
    }
  }
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("sweep_id").Int(s.sweep_id()).Key("name").String(s.name());
    w.Key("model").String(s.model()).Key("state").String(s.state()).Key("total").Int(s.total());
    w.Key("queued").Int(s.queued()).Key("running").Int(s.running());
    w.Key("succeeded").Int(s.succeeded()).Key("failed").Int(s.failed());
    w.Key("retried").Int(s.retried()).Key("lost_leases").Int(s.lost_leases());
    w.Key("trainer_errors").Int(s.trainer_errors()).Key("stale_results").Int(s.stale_results());
    w.Key("best_trial_id").Int(s.best_trial_id());
    w.Key("best_selection_accuracy").Number(s.best_selection_accuracy());
    w.Key("best_holdout_accuracy").Number(s.best_holdout_accuracy());
    w.Key("baseline_accuracy").Number(s.baseline_accuracy());
    w.Key("elapsed_seconds").Number(s.elapsed_seconds());
    w.Key("trials_per_second").Number(s.trials_per_second());
    w.Key("created_at").String(s.created_at()).Key("problems").BeginArray();
    for (const auto& t : trials.trials()) {
      if (t.state() != "failed" && t.attempts() <= 1) continue;
      w.BeginObject().Key("trial_id").Int(t.trial_id()).Key("state").String(t.state());
      w.Key("attempts").Int(t.attempts()).Key("last_error").String(t.last_error()).EndObject();
    }
    w.EndArray().EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  std::printf("sweep %lld (%s, model %s): %s\n", static_cast<long long>(s.sweep_id()),
              s.name().c_str(), s.model().c_str(), s.state().c_str());
  std::printf(
      "  total %lld  queued %lld  running %lld  succeeded %lld  failed %lld  retried %lld\n",
      static_cast<long long>(s.total()), static_cast<long long>(s.queued()),
      static_cast<long long>(s.running()), static_cast<long long>(s.succeeded()),
      static_cast<long long>(s.failed()), static_cast<long long>(s.retried()));
  if (s.lost_leases() + s.trainer_errors() + s.stale_results() > 0) {
    std::printf(
        "  lost leases %lld (workers gone, trials re-queued)  trainer errors %lld  "
        "stale results refused %lld\n",
        static_cast<long long>(s.lost_leases()), static_cast<long long>(s.trainer_errors()),
        static_cast<long long>(s.stale_results()));
  }
  if (s.best_trial_id() > 0) {
    std::printf(
        "  best trial %lld: selection accuracy %.4f, holdout %.4f; majority-class "
        "baseline %.4f (holdout %+.4f)\n",
        static_cast<long long>(s.best_trial_id()), s.best_selection_accuracy(),
        s.best_holdout_accuracy(), s.baseline_accuracy(),
        s.best_holdout_accuracy() - s.baseline_accuracy());
  }
  std::printf("  elapsed %s, %.2f trials/s\n", Duration(s.elapsed_seconds()).c_str(),
              s.trials_per_second());
  for (const auto& t : trials.trials()) {
    if (t.state() == "failed") {
      std::printf("  trial %lld failed after %d attempt(s): %s\n",
                  static_cast<long long>(t.trial_id()), t.attempts(), t.last_error().c_str());
    } else if (t.attempts() > 1) {
      std::printf("  trial %lld retried (%d attempts, %s): %s\n",
                  static_cast<long long>(t.trial_id()), t.attempts(), t.state().c_str(),
                  t.last_error().empty() ? "-" : t.last_error().c_str());
    }
  }
  return 0;
}

int Leaderboard(Client& c, int64_t id, int top, bool json) {
  v1::ListTrialsRequest req;
  req.set_sweep_id(id);
  req.set_top(top);
  req.set_leaderboard(true);
  v1::ListTrialsResponse resp;
  if (Status s = c.Call("ListTrials", &v1::SweepService::Stub::ListTrials, req, &resp); !s.ok()) {
    return Fail(s);
  }
  if (json) {
    JsonWriter w;
    w.BeginArray();
    int rank = 0;
    for (const auto& t : resp.trials()) {
      const auto& r = t.result();
      w.BeginObject().Key("rank").Int(++rank).Key("trial_id").Int(t.trial_id());
      w.Key("status").String(t.state()).Key("params");
      ParamsJson(w, t.params());
      w.Key("selection_accuracy").Number(r.selection_accuracy());
      w.Key("holdout_accuracy").Number(r.holdout_accuracy());
      w.Key("test_accuracy").Number(r.test_accuracy()).Key("test_loss").Number(r.test_loss());
      w.Key("train_loss").Number(r.train_loss()).Key("wall_seconds").Number(r.wall_seconds());
      w.Key("samples_per_second").Number(r.samples_per_second()).Key("steps").Int(r.steps());
      w.Key("attempts").Int(t.attempts()).Key("worker_id").String(t.worker_id());
      w.Key("device").String(r.device()).Key("dataset_hash").String(r.dataset_hash());
      w.EndObject();
    }
    w.EndArray();
    std::cout << w.str() << "\n";
    return 0;
  }
  // Ranked by selection accuracy; holdout accuracy is shown, never used to rank.
  std::printf("%4s %8s %9s %9s %9s %10s  %s\n", "rank", "trial", "selection", "holdout",
              "test_loss", "train_loss", "params");
  int rank = 0;
  for (const auto& t : resp.trials()) {
    std::printf("%4d %8lld %9.4f %9.4f %9.4f %10.4f  %s\n", ++rank,
                static_cast<long long>(t.trial_id()), t.result().selection_accuracy(),
                t.result().holdout_accuracy(), t.result().test_loss(), t.result().train_loss(),
                FormatParams(t.params()).c_str());
  }
  if (rank == 0) std::printf("(no finished trials yet)\n");
  return 0;
}

int BuildEnsemble(Client& c, int64_t id, int size, int candidates, int top_k, bool json) {
  v1::BuildEnsembleRequest req;
  req.set_sweep_id(id);
  req.set_size(size);
  req.set_candidates(candidates);
  req.set_top_k(top_k);
  v1::BuildEnsembleResponse resp;
  if (Status s = c.Call("BuildEnsemble", &v1::SweepService::Stub::BuildEnsemble, req, &resp);
      !s.ok()) {
    return Fail(s);
  }
  const v1::EnsembleSummary* rows[] = {&resp.best_single(), &resp.top_k(), &resp.greedy()};
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("sweep_id").Int(id).Key("candidates").Int(resp.candidates());
    w.Key("selection_samples").Int(resp.selection_samples());
    w.Key("holdout_samples").Int(resp.holdout_samples());
    for (const auto* e : rows) {
      w.Key(e->method()).BeginObject().Key("members").BeginArray();
      for (int i = 0; i < e->trial_ids_size(); ++i) {
        w.BeginObject().Key("trial_id").Int(e->trial_ids(i)).Key("weight").Number(e->weights(i));
        w.EndObject();
      }
      w.EndArray().Key("selection_accuracy").Number(e->selection_accuracy());
      w.Key("holdout_accuracy").Number(e->holdout_accuracy()).EndObject();
    }
    w.EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  std::printf("sweep %lld: %d candidates; selection %d samples, holdout %d samples\n",
              static_cast<long long>(id), resp.candidates(), resp.selection_samples(),
              resp.holdout_samples());
  std::printf("%-12s %7s %9s %9s  %s\n", "method", "members", "selection", "holdout",
              "trial x weight");
  for (const auto* e : rows) {
    std::string members;
    for (int i = 0; i < e->trial_ids_size(); ++i) {
      char buf[48];
      std::snprintf(buf, sizeof(buf), "%s%lld x %.3g", i ? ", " : "",
                    static_cast<long long>(e->trial_ids(i)), e->weights(i));
      members += buf;
    }
    std::printf("%-12s %7d %9.4f %9.4f  %s\n", e->method().c_str(), e->trial_ids_size(),
                e->selection_accuracy(), e->holdout_accuracy(), members.c_str());
  }
  return 0;
}

int Watch(Client& c, int64_t id) {
  const bool tty = isatty(STDOUT_FILENO);
  auto start = std::chrono::steady_clock::now();
  int64_t first_finished = -1;
  int64_t last_printed = -1;
  auto last_print = start;
  bool unreachable = false;
  while (true) {
    v1::GetSweepStatusRequest req;
    req.set_sweep_id(id);
    v1::SweepStatus s;
    Status st = c.Call("GetSweepStatus", &v1::SweepService::Stub::GetSweepStatus, req, &s);
    if (!st.ok()) {
      if (st.code() != StatusCode::kUnavailable) return Fail(st);
      if (!unreachable) {
        std::cerr << (tty ? "\n" : "") << "sweepctl: coordinator unreachable; still watching\n";
      }
      unreachable = true;
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    if (unreachable) std::cerr << "sweepctl: coordinator reachable again\n";
    unreachable = false;
    int64_t finished = s.succeeded() + s.failed();
    auto now = std::chrono::steady_clock::now();
    double secs = std::chrono::duration<double>(now - start).count();
    if (first_finished < 0) first_finished = finished;
    double rate = secs > 2 && finished > first_finished ? (finished - first_finished) / secs
                                                        : s.trials_per_second();
    double eta = rate > 0 ? (s.total() - finished) / rate : -1;
    const int width = 30;
    int filled = s.total() > 0 ? static_cast<int>(width * finished / s.total()) : 0;
    char best[48] = "-";
    if (s.best_trial_id() > 0) {
      std::snprintf(best, sizeof(best), "%.4f (trial %lld)", s.best_selection_accuracy(),
                    static_cast<long long>(s.best_trial_id()));
    }
    bool done = s.state() == "done";
    char line[256];
    std::snprintf(
        line, sizeof(line),
        "[%s%s] %lld/%lld done  %lld running  %lld failed  %.2f trials/s  ETA %s  best %s",
        std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
        static_cast<long long>(finished), static_cast<long long>(s.total()),
        static_cast<long long>(s.running()), static_cast<long long>(s.failed()), rate,
        done ? "0s" : Duration(eta).c_str(), best);
    if (tty) {
      std::printf("\r%s\033[K", line);
      if (done) std::printf("\n");
      std::fflush(stdout);
    } else if (finished != last_printed || done || now - last_print > std::chrono::seconds(10)) {
      std::printf("%s\n", line);
      std::fflush(stdout);
      last_printed = finished;
      last_print = now;
    }
    if (done) {
      std::printf("sweep %lld done: %lld succeeded, %lld failed in %s\n",
                  static_cast<long long>(id), static_cast<long long>(s.succeeded()),
                  static_cast<long long>(s.failed()), Duration(s.elapsed_seconds()).c_str());
      return s.succeeded() > 0 ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  flags.Define("coordinator", "127.0.0.1:50051", "coordinator HOST:PORT")
      .Define("top", "0", "leaderboard: show the best N (0: all)")
      .Define("deadline-ms", "30000", "deadline of each RPC")
      .Define("size", "10", "ensemble: greedy selection steps")
      .Define("candidates", "20", "ensemble: the best N trials to choose from")
      .Define("top-k", "5", "ensemble: members of the top-k average")
      .DefineBool("json", "machine-readable output");
  if (Status s = flags.Parse(argc, argv); !s.ok()) return Fail(s);
  const auto& pos = flags.positionals();
  if (pos.empty()) {
    std::cerr << kUsage << flags.Usage();
    return 2;
  }
  auto deadline = flags.GetInt("deadline-ms");
  auto top = flags.GetInt("top");
  if (!deadline.ok()) return Fail(deadline.status());
  if (!top.ok() || *top < 0) {
    return Fail(InvalidArgumentError("--top must be a non-negative integer"));
  }
  Client c(flags.Get("coordinator"), static_cast<int>(*deadline));
  const std::string& cmd = pos[0];
  if (cmd == "submit") return Submit(c, pos);
  if (cmd == "watch" || cmd == "status" || cmd == "leaderboard" || cmd == "ensemble") {
    auto id = SweepId(pos);
    if (!id.ok()) return Fail(id.status());
    if (cmd == "watch") return Watch(c, *id);
    if (cmd == "status") return ShowStatus(c, *id, flags.GetBool("json"));
    if (cmd == "ensemble") {
      auto size = flags.GetInt("size");
      auto candidates = flags.GetInt("candidates");
      auto top_k = flags.GetInt("top-k");
      if (!size.ok() || !candidates.ok() || !top_k.ok()) {
        return Fail(InvalidArgumentError("--size, --candidates and --top-k need integers"));
      }
      return BuildEnsemble(c, *id, static_cast<int>(*size), static_cast<int>(*candidates),
                           static_cast<int>(*top_k), flags.GetBool("json"));
    }
    return Leaderboard(c, *id, static_cast<int>(*top), flags.GetBool("json"));
  }
  std::cerr << "sweepctl: unknown command \"" << cmd << "\"\n" << kUsage;
  return 2;
}
