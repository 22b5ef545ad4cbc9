// Fashion-MNIST from IDX files (gzipped or not), as shipped by Debian's dataset-fashion-mnist.
// Stateless functions; thread-safe.
#pragma once

#include <string>

#include "worker/engine/dataset.h"

namespace sweepfarm::engine {

constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

struct FashionMnistOptions {
  std::string dir = kFashionMnistDir;
  int64_t train_samples = 60000;  // First N of the official training set.
  int64_t test_samples = 10000;   // First N of the official test set.
};

// Reads an IDX file; errors name the file and what is wrong with it.
StatusOr<torch::Tensor> ReadIdx(const std::string& path);

StatusOr<std::shared_ptr<const Dataset>> MakeFashionMnistDataset(
    const FashionMnistOptions& options);

}  // namespace sweepfarm::engine
