#include "engine/data/codec.h"

#include <cmath>
#include <cstring>
#include <sstream>
#include <string_view>

#include "common/sha256.h"

namespace sweepfarm::data {
namespace {

constexpr size_t kMagicSize = sizeof(kMagic) - 1;
constexpr size_t kMaxManifestBytes = 1 << 20;

bool AllBytes(const Table& t) {
  for (const auto& p : t.parts) {
    for (float v : p.x) {
      if (!(v >= 0 && v <= 255 && std::floor(v) == v)) return false;
    }
  }
  return true;
}

void PutLe32(std::string* out, uint32_t v) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
               static_cast<char>(v >> 24)};
  out->append(b, 4);
}

uint32_t GetLe32(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

}  // namespace

StatusOr<std::string> Encode(const Table& t) {
  SF_RETURN_IF_ERROR(ValidateTable(t));
  const bool bytes = AllBytes(t);
  std::string out = kMagic;
  out += "shape";
  for (auto d : t.shape) out += " " + std::to_string(d);
  out += "\nclasses";
  for (const auto& c : t.classes) out += " " + c;
  out += std::string("\nvalues ") + (bytes ? "uint8" : "float32") + "\n";
  for (SplitId s : kSplits) {
    out += std::string("split ") + SplitName(s) + " " + std::to_string(t.part(s).size()) + "\n";
  }
  out += "\n";
  int64_t total = static_cast<int64_t>(out.size());
  for (const auto& p : t.parts) {
    total += 4 * p.size() + static_cast<int64_t>(p.x.size()) * (bytes ? 1 : 4);
  }
  if (total > kMaxEncodedBytes) {
    return InvalidArgumentError("the data set encodes to " + std::to_string(total) +
                                " bytes, more than the limit of " +
                                std::to_string(kMaxEncodedBytes));
  }
  out.reserve(static_cast<size_t>(total));
  for (const auto& p : t.parts) {
    for (int32_t y : p.y) PutLe32(&out, static_cast<uint32_t>(y));
    if (bytes) {
      for (float v : p.x) out.push_back(static_cast<char>(static_cast<uint8_t>(v)));
    } else {
      for (float v : p.x) {
        uint32_t u;
        std::memcpy(&u, &v, 4);
        PutLe32(&out, u);
      }
    }
  }
  return out;
}

StatusOr<Manifest> ReadManifest(const std::string& bytes) {
  if (bytes.size() < kMagicSize || bytes.compare(0, kMagicSize, kMagic) != 0) {
    return InvalidArgumentError("not a sweepfarm data set (no SFDATA1 header)");
  }
  const size_t end =
      std::string_view(bytes).substr(0, kMaxManifestBytes).find("\n\n", kMagicSize - 1);
  if (end == std::string::npos || end > kMaxManifestBytes) {
    return InvalidArgumentError("data set manifest not terminated within " +
                                std::to_string(kMaxManifestBytes) + " bytes");
  }
  Manifest m;
  m.header_bytes = static_cast<int64_t>(end + 2);
  std::istringstream lines(bytes.substr(kMagicSize, end - kMagicSize + 1));
  std::string line;
  bool have_shape = false, have_classes = false, have_values = false;
  int splits = 0;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string key;
    f >> key;
    if (key == "shape" && !have_shape) {
      std::string d, text;
      while (f >> d) text += (text.empty() ? "" : "x") + d;
      SF_ASSIGN_OR_RETURN(m.shape, ParseShape(text));
      have_shape = true;
    } else if (key == "classes" && !have_classes) {
      std::string c;
      while (f >> c) m.classes.push_back(c);
      have_classes = true;
    } else if (key == "values" && !have_values) {
      std::string v;
      f >> v;
      if (v != "uint8" && v != "float32") {
        return InvalidArgumentError("data set manifest: values \"" + v.substr(0, 32) +
                                    "\" (expected uint8 or float32)");
      }
      m.uint8_values = v == "uint8";
      have_values = true;
    } else if (key == "split" && splits < 3) {
      std::string name, count;
      f >> name >> count;
      if (name != SplitName(kSplits[splits]) || count.empty() || count.size() > 12 ||
          count.find_first_not_of("0123456789") != std::string::npos) {
        return InvalidArgumentError("data set manifest: bad line \"" + line.substr(0, 80) + "\"");
      }
      m.samples[splits++] = std::stoll(count);
    } else {
      return InvalidArgumentError("data set manifest: unexpected line \"" + line.substr(0, 80) +
                                  "\"");
    }
  }
  if (!have_shape || !have_classes || !have_values || splits != 3) {
    return InvalidArgumentError("data set manifest: shape, classes, values and three splits are required");
  }
  int64_t per = 1;
  for (auto d : m.shape) per *= d;
  int64_t total = m.header_bytes;
  for (int64_t n : m.samples) {
    if (n > kMaxEncodedBytes / (4 + per)) {
      return InvalidArgumentError("data set manifest: " + std::to_string(n) +
                                  " samples exceed the size limit");
    }
    total += n * (4 + per * (m.uint8_values ? 1 : 4));
    if (total > kMaxEncodedBytes) {
      return InvalidArgumentError("data set manifest: more than " +
                                  std::to_string(kMaxEncodedBytes) + " bytes");
    }
  }
  m.encoded_bytes = total;
  return m;
}

StatusOr<Table> Decode(const std::string& bytes) {
  SF_ASSIGN_OR_RETURN(Manifest m, ReadManifest(bytes));
  if (static_cast<int64_t>(bytes.size()) != m.encoded_bytes) {
    return InvalidArgumentError("data set is " + std::to_string(bytes.size()) +
                                " bytes, its manifest says " + std::to_string(m.encoded_bytes) +
                                (static_cast<int64_t>(bytes.size()) < m.encoded_bytes ? " (truncated)" : ""));
  }
  Table t;
  t.shape = m.shape;
  t.classes = m.classes;
  const int64_t per = t.values_per_sample();
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + m.header_bytes;
  for (int s = 0; s < 3; ++s) {
    Part& part = t.parts[s];
    const int64_t n = m.samples[s];
    part.y.resize(n);
    for (int64_t i = 0; i < n; ++i, p += 4) part.y[i] = static_cast<int32_t>(GetLe32(p));
    part.x.resize(n * per);
    if (m.uint8_values) {
      for (int64_t i = 0; i < n * per; ++i) part.x[i] = static_cast<float>(*p++);
    } else {
      for (int64_t i = 0; i < n * per; ++i, p += 4) {
        uint32_t u = GetLe32(p);
        std::memcpy(&part.x[i], &u, 4);
      }
    }
  }
  SF_RETURN_IF_ERROR(ValidateTable(t));
  return t;
}

std::string ContentHash(const std::string& bytes) { return Sha256Hex(bytes); }

}  // namespace sweepfarm::data
