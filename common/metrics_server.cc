#include "common/metrics_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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

namespace {

// OpenSSL's oldest queued error, in words ("" if none); clears the queue.
std::string TlsError() {
  char buf[256] = "";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

// OK if `tls` can serve: its certificate chain (the first PEM block the certificate, the rest
// its chain) and key can be read and match. Checked with OpenSSL, which says what is wrong
// (libmicrohttpd's GnuTLS would only refuse to start).
Status CheckTls(const HttpTls& tls) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return InternalError("metrics TLS: " + TlsError());
  auto fail = [&](const std::string& what) {
    SSL_CTX_free(ctx);
    return InvalidArgumentError("--metrics-tls: " + what + ": " + TlsError());
  };
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
  SSL_CTX_free(ctx);
  return OkStatus();
}

// The value of the request header `name` ("" if absent).
std::string Header(MHD_Connection* connection, const char* name) {
  const char* value = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
  return value == nullptr ? "" : value;
}

// A POST's Content-Length, or -1 if it has none or not a non-negative number.
long long ContentLength(MHD_Connection* connection) {
  const std::string declared = Header(connection, MHD_HTTP_HEADER_CONTENT_LENGTH);
  char* end = nullptr;
  const long long length = std::strtoll(declared.c_str(), &end, 10);
  return declared.empty() || *end != '\0' || length < 0 ? -1 : length;
}

HttpPage PlainPage(int status, std::string body) {
  HttpPage page;
  page.status = status;
  page.body = std::move(body);
  return page;
}

// Sends `page`; the connection closes after it.
MHD_Result Send(MHD_Connection* connection, const HttpPage& page) {
  MHD_Response* response = MHD_create_response_from_buffer(
      page.body.size(), const_cast<char*>(page.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  const bool html = page.body.rfind("<!DOCTYPE", 0) == 0;
  const std::string type =
      page.status / 100 != 2 && !html ? "text/plain; charset=utf-8" : page.content_type;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type.c_str());
  for (const auto& [name, value] : page.headers) {
    MHD_add_response_header(response, name.c_str(), value.c_str());
  }
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
  const MHD_Result queued = MHD_queue_response(connection, page.status, response);
  MHD_destroy_response(response);
  return queued;
}

}  // namespace

// libmicrohttpd calls these with the server as `cls`.
struct MetricsServer::Calls {
  static void Log(void*, const char* format, va_list args) {
    char line[512];
    std::vsnprintf(line, sizeof(line), format, args);
    std::string text = line;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    SF_LOG(Debug) << "metrics server: " << text;
  }

  // A connection accepted (before any TLS handshake) or closed.
  static void Notify(void* cls, MHD_Connection* connection, void**,
                     MHD_ConnectionNotificationCode code) {
    auto* server = static_cast<MetricsServer*>(cls);
    std::lock_guard<std::mutex> lock(server->open_mu_);
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
      server->open_.erase(connection);  // Before libmicrohttpd closes its socket.
      return;
    }
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    Open& open = server->open_[connection];
    open.fd = info == nullptr ? -1 : info->connect_fd;
    const Clock::time_point now = Clock::now();
    open.request_by = now + std::chrono::seconds(kHttpRequestSeconds);
    open.done_by = now + std::chrono::seconds(kHttpConnectionSeconds);
  }

  // The request line has arrived: keeps the URI as sent (libmicrohttpd hands the access call
  // the path decoded and without its query string).
  static void* Uri(void* cls, const char* uri, MHD_Connection* connection) {
    auto* server = static_cast<MetricsServer*>(cls);
    std::lock_guard<std::mutex> lock(server->open_mu_);
    if (auto it = server->open_.find(connection); it != server->open_.end()) it->second.uri = uri;
    return nullptr;
  }

