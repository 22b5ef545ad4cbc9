// NumPy .npy arrays (format versions 1-3, little-endian or byte types, C order) and .npz archives
// (arrays x and y, stored or deflated: np.savez and np.savez_compressed) through libzip.
#include <zip.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "engine/data/formats/reader.h"

namespace sweepfarm::data {
namespace {

// The value of `key` in the header's Python dict literal, as written ('<f4', False, (3, 4)).
std::string DictValue(const std::string& header, const std::string& key) {
  const std::string quoted = "'" + key + "'";
  size_t k = header.find(quoted);
  if (k == std::string::npos) return "";
  size_t colon = header.find(':', k + quoted.size());
  if (colon == std::string::npos) return "";
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (start == std::string::npos) return "";
  if (header[start] == '(') {
    size_t end = header.find(')', start);
    return end == std::string::npos ? "" : header.substr(start, end - start + 1);
  }
  if (header[start] == '\'') {
    size_t end = header.find('\'', start + 1);
    return end == std::string::npos ? "" : header.substr(start + 1, end - start - 1);
  }
  size_t end = header.find_first_of(",}", start);
  return end == std::string::npos ? "" : header.substr(start, end - start);
}

template <typename T>
float Load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return static_cast<float>(v);
}

}  // namespace

StatusOr<Array> ParseNpy(const std::string& where, const std::string& bytes) {
  const auto* d = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 10 || std::memcmp(d, "\x93NUMPY", 6) != 0) {
    return InvalidArgumentError(where + ": not a .npy file (no \\x93NUMPY magic)");
  }
  const int major = d[6];
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = d[8] | (d[9] << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return InvalidArgumentError(where + ": truncated .npy header");
    header_len = d[8] | (d[9] << 8) | (size_t{d[10]} << 16) | (size_t{d[11]} << 24);
    offset = 12;
  } else {
    return InvalidArgumentError(where + ": .npy format version " + std::to_string(major) +
                                " (1 to 3 are read)");
  }
  if (bytes.size() < offset + header_len) {
    return InvalidArgumentError(where + ": truncated .npy header (" + std::to_string(header_len) +
                                " bytes declared, " + std::to_string(bytes.size() - offset) +
                                " present)");
  }
  const std::string header = bytes.substr(offset, header_len);
  const std::string descr = DictValue(header, "descr");
  const std::string fortran = DictValue(header, "fortran_order");
  const std::string shape_text = DictValue(header, "shape");
  if (descr.empty() || fortran.empty() || shape_text.empty()) {
    return InvalidArgumentError(where + ": .npy header lacks descr, fortran_order or shape");
  }
  if (fortran != "False") {
    return InvalidArgumentError(where +
                                ": Fortran-ordered arrays are not read (save with "
                                "np.ascontiguousarray)");
  }
  Array out;
  // "(60000, 28, 28)", "(5,)", "()".
  std::string dims = shape_text.substr(1, shape_text.size() - 2);
  size_t i = 0;
  uint64_t count = 1;
  while (i < dims.size()) {
    size_t j = dims.find(',', i);
    if (j == std::string::npos) j = dims.size();
    std::string part = dims.substr(i, j - i);
    part.erase(0, part.find_first_not_of(' '));
    part.erase(part.find_last_not_of(' ') + 1);
    if (!part.empty()) {
      if (part.size() > 12 || part.find_first_not_of("0123456789") != std::string::npos) {
        return InvalidArgumentError(where + ": .npy shape " + shape_text.substr(0, 64) +
                                    " is not a tuple of sizes");
      }
      out.shape.push_back(std::stoll(part));
      count *= static_cast<uint64_t>(out.shape.back());
      if (count > bytes.size()) break;
    }
    i = j + 1;
  }
  if (descr.size() < 3) return InvalidArgumentError(where + ": .npy descr \"" + descr + "\"");
  const char order = descr[0], kind = descr[1];
  const std::string width_text = descr.substr(2);
  if (order == '>') {
    return InvalidArgumentError(where + ": big-endian arrays (" + descr + ") are not read");
  }
  if ((order != '<' && order != '|' && order != '=') ||
      width_text.find_first_not_of("0123456789") != std::string::npos || width_text.size() > 1) {
    return InvalidArgumentError(where + ": .npy descr \"" + descr.substr(0, 16) +
                                "\" is not a number type");
  }
  const int width = width_text[0] - '0';
  using Loader = float (*)(const unsigned char*);
  Loader load = nullptr;
  out.integer = kind == 'i' || kind == 'u' || kind == 'b';
  if (kind == 'f' && width == 4) load = Load<float>;
  if (kind == 'f' && width == 8) load = Load<double>;
  if (kind == 'u' && width == 1) load = Load<uint8_t>;
  if (kind == 'b' && width == 1) load = Load<uint8_t>;
  if (kind == 'i' && width == 1) load = Load<int8_t>;
  if (kind == 'u' && width == 2) load = Load<uint16_t>;
  if (kind == 'i' && width == 2) load = Load<int16_t>;
  if (kind == 'u' && width == 4) load = Load<uint32_t>;
  if (kind == 'i' && width == 4) load = Load<int32_t>;
  if (kind == 'u' && width == 8) load = Load<uint64_t>;
  if (kind == 'i' && width == 8) load = Load<int64_t>;
  if (load == nullptr) {
    return InvalidArgumentError(where + ": .npy type " + descr +
                                " is not read (float, integer or bool arrays are)");
  }
  const size_t data_bytes = bytes.size() - offset - header_len;
  if (count * width != data_bytes) {
    return InvalidArgumentError(where + ": .npy shape " + shape_text.substr(0, 64) + " of " +
                                descr + " needs " + std::to_string(count * width) +
                                " bytes of data, found " + std::to_string(data_bytes) +
                                (count * width > data_bytes ? " (truncated)" : ""));
  }
  out.values.resize(count);
  const unsigned char* p = d + offset + header_len;
  for (uint64_t k = 0; k < count; ++k, p += width) out.values[k] = load(p);
  return out;
}

