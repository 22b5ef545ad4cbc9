// Prometheus exposition over a minimal HTTP/1.1 server, shared by the coordinator and the
// prediction service.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sweepfarm {

// Writes a metric family's HELP and TYPE lines.
void MetricFamily(std::ostream& out, const char* name, const char* type, const char* help);

// A family of one series: its HELP and TYPE lines, then `name` `labels` (e.g. {model="m"}, or
// empty) and `value`.
template <typename T>
void OneMetric(std::ostream& out, const char* name, const char* type, const char* help,
               const std::string& labels, T value) {
  MetricFamily(out, name, type, help);
  out << name << labels << " " << value << "\n";
}

// `labels` (e.g. {model="m"}) with one more label, `key`="`value`" (values need no escaping).
std::string WithLabel(const std::string& labels, const std::string& key, const std::string& value);

// A request to `MetricsServer`: GET, or POST with a body of at most kMaxHttpBody bytes.
struct HttpRequest {
  std::string method;                                     // "GET" or "POST".
  std::string path;                                       // As requested, query string included.
  std::string authorization, origin, host, content_type;  // Those headers ("" if absent).
  std::string body;
};
inline constexpr size_t kMaxHttpBody = 16 * 1024;
inline constexpr size_t kMaxHttpHead = 8192;  // Request line and headers; beyond: 431.
inline constexpr int kHttpRequestSeconds = 5;
inline constexpr int kHttpConnectionSeconds = 15;
inline constexpr int kHttpConnectionThreads = 4;
inline constexpr size_t kHttpOpenConnections = 512;

// An answer of `MetricsServer`'s other pages.
struct HttpPage {
  int status = 200;  // 200, 303, 400, 401, 403, 404, 405, 408, 413 or 503.
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // Further response headers.
};

// Answers a GET of a path other than /metrics, or a POST; nullopt: 404.
using PageHandler = std::function<std::optional<HttpPage>(const HttpRequest& request)>;

// Decides whether a request may be answered, before anything is rendered: nullopt admits it, a
// page refuses it (e.g. 401 with WWW-Authenticate).
using RequestGate = std::function<std::optional<HttpPage>(const HttpRequest& request)>;

// HTTPS for the server (--metrics-tls): the certificate chain and its private key, PEM (the
// gRPC server's --tls-cert and --tls-key). Empty: plain HTTP.
struct HttpTls {
  std::string cert_pem;
  std::string key_pem;
  bool enabled() const { return !cert_pem.empty(); }
};

// GET /metrics answers `render()`, other paths `pages` (if given) or 404; a POST goes to `pages`
// (405 without them); other methods 405; a POST body over kMaxHttpBody 413. With a `gate`,
// every request passes it first. With `tls`, only HTTPS (TLS 1.2 or later): a
// connection whose handshake fails is closed unanswered, so neither a token nor a page ever
// crosses in the clear. One request per connection. One thread reads every connection's
// handshake and request without blocking; a connection has kHttpRequestSeconds to deliver its
// request (the TLS handshake included; then 408, or closed if the handshake never finished),
// so a client that sends nothing or dribbles bytes holds a slot, not the server, and not for
// long. Complete requests are answered by kHttpConnectionThreads threads, each write bounded by
// what is left of the connection's kHttpConnectionSeconds. At most kHttpOpenConnections are open
// at once; beyond that a new one is closed at once. `render`, `pages` and `gate` are called one
// at a time.
class MetricsServer {
 public:
  // `host_port`: an IPv4 address and port (port 0: any free one). INVALID_ARGUMENT for a
  // malformed address or a certificate or key OpenSSL cannot use (or that do not match).
  static StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& host_port,
                                                        std::function<std::string()> render,
                                                        PageHandler pages = nullptr,
                                                        RequestGate gate = nullptr,
                                                        const HttpTls& tls = {});
  ~MetricsServer();
  int port() const { return port_; }
  bool tls() const { return tls_ != nullptr; }

 private:
  struct TlsContext;  // OpenSSL's SSL_CTX, kept out of this header.
  struct Connection;
  using Clock = std::chrono::steady_clock;
  MetricsServer(int fd, int port, std::function<std::string()> render, PageHandler pages,
                RequestGate gate, std::unique_ptr<TlsContext> tls);
  void Serve();                  // Accepts connections and reads their requests.
  void Progress(Connection& c);  // Reads what has arrived; marks it complete or to drop.
  void Handle();                 // Answers complete requests until stopped.
  void Respond(Connection& c);   // Writes the answer to a complete (or late) request.

  int fd_;
  int port_;
  std::function<std::string()> render_;
  PageHandler pages_;
  RequestGate gate_;
  std::unique_ptr<TlsContext> tls_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::thread> handlers_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<Connection>> queue_;  // Requests read, not yet answered.
  std::mutex call_mu_;                             // render_, pages_ and gate_ run one at a time.
};

// The --metrics-listen of a binary: null if `host_port` is empty; else a started server, whose
// URL is logged and whose bound HOST:PORT is written to `address_file` (if not empty).
// INVALID_ARGUMENT for a malformed address or unusable TLS files, UNAVAILABLE if it cannot
// listen.
StatusOr<std::unique_ptr<MetricsServer>> StartMetricsServer(const std::string& host_port,
                                                            const std::string& address_file,
                                                            std::function<std::string()> render,
                                                            PageHandler pages = nullptr,
                                                            RequestGate gate = nullptr,
                                                            const HttpTls& tls = {});

}  // namespace sweepfarm
