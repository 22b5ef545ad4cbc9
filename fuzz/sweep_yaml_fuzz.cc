// Sweep files, as SubmitSweep parses them from any caller: refused with a message naming the
// file, or accepted; never a crash, a hang or an unbounded allocation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "coordinator/sweep/sweep_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = sweepfarm::sweep::ParseSweepYaml(text, "fuzz.yaml");
  // A refusal names where: the file first.
  if (!parsed.ok() && parsed.status().message().rfind("fuzz.yaml", 0) != 0) std::abort();
  return 0;
}
