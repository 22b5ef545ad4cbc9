// sweepfarm-coordinator: serves SweepService and WorkerService over gRPC, with PostgreSQL as its
// only state, and re-queues trials whose leases expire.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "common/build_info.h"
#include "common/files.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/metrics_server.h"
#include "common/net.h"
#include "coordinator/api/dashboard.h"
#include "coordinator/api/services.h"
#include "coordinator/store/store.h"
#include "proto/security.h"

using namespace sweepfarm;

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

// Writes "HOST:PORT\n" to `path` (nothing if empty).
void WriteAddressFile(const std::string& path, const std::string& address) {
  if (path.empty()) return;
  if (Status s = WriteFileAtomically(path, address + "\n"); !s.ok()) SF_LOG(Error) << s.message();
}
}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  flags
      .Define("db", "",
              "PostgreSQL connection string or URI (or --db-file, or SWEEPFARM_DB in the "
              "environment: unlike the command line, neither is visible to other processes)")
      .Define("db-file", "", "read the connection string from this file (its first line)")
      .Define("listen", "127.0.0.1:50051", "HOST:PORT to serve on (port 0: any free port)")
      .Define("address-file", "", "write the bound HOST:PORT to this file once serving")
      .Define("lease-seconds", "30", "lease length; heartbeats extend it")
      .Define("reap-interval-ms", "1000",
              "how often expired leases are re-queued and sweep limits applied")
      .Define("db-pool", "8", "PostgreSQL connections")
      .Define("max-dataset-bytes", "1073741824",
              "largest data set version accepted (an import's content, a built-in's data)")
      .Define("prediction-retention-days", "30",
              "unlabelled predictions recorded by sweepfarm-serve are deleted after this many "
              "days (labelled ones are training data and stay)")
      .Define("metrics-listen", "",
              "IPV4:PORT to serve Prometheus metrics on (GET /metrics; port 0: any free port); "
              "empty: none")
      .Define("metrics-address-file", "", "write the metrics server's bound HOST:PORT here")
      .DefineBool("dashboard",
                  "also serve a read-only HTML dashboard (sweeps, leaderboards, registry, "
                  "workers) at / of the metrics address (with --metrics-auth behind a token; "
                  "without it, bind the address internally)");
  DefineSecurityFlags(&flags, SecurityRole::kServer);
  if (Status s = flags.Parse(argc, argv); !s.ok()) {
    std::cerr << "sweepfarm-coordinator: " << s.message() << "\n";
    return 2;
  }
  if (flags.version()) {
    std::cout << VersionLine("sweepfarm-coordinator") << "\n";
    return 0;
  }
  if (flags.help()) {
    std::cout << "usage: sweepfarm-coordinator --db DSN [--listen HOST:PORT] [flags]\n"
              << flags.Usage();
    return 0;
  }
  SetLogPrefix("coordinator");
  auto security = LoadTransportSecurity(flags, SecurityRole::kServer);
  if (!security.ok()) {
    std::cerr << "sweepfarm-coordinator: " << security.status().message() << "\n";
    return 2;
  }
  if (!security->tokens.empty() && security->cert_pem.empty()) {
    SF_LOG(Warning) << "--auth-token-file without --tls-cert: the token crosses the network in "
                       "clear text";
  }
  std::string dsn = flags.Get("db");
  if (dsn.empty() && !flags.Get("db-file").empty()) {
    auto text = ReadTextFile(flags.Get("db-file"));
    if (!text.ok()) {
      std::cerr << "sweepfarm-coordinator: --db-file: " << text.status().message() << "\n";
      return 2;
    }
    dsn = text->substr(0, text->find_first_of("\r\n"));
  }
  if (const char* env = std::getenv("SWEEPFARM_DB"); dsn.empty() && env != nullptr) dsn = env;
  if (dsn.empty()) {
    std::cerr << "sweepfarm-coordinator: --db, --db-file or SWEEPFARM_DB is required\n"
              << flags.Usage();
    return 2;
  }
  if (flags.GetBool("dashboard") && flags.Get("metrics-listen").empty()) {
    std::cerr << "sweepfarm-coordinator: --dashboard is served on --metrics-listen; give both\n";
    return 2;
  }
  std::vector<std::string> exposure_warnings;
  if (Status s = CheckExposure(flags, *security, &exposure_warnings); !s.ok()) {
    std::cerr << "sweepfarm-coordinator: " << s.message() << "\n";
    return 2;
  }
  for (const auto& w : exposure_warnings) SF_LOG(Warning) << w;
  auto gate = MetricsGate(flags, *security);
  if (!gate.ok()) {
    std::cerr << "sweepfarm-coordinator: " << gate.status().message() << "\n";
    return 2;
  }
  auto metrics_tls = MetricsTls(flags, *security);
  if (!metrics_tls.ok()) {
    std::cerr << "sweepfarm-coordinator: " << metrics_tls.status().message() << "\n";
    return 2;
  }
  auto lease = flags.GetInt("lease-seconds");
  auto reap = flags.GetInt("reap-interval-ms");
  auto pool = flags.GetInt("db-pool");
  auto max_dataset = flags.GetInt("max-dataset-bytes");
  auto retention = flags.GetDouble("prediction-retention-days");
  if (!lease.ok() || !reap.ok() || !pool.ok() || *lease < 1 || *reap < 10 || *pool < 1) {
    std::cerr << "sweepfarm-coordinator: --lease-seconds, --reap-interval-ms and --db-pool need "
                 "positive integers (reap >= 10 ms)\n";
    return 2;
  }
  if (!max_dataset.ok() || *max_dataset < 1024 || *max_dataset > (int64_t{1} << 30)) {
    std::cerr << "sweepfarm-coordinator: --max-dataset-bytes must be 1024 to 1073741824\n";
    return 2;
  }
  if (!retention.ok() || !(*retention > 0)) {
    std::cerr << "sweepfarm-coordinator: --prediction-retention-days must be a positive number\n";
    return 2;
  }
  auto store = store::Store::Open(dsn, static_cast<int>(*pool));
  if (!store.ok()) {
    std::cerr << "sweepfarm-coordinator: " << store.status().ToString() << "\n";
    return 1;
  }
  if (Status s = (*store)->Migrate(); !s.ok()) {
    std::cerr << "sweepfarm-coordinator: " << s.ToString() << "\n";
    return 1;
  }
  api::Metrics metrics;
  datasets::DataSets datasets(store->get(), *max_dataset);
  PageHandler pages;
  api::DashboardContext dashboard;
  if (flags.GetBool("dashboard")) {
    dashboard.store = store->get();
    dashboard.datasets = &datasets;
    dashboard.lease_seconds = static_cast<int>(*lease);
    // Tokens only with --metrics-auth: without it the pages are open, and label nothing.
    if (flags.GetBool("metrics-auth")) dashboard.auth = TokenCheck(security->tokens);
    pages = [&dashboard](const HttpRequest& request) {
      return api::DashboardPage(dashboard, request);
    };
  }
  auto metrics_server = StartMetricsServer(
      flags.Get("metrics-listen"), flags.Get("metrics-address-file"),
      [&metrics, &store, lease_seconds = static_cast<int>(*lease)] {
        return metrics.Render(store->get(), lease_seconds);
      },
      pages, *gate, *metrics_tls);
  if (!metrics_server.ok()) {
    std::cerr << "sweepfarm-coordinator: " << metrics_server.status().message() << "\n";
    return metrics_server.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  api::ServiceOptions options;
  options.metrics = &metrics;
  options.lease_seconds = static_cast<int>(*lease);
  options.auth = TokenCheck(security->tokens);
  options.max_dataset_bytes = *max_dataset;
  // LeaseWork calls that may wait for work at once (each holds a server thread); more answer at
  // once, and their workers poll.
  api::WorkSignal work(256);
  options.work = &work;
  api::Slots data_streams(8);
  registry::Registry registry(store->get(), &datasets, BuildCommit());
  api::SweepServiceImpl sweeps(store->get(), &datasets, options);
  api::WorkerServiceImpl workers(store->get(), &datasets, &data_streams, options);
  api::RegistryServiceImpl models(store->get(), &registry, options);
  api::DataServiceImpl data(store->get(), &datasets, &data_streams, options);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(flags.Get("listen"), ServerCredentials(*security), &port);
  builder.RegisterService(&sweeps);
  builder.RegisterService(&workers);
  builder.RegisterService(&models);
  builder.RegisterService(&data);
  builder.SetMaxReceiveMessageSize(16 << 20);
  // A port already in use is an error, not a second server beside the first (gRPC's default
  // SO_REUSEPORT would let both serve, perhaps on different databases).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(metrics.InterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "sweepfarm-coordinator: cannot listen on " << flags.Get("listen") << "\n";
    return 1;
  }
  std::string listen = flags.Get("listen");
  std::string address = BoundAddress(listen, port);
  SF_LOG(Info) << "listening on " << address << (security->cert_pem.empty() ? "" : " (TLS)")
               << (security->tokens.empty() ? "" : ", calls need a token");
  WriteAddressFile(flags.Get("address-file"), address);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  auto next_reap = std::chrono::steady_clock::now();
  auto next_expiry = next_reap;
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (std::chrono::steady_clock::now() < next_reap) continue;
    next_reap += std::chrono::milliseconds(*reap);
    if (auto limits = (*store)->EnforceLimits(); !limits.ok()) {
      SF_LOG(Warning) << limits.status().ToString();
    } else {
      for (const auto& l : *limits) {
        SF_LOG(Warning) << "sweep " << l.sweep_id << ": " << l.reason << " (" << l.dropped
                        << " queued trial(s) dropped)";
      }
    }
    auto n = (*store)->RequeueExpired();
    if (!n.ok()) {
      SF_LOG(Warning) << n.status().ToString();
    } else if (*n > 0) {
      metrics.CountExpired(*n);
      work.Notify();
      SF_LOG(Warning) << *n << " trial(s) re-queued after their lease expired";
    }
    if (std::chrono::steady_clock::now() >= next_expiry) {
      next_expiry += std::chrono::minutes(10);
      if (auto gone = (*store)->DeleteOldPredictions(*retention); !gone.ok()) {
        SF_LOG(Warning) << gone.status().ToString();
      } else if (*gone > 0) {
        SF_LOG(Info) << *gone << " unlabelled prediction(s) older than " << *retention
                     << " days deleted";
      }
    }
  }
  SF_LOG(Info) << "shutting down";
  work.Stop();  // Waiting LeaseWork calls answer now, not when their wait ends.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return 0;
}
