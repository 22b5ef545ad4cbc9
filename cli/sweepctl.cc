// sweepctl: the command line for people and nightly jobs. Prints results on stdout (plain or
// --json) and diagnostics on stderr; exit 0 on success, 1 on failure, 2 on bad usage.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>
#include <type_traits>

#include "cli/data.h"
#include "cli/export.h"
#include "cli/importance.h"
#include "cli/scale.h"
#include "common/build_info.h"
#include "common/files.h"
#include "common/flags.h"
#include "common/json.h"
#include "proto/grpc_status.h"
#include "proto/model_stream.h"
#include "proto/security.h"
#include "sweepfarm/v1/registry.grpc.pb.h"
#include "sweepfarm/v1/sweep.grpc.pb.h"

using namespace sweepfarm;

namespace {

constexpr char kUsage[] =
    "usage: sweepctl [--coordinator HOST:PORT] COMMAND ...\n"
    "  submit FILE                        submit a sweep; prints its id\n"
    "  submit FILE --dry-run [--top N] [--json]\n"
    "                                     validate, expand and seed it on the coordinator and\n"
    "                                     show the trials it would queue; writes nothing\n"
    "  list [--state S] [--top N] [--json]\n"
    "                                     the newest sweeps (default 20), optionally of one\n"
    "                                     state: running, done or cancelled\n"
    "  watch ID                           live progress until the sweep ends\n"
    "  status ID [--json]                 trials by state (failed ones with their reasons)\n"
    "  leaderboard ID [--top N] [--json]  trials ranked by the sweep's objective\n"
    "  export ID                          every trial as CSV (parameters, state, origin,\n"
    "                                     accuracies, losses, timings, errors) on stdout\n"
    "  cancel ID [--reason TEXT]          stop a running sweep: queued trials are dropped,\n"
    "                                     running ones lose their leases; results so far stay\n"
    "  workers [--seen-within S] [--json] the workers seen in the last S seconds (3600):\n"
    "                                     device, leases held, results, lost or alive\n"
    "  scale --script F [--min-workers N] [--max-workers N] [--trials-per-worker N]\n"
    "        [--sbatch-args 'A B'] [--worker-args 'A B'] [--every S] [--dry-run]\n"
    "                                     Slurm worker jobs that follow the queue: submits\n"
    "                                     (sbatch F) as many as queued and running trials\n"
    "                                     need, within the limits; cancels the surplus once\n"
    "                                     nothing is queued (they drain first). Once, or every\n"
    "                                     S seconds (docs/slurm.md)\n"
    "  extend ID N                        N more trials for a random or TPE sweep (a done one\n"
    "                                     runs again; not once published)\n"
    "  priority ID P                      a running sweep's priority (-1000..1000): higher\n"
    "                                     is leased first; running trials are not preempted\n"
    "  prune --older-than-days D [--dry-run] [--json]\n"
    "                                     retention: for sweeps that ended D days ago or more,\n"
    "                                     delete stored predictions and the weights no\n"
    "                                     registered version uses, and data set versions no\n"
    "                                     sweep or version uses; trials and results stay\n"
    "  importance ID [--json]             which parameters mattered: rank correlation with\n"
    "                                     the sweep's objective, and its mean by value range\n"
    "  ensemble ID [--size N] [--candidates N] [--top-k N] [--json]\n"
    "                                     ensembles of the best trials (greedy, bagged, top-k;\n"
    "                                     the sweep's selection settings unless given) against\n"
    "                                     the best single trial, on selection and holdout, and\n"
    "                                     what registry publish would register, and why it\n"
    "                                     differs\n"
    "  nightly FILE [--timeout S] [--dry-run] [--json]\n"
    "                                     submit (seeded per the file), wait, publish: ensemble,\n"
    "                                     gate against the champion, promote or keep; summary.\n"
    "                                     Exit 0 when published (promoted or rejected), 1 if not\n"
    "  registry list MODEL [--json]       versions, aliases and the audit trail\n"
    "  registry show MODEL [--version N | --alias A] [--json]\n"
    "                                     a version (default: the champion) with its members\n"
    "  registry publish SWEEP_ID [--dry-run] [--json]\n"
    "                                     ensemble + gate + register a finished sweep (dry run:\n"
    "                                     the gate's decision, nothing registered)\n"
    "  registry diff MODEL FROM TO [--json]\n"
    "                                     two versions (numbers or aliases) side by side:\n"
    "                                     holdout figures, members kept/added/removed, the gate\n"
    "  registry promote MODEL VERSION [--alias A] [--reason TEXT]\n"
    "                                     point an alias (default champion) at a version\n"
    "  registry rollback MODEL [--alias A] [--reason TEXT]\n"
    "                                     undo the alias's last move\n";

// The entries of a usage text for one command: the lines that begin "  COMMAND" and the deeper
// indented lines that continue them. Empty if the text has none.
std::string CommandUsage(const std::string& usage, const std::string& command) {
  std::string out;
  bool in = false;
  size_t start = 0;
  while (start < usage.size()) {
    size_t end = usage.find('\n', start);
    if (end == std::string::npos) end = usage.size();
    const std::string line = usage.substr(start, end - start);
    start = end + 1;
    if (line.size() > 2 && line.compare(0, 2, "  ") == 0 && line[2] != ' ') {
      const size_t word = line.find(' ', 2);
      in = line.substr(2, word == std::string::npos ? std::string::npos : word - 2) == command;
    } else if (line.compare(0, 3, "   ") != 0) {
      in = false;
    }
    if (in) out += line + "\n";
  }
  return out;
}

// `sweepctl help [COMMAND]` and `sweepctl COMMAND --help`: the command's own lines, or every
// command and flag; 2 for a command that does not exist.
int Help(const std::vector<std::string>& topic, const Flags& flags) {
  const std::string all = std::string(kUsage) + cli::kDataUsage;
  if (topic.empty()) {
    std::cout << all << flags.Usage();
    return 0;
  }
  const std::string mine = CommandUsage(all, topic[0]);
  if (mine.empty()) {
    std::cerr << "sweepctl: unknown command \"" << topic[0] << "\"; sweepctl help lists them\n";
    return 2;
  }
  std::cout << "usage: sweepctl [--coordinator HOST:PORT] [flags]\n"
            << mine << "(sweepctl help: every command and flag)\n";
  return 0;
}

class Client {
 public:
  Client(const std::string& address, const TransportSecurity& security, int deadline_ms)
      : address_(address), deadline_ms_(deadline_ms) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(256 << 20);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
    channel_ = OpenChannel(address, security, args);
    stub_ = v1::SweepService::NewStub(channel_);
    registry_ = v1::RegistryService::NewStub(channel_);
  }
  template <typename Stub, typename Req, typename Resp>
  Status Call(const char* rpc, grpc::Status (Stub::*fn)(grpc::ClientContext*, const Req&, Resp*),
              const Req& req, Resp* resp, int deadline_ms = 0) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(deadline_ms > 0 ? deadline_ms : deadline_ms_));
    Stub* stub;
    if constexpr (std::is_same_v<Stub, v1::SweepService::Stub>) {
      stub = stub_.get();
    } else {
      stub = registry_.get();
    }
    return Unreachable(FromGrpc((stub->*fn)(&ctx, req, resp), rpc), "the coordinator", address_,
                       "--coordinator");
  }
  v1::RegistryService::Stub* registry() { return registry_.get(); }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  int deadline_ms() const { return deadline_ms_; }

 private:
  std::string address_;
  int deadline_ms_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::SweepService::Stub> stub_;
  std::unique_ptr<v1::RegistryService::Stub> registry_;
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
  std::string out = buf;
  if (p.channels_size() > 0) {
    out += " channels=";
    for (int i = 0; i < p.channels_size(); ++i) {
      out += (i ? "x" : "") + std::to_string(p.channels(i));
    }
  }
  if (p.kernel_size() > 0) out += " kernel_size=" + std::to_string(p.kernel_size());
  if (!p.architecture().empty()) out += " architecture=" + p.architecture();
  if (!p.optimizer().empty()) out += " optimizer=" + p.optimizer();
  if (p.has_weight_decay()) out += " weight_decay=" + ShortestNumber(p.weight_decay());
  if (p.has_smoothing()) out += " smoothing=" + ShortestNumber(p.smoothing());
  return out;
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
  if (p.channels_size() > 0) {  // Architecture search only.
    w.Key("channels").BeginArray();
    for (int32_t c : p.channels()) w.Int(c);
    w.EndArray();
  }
  if (p.kernel_size() > 0) w.Key("kernel_size").Int(p.kernel_size());
  if (!p.architecture().empty()) w.Key("architecture").String(p.architecture());
  if (!p.optimizer().empty()) w.Key("optimizer").String(p.optimizer());
  if (p.has_weight_decay()) w.Key("weight_decay").Number(p.weight_decay());
  if (p.has_smoothing()) w.Key("smoothing").Number(p.smoothing());
  w.EndObject();
}

// A learning curve in `cells` block characters (epochs resampled evenly, each curve scaled
// from its own lowest to highest value, so the shape shows), padded to `cells` columns; blanks
// where there is no curve.
std::string Sparkline(const google::protobuf::RepeatedField<float>& curve, int cells) {
  static const char* kBlocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                  "\u2585", "\u2586", "\u2587", "\u2588"};
  const int n = curve.size();
  std::vector<float> points;
  for (int c = 0; c < std::min(cells, n); ++c) {
    const int at = std::min(cells, n) == 1 ? n - 1 : c * (n - 1) / (std::min(cells, n) - 1);
    if (std::isfinite(curve[at])) points.push_back(curve[at]);
  }
  std::string out;
  if (!points.empty()) {
    const auto [lo, hi] = std::minmax_element(points.begin(), points.end());
    for (float v : points) {
      const int level = *hi > *lo ? static_cast<int>(7 * (v - *lo) / (*hi - *lo) + 0.5) : 0;
      out += kBlocks[level];
    }
  }
  return out + std::string(cells - points.size(), ' ');
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

// Who acts, for the audit trails of sweeps and the registry: user@host (sweepctl).
std::string Actor() {
  const char* user = getenv("USER") ? getenv("USER") : getenv("LOGNAME");
  char host[256] = "?";
  gethostname(host, sizeof(host) - 1);
  return std::string(user ? user : "uid" + std::to_string(getuid())) + "@" + host + " (sweepctl)";
}

