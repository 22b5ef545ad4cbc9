// Argument checks every gRPC handler of the coordinator shares: refusals name the RPC and the
// argument, and never echo more than a bounded part of what the caller sent.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

#include "common/status.h"
#include "coordinator/sweep/sweep_yaml.h"
#include "proto/security.h"

namespace sweepfarm::api {

inline grpc::Status Invalid(const std::string& rpc, const std::string& what) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, rpc + ": " + what);
}

// The audit actor of a call: the token holder's name (`caller`) with what the client says of
// itself (at most 200 bytes), or INVALID_ARGUMENT naming the RPC.
inline StatusOr<std::string> Actor(const char* rpc, const std::string& caller,
                                   const std::string& claimed) {
  if (claimed.size() > 200) {
    return InvalidArgumentError(std::string(rpc) + ": actor is longer than 200 bytes");
  }
  return AuditActor(caller, claimed, "unknown client");
}

// A reason recorded in an audit trail: at most 1,000 bytes.
inline grpc::Status CheckReason(const char* rpc, const std::string& reason) {
  if (reason.size() > 1000) return Invalid(rpc, "reason is longer than 1,000 bytes");
  return grpc::Status::OK;
}

// A model, alias or data set name: 1-64 letters, digits, '.', '_' or '-'.
inline grpc::Status CheckName(const std::string& rpc, const std::string& field,
                              const std::string& v) {
  if (!sweep::IsValidName(v)) {
    return Invalid(rpc, field + " \"" + v.substr(0, 80) + (v.size() > 80 ? "..." : "") +
                            "\" must be 1-64 letters, digits, '.', '_' or '-'");
  }
  return grpc::Status::OK;
}

// A lease token (LeasedTrial.lease_token): 32 lowercase hex digits, 128 random bits.
inline grpc::Status CheckLeaseToken(const std::string& rpc, const std::string& field,
                                    const std::string& v) {
  bool ok = v.size() == 32;
  for (char ch : v) ok = ok && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
  if (!ok) return Invalid(rpc, field + " must be the lease's token, 32 lowercase hex digits");
  return grpc::Status::OK;
}

}  // namespace sweepfarm::api
