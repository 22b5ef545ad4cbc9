#include "worker/engine/fashion_mnist.h"

#ifdef SWEEPFARM_WITH_ZLIB
#include <zlib.h>
#endif

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <vector>

namespace sweepfarm::engine {
namespace {

// Reads a whole file, inflating it if gzipped (gzread passes plain files through).
StatusOr<std::vector<unsigned char>> ReadMaybeGzipped(const std::string& path) {
#ifndef SWEEPFARM_WITH_ZLIB
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open (is dataset-fashion-mnist installed?)");
  std::vector<unsigned char> raw((std::istreambuf_iterator<char>(in)), {});
  if (raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
    return FailedPreconditionError(path + ": gzipped, but this build has no zlib");
  }
  return raw;
#else
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr)
    return NotFoundError(path + ": cannot open (is dataset-fashion-mnist installed?)");
  std::vector<unsigned char> data;
  unsigned char buf[1 << 16];
  while (true) {
    int n = gzread(f, buf, sizeof(buf));
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      return InvalidArgumentError(path + ": corrupt gzip stream: " + msg);
    }
    if (n == 0) break;
    data.insert(data.end(), buf, buf + n);
  }
  gzclose(f);
  return data;
#endif
}

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

StatusOr<torch::Tensor> ReadIdx(const std::string& path) {
  SF_ASSIGN_OR_RETURN(std::vector<unsigned char> data, ReadMaybeGzipped(path));
  if (data.size() < 4) return InvalidArgumentError(path + ": too short for an IDX header");
  if (data[0] != 0 || data[1] != 0 || data[2] != 0x08) {
    return InvalidArgumentError(path + ": not an unsigned-byte IDX file (bad magic)");
  }
  int dims = data[3];
  if (dims < 1 || dims > 4) {
    return InvalidArgumentError(path + ": IDX rank " + std::to_string(dims) + " not in 1..4");
  }
  size_t header = 4 + 4 * static_cast<size_t>(dims);
  if (data.size() < header) return InvalidArgumentError(path + ": truncated IDX header");
  std::vector<int64_t> shape;
  size_t count = 1;
  for (int d = 0; d < dims; ++d) {
    shape.push_back(BigEndian32(&data[4 + 4 * d]));
    count *= static_cast<size_t>(shape.back());
  }
  if (data.size() != header + count) {
    return InvalidArgumentError(path + ": expected " + std::to_string(header + count) +
                                " bytes for its shape, found " + std::to_string(data.size()));
  }
  torch::Tensor t = torch::empty(shape, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), data.data() + header, count);
  return t;
}

StatusOr<std::shared_ptr<const Dataset>> MakeFashionMnistDataset(
    const FashionMnistOptions& options) {
  auto load = [&](const std::string& images, const std::string& labels, int64_t limit,
                  const char* which) -> StatusOr<Split> {
    SF_ASSIGN_OR_RETURN(torch::Tensor x, ReadIdx(options.dir + "/" + images));
    SF_ASSIGN_OR_RETURN(torch::Tensor y, ReadIdx(options.dir + "/" + labels));
    if (x.dim() != 3 || y.dim() != 1 || x.size(0) != y.size(0)) {
      return InvalidArgumentError(options.dir + ": " + which +
                                  " images and labels disagree in shape or count");
    }
    if (limit > x.size(0)) {
      return InvalidArgumentError(std::string(which) + "_samples=" + std::to_string(limit) +
                                  " exceeds the " + std::to_string(x.size(0)) + " available");
    }
    Split s;
    // Normalised with the training set's mean and deviation (0.286, 0.353).
    s.x = ((x.slice(0, 0, limit).to(torch::kFloat32) / 255.0 - 0.286) / 0.353).unsqueeze(3);
    s.y = y.slice(0, 0, limit).to(torch::kInt64);
    if (s.y.max().item<int64_t>() > 9) return InvalidArgumentError(labels + ": label above 9");
    return s;
  };
  auto ds = std::make_shared<Dataset>();
  ds->name = "fashion-mnist";
  ds->num_classes = 10;
  ds->binary_issue_label = false;
  SF_ASSIGN_OR_RETURN(ds->train, load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                      options.train_samples, "train"));
  SF_ASSIGN_OR_RETURN(ds->test, load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                                     options.test_samples, "test"));
  ds->hash = HashTensors({ds->train.x, ds->train.y, ds->test.x, ds->test.y});
  return std::shared_ptr<const Dataset>(std::move(ds));
}

}  // namespace sweepfarm::engine