// Submits FILE, or with `validate_only` asks the coordinator what it would queue (nothing is
// written), listing at most `plan_limit` of its trials (0: the coordinator's default).
StatusOr<v1::SubmitSweepResponse> SubmitFile(Client& c, const std::string& file,
                                             bool validate_only = false, int plan_limit = 0) {
  SF_ASSIGN_OR_RETURN(std::string text, ReadTextFile(file));
  v1::SubmitSweepRequest req;
  req.set_yaml(std::move(text));
  req.set_source_name(file);
  req.set_validate_only(validate_only);
  req.set_plan_limit(plan_limit);
  req.set_actor(Actor());
  v1::SubmitSweepResponse resp;
  SF_RETURN_IF_ERROR(c.Call("SubmitSweep", &v1::SweepService::Stub::SubmitSweep, req, &resp));
  if (validate_only) return resp;
  std::cerr << "sweep " << resp.sweep_id() << ": " << resp.trials() << " trials queued";
  if (resp.planned_trials() > resp.trials()) {
    std::cerr << " (the first rung or round; " << resp.planned_trials() << " planned in all)";
  }
  std::cerr << " (spec " << resp.spec_hash() << ")\n";
  return resp;
}

// `submit --dry-run` and `nightly --dry-run`: the plan the coordinator validated, expanded and
// seeded, without a sweep: counts by origin and architecture (trials of one architecture are
// fused together) over every trial, then the first `show` trials in lease order (0: as many as
// were listed).
int PrintPlan(const std::string& file, const v1::SubmitSweepResponse& r, int show, bool json) {
  const std::map<std::string, int64_t> origins(r.origins().begin(), r.origins().end());
  const std::map<std::string, int64_t> archs(r.architectures().begin(), r.architectures().end());
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("file").String(file).Key("valid").Bool(true);
    w.Key("trials").Int(r.trials()).Key("planned_trials").Int(r.planned_trials());
    w.Key("model_epochs").Int(r.model_epochs());
    w.Key("shared_run_model_epochs").Int(r.shared_run_model_epochs());
    w.Key("spec_hash").String(r.spec_hash());
    w.Key("seeded_from").String(r.seeded_from()).Key("parent_sweep_id").Int(r.parent_sweep_id());
    w.Key("origins").BeginObject();
    for (const auto& [origin, n] : origins) w.Key(origin).Int(n);
    w.EndObject().Key("architectures").BeginObject();
    for (const auto& [arch, n] : archs) w.Key(arch).Int(n);
    w.EndObject().Key("listed").Int(r.plan_size()).Key("plan").BeginArray();
    for (const auto& t : r.plan()) {
      w.BeginObject().Key("params");
      ParamsJson(w, t.params());
      w.Key("origin").String(t.origin()).Key("parent_trial_id").Int(t.parent_trial_id());
      w.EndObject();
    }
    w.EndArray().EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  std::printf("%s: valid; nothing was submitted (spec %s)\n", file.c_str(), r.spec_hash().c_str());
  std::printf(
      "would queue %lld trials, %lld model-epochs (%lld where trials that differ only in "
      "epochs share a run)",
      static_cast<long long>(r.trials()), static_cast<long long>(r.model_epochs()),
      static_cast<long long>(r.shared_run_model_epochs()));
  if (r.planned_trials() > r.trials()) {
    std::printf(" (the first rung or round; %lld trials planned in all)",
                static_cast<long long>(r.planned_trials()));
  }
  std::printf("\n");
  if (!r.seeded_from().empty()) {
    std::printf("seeded from %s (sweep %lld)\n", r.seeded_from().c_str(),
                static_cast<long long>(r.parent_sweep_id()));
  }
  std::printf("by origin:");
  for (const auto& [origin, n] : origins) std::printf(" %s %lld", origin.c_str(), (long long)n);
  std::printf("\nby architecture (each fused apart):\n");
  for (const auto& [arch, n] : archs) std::printf("  %6lld  %s\n", (long long)n, arch.c_str());
  const int n = r.plan_size();
  const int listed = show == 0 ? n : std::min(show, n);
  std::printf(
      "trials in lease order (%d of %lld%s):\n", listed, static_cast<long long>(r.trials()),
      listed < r.trials() ? (listed < v1::PLAN_LISTED_MAX ? "; --top N for more" : "") : "");
  for (int i = 0; i < listed; ++i) {
    const auto& t = r.plan(i);
    std::string origin = t.origin();
    if (t.parent_trial_id() > 0) origin += " <" + std::to_string(t.parent_trial_id());
    std::printf("  %-16s %s\n", origin.c_str(), FormatParams(t.params()).c_str());
  }
  return 0;
}

int Submit(Client& c, const std::vector<std::string>& pos, bool dry_run, int show, bool json) {
  if (pos.size() != 2) {
    return Fail(InvalidArgumentError(std::string("submit needs one FILE\n") + kUsage));
  }
  // A dry run lists what it shows (--top 0 or --json: as many as the coordinator lists).
  const int limit =
      show == 0 || json ? v1::PLAN_LISTED_MAX : std::min<int>(show, v1::PLAN_LISTED_MAX);
  auto resp = SubmitFile(c, pos[1], dry_run, dry_run ? limit : 0);
  if (!resp.ok()) return Fail(resp.status());
  if (dry_run) return PrintPlan(pos[1], *resp, show, json);
  std::cout << resp->sweep_id() << "\n";
  return 0;
}

// A sweep's status as JSON members (of an object the caller opens): what `status --json` and
// `list --json` print for each sweep.
void SweepStatusFields(JsonWriter& w, const v1::SweepStatus& s) {
  w.Key("sweep_id").Int(s.sweep_id()).Key("name").String(s.name());
  w.Key("model").String(s.model()).Key("state").String(s.state()).Key("total").Int(s.total());
  w.Key("queued").Int(s.queued()).Key("running").Int(s.running());
  w.Key("succeeded").Int(s.succeeded()).Key("failed").Int(s.failed());
  w.Key("retried").Int(s.retried()).Key("lost_leases").Int(s.lost_leases());
  w.Key("trainer_errors").Int(s.trainer_errors()).Key("stale_results").Int(s.stale_results());
  w.Key("best_trial_id").Int(s.best_trial_id());
  w.Key("best_selection_accuracy").Number(s.best_selection_accuracy());
  w.Key("best_holdout_accuracy").Number(s.best_holdout_accuracy());
  w.Key("objective").String(s.objective());
  w.Key("best_selection_score").Number(s.best_selection_score());
  w.Key("baseline_accuracy").Number(s.baseline_accuracy());
  w.Key("elapsed_seconds").Number(s.elapsed_seconds());
  w.Key("trials_per_second").Number(s.trials_per_second());
  w.Key("created_at").String(s.created_at());
  w.Key("parent_sweep_id").Int(s.parent_sweep_id()).Key("seeded_from").String(s.seeded_from());
  w.Key("seed_trials").Int(s.seed_trials()).Key("neighbour_trials").Int(s.neighbour_trials());
  w.Key("cancelled").Int(s.cancelled()).Key("cancel_reason").String(s.cancel_reason());
  w.Key("pruned_at").String(s.pruned_at());
  w.Key("rung").Int(s.rung()).Key("rungs").Int(s.rungs());
  w.Key("rung_epochs").Int(s.rung_epochs()).Key("rounds").Int(s.rounds());
  w.Key("priority").Int(s.priority()).Key("deadline_at").String(s.deadline_at());
  w.Key("seconds_to_deadline").Number(s.deadline_at().empty() ? 0.0 : s.seconds_to_deadline());
  w.Key("ended_early").String(s.ended_early()).Key("submitted_by").String(s.submitted_by());
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
    w.BeginObject();
    SweepStatusFields(w, s);
    w.Key("problems").BeginArray();
    for (const auto& t : trials.trials()) {
      if (t.state() != "failed" && t.attempts() <= 1) continue;
      w.BeginObject().Key("trial_id").Int(t.trial_id()).Key("state").String(t.state());
      w.Key("attempts").Int(t.attempts()).Key("last_error").String(t.last_error()).EndObject();
    }
    w.EndArray().Key("history").BeginArray();
    for (const auto& e : s.history()) {
      w.BeginObject().Key("at").String(e.at()).Key("action").String(e.action());
      w.Key("actor").String(e.actor()).Key("detail").String(e.detail()).EndObject();
    }
    w.EndArray().EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  std::printf("sweep %lld (%s, model %s): %s, priority %d\n", static_cast<long long>(s.sweep_id()),
              s.name().c_str(), s.model().c_str(), s.state().c_str(), s.priority());
  if (s.state() == "cancelled") {
    std::printf("  cancelled: %s (%lld unfinished trial(s) ended)\n", s.cancel_reason().c_str(),
                static_cast<long long>(s.cancelled()));
  } else if (!s.ended_early().empty()) {
    std::printf("  ended early: %s (%lld trial(s) not run)\n", s.ended_early().c_str(),
                static_cast<long long>(s.cancelled()));
  } else if (!s.deadline_at().empty()) {
    std::printf("  time limit: nothing is leased after %s (in %s)\n", s.deadline_at().c_str(),
                Duration(std::max(0.0, s.seconds_to_deadline())).c_str());
  }
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
    if (s.objective() != "selection_accuracy") {
      std::printf("  objective %s: best %.4f\n", s.objective().c_str(), s.best_selection_score());
    }
  }
  std::printf("  elapsed %s, %.2f trials/s\n", Duration(s.elapsed_seconds()).c_str(),
              s.trials_per_second());
  if (s.rungs() > 0) {
    std::printf("  successive halving: rung %d of %d (%d epochs)%s\n", s.rung() + 1, s.rungs(),
                s.rung_epochs(),
                s.state() == "running" && s.rung() + 1 < s.rungs()
                    ? "; total counts the later rungs as planned"
                    : "");
  }
  if (s.rounds() > 0) {
    std::printf("  model-based search (TPE): round %d of %d%s\n", s.rung() + 1, s.rounds(),
                s.state() == "running" && s.rung() + 1 < s.rounds()
                    ? "; the later rounds are proposed from the results as each round ends"
                    : "");
  }
  if (!s.pruned_at().empty()) {
    std::printf("  pruned at %s: stored predictions and unregistered weights deleted\n",
                s.pruned_at().substr(0, 19).c_str());
  }
  if (!s.seeded_from().empty()) {
    std::printf("  seeded from %s (sweep %lld): %lld seed trials, %lld neighbours, %lld searched\n",
                s.seeded_from().c_str(), static_cast<long long>(s.parent_sweep_id()),
                static_cast<long long>(s.seed_trials()),
                static_cast<long long>(s.neighbour_trials()),
                static_cast<long long>(s.total() - s.seed_trials() - s.neighbour_trials()));
  }
  // The audit trail: who submitted, reprioritised or cancelled it, and limits that ended it.
  for (const auto& e : s.history()) {
    std::printf("  %s %-8s by %s: %s\n", e.at().substr(0, 19).c_str(), e.action().c_str(),
                e.actor().c_str(), e.detail().c_str());
  }
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

