// Pages loaded in a real browser: Debian's headless Chromium, for the tests of the dashboard.
#pragma once

#include <string>

namespace sweepfarm::testing {

// What Chromium made of a page.
struct BrowserPage {
  bool loaded = false;   // Chromium ran and printed a document.
  std::string dom;       // The document after parsing (and any scripts), serialised.
  std::string problems;  // Script errors and failed loads it logged, one per line ("": none).
  // The page's <svg> plots that draw nothing: no circle, polyline, path or rect in them, listed
  // by their position in the page.
  std::string empty_plots;
};

// Loads `url` in headless Chromium (a profile under `scratch_dir`) and reads back the document
// and what it logged. `loaded` false (and `problems` saying why) if Chromium is missing or fails.
BrowserPage LoadInChromium(const std::string& url, const std::string& scratch_dir);

}  // namespace sweepfarm::testing
