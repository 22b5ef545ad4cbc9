// Transport security of the farm's gRPC, shared by the coordinator and its clients (workers,
// sweepctl, sweepfarm-predict): TLS on the coordinator's port (its certificate and key; clients
// verify it against a CA they are given) and bearer tokens that every call must carry, each
// optionally naming its holder and a role that limits the RPCs it may call. TLS and tokens are
// optional and independent; docs/design.md says what each protects against.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/flags.h"
#include "common/metrics_server.h"
#include "common/status.h"

namespace sweepfarm {

// What a token may call. kAdmin: everything. kOperator: everything but the worker RPCs (submit,
// cancel, prioritise, prune, publish, move aliases, import and grow data, label, and every
// read). kWorker: the worker RPCs (register, lease, heartbeat, report, release, upload, fetch
// checkpoints and data sets). kReader: reads only (sweep status, trials, sweeps, workers,
// ensembles, models, versions, data sets, predictions). kLabeller: a reader's reads and labelling
// predictions (LabelPrediction; the dashboard's form). kServe: what sweepfarm-serve needs (load
// models, record the predictions it answered).
enum class Role { kAdmin, kOperator, kWorker, kReader, kLabeller, kServe };

const char* RoleName(Role role);
// What RoleAllows calls the HTTP pages (Prometheus metrics, the dashboard): a reader's.
inline constexpr char kHttpPages[] = "GET (metrics, dashboard)";
// The dashboard's one form that writes: a prediction's label (a labeller's, as LabelPrediction).
inline constexpr char kHttpLabel[] = "POST (label a prediction)";
// Whether `role` may call the RPC named `rpc` (its method name, e.g. "SetAlias"). An RPC on
// neither the worker nor the reader list is for operators and admins only.
bool RoleAllows(Role role, const std::string& rpc);

// One line of a token file: "TOKEN", or "TOKEN NAME ROLE". A bare token is an unnamed admin.
struct Credential {
  std::string token;
  std::string name;  // Who holds it; recorded as the actor of registry moves. Empty: unnamed.
  Role role = Role::kAdmin;
};

struct TransportSecurity {
  std::string cert_pem;  // Server: its certificate chain (PEM); with key_pem, it serves TLS.
  std::string key_pem;   // Server: the certificate's private key (PEM).
  std::string ca_pem;    // Client: connect with TLS, trusting certificates this CA signed.
  // The tokens, one per line of --auth-token-file ("#" starts a comment). A client sends the
  // first; the server accepts any, each with its role (to rotate: add the new token to the
  // server's file, move the clients to it, then remove the old). Empty: calls carry none
  // (client), none needed (server).
  std::vector<Credential> tokens;
};

// kServerAndClient: a server that also calls the coordinator (sweepfarm-serve). Its token file
// works both ways: it sends the first token and accepts any.
enum class SecurityRole { kServer, kClient, kServerAndClient };

// Declares --tls-cert and --tls-key (server) and --tls-ca (client), and --auth-token-file.
void DefineSecurityFlags(Flags* flags, SecurityRole role);

// Reads the files the flags name. Errors name the flag and the file (and the line of a bad
// token): unreadable, not PEM, a certificate without its key, no token, a token shorter than 16
// characters, a line that is neither TOKEN nor TOKEN NAME ROLE, an unknown role, a name with
// characters other than letters, digits and . _ @ -, or a token listed twice.
StatusOr<TransportSecurity> LoadTransportSecurity(const Flags& flags, SecurityRole role);

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TransportSecurity& security);

// True for addresses only this machine can reach: 127.0.0.0/8, [::1], localhost, unix:PATH.
// "0.0.0.0:P", "[::]:P", ":P" and every other host are reachable beyond it.
bool IsLoopback(const std::string& address);

// A server's exposure (--listen, --metrics-listen): OK where each is loopback or guarded: --listen
// by TLS (--tls-cert) and tokens (--auth-token-file), --metrics-listen by --metrics-auth and
// --metrics-tls. Otherwise INVALID_ARGUMENT naming the flag and what to add, unless --insecure is
// given: then OK, and `warnings` gets what is exposed (log it at every start).
Status CheckExposure(const Flags& flags, const TransportSecurity& security,
                     std::vector<std::string>* warnings);

// A server's --metrics-auth: the gate of its metrics server (TokenCheck::AdmitHttp with the
// tokens), or none without the flag. INVALID_ARGUMENT if the flag is set without tokens or
// without --metrics-listen.
StatusOr<RequestGate> MetricsGate(const Flags& flags, const TransportSecurity& security);

// A server's --metrics-tls: the certificate and key of --tls-cert and --tls-key for its metrics
// server (HTTPS only), or none (plain HTTP) without the flag. INVALID_ARGUMENT if the flag is set
// without --tls-cert or without --metrics-listen.
StatusOr<HttpTls> MetricsTls(const Flags& flags, const TransportSecurity& security);

// A channel to `address`: TLS when ca_pem is set, and with tokens every call on it carries
// "authorization: Bearer TOKEN" with the first.
std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address,
                                           const TransportSecurity& security,
                                           const grpc::ChannelArguments& args);

// Server side: admits a call if it carries one of the tokens and that token's role allows the
// RPC (every call, when there are no tokens). Thread-safe.
class TokenCheck {
 public:
  explicit TokenCheck(std::vector<Credential> tokens = {});
  // OK, UNAUTHENTICATED naming `rpc` (no token, or a wrong one), or PERMISSION_DENIED naming
  // `rpc`, the token's holder and role; never a token. On OK, `caller` (if given) is set to the
  // holder's name ("" for an unnamed token or when no tokens are needed).
  grpc::Status Admit(const grpc::ServerContext* ctx, const char* rpc,
                     std::string* caller = nullptr) const;

  // The HTTP side (--metrics-auth: Prometheus metrics, the dashboard): admits a request whose
  // Authorization header carries one of the tokens, as "Bearer TOKEN" (Prometheus'
  // `authorization`) or by HTTP basic auth with the token as password (a browser's prompt; the
  // user name is not checked), if its role may: a GET read (admin, operator, reader,
  // labeller), a POST label a prediction (admin, operator, labeller). Else the refusal: 401 with
  // WWW-Authenticate (no token, a wrong one) or 403 naming the holder and role; never a token.
  // Admits every request when there are no tokens.
  std::optional<HttpPage> AdmitHttp(const HttpRequest& request) const;

  // The credential an Authorization header (Bearer, or basic auth) carries; null if none.
  const Credential* HolderOf(const std::string& authorization) const;
  bool empty() const { return tokens_.empty(); }

 private:
  // The credential whose token `sent` is, comparing its digest with every one's in constant
  // time; or null.
  const Credential* Match(grpc::string_ref sent) const;

  std::vector<Credential> tokens_;
  std::vector<std::string> digests_;  // SHA-256 (hex) of each token, in the order of tokens_.
};

// The actor a registry move records: the authenticated holder's name if there is one, with what
// the client says of itself (e.g. "alice via root@host (sweepctl)"), else the client's words,
// else `fallback`.
std::string AuditActor(const std::string& caller, const std::string& claimed,
                       const std::string& fallback);

}  // namespace sweepfarm
