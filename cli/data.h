// sweepctl's data set commands (data import, list, show, export, grow) and feedback (confirm or
// correct a served prediction). Prints results on stdout (plain or --json), diagnostics on
// stderr; returns the exit code (0 success, 1 failure, 2 bad usage or input).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "common/flags.h"

namespace sweepfarm::cli {

// The flags these commands read, declared on sweepctl's Flags.
void DefineDataFlags(Flags* flags);
extern const char kDataUsage[];

// `pos` starts with "data" (pos[1] the subcommand) or "feedback".
int DataCommand(const std::shared_ptr<grpc::Channel>& channel, int deadline_ms,
                const std::vector<std::string>& pos, const Flags& flags, const std::string& actor);
int Feedback(const std::shared_ptr<grpc::Channel>& channel, int deadline_ms,
             const std::vector<std::string>& pos, const Flags& flags, const std::string& actor);

}  // namespace sweepfarm::cli
