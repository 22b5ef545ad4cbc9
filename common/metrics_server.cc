#include "common/metrics_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

#include "common/files.h"
#include "common/logging.h"
#include "common/net.h"

namespace sweepfarm {

void MetricFamily(std::ostream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
}

std::string WithLabel(const std::string& labels, const std::string& key, const std::string& value) {
  const std::string label = key + "=\"" + value + "\"";
  if (labels.empty()) return "{" + label + "}";
  return labels.substr(0, labels.size() - 1) + "," + label + "}";
}

struct MetricsServer::TlsContext {
  ~TlsContext() { SSL_CTX_free(ctx); }
  SSL_CTX* ctx = nullptr;
};

namespace {

// OpenSSL's oldest queued error, in words ("" if none); clears the queue.
std::string TlsError() {
  char buf[256] = "";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

// A server context for `tls`: its certificate chain (the first PEM block the certificate, the
// rest its chain) and key, checked to match; TLS 1.2 at least.
StatusOr<SSL_CTX*> NewTlsContext(const HttpTls& tls) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return InternalError("metrics TLS: " + TlsError());
  auto fail = [&](const std::string& what) {
    SSL_CTX_free(ctx);
    return InvalidArgumentError("--metrics-tls: " + what + ": " + TlsError());
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  BIO* certs = BIO_new_mem_buf(tls.cert_pem.data(), static_cast<int>(tls.cert_pem.size()));
  X509* leaf = PEM_read_bio_X509(certs, nullptr, nullptr, nullptr);
  const bool used = leaf != nullptr && SSL_CTX_use_certificate(ctx, leaf) == 1;
  X509_free(leaf);
  if (!used) {
    BIO_free(certs);
    return fail("the --tls-cert certificate cannot be used");
  }
  while (X509* extra = PEM_read_bio_X509(certs, nullptr, nullptr, nullptr)) {
    SSL_CTX_add_extra_chain_cert(ctx, extra);  // Owned by the context now.
  }
  ERR_clear_error();  // The end of the chain reads as an error.
  BIO_free(certs);
  BIO* key_bio = BIO_new_mem_buf(tls.key_pem.data(), static_cast<int>(tls.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  if (key == nullptr) return fail("the --tls-key private key cannot be used");
  const bool key_used = SSL_CTX_use_PrivateKey(ctx, key) == 1;  // Checks it against the cert.
  EVP_PKEY_free(key);
  if (!key_used || SSL_CTX_check_private_key(ctx) != 1) {
    return fail("--tls-key is not the key of --tls-cert");
  }
  return ctx;
}

}  // namespace

StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& host_port,
                                                              std::function<std::string()> render,
                                                              PageHandler pages, RequestGate gate,
                                                              const HttpTls& tls) {
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
  std::unique_ptr<TlsContext> context;
  if (tls.enabled()) {
    SF_ASSIGN_OR_RETURN(SSL_CTX * ctx, NewTlsContext(tls));
    context = std::make_unique<TlsContext>();
    context->ctx = ctx;
  }
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
  return std::unique_ptr<MetricsServer>(new MetricsServer(fd, ntohs(addr.sin_port),
                                                          std::move(render), std::move(pages),
                                                          std::move(gate), std::move(context)));
}

MetricsServer::MetricsServer(int fd, int port, std::function<std::string()> render,
                             PageHandler pages, RequestGate gate, std::unique_ptr<TlsContext> tls)
    : fd_(fd),
      port_(port),
      render_(std::move(render)),
      pages_(std::move(pages)),
      gate_(std::move(gate)),
      tls_(std::move(tls)) {
  for (int i = 0; i < kHttpConnectionThreads; ++i) handlers_.emplace_back([this] { Handle(); });
  thread_ = std::thread([this] { Serve(); });
}

MetricsServer::~MetricsServer() {
  stop_ = true;
  thread_.join();
  queue_cv_.notify_all();
  for (auto& h : handlers_) h.join();
  for (int client : queue_) close(client);
  close(fd_);
}

void MetricsServer::Serve() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (queue_.size() >= kHttpQueuedConnections) {
      close(client);  // Every handler busy and the queue full: no room for one more.
      continue;
    }
    queue_.push_back(client);
    queue_cv_.notify_one();
  }
}

void MetricsServer::Handle() {
  // OpenSSL writes with write(2), not send(MSG_NOSIGNAL): a client that hangs up mid-answer
  // must not raise SIGPIPE in the process. Blocked in this thread only (it is synchronous).
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  while (true) {
    int client;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      client = queue_.front();
      queue_.pop_front();
    }
    Answer(client);
    close(client);
  }
}

