// A sweep's trials as CSV (RFC 4180), one row per trial in any state, for analysis elsewhere
// (pandas, a spreadsheet), as Optuna's trials_dataframe() or W&B's run export. Pure; what
// `sweepctl export` prints.
#pragma once

#include <string>
#include <vector>

#include "sweepfarm/v1/sweep.pb.h"

namespace sweepfarm::cli {

// The header and one row per trial, "\r\n"-terminated as RFC 4180 has it. Fields a trial does not
// have (a queued trial's accuracy, the default architecture's channels) are empty; fields with a
// comma, quote or line break are quoted, quotes doubled.
std::string TrialsCsv(const std::vector<v1::Trial>& trials);

// One field, quoted if it must be.
std::string CsvField(const std::string& value);

}  // namespace sweepfarm::cli
