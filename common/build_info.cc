#include "common/build_info.h"

#include "build_info_commit.h"  // Generated: SWEEPFARM_COMMIT.

namespace sweepfarm {

const char* ProjectVersion() { return SWEEPFARM_VERSION; }
const char* BuildCommit() { return SWEEPFARM_COMMIT; }

std::string VersionLine(const std::string& program) {
  return program + " " + ProjectVersion() + " (commit " + BuildCommit() + ")";
}

}  // namespace sweepfarm
