// Prometheus metrics of the coordinator (text exposition format 0.0.4): counters of this process
// (RPCs by method and status code with their time and a latency histogram by method, results by
// outcome, trials leased, leases expired) and gauges read from the database at each scrape
// (sweeps by state, the work queue of running sweeps, workers seen lately). Counters are per
// process, as Prometheus expects: with several coordinators, sum them over instances; the gauges
// are the farm's, the same from each.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "coordinator/store/store.h"
#include "proto/rpc_metrics.h"

namespace sweepfarm::api {

class Metrics {
 public:
  void CountResults(int64_t accepted, int64_t duplicate, int64_t stale);
  void CountLeased(int64_t trials) { leased_ += trials; }
  void CountExpired(int64_t trials) { expired_ += trials; }

  // The exposition text: this process's counters and the database's gauges (database_up 0 and no
  // gauges if it cannot be read).
  std::string Render(store::Store* store, int lease_seconds) const;

  // A gRPC server interceptor factory that counts every RPC into `this`.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory() {
    return rpcs_.InterceptorFactory();
  }

 private:
  RpcMetrics rpcs_;
  std::atomic<int64_t> accepted_{0}, duplicate_{0}, stale_{0}, leased_{0}, expired_{0};
};

}  // namespace sweepfarm::api