namespace {

// The value of the header `name` (lower case) in the request's head ("" if none); header names
// are case-insensitive.
std::string Header(const std::string& head, const std::string& name) {
  size_t at = head.find("\r\n");
  while (at != std::string::npos) {
    const size_t begin = at + 2, end = head.find("\r\n", begin);
    if (end == std::string::npos || end == begin) break;
    const std::string line = head.substr(begin, end - begin);
    const size_t colon = line.find(':');
    if (colon == name.size() && strncasecmp(line.c_str(), name.c_str(), colon) == 0) {
      const size_t value = line.find_first_not_of(" \t", colon + 1);
      return value == std::string::npos ? "" : line.substr(value);
    }
    at = end;
  }
  return "";
}

}  // namespace

void MetricsServer::Answer(int client) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const Clock::time_point request_by = start + std::chrono::seconds(kHttpRequestSeconds);
  const Clock::time_point done_by = start + std::chrono::seconds(kHttpConnectionSeconds);
  // Each read or write may block only until `by`: false once it has passed.
  auto bound = [&](int option, Clock::time_point by) {
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(by - Clock::now());
    if (left.count() <= 0) return false;
    timeval timeout{static_cast<time_t>(left.count() / 1000000),
                    static_cast<suseconds_t>(left.count() % 1000000)};
    setsockopt(client, SOL_SOCKET, option, &timeout, sizeof(timeout));
    return true;
  };
  bound(SO_RCVTIMEO, request_by);
  bound(SO_SNDTIMEO, request_by);
  // The connection's reads and writes: the socket's, or a TLS session's over it.
  std::unique_ptr<SSL, void (*)(SSL*)> ssl(nullptr, SSL_free);
  if (tls_) {
    ssl.reset(SSL_new(tls_->ctx));
    // The handshake without blocking, so that it too ends by request_by however slowly the
    // client sends its part.
    auto handshake = [&] {
      if (!ssl || SSL_set_fd(ssl.get(), client) != 1) return false;
      const int flags = fcntl(client, F_GETFL);
      fcntl(client, F_SETFL, flags | O_NONBLOCK);
      int done;
      while ((done = SSL_accept(ssl.get())) != 1) {
        const int why = SSL_get_error(ssl.get(), done);
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(request_by - Clock::now());
        if ((why != SSL_ERROR_WANT_READ && why != SSL_ERROR_WANT_WRITE) || left.count() <= 0) {
          return false;
        }
        pollfd p{client, static_cast<short>(why == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      }
      fcntl(client, F_SETFL, flags);
      return true;
    };
    if (!handshake()) {
      // Plain HTTP to this port, a client that does not trust the certificate, a timeout.
      SF_LOG(Debug) << "metrics: TLS handshake failed: " << TlsError();
      return;
    }
  }
  bool late = false;  // The request was not complete by request_by.
  auto read = [&](char* buf, size_t size) -> long {
    if (!bound(SO_RCVTIMEO, request_by)) {
      late = true;
      return -1;
    }
    const long n =
        ssl ? SSL_read(ssl.get(), buf, static_cast<int>(size)) : recv(client, buf, size, 0);
    if (n < 0 && Clock::now() >= request_by) late = true;
    return n;
  };
  auto write = [&](const char* buf, size_t size) -> long {
    if (!bound(SO_SNDTIMEO, done_by)) return -1;
    if (ssl) return SSL_write(ssl.get(), buf, static_cast<int>(size));
    return send(client, buf, size, MSG_NOSIGNAL);
  };
  std::string raw;
  char buf[1024];
  while (raw.find("\r\n\r\n") == std::string::npos && raw.size() < kMaxHttpHead) {
    const long n = read(buf, sizeof(buf));
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  const size_t head_end = raw.find("\r\n\r\n");
  // Through the last header's line end (npos: all of it).
  const std::string head = raw.substr(0, head_end == std::string::npos ? head_end : head_end + 2);
  const std::string line = head.substr(0, head.find("\r\n"));
  HttpRequest request;
  request.method = line.substr(0, line.find(' '));
  if (const size_t sp = line.find(' '); sp != std::string::npos) {
    request.path = line.substr(sp + 1, line.find(' ', sp + 1) - sp - 1);
  }
  request.authorization = Header(head, "authorization");
  request.origin = Header(head, "origin");
  request.host = Header(head, "host");
  request.content_type = Header(head, "content-type");
  HttpPage page;
  page.content_type = "text/plain; version=0.0.4; charset=utf-8";
  std::optional<HttpPage> refused;
  const bool post = request.method == "POST";
  long long length = 0;
  if (post) {
    const std::string declared = Header(head, "content-length");
    char* end = nullptr;
    length = std::strtoll(declared.c_str(), &end, 10);
    if (declared.empty() || *end != '\0' || length < 0) length = -1;
  }
  if (head_end == std::string::npos) {
    page.status = raw.size() >= kMaxHttpHead ? 431 : late ? 408 : 400;
    page.body = raw.size() >= kMaxHttpHead
                    ? "request headers larger than " + std::to_string(kMaxHttpHead) + " bytes\n"
                : late
                    ? "request not received within " + std::to_string(kHttpRequestSeconds) + " s\n"
                    : "incomplete request\n";
  } else if (request.method != "GET" && !(post && pages_ && request.path != "/metrics")) {
    page.status = 405;
    page.body = post && pages_ ? "/metrics: only GET\n"
                : pages_       ? "only GET and POST\n"
                               : "only GET\n";
  } else if (post && length < 0) {
    page.status = 411;
    page.body = "POST needs a Content-Length\n";
  } else if (post && static_cast<size_t>(length) > kMaxHttpBody) {
    page.status = 413;
    page.body = "request body larger than " + std::to_string(kMaxHttpBody) + " bytes\n";
  } else {
    request.body = raw.substr(head_end + 4);
    while (post && request.body.size() < static_cast<size_t>(length)) {
      const long n = read(buf, sizeof(buf));
      if (n <= 0) break;
      request.body.append(buf, static_cast<size_t>(n));
    }
    std::lock_guard<std::mutex> one_at_a_time(call_mu_);
    if (post && request.body.size() != static_cast<size_t>(length)) {
      page.status = late ? 408 : 400;
      page.body =
          late ? "request body not received within " + std::to_string(kHttpRequestSeconds) + " s\n"
               : "request body shorter or longer than its Content-Length\n";
    } else if (gate_ && (refused = gate_(request))) {
      page = std::move(*refused);
    } else if (!post && request.path == "/metrics") {
      page.body = render_();
    } else if (std::optional<HttpPage> answer = pages_ ? pages_(request) : std::nullopt) {
      page = std::move(*answer);
    } else {
      page.status = 404;
      page.body = "see /metrics\n";
    }
  }
  static const std::map<int, std::string> kReasons = {{200, "200 OK"},
                                                      {303, "303 See Other"},
                                                      {400, "400 Bad Request"},
                                                      {401, "401 Unauthorized"},
                                                      {403, "403 Forbidden"},
                                                      {404, "404 Not Found"},
                                                      {405, "405 Method Not Allowed"},
                                                      {408, "408 Request Timeout"},
                                                      {411, "411 Length Required"},
                                                      {413, "413 Content Too Large"},
                                                      {431, "431 Request Header Fields Too Large"},
                                                      {503, "503 Service Unavailable"}};
  auto reason = kReasons.find(page.status);
  const std::string status =
      reason != kReasons.end() ? reason->second : "500 Internal Server Error";
  if (status[0] != '2' && page.body.rfind("<!DOCTYPE", 0) != 0) {
    page.content_type = "text/plain; charset=utf-8";
  }
  std::string response = "HTTP/1.1 " + status + "\r\nContent-Type: " + page.content_type +
                         "\r\nContent-Length: " + std::to_string(page.body.size()) + "\r\n";
  for (const auto& [name, value] : page.headers) response += name + ": " + value + "\r\n";
  response += "Connection: close\r\n\r\n" + page.body;
  size_t sent = 0;
  while (sent < response.size()) {
    const long n = write(response.data() + sent, response.size() - sent);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  if (ssl) SSL_shutdown(ssl.get());  // close_notify: the answer is complete.
  ERR_clear_error();
}

StatusOr<std::unique_ptr<MetricsServer>> StartMetricsServer(const std::string& host_port,
                                                            const std::string& address_file,
                                                            std::function<std::string()> render,
                                                            PageHandler pages, RequestGate gate,
                                                            const HttpTls& tls) {
  if (host_port.empty()) return std::unique_ptr<MetricsServer>();
  const bool has_pages = static_cast<bool>(pages), gated = static_cast<bool>(gate);
  SF_ASSIGN_OR_RETURN(
      std::unique_ptr<MetricsServer> server,
      MetricsServer::Start(host_port, std::move(render), std::move(pages), std::move(gate), tls));
  const std::string bound = BoundAddress(host_port, server->port());
  const std::string scheme = tls.enabled() ? "https://" : "http://";
  SF_LOG(Info) << "metrics on " << scheme << bound << "/metrics"
               << (has_pages ? " (and pages at " + scheme + bound + "/)" : std::string())
               << (gated ? ", a token needed" : "");
  if (!address_file.empty()) SF_RETURN_IF_ERROR(WriteFileAtomically(address_file, bound + "\n"));
  return server;
}

}  // namespace sweepfarm