  // Called when the head has arrived (`*state` null), for each piece of a body, and once the
  // request is complete (`*upload_size` 0).
  static MHD_Result Access(void* cls, MHD_Connection* connection, const char* url,
                           const char* method, const char*, const char* upload, size_t* upload_size,
                           void** state) {
    auto* server = static_cast<MetricsServer*>(cls);
    const bool post = std::strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (*state == nullptr) {
      *state = server;  // Seen.
      if (std::strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
          !(post && server->pages_ && std::strcmp(url, "/metrics") != 0)) {
        return Send(connection, PlainPage(405, post && server->pages_ ? "/metrics: only GET\n"
                                               : server->pages_       ? "only GET and POST\n"
                                                                      : "only GET\n"));
      }
      const long long length = post ? ContentLength(connection) : 0;
      if (length < 0) return Send(connection, PlainPage(411, "POST needs a Content-Length\n"));
      if (static_cast<size_t>(length) > kMaxHttpBody) {
        return Send(connection, PlainPage(413, "request body larger than " +
                                                   std::to_string(kMaxHttpBody) + " bytes\n"));
      }
      return MHD_YES;
    }
    HttpRequest request;
    {
      std::lock_guard<std::mutex> lock(server->open_mu_);
      auto it = server->open_.find(connection);
      if (it == server->open_.end()) return MHD_NO;
      Open& open = it->second;
      if (*upload_size > 0) {  // Within the Content-Length checked above.
        open.body.append(upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
      }
      open.requested = true;
      request.path = open.uri.empty() ? url : open.uri;
      request.body = std::move(open.body);
    }
    request.method = method;
    request.authorization = Header(connection, MHD_HTTP_HEADER_AUTHORIZATION);
    request.origin = Header(connection, "Origin");
    request.host = Header(connection, MHD_HTTP_HEADER_HOST);
    request.content_type = Header(connection, MHD_HTTP_HEADER_CONTENT_TYPE);
    return Send(connection, server->Answer(request));
  }
};

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
  if (tls.enabled()) SF_RETURN_IF_ERROR(CheckTls(tls));
  // Bound here, not by libmicrohttpd, so a port in use is an error that says so (and port 0
  // tells which port it got).
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return InternalError(std::string("metrics socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 128) != 0) {
    std::string why = std::strerror(errno);
    close(fd);
    return UnavailableError("--metrics-listen: cannot listen on " + host_port + ": " + why);
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::unique_ptr<MetricsServer> server(new MetricsServer(
      ntohs(addr.sin_port), tls.enabled(), std::move(render), std::move(pages), std::move(gate)));
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
  if (tls.enabled()) flags |= MHD_USE_TLS;
  // Options after the TLS ones are cut off by MHD_OPTION_END when there is no TLS.
  const int tls_or_end = tls.enabled() ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END;
  server->daemon_ = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &Calls::Access, server.get(), MHD_OPTION_LISTEN_SOCKET, fd,
      MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned>(kHttpConnectionThreads),
      MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned>(kHttpOpenConnections),
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(kHttpRequestSeconds),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(kHttpConnectionMemory),
      MHD_OPTION_EXTERNAL_LOGGER, &Calls::Log, nullptr, MHD_OPTION_NOTIFY_CONNECTION,
      &Calls::Notify, server.get(), MHD_OPTION_URI_LOG_CALLBACK, &Calls::Uri, server.get(),
      tls_or_end, tls.cert_pem.c_str(), MHD_OPTION_HTTPS_MEM_KEY, tls.key_pem.c_str(),
      MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    close(fd);
    return InternalError("--metrics-listen: the HTTP server (libmicrohttpd) did not start on " +
                         host_port);
  }
  return server;
}

MetricsServer::MetricsServer(int port, bool tls, std::function<std::string()> render,
                             PageHandler pages, RequestGate gate)
    : port_(port),
      tls_(tls),
      render_(std::move(render)),
      pages_(std::move(pages)),
      gate_(std::move(gate)) {
  watchdog_ = std::thread([this] { Watch(); });
}

MetricsServer::~MetricsServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);  // Closes every connection and the port.
  {
    std::lock_guard<std::mutex> lock(open_mu_);
    stop_ = true;
    stop_cv_.notify_all();
  }
  watchdog_.join();
}

void MetricsServer::Watch() {
  std::unique_lock<std::mutex> lock(open_mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(100));
    const Clock::time_point now = Clock::now();
    for (auto& [connection, open] : open_) {
      if (open.cut || open.fd < 0) continue;
      if ((!open.requested && now >= open.request_by) || now >= open.done_by) {
        // libmicrohttpd sees the end of the stream and closes it; the socket is still its
        // own: it is closed only after its entry here is erased, under this lock.
        shutdown(open.fd, SHUT_RDWR);
        open.cut = true;
      }
    }
  }
}

HttpPage MetricsServer::Answer(const HttpRequest& request) {
  std::lock_guard<std::mutex> one_at_a_time(call_mu_);
  if (gate_) {
    if (std::optional<HttpPage> refused = gate_(request)) return std::move(*refused);
  }
  if (request.method == "GET" && request.path == "/metrics") {
    HttpPage page;
    page.content_type = "text/plain; version=0.0.4; charset=utf-8";
    page.body = render_();
    return page;
  }
  if (std::optional<HttpPage> answer = pages_ ? pages_(request) : std::nullopt) {
    return std::move(*answer);
  }
  return PlainPage(404, "see /metrics\n");
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
