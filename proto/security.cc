#include "proto/security.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "common/logging.h"
#include "common/sha256.h"

namespace sweepfarm {
namespace {

constexpr size_t kMinTokenLength = 16;

StatusOr<std::string> ReadFlagFile(const Flags& flags, const std::string& flag) {
  const std::string path = flags.Get(flag);
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  if (!in || !(ss << in.rdbuf())) {
    return InvalidArgumentError("--" + flag + " " + path + ": cannot read the file");
  }
  return ss.str();
}

StatusOr<std::string> ReadPem(const Flags& flags, const std::string& flag,
                              const std::string& what) {
  SF_ASSIGN_OR_RETURN(std::string pem, ReadFlagFile(flags, flag));
  if (pem.find("-----BEGIN ") == std::string::npos) {
    return InvalidArgumentError("--" + flag + " " + flags.Get(flag) + ": not a PEM file (" + what +
                                ")");
  }
  return pem;
}

// Adds "authorization: Bearer TOKEN" to every call's initial metadata.
class TokenInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->emplace("authorization", *header_);
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class TokenInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(const std::string& token) : header_("Bearer " + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new TokenInterceptor(&header_);
  }

 private:
  const std::string header_;  // Lives as long as the channel, which owns the factory.
};

// Compares two SHA-256 digests (64 hex digits each) in time independent of where they differ:
// comparing the digests of secrets, not the secrets, leaks neither content nor length.
bool SameDigest(const std::string& a, const std::string& b) {
  unsigned char diff = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

// RFC 4648 base64 (padding optional); nullopt for any other character.
std::optional<std::string> DecodeBase64(const std::string& text) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '=') --end;
  for (size_t i = 0; i < end; ++i) {
    const char c = text[i];
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return std::nullopt;
    }
    bits = (bits << 6) | static_cast<uint32_t>(v);
    if ((count += 6) >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

}  // namespace

void DefineSecurityFlags(Flags* flags, SecurityRole role) {
  if (role != SecurityRole::kClient) {
    flags->Define("tls-cert", "", "serve TLS with this certificate chain (PEM; with --tls-key)")
        .Define("tls-key", "", "the private key of --tls-cert (PEM)")
        .DefineBool("metrics-auth",
                    "also require one of --auth-token-file's tokens (role reader or above) on "
                    "--metrics-listen's pages: Authorization: Bearer TOKEN, or HTTP basic auth "
                    "with the token as password")
        .DefineBool("metrics-tls",
                    "serve --metrics-listen's pages over HTTPS only, with --tls-cert and "
                    "--tls-key")
        .DefineBool("insecure",
                    "listen beyond loopback without TLS and tokens (refused otherwise): anyone "
                    "who can reach the port may call it; warned at every start");
  }
  if (role != SecurityRole::kServer) {
    flags->Define("tls-ca", "",
                  "connect with TLS, trusting the coordinator's certificate if this CA (PEM) "
                  "signed it");
  }
  flags->Define("auth-token-file", "",
                role == SecurityRole::kServer
                    ? "refuse calls that do not carry the token in this file (UNAUTHENTICATED)"
                : role == SecurityRole::kClient
                    ? "send the token in this file with every call"
                    : "send the first token in this file with every call, and refuse calls "
                      "that carry none of its tokens");
}

StatusOr<TransportSecurity> LoadTransportSecurity(const Flags& flags, SecurityRole role) {
  TransportSecurity s;
  if (role != SecurityRole::kClient) {
    if (flags.Get("tls-cert").empty() != flags.Get("tls-key").empty()) {
      return InvalidArgumentError("--tls-cert and --tls-key go together");
    }
    if (!flags.Get("tls-cert").empty()) {
      SF_ASSIGN_OR_RETURN(s.cert_pem, ReadPem(flags, "tls-cert", "a certificate chain"));
      SF_ASSIGN_OR_RETURN(s.key_pem, ReadPem(flags, "tls-key", "a private key"));
    }
  }
  if (role != SecurityRole::kServer && !flags.Get("tls-ca").empty()) {
    SF_ASSIGN_OR_RETURN(s.ca_pem, ReadPem(flags, "tls-ca", "a CA certificate"));
  }
  if (!flags.Get("auth-token-file").empty()) {
    const std::string path = flags.Get("auth-token-file");
    SF_ASSIGN_OR_RETURN(std::string text, ReadFlagFile(flags, "auth-token-file"));
    std::istringstream lines(text);
    int n = 0;
    for (std::string line; std::getline(lines, line);) {
      ++n;
      const std::string where = "--auth-token-file " + path + ":" + std::to_string(n) + ": ";
      if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
      std::istringstream words(line);
      std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
      if (w.empty()) continue;
      if (w.size() != 1 && w.size() != 3) {
        return InvalidArgumentError(where + "expected TOKEN or TOKEN NAME ROLE, found " +
                                    std::to_string(w.size()) + " fields");
      }
      Credential c;
      c.token = w[0];
      if (c.token.size() < kMinTokenLength) {
        return InvalidArgumentError(where + "a token must be at least " +
                                    std::to_string(kMinTokenLength) +
                                    " characters (e.g. openssl rand -hex 32)");
      }
      if (w.size() == 3) {
        c.name = w[1];
        if (c.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789._@-") != std::string::npos) {
          return InvalidArgumentError(where + "name \"" + c.name +
                                      "\": letters, digits and . _ @ - only");
        }
        bool known = false;
        for (Role r : {Role::kAdmin, Role::kOperator, Role::kWorker, Role::kReader, Role::kLabeller,
                       Role::kServe}) {
          if (w[2] == RoleName(r)) {
            c.role = r;
            known = true;
          }
        }
        if (!known) {
          return InvalidArgumentError(
              where + "role \"" + w[2] +
              "\" is not one of admin, operator, worker, reader, labeller, serve");
        }
      }
      for (const Credential& other : s.tokens) {
        if (other.token == c.token) return InvalidArgumentError(where + "a token listed twice");
      }
      s.tokens.push_back(std::move(c));
    }
    if (s.tokens.empty()) {
      return InvalidArgumentError("--auth-token-file " + path + ": no token in the file");
    }
  }
  return s;
}

bool IsLoopback(const std::string& address) {
  if (address.rfind("unix:", 0) == 0) return true;
  const size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon == std::string::npos ? address.size() : colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost" || host == "::1") return true;
  // 127.0.0.0/8, written as four decimal parts.
  unsigned a, b, c, d;
  char end;
  return std::sscanf(host.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &end) == 4 && a == 127 &&
         b < 256 && c < 256 && d < 256;
}

Status CheckExposure(const Flags& flags, const TransportSecurity& security,
                     std::vector<std::string>* warnings) {
  std::vector<std::string> exposed;
  const std::string listen = flags.Get("listen");
  if (!IsLoopback(listen) && (security.cert_pem.empty() || security.tokens.empty())) {
    exposed.push_back("--listen " + listen +
                      " is reachable beyond this machine: give --tls-cert and --tls-key, and "
                      "--auth-token-file");
  }
  const std::string metrics = flags.Get("metrics-listen");
  if (!metrics.empty() && !IsLoopback(metrics) &&
      !(flags.GetBool("metrics-auth") && flags.GetBool("metrics-tls"))) {
    exposed.push_back("--metrics-listen " + metrics +
                      " is reachable beyond this machine: give --metrics-auth and --metrics-tls");
  }
  if (exposed.empty()) return OkStatus();
  if (!flags.GetBool("insecure")) {
    std::string message;
    for (const auto& e : exposed) message += (message.empty() ? "" : "; ") + e;
    return InvalidArgumentError(message + " (or --insecure, to let anyone who reaches it call it)");
  }
  for (const auto& e : exposed) {
    warnings->push_back("--insecure: " + e.substr(0, e.find(" is reachable")) +
                        " serves without TLS and tokens: anyone who reaches it may call it");
  }
  return OkStatus();
}

StatusOr<RequestGate> MetricsGate(const Flags& flags, const TransportSecurity& security) {
  if (!flags.GetBool("metrics-auth")) return RequestGate();
  if (security.tokens.empty() || flags.Get("metrics-listen").empty()) {
    return InvalidArgumentError(
        "--metrics-auth: needs --metrics-listen and --auth-token-file (the tokens it checks)");
  }
  if (!flags.GetBool("metrics-tls")) {
    SF_LOG(Warning) << "--metrics-auth without --metrics-tls: tokens reach the metrics port in "
                       "the clear, so give its readers (Prometheus, browsers) a reader token, "
                       "or add --metrics-tls";
  }
  TokenCheck check(security.tokens);
  return RequestGate([check](const HttpRequest& request) { return check.AdmitHttp(request); });
}

StatusOr<HttpTls> MetricsTls(const Flags& flags, const TransportSecurity& security) {
  if (!flags.GetBool("metrics-tls")) return HttpTls();
  if (security.cert_pem.empty() || flags.Get("metrics-listen").empty()) {
    return InvalidArgumentError(
        "--metrics-tls: needs --metrics-listen, and --tls-cert and --tls-key (the certificate "
        "it serves)");
  }
  return HttpTls{security.cert_pem, security.key_pem};
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TransportSecurity& security) {
  if (security.cert_pem.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({security.key_pem, security.cert_pem});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address,
                                           const TransportSecurity& security,
                                           const grpc::ChannelArguments& args) {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!security.ca_pem.empty()) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = security.ca_pem;
    creds = grpc::SslCredentials(options);
  }
  if (security.tokens.empty()) return grpc::CreateCustomChannel(address, creds, args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<TokenInterceptorFactory>(security.tokens.front().token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(address, creds, args,
                                                                 std::move(factories));
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAdmin:
      return "admin";
    case Role::kOperator:
      return "operator";
    case Role::kWorker:
      return "worker";
    case Role::kReader:
      return "reader";
    case Role::kLabeller:
      return "labeller";
    case Role::kServe:
      return "serve";
  }
  return "?";
}

bool RoleAllows(Role role, const std::string& rpc) {
  static const std::set<std::string> kWorker = {"RegisterWorker", "LeaseWork",     "Heartbeat",
                                                "ReportResults",  "ReleaseLeases", "UploadArtifact",
                                                "GetCheckpoint",  "FetchDataset"};
  static const std::set<std::string> kReader = {
      "GetSweepStatus", "ListTrials",      "ListSweeps",   "ListWorkers",  "BuildEnsemble",
      "GetModel",       "Predict",         "ListVersions", "ListDatasets", "GetDataset",
      "ExportDataset",  "ListPredictions", kHttpPages};
  static const std::set<std::string> kServe = {"GetModel", "RecordPredictions"};
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kOperator:
      return kWorker.count(rpc) == 0;
    case Role::kWorker:
      return kWorker.count(rpc) > 0;
    case Role::kReader:
      return kReader.count(rpc) > 0;
    case Role::kLabeller:
      return kReader.count(rpc) > 0 || rpc == "LabelPrediction" || rpc == kHttpLabel;
    case Role::kServe:
      return kServe.count(rpc) > 0;
  }
  return false;
}

