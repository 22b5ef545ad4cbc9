#include "coordinator/api/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <sstream>

#include "common/logging.h"

namespace sweepfarm::api {
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
  CountingInterceptor(grpc::experimental::ServerRpcInfo* info, Metrics* metrics)
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
  Metrics* metrics_;
  std::chrono::steady_clock::time_point start_;
};

class CountingInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingInterceptorFactory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CountingInterceptor(info, metrics_);
  }

 private:
  Metrics* metrics_;
};

void Family(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

}  // namespace

void Metrics::CountRpc(const std::string& method, grpc::StatusCode code, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  Rpc& r = rpcs_[{method, static_cast<int>(code)}];
  r.count += 1;
  r.seconds += seconds;
}

void Metrics::CountResults(int64_t accepted, int64_t duplicate, int64_t stale) {
  accepted_ += accepted;
  duplicate_ += duplicate;
  stale_ += stale;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
Metrics::InterceptorFactory() {
  return std::make_unique<CountingInterceptorFactory>(this);
}

std::string Metrics::Render(store::Store* store) const {
  std::ostringstream out;
  auto gauges = store->Gauges();
  Family(out, "sweepfarm_database_up", "gauge",
         "1 if this scrape could read the database, else 0 (then no farm gauges).");
  out << "sweepfarm_database_up " << (gauges.ok() ? 1 : 0) << "\n";
  if (gauges.ok()) {
    Family(out, "sweepfarm_sweeps", "gauge", "Sweeps by state.");
    for (const char* state : {"running", "done", "cancelled"}) {
      auto it = gauges->sweeps.find(state);
      out << "sweepfarm_sweeps{state=\"" << state << "\"} "
          << (it == gauges->sweeps.end() ? 0 : it->second) << "\n";
    }
    Family(out, "sweepfarm_queue_trials", "gauge",
           "Trials of running sweeps waiting for a worker (queued) or leased (running).");
    out << "sweepfarm_queue_trials{state=\"queued\"} " << gauges->queued << "\n";
    out << "sweepfarm_queue_trials{state=\"running\"} " << gauges->running << "\n";
    Family(out, "sweepfarm_workers_active", "gauge", "Workers seen in the last 5 minutes.");
    out << "sweepfarm_workers_active " << gauges->workers << "\n";
  }
  Family(out, "sweepfarm_results_total", "counter",
         "Trial reports received by this coordinator, by outcome.");
  out << "sweepfarm_results_total{outcome=\"accepted\"} " << accepted_ << "\n";
  out << "sweepfarm_results_total{outcome=\"duplicate\"} " << duplicate_ << "\n";
  out << "sweepfarm_results_total{outcome=\"stale\"} " << stale_ << "\n";
  Family(out, "sweepfarm_trials_leased_total", "counter", "Trials leased to workers.");
  out << "sweepfarm_trials_leased_total " << leased_ << "\n";
  Family(out, "sweepfarm_leases_expired_total", "counter",
         "Trials whose lease expired (worker lost) and were re-queued or failed.");
  out << "sweepfarm_leases_expired_total " << expired_ << "\n";
  std::lock_guard<std::mutex> lock(mu_);
  Family(out, "sweepfarm_rpc_total", "counter", "RPCs served, by method and status code.");
  for (const auto& [key, r] : rpcs_) {
    out << "sweepfarm_rpc_total{method=\"" << key.first << "\",code=\"" << CodeName(key.second)
        << "\"} " << r.count << "\n";
  }
  Family(out, "sweepfarm_rpc_seconds_total", "counter",
         "Time spent serving RPCs, by method and status code.");
  for (const auto& [key, r] : rpcs_) {
    out << "sweepfarm_rpc_seconds_total{method=\"" << key.first << "\",code=\""
        << CodeName(key.second) << "\"} " << r.seconds << "\n";
  }
  return out.str();
}

StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& host_port,
                                                              std::function<std::string()> render) {
  const size_t colon = host_port.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos ||
      inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return InvalidArgumentError("--metrics-listen: expected IPV4:PORT, got \"" + host_port + "\"");
  }
  char* end = nullptr;
  const long port = std::strtol(host_port.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || end == host_port.c_str() + colon + 1 || port < 0 || port > 65535) {
    return InvalidArgumentError("--metrics-listen: bad port in \"" + host_port + "\"");
  }
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return InternalError(std::string("metrics socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 16) != 0) {
    std::string why = std::strerror(errno);
    close(fd);
    return UnavailableError("--metrics-listen: cannot listen on " + host_port + ": " + why);
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(fd, ntohs(addr.sin_port), std::move(render)));
}

MetricsServer::MetricsServer(int fd, int port, std::function<std::string()> render)
    : fd_(fd), port_(port), render_(std::move(render)) {
  thread_ = std::thread([this] { Serve(); });
}

MetricsServer::~MetricsServer() {
  stop_ = true;
  thread_.join();
  close(fd_);
}

void MetricsServer::Serve() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    Answer(client);
    close(client);
  }
}

void MetricsServer::Answer(int client) {
  timeval timeout{2, 0};
  setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  std::string request;
  char buf[1024];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 8192) {
    ssize_t n = recv(client, buf, sizeof(buf), 0);
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  const std::string line = request.substr(0, request.find("\r\n"));
  std::string status = "200 OK", type = "text/plain; version=0.0.4; charset=utf-8", body;
  if (line.rfind("GET ", 0) != 0) {
    status = "405 Method Not Allowed";
    body = "only GET\n";
  } else if (line.rfind("GET /metrics ", 0) != 0 && line != "GET /metrics") {
    status = "404 Not Found";
    body = "see /metrics\n";
  } else {
    body = render_();
  }
  if (status[0] != '2') type = "text/plain; charset=utf-8";
  const std::string response = "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
                               "\r\nContent-Length: " + std::to_string(body.size()) +
                               "\r\nConnection: close\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < response.size()) {
    ssize_t n = send(client, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace sweepfarm::api