namespace {

// Labels of a 1-D integer array, as text.
StatusOr<std::vector<std::string>> IntegerLabels(const std::string& where, const Array& y,
                                                 int64_t expected) {
  if (y.shape.size() != 1) {
    return InvalidArgumentError(where + ": labels must be a 1-D array, got " +
                                std::to_string(y.shape.size()) + " dimensions");
  }
  if (y.shape[0] != expected) {
    return InvalidArgumentError(where + ": " + std::to_string(y.shape[0]) + " labels for " +
                                std::to_string(expected) + " samples");
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < y.values.size(); ++i) {
    const float v = y.values[i];
    if (!y.integer || v < 0 || v > 1e6) {
      return InvalidArgumentError(where + ": label " + std::to_string(i + 1) +
                                  " is not a class index (labels are integers from 0)");
    }
    out.push_back(std::to_string(static_cast<int64_t>(v)));
  }
  return out;
}

StatusOr<RawSamples> FromArrays(const std::string& x_where, const Array& x,
                                const std::string& y_where, const Array& y) {
  if (x.shape.size() < 2) {
    return InvalidArgumentError(x_where +
                                ": samples must be an array of at least 2 dimensions "
                                "(samples, values...), got " +
                                std::to_string(x.shape.size()));
  }
  RawSamples out;
  out.where = x_where;
  out.values = 1;
  for (size_t i = 1; i < x.shape.size(); ++i) out.values *= x.shape[i];
  out.shape_hint.assign(x.shape.begin() + 1, x.shape.end());
  if (out.shape_hint.size() == 1) out.shape_hint.insert(out.shape_hint.begin(), 1);
  out.x = x.values;
  out.integer_labels = true;
  SF_ASSIGN_OR_RETURN(out.labels, IntegerLabels(y_where, y, x.shape[0]));
  return out;
}

}  // namespace

