// Transport security of the farm's gRPC, shared by the coordinator and its clients (workers,
// sweepctl, sweepfarm-predict): TLS on the coordinator's port (its certificate and key; clients
// verify it against a CA they are given) and a shared bearer token that every call must carry.
// Both are optional and independent; docs/design.md says what each protects against.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/flags.h"
#include "common/status.h"

namespace sweepfarm {

struct TransportSecurity {
  std::string cert_pem;  // Server: its certificate chain (PEM); with key_pem, it serves TLS.
  std::string key_pem;   // Server: the certificate's private key (PEM).
  std::string ca_pem;    // Client: connect with TLS, trusting certificates this CA signed.
  std::string token;  // The shared token; empty: calls carry none (client), none needed (server).
};

enum class SecurityRole { kServer, kClient };

// Declares --tls-cert and --tls-key (server) or --tls-ca (client), and --auth-token-file (both).
void DefineSecurityFlags(Flags* flags, SecurityRole role);

// Reads the files the flags name. Errors name the flag and the file: unreadable, not PEM, a
// certificate without its key, an empty token or one shorter than 16 characters.
StatusOr<TransportSecurity> LoadTransportSecurity(const Flags& flags, SecurityRole role);

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TransportSecurity& security);

// A channel to `address`: TLS when ca_pem is set, and with a token every call on it carries
// "authorization: Bearer TOKEN".
std::shared_ptr<grpc::Channel> OpenChannel(const std::string& address,
                                           const TransportSecurity& security,
                                           const grpc::ChannelArguments& args);

// Server side: admits a call if it carries the token (every call, when no token is configured).
// Thread-safe.
class TokenCheck {
 public:
  explicit TokenCheck(std::string token = "") : token_(std::move(token)) {}
  // OK, or UNAUTHENTICATED naming `rpc` (and never the token).
  grpc::Status Admit(const grpc::ServerContext* ctx, const char* rpc) const;

 private:
  std::string token_;
};

}  // namespace sweepfarm
