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

// A connection from accept to answer: read without blocking by the server's loop, answered by a
// handler thread.
struct MetricsServer::Connection {
  int fd = -1;
  std::unique_ptr<SSL, void (*)(SSL*)> ssl{nullptr, SSL_free};
  bool handshaking = false;  // TLS: SSL_accept not finished.
  bool want_write = false;   // TLS: waiting until the socket can be written.
  std::string raw;           // The request's bytes so far.
  enum State { kOpen, kDone, kDrop } state = kOpen;  // kDone: to answer; kDrop: to close.
  bool late = false;                                 // Not complete by request_by: answered 408.
  Clock::time_point request_by, done_by;
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
  {
    // Under the lock: a handler between its check of stop_ and its wait cannot miss this.
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_cv_.notify_all();
  }
  for (auto& h : handlers_) h.join();
  for (auto& c : queue_) close(c->fd);
  close(fd_);
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

// A request head's Content-Length, or -1 if it has none or not a non-negative number.
long long ContentLength(const std::string& head) {
  const std::string declared = Header(head, "content-length");
  char* end = nullptr;
  const long long length = std::strtoll(declared.c_str(), &end, 10);
  return declared.empty() || *end != '\0' || length < 0 ? -1 : length;
}

// What a request needs before it can be answered: its head, and a POST's body (as long as its
// Content-Length says, if that is valid and within kMaxHttpBody); or it is too large already.
bool RequestComplete(const std::string& raw) {
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return raw.size() >= kMaxHttpHead;
  if (raw.compare(0, 5, "POST ") != 0) return true;
  const long long length = ContentLength(raw.substr(0, head_end + 2));
  if (length < 0 || length > static_cast<long long>(kMaxHttpBody)) {
    return true;  // Refused as it is (411, 413).
  }
  return raw.size() - head_end - 4 >= static_cast<size_t>(length);
}

}  // namespace

void MetricsServer::Serve() {
  // Every connection's handshake and request are read here, without blocking, each by its own
  // deadline; complete requests (and late ones, to answer 408) go to the handler threads.
  std::vector<std::unique_ptr<Connection>> open;
  std::vector<pollfd> fds;
  while (!stop_) {
    fds.assign(1, pollfd{fd_, POLLIN, 0});
    Clock::time_point next = Clock::now() + std::chrono::milliseconds(200);
    for (const auto& c : open) {
      fds.push_back(pollfd{c->fd, c->want_write ? short{POLLOUT} : short{POLLIN}, 0});
      next = std::min(next, c->request_by);
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now());
    poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(0, wait.count()) + 1));
    const Clock::time_point now = Clock::now();
    std::vector<std::unique_ptr<Connection>> still_open;
    for (size_t i = 0; i < open.size(); ++i) {
      auto& c = open[i];
      const bool ready = (fds[i + 1].revents & (POLLIN | POLLOUT | POLLERR | POLLHUP)) != 0;
      if (ready) Progress(*c);
      if (c->state == Connection::kOpen && now >= c->request_by) {
        // Out of time: a handshake that never finished is closed unanswered, a request 408.
        c->state = c->handshaking ? Connection::kDrop : Connection::kDone;
        c->late = true;
      }
      if (c->state == Connection::kOpen) {
        still_open.push_back(std::move(c));
      } else if (c->state == Connection::kDrop) {
        close(c->fd);
      } else {
        std::lock_guard<std::mutex> lock(queue_mu_);
        queue_.push_back(std::move(c));
        queue_cv_.notify_one();
      }
    }
    open = std::move(still_open);
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) continue;
    size_t waiting;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      waiting = queue_.size();
    }
    if (open.size() + waiting >= kHttpOpenConnections) {
      close(client);  // No room for one more: closed before anything is read.
      continue;
    }
    auto c = std::make_unique<Connection>();
    c->fd = client;
    c->request_by = now + std::chrono::seconds(kHttpRequestSeconds);
    c->done_by = now + std::chrono::seconds(kHttpConnectionSeconds);
    if (tls_) {
      c->ssl.reset(SSL_new(tls_->ctx));
      if (!c->ssl || SSL_set_fd(c->ssl.get(), client) != 1) {
        close(client);
        continue;
      }
      c->handshaking = true;
    }
    open.push_back(std::move(c));  // Read from the next poll on, as every other connection.
  }
  for (auto& c : open) close(c->fd);
}

void MetricsServer::Progress(Connection& c) {
  c.want_write = false;
  if (c.handshaking) {
    const int done = SSL_accept(c.ssl.get());
    if (done != 1) {
      const int why = SSL_get_error(c.ssl.get(), done);
      if (why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE) {
        c.want_write = why == SSL_ERROR_WANT_WRITE;
        return;
      }
      // Plain HTTP to this port, a client that does not trust the certificate.
      SF_LOG(Debug) << "metrics: TLS handshake failed: " << TlsError();
      c.state = Connection::kDrop;
      return;
    }
    c.handshaking = false;
  }
  char buf[4096];
  while (!RequestComplete(c.raw)) {
    long n;
    if (c.ssl) {
      n = SSL_read(c.ssl.get(), buf, sizeof(buf));
      if (n <= 0) {
        const int why = SSL_get_error(c.ssl.get(), static_cast<int>(n));
        if (why == SSL_ERROR_WANT_READ || why == SSL_ERROR_WANT_WRITE) {
          c.want_write = why == SSL_ERROR_WANT_WRITE;
          return;
        }
        ERR_clear_error();
      }
    } else {
      n = recv(c.fd, buf, sizeof(buf), 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    }
    if (n <= 0) break;  // The client stopped sending: answer what there is (400).
    c.raw.append(buf, static_cast<size_t>(n));
  }
  c.state = Connection::kDone;
}

void MetricsServer::Handle() {
  // OpenSSL writes with write(2), not send(MSG_NOSIGNAL): a client that hangs up mid-answer
  // must not raise SIGPIPE in the process. Blocked in this thread only (it is synchronous).
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  while (true) {
    std::unique_ptr<Connection> c;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      c = std::move(queue_.front());
      queue_.pop_front();
    }
    Respond(*c);
    close(c->fd);
  }
}

void MetricsServer::Respond(Connection& c) {
  const std::string& raw = c.raw;
  const bool late = c.late;
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
  const long long length = post ? ContentLength(head) : 0;
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
  // Blocking writes from here, each bounded by what is left of the connection's time.
  fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) & ~O_NONBLOCK);
  size_t sent = 0;
  while (sent < response.size()) {
    const auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(c.done_by - Clock::now());
    if (left.count() <= 0) break;
    timeval timeout{static_cast<time_t>(left.count() / 1000000),
                    static_cast<suseconds_t>(left.count() % 1000000)};
    setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    const long n = c.ssl ? SSL_write(c.ssl.get(), response.data() + sent,
                                     static_cast<int>(response.size() - sent))
                         : send(c.fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  if (c.ssl) SSL_shutdown(c.ssl.get());  // close_notify: the answer is complete.
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