int Export(Client& c, int64_t id) {
  v1::ListTrialsRequest req;
  req.set_sweep_id(id);
  v1::ListTrialsResponse resp;
  if (Status s = c.Call("ListTrials", &v1::SweepService::Stub::ListTrials, req, &resp); !s.ok()) {
    return Fail(s);
  }
  const std::string csv =
      cli::TrialsCsv(std::vector<v1::Trial>(resp.trials().begin(), resp.trials().end()));
  std::fwrite(csv.data(), 1, csv.size(), stdout);
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
      w.Key("selection_score").Number(r.selection_score());
      w.Key("selection_accuracy").Number(r.selection_accuracy());
      w.Key("holdout_accuracy").Number(r.holdout_accuracy());
      w.Key("selection_balanced_accuracy").Number(r.selection_balanced_accuracy());
      w.Key("holdout_balanced_accuracy").Number(r.holdout_balanced_accuracy());
      w.Key("test_accuracy").Number(r.test_accuracy()).Key("test_loss").Number(r.test_loss());
      w.Key("train_loss").Number(r.train_loss()).Key("wall_seconds").Number(r.wall_seconds());
      w.Key("samples_per_second").Number(r.samples_per_second()).Key("steps").Int(r.steps());
      w.Key("attempts").Int(t.attempts()).Key("worker_id").String(t.worker_id());
      w.Key("device").String(r.device()).Key("dataset_hash").String(r.dataset_hash());
      w.Key("origin").String(t.origin()).Key("parent_trial_id").Int(t.parent_trial_id());
      w.Key("rung").Int(t.rung()).Key("resumed_epochs").Int(r.resumed_epochs());
      w.Key("train_loss_curve").BeginArray();
      for (float v : r.train_loss_curve()) w.Number(v);
      w.EndArray().EndObject();
    }
    w.EndArray();
    std::cout << w.str() << "\n";
    return 0;
  }
  // Ranked by the sweep's objective on the selection part (selection accuracy unless the sweep
  // says otherwise); holdout figures are shown, never used to rank.
  std::printf("%4s %8s %9s %9s %9s %9s %9s %10s %-8s %-16s %s\n", "rank", "trial", "selection",
              "holdout", "sel.bal", "hold.bal", "test_loss", "train_loss", "curve", "origin",
              "params");
  int rank = 0;
  for (const auto& t : resp.trials()) {
    std::string origin = t.origin();
    if (t.parent_trial_id() > 0) origin += " <" + std::to_string(t.parent_trial_id());
    std::printf("%4d %8lld %9.4f %9.4f %9.4f %9.4f %9.4f %10.4f %s %-16s %s\n", ++rank,
                static_cast<long long>(t.trial_id()), t.result().selection_accuracy(),
                t.result().holdout_accuracy(), t.result().selection_balanced_accuracy(),
                t.result().holdout_balanced_accuracy(), t.result().test_loss(),
                t.result().train_loss(), Sparkline(t.result().train_loss_curve(), 8).c_str(),
                origin.c_str(), FormatParams(t.params()).c_str());
  }
  if (rank == 0) std::printf("(no finished trials yet)\n");
  return 0;
}

void ReportJson(JsonWriter& w, const v1::ClassificationReport& r) {
  w.BeginObject().Key("samples").Int(r.samples()).Key("classes").Int(r.classes());
  w.Key("confusion").BeginArray();
  for (int t = 0; t < r.classes(); ++t) {
    w.BeginArray();
    for (int p = 0; p < r.classes() && t * r.classes() + p < r.confusion_size(); ++p) {
      w.Int(r.confusion(t * r.classes() + p));
    }
    w.EndArray();
  }
  w.EndArray().Key("per_class").BeginArray();
  for (int k = 0; k < r.per_class_size(); ++k) {
    const auto& m = r.per_class(k);
    w.BeginObject().Key("class").Int(k).Key("precision").Number(m.precision());
    w.Key("recall").Number(m.recall()).Key("f1").Number(m.f1()).Key("support").Int(m.support());
    w.Key("predicted").Int(m.predicted()).EndObject();
  }
  w.EndArray().Key("accuracy").Number(r.accuracy());
  w.Key("balanced_accuracy").Number(r.balanced_accuracy()).Key("macro_f1").Number(r.macro_f1());
  w.Key("log_loss").Number(r.log_loss());
  if (r.has_roc_auc()) w.Key("roc_auc").Number(r.roc_auc());
  w.EndObject();
}

// A report in a few words: "balanced 0.7710, macro F1 0.7712, AUC 0.9012".
std::string ReportBrief(const v1::ClassificationReport& r) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "balanced %.4f, macro F1 %.4f", r.balanced_accuracy(),
                r.macro_f1());
  std::string out = buf;
  if (r.has_roc_auc()) {
    std::snprintf(buf, sizeof(buf), ", AUC %.4f", r.roc_auc());
    out += buf;
  }
  return out;
}

void PrintReport(const v1::ClassificationReport& r) {
  std::printf("  holdout report (%lld samples): accuracy %.4f, %s, log loss %.4f\n",
              static_cast<long long>(r.samples()), r.accuracy(), ReportBrief(r).c_str(),
              r.log_loss());
  std::printf("  %5s %9s %7s %7s %8s %9s   %s\n", "class", "precision", "recall", "f1", "support",
              "predicted", "confusion (row: true class; columns: predicted)");
  for (int k = 0; k < r.per_class_size(); ++k) {
    const auto& m = r.per_class(k);
    std::string row;
    for (int p = 0; p < r.classes() && k * r.classes() + p < r.confusion_size(); ++p) {
      row += (p ? " " : "") + std::to_string(r.confusion(k * r.classes() + p));
    }
    std::printf("  %5d %9.4f %7.4f %7.4f %8lld %9lld   %s\n", k, m.precision(), m.recall(), m.f1(),
                static_cast<long long>(m.support()), static_cast<long long>(m.predicted()),
                row.c_str());
  }
}

void EnsembleJson(JsonWriter& w, const v1::EnsembleSummary& e) {
  w.BeginObject().Key("members").BeginArray();
  for (int i = 0; i < e.trial_ids_size(); ++i) {
    w.BeginObject().Key("trial_id").Int(e.trial_ids(i)).Key("weight").Number(e.weights(i));
    w.EndObject();
  }
  w.EndArray().Key("selection_score").Number(e.selection_score());
  w.Key("selection_accuracy").Number(e.selection_accuracy());
  w.Key("holdout_accuracy").Number(e.holdout_accuracy());
  if (e.has_holdout_report()) {
    w.Key("holdout_report");
    ReportJson(w, e.holdout_report());
  }
  w.EndObject();
}

void VersionJson(JsonWriter& w, const v1::ModelVersion& v);

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
  const v1::EnsembleSummary* rows[] = {&resp.best_single(), &resp.top_k(), &resp.greedy(),
                                       &resp.bagged()};
  // What `registry publish` would register now (a dry run of it), and why it differs from the
  // table's row for the sweep's method, if it does.
  v1::PublishSweepRequest preq;
  preq.set_sweep_id(id);
  preq.set_validate_only(true);
  preq.set_actor(Actor());
  v1::PublishSweepResponse preview;
  const Status previewed =
      c.Call("PublishSweep", &v1::RegistryService::Stub::PublishSweep, preq, &preview);
  std::string difference;
  if (previewed.ok() && !preview.already_published()) {
    const v1::ModelVersion& v = preview.version();
    const v1::EnsembleSummary* same = &resp.greedy();
    for (const auto* e : rows) {
      if (e->method() == v.method()) same = e;
    }
    std::vector<int64_t> mine(same->trial_ids().begin(), same->trial_ids().end()), theirs;
    for (const auto& m : v.members()) theirs.push_back(m.trial_id());
    std::sort(mine.begin(), mine.end());
    std::sort(theirs.begin(), theirs.end());
    if (mine != theirs) {
      difference = "other members than the table's " + v.method() +
                   " row: publish chooses among the trials whose weights were uploaded (each "
                   "bundle's best), and with the sweep's selection settings";
    } else if (std::abs(same->holdout_accuracy() - v.holdout_accuracy()) > 1e-9) {
      difference =
          "the table's " + v.method() +
          " row's members; publish scores their float32 "
          "weights (the table the stored float16 probabilities)" +
          std::string(v.decision_threshold() > 0 ? " and serves its decision threshold" : "");
    } else {
      difference = "the table's " + v.method() + " row";
    }
  }
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("sweep_id").Int(id).Key("candidates").Int(resp.candidates());
    w.Key("objective").String(resp.objective());
    w.Key("selection_samples").Int(resp.selection_samples());
    w.Key("holdout_samples").Int(resp.holdout_samples());
    for (const auto* e : rows) {
      w.Key(e->method());
      EnsembleJson(w, *e);
    }
    w.Key("publish");
    if (previewed.ok() && !preview.already_published()) {
      w.BeginObject().Key("version");
      VersionJson(w, preview.version());
      w.Key("promoted").Bool(preview.promoted()).Key("as").String(difference).EndObject();
    } else {
      w.String(previewed.ok() ? "published before" : previewed.message());
    }
    w.EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  std::printf("sweep %lld: %d candidates; selection %d samples, holdout %d samples; chosen by %s\n",
              static_cast<long long>(id), resp.candidates(), resp.selection_samples(),
              resp.holdout_samples(), resp.objective().c_str());
  std::printf("%-12s %7s %9s %9s %9s %9s  %s\n", "method", "members", "selection", "holdout",
              "balanced", "AUC", "trial x weight");
  for (const auto* e : rows) {
    std::string members;
    for (int i = 0; i < e->trial_ids_size(); ++i) {
      char buf[48];
      std::snprintf(buf, sizeof(buf), "%s%lld x %.3g", i ? ", " : "",
                    static_cast<long long>(e->trial_ids(i)), e->weights(i));
      members += buf;
    }
    const auto& r = e->holdout_report();
    char auc[16] = "-";
    if (r.has_roc_auc()) std::snprintf(auc, sizeof(auc), "%.4f", r.roc_auc());
    std::printf("%-12s %7d %9.4f %9.4f %9.4f %9s  %s\n", e->method().c_str(), e->trial_ids_size(),
                e->selection_accuracy(), e->holdout_accuracy(), r.balanced_accuracy(), auc,
                members.c_str());
  }
  if (!previewed.ok()) {
    std::printf("registry publish: %s\n", previewed.message().c_str());
  } else if (preview.already_published()) {
    std::printf("registry publish: published before, as %s v%d\n",
                preview.version().model().c_str(), preview.version().version());
  } else {
    const v1::ModelVersion& v = preview.version();
    std::string members;
    for (const auto& m : v.members()) {
      char buf[48];
      std::snprintf(buf, sizeof(buf), "%s%lld x %.3g", members.empty() ? "" : ", ",
                    static_cast<long long>(m.trial_id()), m.weight());
      members += buf;
    }
    std::printf(
        "registry publish would register %s (%d members: %s): holdout %.4f%s, %s; %s\n",
        v.method().c_str(), v.members_size(), members.c_str(), v.holdout_accuracy(),
        v.decision_threshold() > 0
            ? (" above an issue probability of " + std::to_string(v.decision_threshold())).c_str()
            : "",
        preview.promoted() ? "promoted" : "not promoted", difference.c_str());
  }
  return 0;
}

