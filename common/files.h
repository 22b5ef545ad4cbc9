// Small file helpers.
#pragma once

#include <string>

#include "common/status.h"

namespace sweepfarm {

// Writes `contents` to `path` through a temporary file and a rename, so that a reader sees the
// old file or the whole new one, never a part (e.g. an --address-file a test or script polls).
Status WriteFileAtomically(const std::string& path, const std::string& contents);

// A text file a person wrote (a sweep file): its contents, or INVALID_ARGUMENT naming the file
// ("cannot read") or where it is not UTF-8 ("FILE:LINE:COLUMN: not UTF-8 (byte 0xff)").
StatusOr<std::string> ReadTextFile(const std::string& path);

// OK if `text` is UTF-8 (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF);
// else INVALID_ARGUMENT "WHAT:LINE:COLUMN: not UTF-8 (byte 0xNN)".
Status CheckUtf8(const std::string& text, const std::string& what);

}  // namespace sweepfarm
