#include "engine/data/read.h"

#include <zlib.h>

#include <cstring>

namespace sweepfarm::data {
namespace {

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

}  // namespace

StatusOr<std::string> ReadFileBytes(const std::string& path, int64_t limit) {
  gzFile f = gzopen(path.c_str(), "rb");  // gzread passes plain files through.
  if (f == nullptr) return NotFoundError(path + ": cannot open");
  std::string data;
  char buf[1 << 16];
  while (true) {
    int n = gzread(f, buf, sizeof(buf));
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      return InvalidArgumentError(path + ": corrupt gzip stream: " + msg);
    }
    if (n == 0) break;
    if (static_cast<int64_t>(data.size()) + n > limit) {
      gzclose(f);
      return InvalidArgumentError(path + ": larger than the limit of " + std::to_string(limit) +
                                  " bytes");
    }
    data.append(buf, n);
  }
  // A gzip stream cut short reads as a shorter file; gzread reports it only at close.
  if (int rc = gzclose(f); rc != Z_OK) {
    return InvalidArgumentError(path + ": truncated or corrupt gzip stream");
  }
  return data;
}

StatusOr<Array> ParseIdx(const std::string& where, const std::string& bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 4) return InvalidArgumentError(where + ": too short for an IDX header");
  if (data[0] != 0 || data[1] != 0) {
    return InvalidArgumentError(where + ": not an IDX file (bad magic)");
  }
  int width = 0;
  bool integer = true;
  switch (data[2]) {
    case 0x08:  // unsigned byte
    case 0x09:  // signed byte
      width = 1;
      break;
    case 0x0B:  // int16
      width = 2;
      break;
    case 0x0C:  // int32
      width = 4;
      break;
    case 0x0D:  // float32
      width = 4;
      integer = false;
      break;
    case 0x0E:  // float64
      width = 8;
      integer = false;
      break;
    default:
      return InvalidArgumentError(where + ": not an IDX file (bad magic: type byte " +
                                  std::to_string(data[2]) + ")");
  }
  const int dims = data[3];
  if (dims < 1 || dims > 4) {
    return InvalidArgumentError(where + ": IDX rank " + std::to_string(dims) + " not in 1..4");
  }
  const size_t header = 4 + 4 * static_cast<size_t>(dims);
  if (bytes.size() < header) return InvalidArgumentError(where + ": truncated IDX header");
  Array out;
  out.integer = integer;
  uint64_t count = 1;
  for (int d = 0; d < dims; ++d) {
    out.shape.push_back(BigEndian32(&data[4 + 4 * d]));
    count *= static_cast<uint64_t>(out.shape.back());
    if (count > bytes.size()) break;  // Cannot fit; reported below without overflowing.
  }
  if (count * width != bytes.size() - header) {
    return InvalidArgumentError(where + ": expected " + std::to_string(header + count * width) +
                                " bytes for its shape, found " + std::to_string(bytes.size()));
  }
  out.values.resize(count);
  const unsigned char* p = data + header;
  for (uint64_t i = 0; i < count; ++i, p += width) {
    switch (data[2]) {
      case 0x08:
        out.values[i] = static_cast<float>(*p);
        break;
      case 0x09:
        out.values[i] = static_cast<float>(static_cast<int8_t>(*p));
        break;
      case 0x0B:
        out.values[i] = static_cast<float>(static_cast<int16_t>((p[0] << 8) | p[1]));
        break;
      case 0x0C:
        out.values[i] = static_cast<float>(static_cast<int32_t>(BigEndian32(p)));
        break;
      case 0x0D: {
        uint32_t u = BigEndian32(p);
        std::memcpy(&out.values[i], &u, 4);
        break;
      }
      case 0x0E: {
        uint64_t u = uint64_t{BigEndian32(p)} << 32 | BigEndian32(p + 4);
        double v;
        std::memcpy(&v, &u, 8);
        out.values[i] = static_cast<float>(v);
        break;
      }
    }
  }
  return out;
}

}  // namespace sweepfarm::data
