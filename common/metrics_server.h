// Prometheus exposition and the dashboard's pages over HTTP/1.1 (GNU libmicrohttpd), shared by
// the coordinator and the prediction service.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

struct MHD_Daemon;  // libmicrohttpd's server.

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
inline constexpr size_t kMaxHttpHead = 8192;  // Request line and headers served at least.
// What one connection may hold: its request's head and the answer's (a head that does not fit
// gets 431), and a piece of a POST's body at a time.
inline constexpr size_t kHttpConnectionMemory = 2 * kMaxHttpHead;
inline constexpr int kHttpRequestSeconds = 5;
inline constexpr int kHttpConnectionSeconds = 15;
inline constexpr int kHttpConnectionThreads = 4;
inline constexpr size_t kHttpOpenConnections = 512;

// An answer of `MetricsServer`'s other pages.
struct HttpPage {
  int status = 200;  // 200, 303, 400, 401, 403, 404, 405, 411, 413 or 503.
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
// (405 without them); other methods 405; a POST without a Content-Length 411, with a body over
// kMaxHttpBody 413; a request head of up to kMaxHttpHead is served, one too large for
// kHttpConnectionMemory gets 431. With a `gate`, every request passes it
// first. With `tls`, only HTTPS (TLS 1.2 or later): a connection whose handshake fails is closed
// unanswered, so neither a token nor a page ever crosses in the clear. One request per
// connection.
//
// GNU libmicrohttpd serves it: kHttpConnectionThreads threads, each polling its share of the
// connections (epoll) without blocking on any, so a client that sends nothing or dribbles bytes
// holds a connection, not a thread. At most kHttpOpenConnections are open at once (beyond that
// new ones wait in the listen backlog until one closes). Each connection has kHttpRequestSeconds
// from its accept to deliver its request (TLS handshake, head and body; libmicrohttpd's own timeout
// only counts silence, so a watchdog here closes late ones, unanswered) and kHttpConnectionSeconds
// in all. `render`, `pages` and `gate` are called one at a time.
class MetricsServer {
 public:
  // `host_port`: an IPv4 address and port (port 0: any free one). INVALID_ARGUMENT for a
  // malformed address or a certificate or key that cannot be used (or that do not match).
  static StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& host_port,
                                                        std::function<std::string()> render,
                                                        PageHandler pages = nullptr,
                                                        RequestGate gate = nullptr,
                                                        const HttpTls& tls = {});
  ~MetricsServer();
  int port() const { return port_; }
  bool tls() const { return tls_; }

 private:
  struct Calls;  // libmicrohttpd's callbacks, kept out of this header with its types.
  using Clock = std::chrono::steady_clock;
  struct Open {  // A connection, from its accept to its close.
    int fd = -1;
    Clock::time_point request_by, done_by;
    std::string uri;         // As requested, query string included.
    std::string body;        // A POST's, as it arrives.
    bool requested = false;  // The whole request has arrived.
    bool cut = false;        // Shut down by the watchdog.
  };
  MetricsServer(int port, bool tls, std::function<std::string()> render, PageHandler pages,
                RequestGate gate);
  HttpPage Answer(const HttpRequest& request);  // Through the gate, to render_ or pages_.
  void Watch();                                 // Closes connections past their deadlines.

  int port_;
  bool tls_;
  std::function<std::string()> render_;
  PageHandler pages_;
  RequestGate gate_;
  ::MHD_Daemon* daemon_ = nullptr;
  std::mutex call_mu_;  // render_, pages_ and gate_ run one at a time.
  std::mutex open_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;                 // Guarded by open_mu_.
  std::map<const void*, Open> open_;  // By libmicrohttpd's connection; guarded by open_mu_.
  std::thread watchdog_;
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
