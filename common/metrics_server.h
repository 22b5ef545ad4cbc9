// Prometheus exposition over a minimal HTTP/1.1 server, shared by the coordinator and the
// prediction service.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>

#include "common/status.h"

namespace sweepfarm {

// Writes a metric family's HELP and TYPE lines.
void MetricFamily(std::ostream& out, const char* name, const char* type, const char* help);

// An answer of `MetricsServer`'s other pages.
struct HttpPage {
  int status = 200;  // 200, 400, 404 or 503.
  std::string content_type = "text/html; charset=utf-8";
  std::string body;
};

// Answers a GET of a path other than /metrics (the path as requested, query string included);
// nullopt: 404.
using PageHandler = std::function<std::optional<HttpPage>(const std::string& path)>;

// GET /metrics answers `render()`, other paths `pages` (if given) or 404; other methods 405. One
// thread, one request per connection, a 2 s read timeout.
class MetricsServer {
 public:
  // `host_port`: an IPv4 address and port (port 0: any free one).
  static StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& host_port,
                                                        std::function<std::string()> render,
                                                        PageHandler pages = nullptr);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  MetricsServer(int fd, int port, std::function<std::string()> render, PageHandler pages);
  void Serve();
  void Answer(int client);

  int fd_;
  int port_;
  std::function<std::string()> render_;
  PageHandler pages_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The --metrics-listen of a binary: null if `host_port` is empty; else a started server, whose
// URL is logged and whose bound HOST:PORT is written to `address_file` (if not empty).
// INVALID_ARGUMENT for a malformed address, UNAVAILABLE if it cannot listen.
StatusOr<std::unique_ptr<MetricsServer>> StartMetricsServer(const std::string& host_port,
                                                            const std::string& address_file,
                                                            std::function<std::string()> render,
                                                            PageHandler pages = nullptr);

}  // namespace sweepfarm
