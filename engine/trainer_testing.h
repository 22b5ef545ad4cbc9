// Small data sets for the engine's training tests (trainer_test.cc, threads_test.cc).
#pragma once

#include <torch/torch.h>

#include <memory>

#include "engine/dataset.h"
#include "engine/telemetry.h"

namespace sweepfarm::engine::testing {

// The simulator's telemetry: 640 lab (training) samples, 300 escalations (test), seed 3.
inline std::shared_ptr<const Dataset> SmallTelemetry() {
  return MakeTelemetryDataset(TelemetryOptions{3, 640, 300});
}

// Random 28x28 images in 10 classes, `train` to train on and `test` to test on; the labels need
// no meaning for equivalence checks.
inline std::shared_ptr<const Dataset> RandomImages(int64_t train = 256, int64_t test = 100) {
  return RandomImageDataset("images", train, test, /*seed=*/5);
}

}  // namespace sweepfarm::engine::testing
