// Small file helpers.
#pragma once

#include <string>

#include "common/status.h"

namespace sweepfarm {

// Writes `contents` to `path` through a temporary file and a rename, so that a reader sees the
// old file or the whole new one, never a part (e.g. an --address-file a test or script polls).
Status WriteFileAtomically(const std::string& path, const std::string& contents);

}  // namespace sweepfarm
