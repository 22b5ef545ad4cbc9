// Fashion-MNIST from IDX files (gzipped or not), as shipped by Debian's dataset-fashion-mnist.
// Stateless functions; thread-safe.
#pragma once

#include <string>

#include "engine/dataset.h"

namespace sweepfarm::engine {

constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

struct FashionMnistOptions {
  std::string dir = kFashionMnistDir;
  int64_t train_samples = 60000;  // First N of the official training set.
  int64_t test_samples = 10000;   // First N of the official test set.
};

// The official training set as the train split and the test set as the selection split (raw
// pixel values 0-255, samples 1x28x28); errors name the file and what is wrong with it.
StatusOr<data::Table> FashionMnistTable(const FashionMnistOptions& options);

// The same as tensors, standardised (the engine's benchmarks; the test set is the test split).
StatusOr<std::shared_ptr<const Dataset>> MakeFashionMnistDataset(
    const FashionMnistOptions& options);

}  // namespace sweepfarm::engine
