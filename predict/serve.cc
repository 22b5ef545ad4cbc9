// sweepfarm-serve: the prediction service. Loads the registry version that an alias names (the
// champion unless told otherwise) through RegistryService.GetModel, verifying every artifact,
// serves PredictionService.Predict from it, and follows the alias: every --refresh-seconds (and
// at SIGHUP) it asks the registry again, and swaps a new version in only once it has loaded and
// verified, so a promotion or rollback reaches callers without a restart and a bad version
// never replaces a good one. It listens (and writes --address-file) only once the first version
// has loaded. Exit 0 after SIGTERM or SIGINT, 1 on failure, 2 on bad usage.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "common/build_info.h"
#include "common/files.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/metrics_server.h"
#include "common/net.h"
#include "predict/serving.h"

using namespace sweepfarm;

namespace {
std::atomic<bool> g_stop{false};
std::atomic<bool> g_refresh_now{false};
void OnStop(int) { g_stop = true; }
void OnHangup(int) { g_refresh_now = true; }
}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  flags.Define("coordinator", "127.0.0.1:50051", "registry (coordinator) HOST:PORT")
      .Define("model", "", "registry model name (required)")
      .Define("alias", "champion", "serve the version this alias names, and follow it")
      .Define("shadow-alias", "",
              "also classify every served batch with the version this alias names (e.g. "
              "challenger), off the request path, and count where its labels differ (metrics); "
              "it never answers")
      .Define("listen", "127.0.0.1:50061", "HOST:PORT to serve on (port 0: any free port)")
      .Define("address-file", "", "write the bound HOST:PORT to this file once serving")
      .Define("refresh-seconds", "10", "how often to ask the registry where the alias points")
      .Define("max-samples", "4096", "most samples one Predict call may carry")
      .Define("record-fraction", "1",
              "share of answered samples recorded in the coordinator with an id, so engineers "
              "can confirm or correct them (sweepctl feedback); 0: none")
      .Define("threads", "1", "CPU threads for each prediction")
      .Define("metrics-listen", "",
              "IPV4:PORT to serve Prometheus metrics on (GET /metrics; port 0: any free port); "
              "empty: none")
      .Define("metrics-address-file", "", "write the metrics server's bound HOST:PORT here");
  DefineSecurityFlags(&flags, SecurityRole::kServerAndClient);
  if (Status s = flags.Parse(argc, argv); !s.ok()) {
    std::cerr << "sweepfarm-serve: " << s.message() << "\n";
    return 2;
  }
  if (flags.version()) {
    std::cout << VersionLine("sweepfarm-serve") << "\n";
    return 0;
  }
  if (flags.help()) {
    std::cout << "usage: sweepfarm-serve --model NAME [--alias A] [--coordinator HOST:PORT] "
                 "[--listen HOST:PORT] [flags]\n"
              << flags.Usage();
    return 0;
  }
  auto refresh = flags.GetInt("refresh-seconds");
  auto max_samples = flags.GetInt("max-samples");
  auto threads = flags.GetInt("threads");
  auto record = flags.GetDouble("record-fraction");
  if (!record.ok() || !(*record >= 0 && *record <= 1)) {
    std::cerr << "sweepfarm-serve: --record-fraction must be a number from 0 to 1\n";
    return 2;
  }
  if (flags.Get("model").empty() || flags.Get("alias").empty() || !refresh.ok() ||
      !max_samples.ok() || !threads.ok() || *refresh < 1 || *max_samples < 1 || *threads < 1) {
    std::cerr << "sweepfarm-serve: --model and --alias are required, and --refresh-seconds, "
                 "--max-samples and --threads need positive integers\n"
              << flags.Usage();
    return 2;
  }
  auto security = LoadTransportSecurity(flags, SecurityRole::kServerAndClient);
  if (!security.ok()) {
    std::cerr << "sweepfarm-serve: " << security.status().message() << "\n";
    return 2;
  }
  std::vector<std::string> exposure_warnings;
  if (Status s = CheckExposure(flags, *security, &exposure_warnings); !s.ok()) {
    std::cerr << "sweepfarm-serve: " << s.message() << "\n";
    return 2;
  }
  for (const auto& w : exposure_warnings) SF_LOG(Warning) << w;
  auto gate = MetricsGate(flags, *security);
  if (!gate.ok()) {
    std::cerr << "sweepfarm-serve: " << gate.status().message() << "\n";
    return 2;
  }
  auto metrics_tls = MetricsTls(flags, *security);
  if (!metrics_tls.ok()) {
    std::cerr << "sweepfarm-serve: " << metrics_tls.status().message() << "\n";
    return 2;
  }
  if (auto a = flags.GetAddress("coordinator"); !a.ok()) {
    std::cerr << "sweepfarm-serve: " << a.status().message() << "\n";
    return 2;
  }
  SetLogPrefix("serve");
  torch::set_num_threads(static_cast<int>(*threads));

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  predict::ModelFollower follower(
      v1::RegistryService::NewStub(OpenChannel(flags.Get("coordinator"), *security, args)),
      flags.Get("model"), flags.Get("alias"), std::chrono::seconds(*refresh));
  predict::ServeMetrics metrics;
  std::unique_ptr<predict::ModelFollower> shadow_follower;
  std::unique_ptr<predict::ShadowScorer> shadow;
  if (const std::string alias = flags.Get("shadow-alias"); !alias.empty()) {
    if (alias == flags.Get("alias")) {
      std::cerr << "sweepfarm-serve: --shadow-alias " << alias
                << " is the alias served; name another (e.g. challenger)\n";
      return 2;
    }
    shadow_follower = std::make_unique<predict::ModelFollower>(
        v1::RegistryService::NewStub(OpenChannel(flags.Get("coordinator"), *security, args)),
        flags.Get("model"), alias, std::chrono::seconds(*refresh));
    shadow = std::make_unique<predict::ShadowScorer>(shadow_follower.get());
  }
  std::unique_ptr<predict::PredictionRecorder> recorder;
  if (*record > 0) {
    predict::RecorderOptions ro;
    ro.fraction = *record;
    recorder = std::make_unique<predict::PredictionRecorder>(
        v1::DataService::NewStub(OpenChannel(flags.Get("coordinator"), *security, args)), ro);
  }
  predict::PredictionServiceImpl service(&follower, TokenCheck(security->tokens), *max_samples,
                                         &metrics, shadow.get(), recorder.get());
  // Metrics from the start, before a version loads: a service stuck waiting shows version 0 and
  // its failed refreshes.
  auto metrics_server = StartMetricsServer(
      flags.Get("metrics-listen"), flags.Get("metrics-address-file"),
      [&] { return metrics.Render(follower, shadow.get(), recorder.get()); }, nullptr, *gate,
      *metrics_tls);
  if (!metrics_server.ok()) {
    std::cerr << "sweepfarm-serve: " << metrics_server.status().message() << "\n";
    return metrics_server.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }

  // Listens only once a version is loaded: a port that accepts connections is ready to answer
  // (so a TCP readiness probe suffices: kubelet's gRPC probes cannot speak TLS).
  grpc::EnableDefaultHealthCheckService(true);
  std::unique_ptr<grpc::Server> server;
  auto listen = [&]() -> Status {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(flags.Get("listen"), ServerCredentials(*security), &port);
    builder.RegisterService(&service);
    builder.SetMaxReceiveMessageSize(64 << 20);
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);  // A port in use is an error.
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> counting;
    counting.push_back(metrics.rpcs().InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(counting));
    server = builder.BuildAndStart();
    if (!server || port == 0) return UnavailableError("cannot listen on " + flags.Get("listen"));
    const std::string address = BoundAddress(flags.Get("listen"), port);
    SF_LOG(Info) << "listening on " << address << (security->cert_pem.empty() ? "" : " (TLS)")
                 << (security->tokens.empty() ? "" : ", calls need a token");
    if (const std::string f = flags.Get("address-file"); !f.empty()) {
      SF_RETURN_IF_ERROR(WriteFileAtomically(f, address + "\n"));
    }
    return OkStatus();
  };
  SF_LOG(Info) << "following " << follower.model() << " alias " << follower.alias() << " at "
               << flags.Get("coordinator") << ", every " << *refresh << " s and at SIGHUP";
  std::signal(SIGTERM, OnStop);
  std::signal(SIGINT, OnStop);
  std::signal(SIGHUP, OnHangup);

  std::string last_error, shadow_error;
  auto next = std::chrono::steady_clock::now();
  while (!g_stop) {
    const bool forced = g_refresh_now.exchange(false);
    if (!forced && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    next = std::chrono::steady_clock::now() + std::chrono::seconds(*refresh);
    if (shadow_follower) {
      // The shadow's own refresh: its failures are logged (once each) and never touch serving.
      auto was = shadow_follower->current();
      Status s = shadow_follower->Refresh(forced);
      if (!s.ok() && (s.message() != shadow_error || forced)) {
        SF_LOG(Warning) << "shadow (alias " << shadow_follower->alias()
                        << ") refresh failed: " << s.message();
      }
      shadow_error = s.ok() ? "" : s.message();
      if (auto is = shadow_follower->current(); is && is != was) {
        SF_LOG(Info) << "shadow: scoring " << is->version.model() << " v" << is->version.version()
                     << " (alias " << shadow_follower->alias() << ") beside the served version";
      }
    }
    auto before = follower.current();
    const auto t0 = std::chrono::steady_clock::now();
    Status s = follower.Refresh(forced);
    auto now = follower.current();
    metrics.CountRefresh(s.ok(), now != before);
    if (!s.ok()) {
      // Said once per distinct error, not at every refresh (and at every SIGHUP).
      if (s.message() != last_error || forced) {
        std::string retry;
        if (auto at = follower.retry_at()) {
          const auto in = std::chrono::duration_cast<std::chrono::seconds>(
              *at - std::chrono::steady_clock::now());
          retry = "; that version is fetched again in " + std::to_string(in.count()) +
                  " s (the wait doubles, up to 5 min) or at SIGHUP";
        }
        SF_LOG(Warning) << "refresh failed: " << s.message() << "; "
                        << (now ? "still serving v" + std::to_string(now->version.version())
                                : std::string("nothing to serve yet, not listening"))
                        << retry;
      }
      last_error = s.message();
      continue;
    }
    last_error.clear();
    if (now != before) {
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      SF_LOG(Info) << "serving " << now->version.model() << " v" << now->version.version()
                   << " (alias " << follower.alias() << (before ? "; was v" : "")
                   << (before ? std::to_string(before->version.version()) : "")
                   << "): " << now->version.members_size() << " member(s), holdout accuracy "
                   << now->version.holdout_accuracy() << ", loaded and verified in " << ms << " ms";
    }
    if (!server) {
      if (Status l = listen(); !l.ok()) {
        std::cerr << "sweepfarm-serve: " << l.message() << "\n";
        return 1;
      }
    }
  }
  SF_LOG(Info) << "shutting down";
  if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}