// Follows a sweep until it ends (or `timeout_s` passes, if > 0: DEADLINE as UNAVAILABLE).
int Watch(Client& c, int64_t id, double timeout_s = 0) {
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
      std::snprintf(best, sizeof(best), "%.4f (trial %lld)", s.best_selection_score(),
                    static_cast<long long>(s.best_trial_id()));
    }
    bool done = s.state() != "running";  // "done" or "cancelled".
    // A sweep with a time limit: when it stops leasing (its ETA may be later).
    std::string limit;
    if (!done && !s.deadline_at().empty()) {
      limit =
          "  time limit " + (s.seconds_to_deadline() > 0 ? "in " + Duration(s.seconds_to_deadline())
                                                         : std::string("reached"));
    }
    char line[320];
    std::snprintf(
        line, sizeof(line),
        "[%s%s] %lld/%lld done  %lld running  %lld failed  %.2f trials/s  ETA %s%s  best %s",
        std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
        static_cast<long long>(finished), static_cast<long long>(s.total()),
        static_cast<long long>(s.running()), static_cast<long long>(s.failed()), rate,
        done ? "0s" : Duration(eta).c_str(), limit.c_str(), best);
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
    if (!done && timeout_s > 0 && secs > timeout_s) {
      std::fprintf(stderr, "%ssweepctl: sweep %lld not done after %.0f s; giving up waiting\n",
                   tty ? "\n" : "", static_cast<long long>(id), timeout_s);
      return 1;
    }
    if (s.state() == "cancelled") {
      std::printf("sweep %lld cancelled (%s): %lld succeeded, %lld failed, %lld cancelled\n",
                  static_cast<long long>(id), s.cancel_reason().c_str(),
                  static_cast<long long>(s.succeeded()), static_cast<long long>(s.failed()),
                  static_cast<long long>(s.cancelled()));
      return 1;
    }
    if (done) {
      std::printf("sweep %lld done: %lld succeeded, %lld failed in %s\n",
                  static_cast<long long>(id), static_cast<long long>(s.succeeded()),
                  static_cast<long long>(s.failed()), Duration(s.elapsed_seconds()).c_str());
      if (!s.ended_early().empty()) {
        std::printf("  ended early: %s (%lld trial(s) not run)\n", s.ended_early().c_str(),
                    static_cast<long long>(s.cancelled()));
      }
      return s.succeeded() > 0 ? 0 : 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int Importance(Client& c, int64_t id, bool json) {
  v1::ListTrialsRequest req;
  req.set_sweep_id(id);
  req.set_leaderboard(true);
  v1::ListTrialsResponse resp;
  if (Status s = c.Call("ListTrials", &v1::SweepService::Stub::ListTrials, req, &resp); !s.ok()) {
    return Fail(s);
  }
  // Scores are by the sweep's objective (ListTrials' selection_score); its name for the output.
  v1::GetSweepStatusRequest status_req;
  status_req.set_sweep_id(id);
  v1::SweepStatus status;
  if (Status s =
          c.Call("GetSweepStatus", &v1::SweepService::Stub::GetSweepStatus, status_req, &status);
      !s.ok()) {
    return Fail(s);
  }
  bool halving = false;
  const std::vector<cli::Observation> obs =
      cli::ObservationsOf({resp.trials().begin(), resp.trials().end()}, &halving);
  if (obs.size() < 2) {
    return Fail(FailedPreconditionError("sweep " + std::to_string(id) + " has " +
                                        std::to_string(obs.size()) +
                                        " succeeded trial(s); importance needs at least 2"));
  }
  const std::vector<cli::ParamEffect> effects = cli::ParamEffects(obs);
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("sweep_id").Int(id).Key("trials").Int(static_cast<int64_t>(obs.size()));
    w.Key("objective").String(status.objective());
    w.Key("first_rung_only").Bool(halving).Key("parameters").BeginArray();
    for (const auto& e : effects) {
      w.BeginObject().Key("parameter").String(e.name).Key("spearman").Number(e.spearman);
      w.Key("distinct").Int(e.distinct).Key("best_group").Int(e.best_group);
      w.Key("groups").BeginArray();
      for (const auto& g : e.groups) {
        w.BeginObject().Key("min").Number(g.min).Key("max").Number(g.max);
        w.Key("trials").Int(g.trials).Key("mean_score").Number(g.mean_score);
        w.EndObject();
      }
      w.EndArray().EndObject();
    }
    w.EndArray().EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  std::printf("sweep %lld: %zu succeeded trial(s)%s; objective: %s\n", static_cast<long long>(id),
              obs.size(),
              halving ? " of the first rung (later rungs hold promoted trials, not a sample)" : "",
              status.objective().c_str());
  if (effects.empty()) std::printf("no parameter took more than one value\n");
  for (const auto& e : effects) {
    std::printf("%-10s  spearman %+.2f  (%d values)\n", e.name.c_str(), e.spearman, e.distinct);
    for (size_t g = 0; g < e.groups.size(); ++g) {
      const auto& v = e.groups[g];
      char range[64];
      if (v.min == v.max) {
        std::snprintf(range, sizeof(range), "%.6g", v.min);
      } else {
        std::snprintf(range, sizeof(range), "%.6g - %.6g", v.min, v.max);
      }
      std::printf("    %-24s mean %.4f  (%d trial(s))%s\n", range, v.mean_score, v.trials,
                  static_cast<int>(g) == e.best_group ? "  best" : "");
    }
  }
  return 0;
}

int Cancel(Client& c, int64_t id, const std::string& reason) {
  v1::CancelSweepRequest req;
  req.set_sweep_id(id);
  req.set_reason(reason);
  req.set_actor(Actor());
  v1::CancelSweepResponse resp;
  if (Status st = c.Call("CancelSweep", &v1::SweepService::Stub::CancelSweep, req, &resp);
      !st.ok()) {
    return Fail(st);
  }
  std::printf("sweep %lld cancelled: %lld queued and %lld running trial(s) ended\n",
              static_cast<long long>(id), static_cast<long long>(resp.cancelled_queued()),
              static_cast<long long>(resp.cancelled_running()));
  return 0;
}

int SetPriority(Client& c, int64_t id, const std::string& value) {
  auto priority = ParseInt(value, "priority");
  if (!priority.ok() || *priority < -1000 || *priority > 1000) {
    return Fail(InvalidArgumentError("priority must be an integer from -1000 to 1000, got \"" +
                                     value + "\""));
  }
  v1::SetSweepPriorityRequest req;
  req.set_sweep_id(id);
  req.set_priority(static_cast<int32_t>(*priority));
  req.set_actor(Actor());
  v1::SetSweepPriorityResponse resp;
  if (Status st = c.Call("SetSweepPriority", &v1::SweepService::Stub::SetSweepPriority, req, &resp);
      !st.ok()) {
    return Fail(st);
  }
  std::printf("sweep %lld: priority %d -> %d\n", static_cast<long long>(id),
              resp.previous_priority(), req.priority());
  return 0;
}

int Extend(Client& c, int64_t id, const std::string& value) {
  auto trials = ParseInt(value, "trials");
  if (!trials.ok() || *trials < 1 || *trials > 100000) {
    return Fail(
        InvalidArgumentError("trials must be an integer from 1 to 100,000, got \"" + value + "\""));
  }
  v1::ExtendSweepRequest req;
  req.set_sweep_id(id);
  req.set_trials(*trials);
  req.set_actor(Actor());
  v1::ExtendSweepResponse resp;
  if (Status st = c.Call("ExtendSweep", &v1::SweepService::Stub::ExtendSweep, req, &resp);
      !st.ok()) {
    return Fail(st);
  }
  std::printf("sweep %lld: %lld more trials (budget %lld, %lld planned in all), %lld queued now\n",
              static_cast<long long>(id), static_cast<long long>(*trials),
              static_cast<long long>(resp.budget()), static_cast<long long>(resp.total()),
              static_cast<long long>(resp.queued()));
  return 0;
}

int ListWorkers(Client& c, int within_seconds, bool json) {
  v1::ListWorkersRequest req;
  req.set_seen_within_seconds(within_seconds);
  v1::ListWorkersResponse resp;
  if (Status st = c.Call("ListWorkers", &v1::SweepService::Stub::ListWorkers, req, &resp);
      !st.ok()) {
    return Fail(st);
  }
  if (json) {
    JsonWriter w;
    w.BeginArray();
    for (const auto& k : resp.workers()) {
      w.BeginObject().Key("worker_id").String(k.worker_id()).Key("host").String(k.host());
      w.Key("device").String(k.device()).Key("capacity").Int(k.capacity());
      w.Key("registered_at").String(k.registered_at());
      w.Key("seconds_since_seen").Number(k.seconds_since_seen()).Key("alive").Bool(k.alive());
      w.Key("running_trials").Int(k.running_trials()).Key("results").Int(k.results());
      w.Key("results_last_hour").Int(k.results_last_hour());
      w.Key("model_epochs_last_hour").Int(k.model_epochs_last_hour());
      w.Key("trainer_errors").Int(k.trainer_errors()).Key("stale_results").Int(k.stale_results());
      w.EndObject();
    }
    w.EndArray();
    std::cout << w.str() << "\n";
    return 0;
  }
  std::printf("%-16s  %-24s  %-6s  %8s  %9s  %5s  %7s  %7s  %16s  %6s  %5s\n", "worker", "host",
              "device", "capacity", "seen", "state", "running", "results", "model-epochs(1h)",
              "errors", "stale");
  for (const auto& k : resp.workers()) {
    std::printf("%-16s  %-24s  %-6s  %8d  %8.0fs  %5s  %7lld  %7lld  %16lld  %6lld  %5lld\n",
                k.worker_id().c_str(), k.host().c_str(), k.device().c_str(), k.capacity(),
                k.seconds_since_seen(), k.alive() ? "alive" : "lost",
                static_cast<long long>(k.running_trials()), static_cast<long long>(k.results()),
                static_cast<long long>(k.model_epochs_last_hour()),
                static_cast<long long>(k.trainer_errors()),
                static_cast<long long>(k.stale_results()));
  }
  if (resp.workers_size() == 0) std::printf("(no worker seen in the last %d s)\n", within_seconds);
  return 0;
}

std::string Bytes(int64_t n) {
  char buf[32];
  if (n < 1000000) {
    std::snprintf(buf, sizeof(buf), "%.1f kB", static_cast<double>(n) / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f MB", static_cast<double>(n) / 1e6);
  }
  return buf;
}

int Prune(Client& c, double days, bool dry_run, bool json) {
  v1::PruneSweepsRequest req;
  req.set_older_than_days(days);
  req.set_dry_run(dry_run);
  req.set_actor(Actor());
  v1::PruneSweepsResponse resp;
  if (Status st = c.Call("PruneSweeps", &v1::SweepService::Stub::PruneSweeps, req, &resp);
      !st.ok()) {
    return Fail(st);
  }
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("dry_run").Bool(dry_run).Key("sweep_ids").BeginArray();
    for (int64_t id : resp.sweep_ids()) w.Int(id);
    w.EndArray().Key("predictions_deleted").Int(resp.predictions_deleted());
    w.Key("prediction_bytes").Int(resp.prediction_bytes());
    w.Key("artifacts_deleted").Int(resp.artifacts_deleted());
    w.Key("artifact_bytes").Int(resp.artifact_bytes());
    w.Key("artifacts_kept").Int(resp.artifacts_kept()).Key("datasets_deleted").BeginArray();
    for (const auto& d : resp.datasets_deleted()) w.String(d);
    w.EndArray().Key("dataset_bytes").Int(resp.dataset_bytes()).EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  std::string ids;
  for (int64_t id : resp.sweep_ids()) ids += (ids.empty() ? "" : ", ") + std::to_string(id);
  std::printf(
      "%s %d sweep(s)%s: %lld trials' predictions (%s) and %lld weight file(s) (%s) %s; "
      "%lld weight file(s) kept for registered versions\n",
      dry_run ? "would prune" : "pruned", resp.sweep_ids_size(),
      ids.empty() ? "" : (" (" + ids + ")").c_str(),
      static_cast<long long>(resp.predictions_deleted()), Bytes(resp.prediction_bytes()).c_str(),
      static_cast<long long>(resp.artifacts_deleted()), Bytes(resp.artifact_bytes()).c_str(),
      dry_run ? "would be deleted" : "deleted", static_cast<long long>(resp.artifacts_kept()));
  if (resp.datasets_deleted_size() > 0) {
    std::string names;
    for (const auto& d : resp.datasets_deleted()) names += (names.empty() ? "" : ", ") + d;
    std::printf("%d unused data set version(s) (%s) %s, %s of content\n",
                resp.datasets_deleted_size(), names.c_str(),
                dry_run ? "would be deleted" : "deleted", Bytes(resp.dataset_bytes()).c_str());
  }
  return 0;
}

// `sweepctl scale`: see cli/scale.h.
int Scale(Client& c, const Flags& flags, const std::string& coordinator) {
  cli::ScaleLimits limits;
  auto min = flags.GetInt("min-workers"), max = flags.GetInt("max-workers"),
       per = flags.GetInt("trials-per-worker");
  auto every = flags.GetDouble("every");
  if (!min.ok() || !max.ok() || *min < 0 || *max < *min || *max > 10000) {
    return Fail(InvalidArgumentError("--min-workers and --max-workers: 0 <= min <= max <= 10000"));
  }
  if (!per.ok() || *per < 1) return Fail(InvalidArgumentError("--trials-per-worker must be >= 1"));
  if (!every.ok() || *every < 0) return Fail(InvalidArgumentError("--every must be >= 0 seconds"));
  const std::string script = flags.Get("script");
  if (script.empty()) {
    return Fail(InvalidArgumentError("scale needs --script (e.g. deploy/slurm/workers.sbatch)"));
  }
  limits.min_workers = static_cast<int>(*min);
  limits.max_workers = static_cast<int>(*max);
  limits.trials_per_worker = static_cast<int>(*per);
  auto words = [](const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  };
  const std::vector<std::string> sbatch_args = words(flags.Get("sbatch-args"));
  const std::vector<std::string> worker_args = words(flags.Get("worker-args"));
  const std::string workers_reach =
      flags.Get("worker-coordinator").empty() ? coordinator : flags.Get("worker-coordinator");
  const std::string job_name = "sweepfarm-worker";
  while (true) {
    v1::ListSweepsRequest req;
    req.set_state("running");
    req.set_limit(1000);
    v1::ListSweepsResponse resp;
    if (Status st = c.Call("ListSweeps", &v1::SweepService::Stub::ListSweeps, req, &resp);
        !st.ok()) {
      return Fail(st);
    }
    int64_t queued = 0, running = 0;
    for (const auto& s : resp.sweeps()) queued += s.queued(), running += s.running();
    auto jobs = cli::SlurmWorkerJobs(job_name);
    if (!jobs.ok()) return Fail(jobs.status());
    const cli::ScalePlan plan = cli::PlanWorkers(queued, running, *jobs, limits);
    std::printf("scale: %lld queued, %lld running; %zu worker job(s) running, %zu pending; want %d",
                static_cast<long long>(queued), static_cast<long long>(running),
                jobs->running.size(), jobs->pending.size(), plan.want);
    if (plan.submit > 0) std::printf(": submitting %d", plan.submit);
    if (!plan.cancel.empty()) std::printf(": cancelling %zu", plan.cancel.size());
    std::printf("%s\n", flags.GetBool("dry-run") ? " (dry run)" : "");
    std::fflush(stdout);
    if (!flags.GetBool("dry-run")) {
      if (plan.submit > 0) {
        auto job = cli::SlurmSubmitWorkers(plan.submit, job_name, sbatch_args, script,
                                           workers_reach, worker_args);
        if (!job.ok()) return Fail(job.status());
        std::printf("scale: submitted job %s\n", job->c_str());
      }
      if (Status st = cli::SlurmCancel(plan.cancel); !st.ok()) return Fail(st);
      for (const auto& j : plan.cancel) std::printf("scale: cancelled %s\n", j.c_str());
    }
    if (*every == 0) return 0;
    std::this_thread::sleep_for(std::chrono::duration<double>(*every));
  }
}

int ListSweeps(Client& c, const std::string& state, int top, bool json) {
  v1::ListSweepsRequest req;
  req.set_state(state);
  req.set_limit(top);
  v1::ListSweepsResponse resp;
  if (Status st = c.Call("ListSweeps", &v1::SweepService::Stub::ListSweeps, req, &resp); !st.ok()) {
    return Fail(st);
  }
  if (json) {
    JsonWriter w;
    w.BeginArray();
    for (const auto& s : resp.sweeps()) {
      w.BeginObject();
      SweepStatusFields(w, s);
      w.EndObject();
    }
    w.EndArray();
    std::cout << w.str() << "\n";
    return 0;
  }
  std::printf("%6s  %-10s  %8s  %-24s  %-20s  %13s  %9s  %s\n", "id", "state", "priority", "name",
              "model", "done/total", "best", "created");
  for (const auto& s : resp.sweeps()) {
    char done[32], best[16] = "-";
    std::snprintf(done, sizeof(done), "%lld/%lld",
                  static_cast<long long>(s.succeeded() + s.failed()),
                  static_cast<long long>(s.total()));
    if (s.best_trial_id() > 0) std::snprintf(best, sizeof(best), "%.4f", s.best_selection_score());
    std::printf("%6lld  %-10s  %8d  %-24s  %-20s  %13s  %9s  %s\n",
                static_cast<long long>(s.sweep_id()), s.state().c_str(), s.priority(),
                s.name().c_str(), s.model().c_str(), done, best,
                s.created_at().substr(0, 19).c_str());
  }
  return 0;
}

void VersionJson(JsonWriter& w, const v1::ModelVersion& v) {
  w.BeginObject().Key("model").String(v.model()).Key("version").Int(v.version());
  w.Key("sweep_id").Int(v.sweep_id()).Key("parent_sweep_id").Int(v.parent_sweep_id());
  w.Key("method").String(v.method()).Key("decision").String(v.decision());
  w.Key("reason").String(v.reason()).Key("aliases").BeginArray();
  for (const auto& a : v.aliases()) w.String(a);
  w.EndArray().Key("selection_accuracy").Number(v.selection_accuracy());
  w.Key("holdout_accuracy").Number(v.holdout_accuracy());
  w.Key("best_single_trial_id").Int(v.best_single_trial_id());
  w.Key("best_single_holdout_accuracy").Number(v.best_single_holdout_accuracy());
  w.Key("compared_version").Int(v.compared_version());
  w.Key("champion_holdout_accuracy").Number(v.champion_holdout_accuracy());
  w.Key("objective").String(v.objective()).Key("holdout_score").Number(v.holdout_score());
  w.Key("champion_holdout_score").Number(v.champion_holdout_score());
  w.Key("decision_threshold").Number(v.decision_threshold());
  w.Key("threshold_tuned").Bool(v.threshold_tuned());
  if (v.decision_threshold() > 0) w.Key("argmax_holdout_score").Number(v.argmax_holdout_score());
  if (v.has_input_stats()) {
    // The selection split's inputs per channel: the reference for sweepfarm-serve's drift metrics.
    w.Key("input_stats").BeginObject().Key("samples").Int(v.input_stats().samples());
    w.Key("mean").BeginArray();
    for (double m : v.input_stats().mean()) w.Number(m);
    w.EndArray().Key("stddev").BeginArray();
    for (double d : v.input_stats().stddev()) w.Number(d);
    w.EndArray().EndObject();
  }
  w.Key("margin").Number(v.margin()).Key("holdout_samples").Int(v.holdout_samples());
  w.Key("dataset").String(v.dataset().name()).Key("dataset_version").Int(v.dataset().version());
  w.Key("dataset_hash").String(v.dataset_hash());
  w.Key("compared_dataset").String(v.compared_dataset());
  w.Key("architecture").String(v.architecture().name());
  w.Key("code_version").String(v.code_version()).Key("created_at").String(v.created_at());
  if (v.has_holdout_report()) {
    w.Key("holdout_report");
    ReportJson(w, v.holdout_report());
  }
  w.Key("members").BeginArray();
  for (const auto& m : v.members()) {
    w.BeginObject().Key("trial_id").Int(m.trial_id()).Key("weight").Number(m.weight());
    w.Key("sha256").String(m.sha256()).Key("size_bytes").Int(m.size_bytes());
    w.Key("selection_accuracy").Number(m.selection_accuracy());
    w.Key("holdout_accuracy").Number(m.holdout_accuracy()).Key("params");
    ParamsJson(w, m.params());
    w.EndObject();
  }
  w.EndArray().EndObject();
}

void PrintVersion(const v1::ModelVersion& v) {
  std::string aliases;
  for (const auto& a : v.aliases()) aliases += (aliases.empty() ? "" : ", ") + a;
  // Version 0: a publish dry run's, never registered.
  const std::string name =
      v.version() > 0 ? "v" + std::to_string(v.version()) : std::string("(not registered)");
  std::printf("%s %s%s: %s ensemble of %d member(s) from sweep %lld%s\n", v.model().c_str(),
              name.c_str(), aliases.empty() ? "" : (" [" + aliases + "]").c_str(),
              v.method().c_str(), v.members_size(), static_cast<long long>(v.sweep_id()),
              v.parent_sweep_id() > 0
                  ? (" (seeded from sweep " + std::to_string(v.parent_sweep_id()) + ")").c_str()
                  : "");
  std::printf(
      "  selection accuracy %.4f, holdout %.4f (%d samples); best single trial %lld: "
      "holdout %.4f (%+.4f)\n",
      v.selection_accuracy(), v.holdout_accuracy(), v.holdout_samples(),
      static_cast<long long>(v.best_single_trial_id()), v.best_single_holdout_accuracy(),
      v.holdout_accuracy() - v.best_single_holdout_accuracy());
  if (v.decision_threshold() > 0) {
    std::printf(
        "  decision threshold %.4f (%s): label 1 above it; holdout %.4f by the objective, "
        "%.4f at the argmax\n",
        v.decision_threshold(), v.threshold_tuned() ? "tuned on the selection split" : "configured",
        v.holdout_score(), v.argmax_holdout_score());
  }
  if (v.has_holdout_report()) PrintReport(v.holdout_report());
  if (!v.objective().empty() && v.objective() != "selection_accuracy") {
    std::printf("  objective %s: holdout %.4f\n", v.objective().c_str(), v.holdout_score());
  }
  std::printf("  gate: %s, %s\n", v.decision().c_str(), v.reason().c_str());
  const std::string data =
      v.dataset().name() +
      (v.dataset().version() > 0 ? "@" + std::to_string(v.dataset().version()) : std::string());
  std::printf("  data %s (%s), architecture %s, code %s, created %s\n", data.c_str(),
              v.dataset_hash().c_str(), v.architecture().name().c_str(), v.code_version().c_str(),
              v.created_at().c_str());
  if (!v.compared_dataset().empty() && v.compared_dataset() != data) {
    std::printf(
        "  the champion it was gated against had learned from %s (both scored on %s's "
        "holdout)\n",
        v.compared_dataset().c_str(), data.c_str());
  }
  if (v.members_size() > 0) {
    std::printf("  %8s %7s %9s %9s  %-16s %s\n", "trial", "weight", "selection", "holdout",
                "sha256", "params");
    for (const auto& m : v.members()) {
      std::printf("  %8lld %7.3f %9.4f %9.4f  %-16s %s\n", static_cast<long long>(m.trial_id()),
                  m.weight(), m.selection_accuracy(), m.holdout_accuracy(),
                  m.sha256().substr(0, 16).c_str(), FormatParams(m.params()).c_str());
    }
  }
}

StatusOr<v1::ModelVersion> FetchVersion(Client& c, const std::string& model, int version,
                                        const std::string& alias) {
  v1::GetModelRequest req;
  req.set_model(model);
  req.set_version(version);
  req.set_alias(alias);
  return ReadModelStream(c.registry(), req, std::chrono::milliseconds(c.deadline_ms()));
}

// One side of `registry diff`: "3" or "v3" is a version, anything else an alias.
StatusOr<v1::ModelVersion> FetchVersionOrAlias(Client& c, const std::string& model,
                                               const std::string& which) {
  const std::string digits = which.rfind('v', 0) == 0 ? which.substr(1) : which;
  auto number = ParseInt(digits, "VERSION");
  if (number.ok()) {
    if (*number <= 0) return InvalidArgumentError("registry diff: versions are positive");
    return FetchVersion(c, model, static_cast<int>(*number), "");
  }
  return FetchVersion(c, model, 0, which);
}

// Two versions of a model side by side, as MLflow compares runs: their holdout figures (each on
// its own sweep's holdout), the members kept, added and removed, and, when the newer one was
// gated against the older, the gate's comparison on the same data.
int DiffVersions(Client& c, const std::string& model, const std::string& from_arg,
                 const std::string& to_arg, bool json) {
  auto from = FetchVersionOrAlias(c, model, from_arg);
  if (!from.ok()) return Fail(from.status());
  auto to = FetchVersionOrAlias(c, model, to_arg);
  if (!to.ok()) return Fail(to.status());
  struct Row {
    std::string name;
    double from, to;
  };
  std::vector<Row> rows = {{"holdout_accuracy", from->holdout_accuracy(), to->holdout_accuracy()}};
  if (from->decision_threshold() > 0 || to->decision_threshold() > 0) {
    // 0 is the argmax (0.5 for a binary model).
    auto decided_at = [](const v1::ModelVersion& v) {
      return v.decision_threshold() > 0 ? v.decision_threshold() : 0.5;
    };
    rows.push_back({"decision_threshold", decided_at(*from), decided_at(*to)});
  }
  const v1::ClassificationReport &a = from->holdout_report(), &b = to->holdout_report();
  if (from->has_holdout_report() && to->has_holdout_report()) {
    rows.push_back({"balanced_accuracy", a.balanced_accuracy(), b.balanced_accuracy()});
    rows.push_back({"macro_f1", a.macro_f1(), b.macro_f1()});
    if (a.has_roc_auc() && b.has_roc_auc()) rows.push_back({"roc_auc", a.roc_auc(), b.roc_auc()});
    rows.push_back({"log_loss", a.log_loss(), b.log_loss()});
    for (int k = 0; k < a.per_class_size() && k < b.per_class_size(); ++k) {
      rows.push_back(
          {"recall_" + std::to_string(k), a.per_class(k).recall(), b.per_class(k).recall()});
      rows.push_back({"precision_" + std::to_string(k), a.per_class(k).precision(),
                      b.per_class(k).precision()});
    }
  }
  std::map<int64_t, double> before, after;
  for (const auto& m : from->members()) before[m.trial_id()] = m.weight();
  for (const auto& m : to->members()) after[m.trial_id()] = m.weight();
  std::vector<int64_t> kept, added, removed;
  for (const auto& [id, w] : after) (before.count(id) ? kept : added).push_back(id);
  for (const auto& [id, w] : before) {
    if (!after.count(id)) removed.push_back(id);
  }
  const bool same_data = from->dataset_hash() == to->dataset_hash();
  const bool gated = to->compared_version() == from->version();
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("model").String(model);
    for (const auto& [key, v] : {std::pair{"from", &*from}, std::pair{"to", &*to}}) {
      w.Key(key).BeginObject().Key("version").Int(v->version()).Key("sweep_id").Int(v->sweep_id());
      w.Key("decision").String(v->decision()).Key("objective").String(v->objective());
      w.Key("dataset_hash").String(v->dataset_hash()).EndObject();
    }
    w.Key("same_dataset").Bool(same_data).Key("metrics").BeginArray();
    for (const auto& r : rows) {
      w.BeginObject().Key("name").String(r.name).Key("from").Number(r.from);
      w.Key("to").Number(r.to).Key("change").Number(r.to - r.from).EndObject();
    }
    w.EndArray().Key("members").BeginObject();
    for (const auto& [key, ids] :
         {std::pair{"kept", &kept}, std::pair{"added", &added}, std::pair{"removed", &removed}}) {
      w.Key(key).BeginArray();
      for (int64_t id : *ids) w.Int(id);
      w.EndArray();
    }
    w.EndObject().Key("gate").BeginObject().Key("compared").Bool(gated);
    if (gated) {
      w.Key("objective").String(to->objective());
      w.Key("from_score").Number(to->champion_holdout_score());
      w.Key("to_score").Number(to->holdout_score());
    }
    w.EndObject().EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  std::printf("%s v%d (sweep %lld, %s) -> v%d (sweep %lld, %s)\n", model.c_str(), from->version(),
              static_cast<long long>(from->sweep_id()), from->decision().c_str(), to->version(),
              static_cast<long long>(to->sweep_id()), to->decision().c_str());
  const std::string va = "v" + std::to_string(from->version()),
                    vb = "v" + std::to_string(to->version());
  std::printf("  %-20s %9s %9s %9s\n", "holdout", va.c_str(), vb.c_str(), "change");
  for (const auto& r : rows) {
    std::printf("  %-20s %9.4f %9.4f %+9.4f\n", r.name.c_str(), r.from, r.to, r.to - r.from);
  }
  if (!same_data) {
    std::printf(
        "  (each on its own sweep's holdout, and the datasets differ: compare with care)\n");
  }
  if (gated) {
    std::printf("  at v%d's gate, on its holdout, by %s: v%d %.4f, v%d %.4f (%s)\n", to->version(),
                to->objective().c_str(), from->version(), to->champion_holdout_score(),
                to->version(), to->holdout_score(), to->decision().c_str());
  }
  auto list = [](const std::vector<int64_t>& ids) {
    std::string s;
    for (int64_t id : ids) s += (s.empty() ? "" : ", ") + std::to_string(id);
    return s.empty() ? std::string("none") : s;
  };
  std::printf("  members: kept %s; added %s; removed %s\n", list(kept).c_str(), list(added).c_str(),
              list(removed).c_str());
  return 0;
}

int PrintPublished(const v1::PublishSweepResponse& r, bool json) {
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("promoted").Bool(r.promoted());
    w.Key("already_published").Bool(r.already_published());
    w.Key("dry_run").Bool(r.validated_only()).Key("version");
    VersionJson(w, r.version());
    if (!r.already_published()) {
      w.Key("greedy");
      EnsembleJson(w, r.greedy());
      w.Key("bagged");
      EnsembleJson(w, r.bagged());
      w.Key("top_k");
      EnsembleJson(w, r.top_k());
      w.Key("best_single");
      EnsembleJson(w, r.best_single());
    }
    w.EndObject();
    std::cout << w.str() << "\n";
    return 0;
  }
  if (!r.already_published()) {
    std::printf("%-12s %7s %9s %9s\n", "ensemble", "members", "selection", "holdout");
    for (const auto* e : {&r.best_single(), &r.top_k(), &r.greedy(), &r.bagged()}) {
      const std::string brief =
          e->has_holdout_report() ? "  (" + ReportBrief(e->holdout_report()) + ")" : "";
      std::printf("%-12s %7d %9.4f %9.4f%s\n", e->method().c_str(), e->trial_ids_size(),
                  e->selection_accuracy(), e->holdout_accuracy(), brief.c_str());
    }
  } else {
    std::printf("(published before)\n");
  }
  PrintVersion(r.version());
  if (r.validated_only()) {
    std::printf("%s: dry run, nothing registered: would be %s\n", r.version().model().c_str(),
                r.promoted() ? "PROMOTED to champion" : "recorded as a rejected challenger");
    return 0;
  }
  std::printf("%s v%d %s\n", r.version().model().c_str(), r.version().version(),
              r.promoted() ? "PROMOTED to champion" : "recorded as a rejected challenger");
  return 0;
}

// Calls `call` again while it answers UNAVAILABLE (the coordinator restarting, a passing outage),
// backing off to 5 s, for up to `seconds`: for the idempotent calls of a nightly job, which must
// not fail for a restart in the night.
Status RideOut(const std::function<Status()>& call, double seconds = 600) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int backoff_ms = 250;
  while (true) {
    Status s = call();
    if (s.code() != StatusCode::kUnavailable || std::chrono::steady_clock::now() >= give_up) {
      return s;
    }
    std::cerr << "sweepctl: " << s.message() << "; retrying in " << backoff_ms << " ms\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
    backoff_ms = std::min(backoff_ms * 2, 5000);
  }
}