TokenCheck::TokenCheck(std::vector<Credential> tokens) : tokens_(std::move(tokens)) {
  for (const auto& t : tokens_) digests_.push_back(Sha256Hex(t.token));
}

const Credential* TokenCheck::Match(grpc::string_ref sent) const {
  Sha256 hash;
  hash.Update(sent.data(), sent.size());
  const std::string digest = hash.HexDigest();
  const Credential* match = nullptr;
  for (size_t i = 0; i < tokens_.size(); ++i) {  // Every one: no early exit.
    if (SameDigest(digest, digests_[i])) match = &tokens_[i];
  }
  return match;
}

grpc::Status TokenCheck::Admit(const grpc::ServerContext* ctx, const char* rpc,
                               std::string* caller) const {
  if (caller != nullptr) caller->clear();
  if (tokens_.empty()) return grpc::Status::OK;
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  const std::string prefix = "Bearer ";
  if (it != md.end() && it->second.starts_with(prefix)) {
    if (const Credential* match = Match(grpc::string_ref(it->second.data() + prefix.size(),
                                                         it->second.size() - prefix.size()))) {
      if (!RoleAllows(match->role, rpc)) {
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                            std::string(rpc) + ": the token of " +
                                (match->name.empty() ? "an unnamed holder" : match->name) +
                                " (role " + RoleName(match->role) + ") may not call it");
      }
      if (caller != nullptr) *caller = match->name;
      return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      std::string(rpc) + ": " +
                          (it == md.end() ? "no authorization token (--auth-token-file)"
                                          : "wrong authorization token"));
}

