// A read-only HTML dashboard of the farm, served by the coordinator beside its Prometheus metrics
// (`--dashboard`): the sweeps with their progress and best results, one sweep's history plot and
// leaderboard, a model's registry versions, aliases and audit trail, and the workers. Pages are
// rendered on the server from the same store queries as the RPCs (no JavaScript, no assets);
// every text from users or the database is HTML-escaped.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics_server.h"
#include "coordinator/store/store.h"
#include "sweepfarm/v1/registry.pb.h"
#include "sweepfarm/v1/sweep.pb.h"

namespace sweepfarm::api {

// `text` with &, <, >, " and ' as HTML character references.
std::string HtmlEscape(const std::string& text);

// The pages, from data already read (pure; unit-tested without a database).
// The home page: the newest sweeps, their models (each name with its versions; none registered
// yet: empty) and the workers.
std::string RenderHomePage(
    const std::vector<v1::SweepStatus>& sweeps,
    const std::vector<std::pair<std::string, v1::ListVersionsResponse>>& models,
    const std::vector<v1::WorkerInfo>& workers);
// One sweep: its status, a plot of each finished trial's selection accuracy in trial order with
// the best so far, and its leaderboard (`trials`: all of the sweep's, any state).
std::string RenderSweepPage(const v1::SweepStatus& status, const std::vector<v1::Trial>& trials);
// One model: its aliases, versions and audit trail.
std::string RenderModelPage(const std::string& model, const v1::ListVersionsResponse& versions);

// Answers GET `path` (/, /sweeps/ID, /models/NAME) from `store`; nullopt for other paths (404).
// A malformed ID or name is a 400, an unknown sweep or model a 404, an unreadable database a
// 503, each with the reason on the page. `lease_seconds`: the coordinator's, which tells a live
// worker from a lost one.
std::optional<HttpPage> DashboardPage(store::Store* store, int lease_seconds,
                                      const std::string& path);

}  // namespace sweepfarm::api
