// Prometheus counters of the RPCs a gRPC server answers, by method and status code, with a
// latency histogram by method; counted by a server interceptor, so no handler can forget.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <utility>

namespace sweepfarm {

class RpcMetrics {
 public:
  void CountRpc(const std::string& method, grpc::StatusCode code, double seconds);

  // sweepfarm_rpc_total{method,code}, sweepfarm_rpc_seconds_total{method,code} and the
  // histogram sweepfarm_rpc_duration_seconds{method}.
  void Render(std::ostream& out) const;

  // A gRPC server interceptor factory that counts every RPC into `this`.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // Histogram bucket bounds, in seconds.
  static constexpr std::array<double, 13> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

 private:
  struct Rpc {
    int64_t count = 0;
    double seconds = 0;
  };
  struct Histogram {
    std::array<int64_t, kBuckets.size()> buckets{};  // Not cumulative; rendered cumulative.
    int64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, Rpc> rpcs_;  // (method, code).
  std::map<std::string, Histogram> durations_;       // By method.
};

}  // namespace sweepfarm