const Credential* TokenCheck::HolderOf(const std::string& authorization) const {
  std::optional<std::string> sent;
  if (authorization.rfind("Bearer ", 0) == 0) {
    sent = authorization.substr(7);
  } else if (authorization.rfind("Basic ", 0) == 0) {
    // user:password, the token the password; the user name is not checked.
    if (auto pair = DecodeBase64(authorization.substr(6))) {
      if (const size_t colon = pair->find(':'); colon != std::string::npos) {
        sent = pair->substr(colon + 1);
      }
    }
  }
  return sent ? Match(*sent) : nullptr;
}

std::optional<HttpPage> TokenCheck::AdmitHttp(const HttpRequest& request) const {
  if (tokens_.empty()) return std::nullopt;
  const std::string& path = request.path;
  const std::string& authorization = request.authorization;
  const Credential* match = HolderOf(authorization);
  HttpPage page;
  page.content_type = "text/plain; charset=utf-8";
  if (match == nullptr) {
    page.status = 401;
    page.headers.emplace_back("WWW-Authenticate", "Basic realm=\"sweepfarm\", charset=\"UTF-8\"");
    page.body = request.method + " " + path + ": " +
                (authorization.empty()
                     ? std::string("no authorization token (send Authorization: Bearer TOKEN, or "
                                   "HTTP basic auth with the token as password)")
                     : std::string("wrong authorization token")) +
                "\n";
    return page;
  }
  const bool post = request.method == "POST";
  if (!RoleAllows(match->role, post ? kHttpLabel : kHttpPages)) {
    page.status = 403;
    page.body = request.method + " " + path + ": the token of " +
                (match->name.empty() ? "an unnamed holder" : match->name) + " (role " +
                RoleName(match->role) + ") may not " +
                (post ? "label predictions" : "read these pages") + "\n";
    return page;
  }
  return std::nullopt;
}

std::string AuditActor(const std::string& caller, const std::string& claimed,
                       const std::string& fallback) {
  if (caller.empty()) return claimed.empty() ? fallback : claimed;
  return claimed.empty() ? caller : caller + " via " + claimed;
}

}  // namespace sweepfarm