StatusOr<v1::PublishSweepResponse> Publish(Client& c, int64_t sweep_id, bool dry_run = false) {
  v1::PublishSweepRequest req;
  req.set_sweep_id(sweep_id);
  req.set_actor(Actor());
  req.set_validate_only(dry_run);
  v1::PublishSweepResponse resp;
  // Publishing evaluates models; allow it more than one ordinary deadline. It is idempotent (a
  // sweep is published once): retried through a coordinator restart.
  SF_RETURN_IF_ERROR(RideOut([&] {
    return c.Call("PublishSweep", &v1::RegistryService::Stub::PublishSweep, req, &resp,
                  std::max(c.deadline_ms(), 300000));
  }));
  return resp;
}

int Nightly(Client& c, const std::string& file, double timeout_s, bool json) {
  auto t0 = std::chrono::steady_clock::now();
  // Submitting is not idempotent: retried only while the coordinator cannot be reached at all
  // (nothing was sent), as when the job starts during its restart.
  StatusOr<v1::SubmitSweepResponse> submitted = UnavailableError("not submitted");
  (void)RideOut([&] {  // Its outcome is `submitted`'s, checked below.
    submitted = SubmitFile(c, file);
    if (submitted.ok() || submitted.status().message().rfind("cannot reach", 0) != 0) {
      return OkStatus();
    }
    return submitted.status();
  });
  if (!submitted.ok()) return Fail(submitted.status());
  const int64_t id = submitted->sweep_id();
  {
    // Progress goes to stderr so that stdout holds only the summary.
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    int rc = Watch(c, id, timeout_s);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    if (rc != 0) {
      std::cerr << "sweepctl: nightly: sweep " << id << " did not finish with results\n";
      return 1;
    }
  }
  v1::GetSweepStatusRequest sreq;
  sreq.set_sweep_id(id);
  v1::SweepStatus st;
  if (Status s = RideOut([&] {
        return c.Call("GetSweepStatus", &v1::SweepService::Stub::GetSweepStatus, sreq, &st);
      });
      !s.ok()) {
    return Fail(s);
  }
  auto published = Publish(c, id);
  if (!published.ok()) return Fail(published.status());
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (json) {
    JsonWriter w;
    w.BeginObject().Key("sweep_id").Int(id).Key("trials").Int(st.total());
    w.Key("succeeded").Int(st.succeeded()).Key("failed").Int(st.failed());
    w.Key("seeded_from").String(st.seeded_from()).Key("parent_sweep_id").Int(st.parent_sweep_id());
    w.Key("seed_trials").Int(st.seed_trials()).Key("neighbour_trials").Int(st.neighbour_trials());
    w.Key("ended_early").String(st.ended_early()).Key("not_run").Int(st.cancelled());
    w.Key("wall_seconds").Number(wall).Key("publish");
    std::cout << w.str();
    PrintPublished(*published, true);
    std::cout << "}\n";
    return 0;
  }
  std::printf("nightly %s: sweep %lld, %lld trials (%lld succeeded, %lld failed) in %s\n",
              file.c_str(), static_cast<long long>(id), static_cast<long long>(st.total()),
              static_cast<long long>(st.succeeded()), static_cast<long long>(st.failed()),
              Duration(wall).c_str());
  if (!st.ended_early().empty()) {
    std::printf("ended early: %s; published with what finished (%lld trial(s) not run)\n",
                st.ended_early().c_str(), static_cast<long long>(st.cancelled()));
  }
  if (!st.seeded_from().empty()) {
    std::printf("seeded from %s (sweep %lld): %lld seed trials, %lld neighbours\n",
                st.seeded_from().c_str(), static_cast<long long>(st.parent_sweep_id()),
                static_cast<long long>(st.seed_trials()),
                static_cast<long long>(st.neighbour_trials()));
  } else {
    std::printf("not seeded (no seed_from, or no champion yet)\n");
  }
  return PrintPublished(*published, false);
}

