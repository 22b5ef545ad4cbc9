#include "proto/rpc_metrics.h"

#include <chrono>

#include "common/metrics_server.h"

namespace sweepfarm {
namespace {

const char* CodeName(int code) {
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN";
}

// Counts one RPC when its status is sent, with the time since the call arrived.
class CountingInterceptor final : public grpc::experimental::Interceptor {
 public:
  CountingInterceptor(grpc::experimental::ServerRpcInfo* info, RpcMetrics* metrics)
      : method_(info->method() ? info->method() : "?"),
        metrics_(metrics),
        start_(std::chrono::steady_clock::now()) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->CountRpc(
          method_, methods->GetSendStatus().error_code(),
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    methods->Proceed();
  }

 private:
  std::string method_;
  RpcMetrics* metrics_;
  std::chrono::steady_clock::time_point start_;
};

class CountingInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingInterceptorFactory(RpcMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CountingInterceptor(info, metrics_);
  }

 private:
  RpcMetrics* metrics_;
};

}  // namespace

void RpcMetrics::CountRpc(const std::string& method, grpc::StatusCode code, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  Rpc& r = rpcs_[{method, static_cast<int>(code)}];
  r.count += 1;
  r.seconds += seconds;
  Histogram& h = durations_[method];
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  if (b < kBuckets.size()) ++h.buckets[b];
  h.count += 1;
  h.sum += seconds;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
RpcMetrics::InterceptorFactory() {
  return std::make_unique<CountingInterceptorFactory>(this);
}

void RpcMetrics::Render(std::ostream& out) const {
  std::lock_guard<std::mutex> lock(mu_);
  MetricFamily(out, "sweepfarm_rpc_total", "counter", "RPCs served, by method and status code.");
  for (const auto& [key, r] : rpcs_) {
    out << "sweepfarm_rpc_total{method=\"" << key.first << "\",code=\"" << CodeName(key.second)
        << "\"} " << r.count << "\n";
  }
  MetricFamily(out, "sweepfarm_rpc_seconds_total", "counter",
               "Time spent serving RPCs, by method and status code.");
  for (const auto& [key, r] : rpcs_) {
    out << "sweepfarm_rpc_seconds_total{method=\"" << key.first << "\",code=\""
        << CodeName(key.second) << "\"} " << r.seconds << "\n";
  }
  MetricFamily(out, "sweepfarm_rpc_duration_seconds", "histogram",
               "Time from an RPC's arrival to its status, by method.");
  for (const auto& [method, h] : durations_) {
    int64_t cumulative = 0;
    for (size_t b = 0; b < kBuckets.size(); ++b) {
      cumulative += h.buckets[b];
      out << "sweepfarm_rpc_duration_seconds_bucket{method=\"" << method << "\",le=\""
          << kBuckets[b] << "\"} " << cumulative << "\n";
    }
    out << "sweepfarm_rpc_duration_seconds_bucket{method=\"" << method << "\",le=\"+Inf\"} "
        << h.count << "\n";
    out << "sweepfarm_rpc_duration_seconds_sum{method=\"" << method << "\"} " << h.sum << "\n";
    out << "sweepfarm_rpc_duration_seconds_count{method=\"" << method << "\"} " << h.count << "\n";
  }
}

}  // namespace sweepfarm
