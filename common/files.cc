#include "common/files.h"

#include <cstdio>
#include <fstream>

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

}  // namespace sweepfarm
