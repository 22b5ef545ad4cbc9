#include "common/files.h"

#include <cstdio>
#include <fstream>
#include <iterator>

namespace sweepfarm {

Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!(out << contents) || !out.flush()) return InternalError(tmp + ": cannot write");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return InternalError(path + ": cannot rename " + tmp + " onto it");
  }
  return OkStatus();
}

Status CheckUtf8(const std::string& text, const std::string& what) {
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t n = 0;
    unsigned lo = 0x80, hi = 0xbf;  // The second byte's range (tighter after E0, ED, F0, F4).
    if (c < 0x80) {
      n = 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    }
    bool ok = n > 0 && i + n <= text.size();
    for (size_t k = 1; ok && k < n; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xbf);
    }
    if (!ok) {
      char byte[8];
      std::snprintf(byte, sizeof(byte), "0x%02x", c);
      return InvalidArgumentError(what + ":" + std::to_string(line) + ":" +
                                  std::to_string(i - line_start + 1) + ": not UTF-8 (byte " + byte +
                                  "); save the file as UTF-8");
    }
    if (c == '\n') {
      ++line;
      line_start = i + 1;
    }
    i += n;
  }
  return OkStatus();
}

StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgumentError(path + ": cannot read");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return InvalidArgumentError(path + ": cannot read");
  SF_RETURN_IF_ERROR(CheckUtf8(text, path));
  return text;
}

}  // namespace sweepfarm
