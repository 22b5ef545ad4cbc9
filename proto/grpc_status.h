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

}  // namespace sweepfarm
