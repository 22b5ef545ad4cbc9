// Prometheus metrics of the coordinator (text exposition format 0.0.4): counters of this process
// (RPCs by method and status code with their time, results by outcome, trials leased, leases
// expired) and gauges read from the database at each scrape (sweeps by state, the work queue of
// running sweeps, workers seen lately). Counters are per process, as Prometheus expects: with
// several coordinators, sum them over instances; the gauges are the farm's, the same from each.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "common/status.h"
#include "coordinator/store/store.h"

namespace sweepfarm::api {

class Metrics {
 public:
  void CountRpc(const std::string& method, grpc::StatusCode code, double seconds);
  void CountResults(int64_t accepted, int64_t duplicate, int64_t stale);
  void CountLeased(int64_t trials) { leased_ += trials; }
  void CountExpired(int64_t trials) { expired_ += trials; }

  // The exposition text: this process's counters and the database's gauges (database_up 0 and no
  // gauges if it cannot be read).
  std::string Render(store::Store* store) const;

  // A gRPC server interceptor factory that counts every RPC into `this`.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

 private:
  struct Rpc {
    int64_t count = 0;
    double seconds = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, Rpc> rpcs_;  // (method, code).
  std::atomic<int64_t> accepted_{0}, duplicate_{0}, stale_{0}, leased_{0}, expired_{0};
};

// A minimal HTTP/1.1 server for Prometheus: GET /metrics answers `render()`; other paths 404,
// other methods 405. One thread, one request per connection, a 2 s read timeout.
class MetricsServer {
 public:
  // `host_port`: an IPv4 address and port (port 0: any free one).
  static StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& host_port,
                                                        std::function<std::string()> render);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  MetricsServer(int fd, int port, std::function<std::string()> render);
  void Serve();
  void Answer(int client);

  int fd_;
  int port_;
  std::function<std::string()> render_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sweepfarm::api
