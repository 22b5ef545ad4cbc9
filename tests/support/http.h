// HTTP clients for the tests of the metrics and dashboard port: plain, and HTTPS (--metrics-tls)
// with a self-signed certificate made in memory and verified before anything is sent.
#pragma once

#include <string>

namespace sweepfarm::testing {

// Sends `request` (e.g. "GET /metrics HTTP/1.1\r\n\r\n") to HOST:PORT over TCP and returns the
// whole response, or "" if it could not connect.
std::string HttpExchange(const std::string& host_port, const std::string& request);

struct SelfSigned {
  std::string cert_pem;
  std::string key_pem;
};

// A P-256 key and a certificate for it, valid for a day, naming 127.0.0.1 and localhost.
SelfSigned MakeSelfSigned(const std::string& common_name);

// Sends `request` over TLS to `host_port` (IPv4) and returns the whole answer, or "" if the
// connection or the handshake fails: the server's certificate must be `trusted_pem` (or signed
// by it) and name the IP address. `error` (if given) says why it failed.
std::string HttpsExchange(const std::string& host_port, const std::string& request,
                          const std::string& trusted_pem, std::string* error = nullptr);

}  // namespace sweepfarm::testing
