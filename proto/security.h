// Transport security of the farm's gRPC, shared by the coordinator and its clients (workers,
// sweepctl, sweepfarm-predict): TLS on the coordinator's port (its certificate and key; clients
// verify it against a CA they are given) and a shared bearer token that every call must carry.
// Both are optional and independent; docs/design.md says what each protects against.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "common/flags.h"
#include "common/status.h"

namespace sweepfarm {

struct TransportSecurity {
  std::string cert_pem;  // Server: its certificate chain (PEM); with key_pem, it serves TLS.
  std::string key_pem;   // Server: the certificate's private key (PEM).
  std::string ca_pem;    // Client: connect with TLS, trusting certificates this CA signed.
  // The shared tokens, one per line of --auth-token-file. A client sends the first; the server
  // accepts any (to rotate: add the new token to the server's file, move the clients to it,
  // then remove the old). Empty: calls carry none (client), none needed (server).
  std::vector<std::string> tokens;
};

// kServerAndClient: a server that also calls the coordinator (sweepfarm-serve). Its token file
// works both ways: it sends the first token and accepts any.
enum class SecurityRole { kServer, kClient, kServerAndClient };

// Declares --tls-cert and --tls-key (server) and --tls-ca (client), and --auth-token-file.
void DefineSecurityFlags(Flags* flags, SecurityRole role);

// Reads the files the flags name. Errors name the flag and the file (and the line of a bad
// token): unreadable, not PEM, a certificate without its key, no token, or a token shorter than
// 16 characters or with spaces.
StatusOr<TransportSecurity> LoadTransportSecurity(const Flags& flags, SecurityRole role);

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TransportSecurity& security);

// A channel to `address`: TLS when ca_pem is set, and with tokens every call on it carries
// "authorization: Bearer TOKEN" with the first.
std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address,
                                           const TransportSecurity& security,
                                           const grpc::ChannelArguments& args);

// Server side: admits a call if it carries one of the tokens (every call, when there are none).
// Thread-safe.
class TokenCheck {
 public:
  explicit TokenCheck(std::vector<std::string> tokens = {}) : tokens_(std::move(tokens)) {}
  // OK, or UNAUTHENTICATED naming `rpc` (and never a token).
  grpc::Status Admit(const grpc::ServerContext* ctx, const char* rpc) const;

 private:
  std::vector<std::string> tokens_;
};

}  // namespace sweepfarm
