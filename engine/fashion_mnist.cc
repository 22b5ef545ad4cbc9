#include "engine/fashion_mnist.h"

#include "engine/data/codec.h"
#include "engine/data/read.h"

namespace sweepfarm::engine {

StatusOr<data::Table> FashionMnistTable(const FashionMnistOptions& options) {
  auto load = [&](const std::string& images, const std::string& labels, int64_t limit,
                  const char* which, data::Part* part) -> Status {
    auto read = [&](const std::string& file) -> StatusOr<data::Array> {
      const std::string path = options.dir + "/" + file;
      auto bytes = data::ReadFileBytes(path, data::kMaxEncodedBytes);
      if (bytes.status().code() == StatusCode::kNotFound) {
        return NotFoundError(path + ": cannot open (is dataset-fashion-mnist installed?)");
      }
      SF_RETURN_IF_ERROR(bytes.status());
      return data::ParseIdx(path, *bytes);
    };
    SF_ASSIGN_OR_RETURN(data::Array x, read(images));
    SF_ASSIGN_OR_RETURN(data::Array y, read(labels));
    if (x.shape.size() != 3 || y.shape.size() != 1 || x.shape[0] != y.shape[0] ||
        x.shape[1] != 28 || x.shape[2] != 28) {
      return InvalidArgumentError(options.dir + ": " + which +
                                  " images and labels disagree in shape or count");
    }
    if (limit > x.shape[0]) {
      return InvalidArgumentError(std::string(which) + "_samples=" + std::to_string(limit) +
                                  " exceeds the " + std::to_string(x.shape[0]) + " available");
    }
    part->x.assign(x.values.begin(), x.values.begin() + limit * 28 * 28);
    for (int64_t i = 0; i < limit; ++i) {
      if (y.values[i] < 0 || y.values[i] > 9) {
        return InvalidArgumentError(options.dir + "/" + labels + ": label outside 0-9");
      }
      part->y.push_back(static_cast<int32_t>(y.values[i]));
    }
    return OkStatus();
  };
  data::Table t;
  t.shape = {1, 28, 28};
  t.classes = FindBuiltinDataset("fashion-mnist")->classes;
  SF_RETURN_IF_ERROR(load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                          options.train_samples, "train", &t.part(data::SplitId::kTrain)));
  SF_RETURN_IF_ERROR(load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                          options.test_samples, "test", &t.part(data::SplitId::kSelection)));
  return t;
}

StatusOr<std::shared_ptr<const Dataset>> MakeFashionMnistDataset(
    const FashionMnistOptions& options) {
  SF_ASSIGN_OR_RETURN(data::Table t, FashionMnistTable(options));
  SF_ASSIGN_OR_RETURN(std::string bytes, data::Encode(t));
  return Standardized(*DatasetFromTable(t, "fashion-mnist", data::ContentHash(bytes)));
}

}  // namespace sweepfarm::engine
