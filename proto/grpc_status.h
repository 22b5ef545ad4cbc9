// Maps sweepfarm::Status to grpc::Status and back, in one place.
#pragma once

#include <grpcpp/grpcpp.h>

#include "common/status.h"

namespace sweepfarm {

inline grpc::Status ToGrpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(static_cast<int>(s.code())), s.message());
}

inline Status FromGrpc(const grpc::Status& s, const std::string& rpc) {
  if (s.ok()) return OkStatus();
  // Server messages usually name their RPC already.
  std::string msg = s.error_message().rfind(rpc + ":", 0) == 0 ? s.error_message()
                                                               : rpc + ": " + s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return InvalidArgumentError(s.error_message());
    case grpc::StatusCode::NOT_FOUND:
      return NotFoundError(s.error_message());
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return UnavailableError(msg);
    case grpc::StatusCode::CANCELLED:
      // Our clients cancel no call they wait on: the server did, as a stopping server does with
      // the calls it has not finished (SIGTERM, a rollout). Retried like UNAVAILABLE.
      return UnavailableError(msg + " (the server stopped; it may be restarting)");
    case grpc::StatusCode::FAILED_PRECONDITION:
      return FailedPreconditionError(msg);
    case grpc::StatusCode::ABORTED:
      return AbortedError(msg);
    case grpc::StatusCode::DATA_LOSS:
      return DataLossError(s.error_message());
    case grpc::StatusCode::UNAUTHENTICATED:
      return Status(StatusCode::kUnauthenticated, msg);
    case grpc::StatusCode::PERMISSION_DENIED:
      return Status(StatusCode::kPermissionDenied, msg);
    case grpc::StatusCode::ALREADY_EXISTS:
      return Status(StatusCode::kAlreadyExists, msg);
    default:
      return InternalError(msg);
  }
}

// `s` said so a person can act on it when the call found nobody at `address`: "cannot reach the
// coordinator at 127.0.0.1:50051 (connection refused): is it running? set --coordinator" for
// `who` "the coordinator" and `flag` "--coordinator". Any other status is returned as it is.
inline Status Unreachable(const Status& s, const std::string& who, const std::string& address,
                          const std::string& flag) {
  if (s.code() != StatusCode::kUnavailable) return s;
  const std::string& m = s.message();
  auto has = [&m](const char* what) { return m.find(what) != std::string::npos; };
  std::string why;
  if (has("Connection refused")) {
    why = "connection refused";
  } else if (has("DNS resolution failed") || has("Name or service not known")) {
    why = "unknown host";
  } else if (has("No route to host") || has("Network is unreachable")) {
    why = "no route to host";
  } else if (has("Handshake failed") || has("SSL") || has("ssl")) {
    why = "TLS handshake failed: check --tls-ca, or whether it serves TLS";
  } else if (has("failed to connect")) {
    why = "cannot connect";
  } else {
    return s;  // It answered, or stopped while answering (restarting): said as it is.
  }
  return UnavailableError("cannot reach " + who + " at " + address + " (" + why +
                          "): is it running? set " + flag);
}

}  // namespace sweepfarm
