// Stored model weights and checkpoints, as workers, sweepfarm-predict and sweepfarm-serve load
// them: the first line is the architecture's JSON, the rest the content (its sha256 computed
// here, so the decoder itself is reached). The first byte's low bit picks weights or checkpoint.
// Refused with a message, or loaded; never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/sha256.h"
#include "engine/model_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t newline = input.find('\n');
  const std::string arch_json = input.substr(0, newline);
  const std::string content = newline == std::string::npos ? "" : input.substr(newline + 1);
  const std::string format =
      data[0] & 1 ? sweepfarm::engine::kCheckpointFormat : sweepfarm::engine::kWeightsFormat;
  (void)sweepfarm::engine::DecodeWeights(format, arch_json, content, sweepfarm::Sha256Hex(content));
  return 0;
}
