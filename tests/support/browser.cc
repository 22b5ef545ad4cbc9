#include "tests/support/browser.h"

#include <unistd.h>

#include <sstream>
#include <vector>

#include "tests/support/process.h"

namespace sweepfarm::testing {

BrowserPage LoadInChromium(const std::string& url, const std::string& scratch_dir) {
  BrowserPage page;
  const std::string chromium = "/usr/bin/chromium";
  if (access(chromium.c_str(), X_OK) != 0) {
    page.problems = chromium + " is missing (deploy/local/setup.sh installs it)";
    return page;
  }
  std::vector<std::string> argv{chromium,
                                "--headless",
                                "--disable-gpu",
                                "--no-first-run",
                                "--disable-extensions",
                                "--disable-crash-reporter",
                                "--user-data-dir=" + scratch_dir + "/chromium-profile",
                                "--enable-logging=stderr",
                                "--v=0",
                                "--virtual-time-budget=3000",
                                "--dump-dom",
                                url};
  if (geteuid() == 0) argv.insert(argv.begin() + 1, "--no-sandbox");  // Root has no sandbox.
  std::string err;
  const int rc = RunCommand(argv, &page.dom, &err, 120);
  page.loaded = rc == 0 && page.dom.find("</html>") != std::string::npos;
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);) {
    // Console errors (an uncaught exception, a failed resource) and load failures.
    if (line.find(":CONSOLE(") != std::string::npos || line.find("Uncaught") != std::string::npos ||
        line.find("net::ERR_") != std::string::npos) {
      page.problems += line + "\n";
    }
  }
  if (!page.loaded) page.problems += "chromium exited " + std::to_string(rc) + ": " + err;
  size_t n = 0;
  for (size_t at = page.dom.find("<svg"); at != std::string::npos;
       at = page.dom.find("<svg", at + 1)) {
    ++n;
    const size_t end = page.dom.find("</svg>", at);
    const std::string plot = page.dom.substr(at, end == std::string::npos ? end : end - at);
    bool draws = false;
    for (const char* mark : {"<circle", "<polyline", "<path", "<rect"}) {
      draws = draws || plot.find(mark) != std::string::npos;
    }
    if (!draws) page.empty_plots += "plot " + std::to_string(n) + " ";
  }
  return page;
}

}  // namespace sweepfarm::testing