int Registry(Client& c, const std::vector<std::string>& pos, const Flags& flags) {
  const bool json = flags.GetBool("json");
  if (pos.size() < 3) return Fail(InvalidArgumentError(std::string("registry: ") + kUsage));
  const std::string& sub = pos[1];
  if (sub == "publish") {
    auto id = ParseInt(pos[2], "sweep ID");
    if (!id.ok() || *id <= 0 || pos.size() != 3) {
      return Fail(InvalidArgumentError("registry publish needs one positive SWEEP_ID"));
    }
    auto r = Publish(c, *id, flags.GetBool("dry-run"));
    if (!r.ok()) return Fail(r.status());
    return PrintPublished(*r, json);
  }
  const std::string& model = pos[2];
  if (sub == "list") {
    v1::ListVersionsRequest req;
    req.set_model(model);
    v1::ListVersionsResponse resp;
    if (Status s = c.Call("ListVersions", &v1::RegistryService::Stub::ListVersions, req, &resp);
        !s.ok()) {
      return Fail(s);
    }
    if (json) {
      JsonWriter w;
      w.BeginObject().Key("model").String(model).Key("aliases").BeginObject();
      for (const auto& [alias, version] : resp.aliases()) w.Key(alias).Int(version);
      w.EndObject().Key("versions").BeginArray();
      for (const auto& v : resp.versions()) VersionJson(w, v);
      w.EndArray().Key("audit").BeginArray();
      for (const auto& a : resp.audit()) {
        w.BeginObject().Key("id").Int(a.id()).Key("at").String(a.at()).Key("alias").String(
            a.alias());
        w.Key("action").String(a.action()).Key("from_version").Int(a.from_version());
        w.Key("to_version").Int(a.to_version()).Key("actor").String(a.actor());
        w.Key("reason").String(a.reason()).EndObject();
      }
      w.EndArray().EndObject();
      std::cout << w.str() << "\n";
      return 0;
    }
    std::printf("%-8s %-10s %6s %-7s %9s %9s %9s %9s %9s %9s %9s  %s\n", "version", "decision",
                "sweep", "method", "selection", "holdout", "balanced", "AUC", "single", "champion",
                "threshold", "aliases");
    for (const auto& v : resp.versions()) {
      std::string aliases;
      for (const auto& a : v.aliases()) aliases += (aliases.empty() ? "" : ",") + a;
      char champ[16] = "-";
      if (v.compared_version() > 0) {
        std::snprintf(champ, sizeof(champ), "%.4f", v.champion_holdout_accuracy());
      }
      // Versions registered before reports were kept have none: "-".
      char balanced[16] = "-", auc[16] = "-";
      if (v.has_holdout_report()) {
        std::snprintf(balanced, sizeof(balanced), "%.4f", v.holdout_report().balanced_accuracy());
        if (v.holdout_report().has_roc_auc()) {
          std::snprintf(auc, sizeof(auc), "%.4f", v.holdout_report().roc_auc());
        }
      }
      char threshold[16] = "argmax";
      if (v.decision_threshold() > 0) {
        std::snprintf(threshold, sizeof(threshold), "%.4f", v.decision_threshold());
      }
      std::printf("v%-7d %-10s %6lld %-7s %9.4f %9.4f %9s %9s %9.4f %9s %9s  %s\n", v.version(),
                  v.decision().c_str(), static_cast<long long>(v.sweep_id()), v.method().c_str(),
                  v.selection_accuracy(), v.holdout_accuracy(), balanced, auc,
                  v.best_single_holdout_accuracy(), champ, threshold, aliases.c_str());
    }
    std::printf("audit (newest first):\n");
    for (const auto& a : resp.audit()) {
      std::string from = a.from_version() > 0 ? "v" + std::to_string(a.from_version()) : "(unset)";
      if (a.action() == "reject") {  // The alias did not move.
        std::printf("  %s  %-9s v%d, %s stays %s, by %s: %s\n", a.at().c_str(), "reject",
                    a.to_version(), a.alias().c_str(), from.c_str(), a.actor().c_str(),
                    a.reason().c_str());
        continue;
      }
      std::printf("  %s  %-9s %s %s -> v%d by %s: %s\n", a.at().c_str(), a.action().c_str(),
                  a.alias().c_str(), from.c_str(), a.to_version(), a.actor().c_str(),
                  a.reason().c_str());
    }
    return 0;
  }
  if (sub == "diff") {
    if (pos.size() != 5) {
      return Fail(InvalidArgumentError("registry diff needs MODEL FROM TO (versions or aliases)"));
    }
    return DiffVersions(c, model, pos[3], pos[4], json);
  }
  if (sub == "show") {
    int version = 0;
    if (flags.IsSet("version")) {
      auto v = flags.GetInt("version");
      if (!v.ok() || *v <= 0) return Fail(InvalidArgumentError("--version must be positive"));
      version = static_cast<int>(*v);
    }
    auto v = FetchVersion(c, model, version, flags.IsSet("alias") ? flags.Get("alias") : "");
    if (!v.ok()) return Fail(v.status());
    if (json) {
      JsonWriter w;
      VersionJson(w, *v);
      std::cout << w.str() << "\n";
    } else {
      PrintVersion(*v);
    }
    return 0;
  }
  const std::string actor = Actor();
  if (sub == "promote") {
    if (pos.size() != 4) return Fail(InvalidArgumentError("registry promote needs MODEL VERSION"));
    auto version = ParseInt(pos[3], "VERSION");
    if (!version.ok() || *version <= 0) {
      return Fail(
          InvalidArgumentError("VERSION must be a positive integer, got \"" + pos[3] + "\""));
    }
    v1::SetAliasRequest req;
    req.set_model(model);
    req.set_alias(flags.IsSet("alias") ? flags.Get("alias") : "champion");
    req.set_version(static_cast<int>(*version));
    req.set_actor(actor);
    req.set_reason(flags.IsSet("reason") ? flags.Get("reason") : "promoted by hand");
    v1::SetAliasResponse resp;
    if (Status s = c.Call("SetAlias", &v1::RegistryService::Stub::SetAlias, req, &resp); !s.ok()) {
      return Fail(s);
    }
    std::printf("%s %s: v%d -> v%d\n", model.c_str(), req.alias().c_str(), resp.from_version(),
                resp.to_version());
    return 0;
  }
  if (sub == "rollback") {
    v1::RollbackRequest req;
    req.set_model(model);
    req.set_alias(flags.IsSet("alias") ? flags.Get("alias") : "champion");
    req.set_actor(actor);
    req.set_reason(flags.IsSet("reason") ? flags.Get("reason") : "rolled back by hand");
    v1::RollbackResponse resp;
    if (Status s = c.Call("Rollback", &v1::RegistryService::Stub::Rollback, req, &resp); !s.ok()) {
      return Fail(s);
    }
    std::printf("%s %s rolled back: v%d -> v%d\n", model.c_str(), req.alias().c_str(),
                resp.from_version(), resp.to_version());
    return 0;
  }
  return Fail(InvalidArgumentError("registry: unknown subcommand \"" + sub + "\"\n" + kUsage));
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  flags.Define("coordinator", "127.0.0.1:50051", "coordinator HOST:PORT")
      .Define("top", "0", "leaderboard: show the best N (0: all)")
      .Define("deadline-ms", "30000", "deadline of each RPC")
      .Define("size", "0", "ensemble: greedy selection steps (0: the sweep's)")
      .Define("candidates", "0", "ensemble: the best N trials to choose from (0: the sweep's)")
      .Define("top-k", "0", "ensemble: members of the top-k average (0: the sweep's)")
      .Define("timeout", "82800",
              "nightly: give up waiting for the sweep after S seconds (default 23 h: a night "
              "ends before the next begins; 0: never)")
      .Define("version", "0", "registry show: a version number")
      .Define("alias", "champion", "registry show/promote/rollback: an alias")
      .Define("reason", "", "cancel, registry promote/rollback: why (recorded)")
      .Define("state", "", "list: only sweeps in this state (running, done, cancelled)")
      .Define("older-than-days", "", "prune: sweeps that ended at least D days ago (0: all)")
      .Define("seen-within", "3600", "workers: those seen in the last S seconds")
      .Define("script", "", "scale: the workers' batch script (deploy/slurm/workers.sbatch)")
      .Define("min-workers", "0", "scale: the fewest worker jobs")
      .Define("max-workers", "8", "scale: the most worker jobs")
      .Define("trials-per-worker", "64", "scale: queued and running trials per worker")
      .Define("sbatch-args", "", "scale: more sbatch options, space-separated")
      .Define("worker-args", "", "scale: the workers' flags, space-separated")
      .Define("worker-coordinator", "",
              "scale: the coordinator's HOST:PORT as workers reach it (default --coordinator)")
      .Define("every", "0", "scale: decide again every S seconds (0: once)")
      .DefineBool("dry-run",
                  "submit, nightly: show the trials the coordinator would queue, submit nothing; "
                  "prune: report what would be deleted, delete nothing; scale: print the "
                  "decision, submit and cancel nothing")
      .DefineBool("json", "machine-readable output");
  cli::DefineDataFlags(&flags);
  DefineSecurityFlags(&flags, SecurityRole::kClient);
  if (Status s = flags.Parse(argc, argv); !s.ok()) return Fail(s);
  const auto& pos = flags.positionals();
  if (flags.version()) {
    std::cout << VersionLine("sweepctl") << "\n";
    return 0;
  }
  if (flags.help()) return Help(pos, flags);
  if (!pos.empty() && pos[0] == "help") return Help({pos.begin() + 1, pos.end()}, flags);
  if (pos.empty()) {
    std::cerr << kUsage << cli::kDataUsage << flags.Usage();
    return 2;
  }
  auto deadline = flags.GetInt("deadline-ms");
  auto top = flags.GetInt("top");
  if (!deadline.ok()) return Fail(deadline.status());
  if (!top.ok() || *top < 0) {
    return Fail(InvalidArgumentError("--top must be a non-negative integer"));
  }
  auto security = LoadTransportSecurity(flags, SecurityRole::kClient);
  if (!security.ok()) return Fail(security.status());
  auto coordinator = flags.GetAddress("coordinator");
  if (!coordinator.ok()) return Fail(coordinator.status());
  Client c(*coordinator, *security, static_cast<int>(*deadline));
  const std::string& cmd = pos[0];
  if (cmd == "submit") {
    return Submit(c, pos, flags.GetBool("dry-run"),
                  flags.IsSet("top") ? static_cast<int>(*top) : 10, flags.GetBool("json"));
  }
  if (cmd == "list") {
    if (pos.size() != 1)
      return Fail(InvalidArgumentError(std::string("list takes no ID\n") + kUsage));
    return ListSweeps(c, flags.Get("state"), static_cast<int>(*top), flags.GetBool("json"));
  }
  if (cmd == "prune") {
    if (pos.size() != 1)
      return Fail(InvalidArgumentError(std::string("prune takes no ID\n") + kUsage));
    if (flags.Get("older-than-days").empty()) {
      return Fail(InvalidArgumentError("prune needs --older-than-days D (0: every ended sweep)"));
    }
    auto days = flags.GetDouble("older-than-days");
    if (!days.ok()) return Fail(InvalidArgumentError("--older-than-days must be a number"));
    return Prune(c, *days, flags.GetBool("dry-run"), flags.GetBool("json"));
  }
  if (cmd == "registry") return Registry(c, pos, flags);
  if (cmd == "data") return cli::DataCommand(c.channel(), c.deadline_ms(), pos, flags, Actor());
  if (cmd == "feedback") return cli::Feedback(c.channel(), c.deadline_ms(), pos, flags, Actor());
  if (cmd == "nightly") {
    if (pos.size() != 2)
      return Fail(InvalidArgumentError(std::string("nightly needs one FILE\n") + kUsage));
    auto timeout = flags.GetDouble("timeout");
    if (!timeout.ok() || *timeout < 0) return Fail(InvalidArgumentError("--timeout must be >= 0"));
    if (flags.GetBool("dry-run")) {
      // Tonight's sweep as it would be submitted now (seeded from the champion of now).
      return Submit(c, pos, true, flags.IsSet("top") ? static_cast<int>(*top) : 10,
                    flags.GetBool("json"));
    }
    return Nightly(c, pos[1], *timeout, flags.GetBool("json"));
  }
  if (cmd == "workers") {
    if (pos.size() != 1)
      return Fail(InvalidArgumentError(std::string("workers takes no ID\n") + kUsage));
    auto within = flags.GetInt("seen-within");
    if (!within.ok() || *within < 1 || *within > 30 * 24 * 3600) {
      return Fail(InvalidArgumentError("--seen-within must be 1 to 2592000 seconds (30 days)"));
    }
    return ListWorkers(c, static_cast<int>(*within), flags.GetBool("json"));
  }
  if (cmd == "scale") {
    if (pos.size() != 1) {
      return Fail(InvalidArgumentError(std::string("scale takes no ID\n") + kUsage));
    }
    return Scale(c, flags, *coordinator);
  }
  if (cmd == "extend") {
    if (pos.size() != 3) {
      return Fail(InvalidArgumentError(std::string("extend needs a sweep ID and N\n") + kUsage));
    }
    auto id = SweepId({pos[0], pos[1]});
    if (!id.ok()) return Fail(id.status());
    return Extend(c, *id, pos[2]);
  }
  if (cmd == "priority") {
    if (pos.size() != 3) {
      return Fail(InvalidArgumentError(std::string("priority needs a sweep ID and P\n") + kUsage));
    }
    auto id = SweepId({pos[0], pos[1]});
    if (!id.ok()) return Fail(id.status());
    return SetPriority(c, *id, pos[2]);
  }
  if (cmd == "watch" || cmd == "status" || cmd == "leaderboard" || cmd == "ensemble" ||
      cmd == "cancel" || cmd == "importance" || cmd == "export") {
    auto id = SweepId(pos);
    if (!id.ok()) return Fail(id.status());
    if (cmd == "export") return Export(c, *id);
    if (cmd == "cancel") return Cancel(c, *id, flags.Get("reason"));
    if (cmd == "importance") return Importance(c, *id, flags.GetBool("json"));
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
  std::cerr << "sweepctl: unknown command \"" << cmd << "\"\n" << kUsage << cli::kDataUsage;
  return 2;
}