StatusOr<RawSamples> ReadNpy(const std::string& path, const std::string& bytes,
                             const ImportOptions& o) {
  if (o.labels_file.empty()) {
    return InvalidArgumentError(path + ": a .npy file holds samples only: --labels FILE.npy");
  }
  SF_ASSIGN_OR_RETURN(Array x, ParseNpy(path, bytes));
  SF_ASSIGN_OR_RETURN(std::string ybytes, ReadFileBytes(o.labels_file, o.max_file_bytes));
  SF_ASSIGN_OR_RETURN(Array y, ParseNpy(o.labels_file, ybytes));
  return FromArrays(path, x, o.labels_file, y);
}

StatusOr<RawSamples> ReadNpz(const std::string& path, const std::string& bytes,
                             const ImportOptions& o) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
  if (src == nullptr) return InternalError(path + ": libzip: " + zip_error_strerror(&error));
  zip_t* archive = zip_open_from_source(src, ZIP_RDONLY, &error);
  if (archive == nullptr) {
    std::string msg = zip_error_strerror(&error);
    zip_source_free(src);
    zip_error_fini(&error);
    return InvalidArgumentError(path + ": not a readable .npz (zip) archive: " + msg);
  }
  std::unique_ptr<zip_t, decltype(&zip_discard)> closer(archive, zip_discard);
  auto member = [&](const char* name) -> StatusOr<std::string> {
    const std::string where = path + ":" + name;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat(archive, name, 0, &st) != 0) {
      return InvalidArgumentError(path + ": the archive has no " + name +
                                  " (an .npz needs arrays x and y)");
    }
    if (!(st.valid & ZIP_STAT_SIZE) || st.size > static_cast<zip_uint64_t>(o.max_file_bytes)) {
      return InvalidArgumentError(where + ": larger than the limit of " +
                                  std::to_string(o.max_file_bytes) + " bytes");
    }
    zip_file_t* f = zip_fopen(archive, name, 0);
    if (f == nullptr) {
      return InvalidArgumentError(where + ": cannot read: " + zip_strerror(archive));
    }
    // Read as it arrives, not allocated at the size the archive declares: a member that claims
    // 2 GB and holds ten bytes costs ten bytes.
    std::string out;
    char chunk[1 << 16];
    zip_int64_t n = 0;
    while (out.size() < st.size &&
           (n = zip_fread(f, chunk, std::min<zip_uint64_t>(sizeof(chunk), st.size - out.size()))) >
               0) {
      out.append(chunk, static_cast<size_t>(n));
    }
    zip_fclose(f);
    if (n < 0 || out.size() != st.size) {
      return InvalidArgumentError(where + ": truncated or corrupt member");
    }
    return out;
  };
  SF_ASSIGN_OR_RETURN(std::string xb, member("x.npy"));
  SF_ASSIGN_OR_RETURN(std::string yb, member("y.npy"));
  SF_ASSIGN_OR_RETURN(Array x, ParseNpy(path + ":x.npy", xb));
  SF_ASSIGN_OR_RETURN(Array y, ParseNpy(path + ":y.npy", yb));
  return FromArrays(path + ":x.npy", x, path + ":y.npy", y);
}

StatusOr<RawSamples> ReadIdx(const std::string& path, const std::string& bytes,
                             const ImportOptions& o) {
  if (o.labels_file.empty()) {
    return InvalidArgumentError(path + ": an IDX file holds samples only: --labels FILE");
  }
  SF_ASSIGN_OR_RETURN(Array x, ParseIdx(path, bytes));
  SF_ASSIGN_OR_RETURN(std::string ybytes, ReadFileBytes(o.labels_file, o.max_file_bytes));
  SF_ASSIGN_OR_RETURN(Array y, ParseIdx(o.labels_file, ybytes));
  SF_ASSIGN_OR_RETURN(RawSamples out, FromArrays(path, x, o.labels_file, y));
  // IDX images (samples, height, width) have one channel.
  if (x.shape.size() == 3) out.shape_hint = {1, x.shape[1], x.shape[2]};
  return out;
}

}  // namespace sweepfarm::data
