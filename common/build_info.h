// What was built: the project's version and the commit of the tree it was built from, for every
// binary's --version and for logs.
#pragma once

#include <string>

namespace sweepfarm {

// "0.1.0".
const char* ProjectVersion();
// `git describe --always --dirty` of the tree at build time ("unknown" outside a checkout).
const char* BuildCommit();
// "PROGRAM 0.1.0 (commit 3f2a9c0d1e2f)": the line --version prints.
std::string VersionLine(const std::string& program);

}  // namespace sweepfarm
