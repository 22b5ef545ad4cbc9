// A read-only HTML dashboard of the farm, served by the coordinator beside its Prometheus metrics
// (`--dashboard`): the sweeps with their progress and best results, one sweep's history plot,
// sortable leaderboard and CSV, a page per trial, a model's registry versions, aliases and audit
// trail, and the workers. Pages are
// rendered on the server from the same store queries as the RPCs (no JavaScript, no assets);
// every text from users or the database is HTML-escaped.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics_server.h"
#include "coordinator/data/datasets.h"
#include "coordinator/store/store.h"
#include "proto/security.h"
#include "sweepfarm/v1/data.pb.h"
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
// One sweep: its status, the registry versions it produced (`versions`: its model's, newest first;
// those of other sweeps are left out), a plot of each finished trial's selection accuracy in trial
// order with the best so far, and its whole leaderboard (`trials`: all of the sweep's, any state),
// ranked by the objective or sorted by `sort` (a column's key, "-KEY" descending; see
// kLeaderboardColumns), each trial linking to its page, with a link to the CSV of every trial.
std::string RenderSweepPage(const v1::SweepStatus& status, const std::vector<v1::Trial>& trials,
                            const std::vector<v1::ModelVersion>& versions = {},
                            const std::string& sort = "");
// One trial: its parameters, results, learning curve and lineage (the trial it derives from, up
// to the first, and the trials that derive from it, from `trials`, all of its sweep's).
std::string RenderTrialPage(const v1::SweepStatus& status, const v1::Trial& trial,
                            const std::vector<v1::Trial>& trials);
// One model: its aliases, versions and audit trail.
std::string RenderModelPage(const std::string& model, const v1::ListVersionsResponse& versions);

// Recent predictions served, newest first, each with what an engineer said it is; with
// `form_token` (the viewer may label), a form per prediction to confirm or correct it. `note`:
// a line above the table (e.g. what the last form did), or empty.
std::string RenderPredictionsPage(const std::vector<v1::ServedPrediction>& predictions,
                                  const std::string& model, const std::string& form_token,
                                  const std::string& note);

// The token a labelling form must carry for the holder of `token` (a CSRF token): a hash of the
// holder's own token, which a page of another site cannot read or compute.
std::string FormToken(const Credential& holder);

// What the dashboard needs: the store, the data sets (labels), the coordinator's lease length
// (which tells a live worker from a lost one) and its tokens (empty: --metrics-auth is off, and
// nothing can be labelled from the pages).
struct DashboardContext {
  store::Store* store = nullptr;
  datasets::DataSets* datasets = nullptr;
  int lease_seconds = 30;
  TokenCheck auth;
};

// Answers GET /, /sweeps/ID[?sort=KEY], /sweeps/ID/trials.csv, /sweeps/ID/trials/TRIAL,
// /models/NAME and /predictions[?model=M&unlabelled=1], and POST
// /predictions/ID/label (the one write: a form of label=CLASS&form_token=T, from the same origin,
// by a holder whose role may label; answered with a redirect back); nullopt for other paths
// (404). A malformed ID or name is a 400, an unknown sweep or model a 404, an unreadable database
// a 503, each with the reason on the page.
std::optional<HttpPage> DashboardPage(const DashboardContext& context, const HttpRequest& request);

}  // namespace sweepfarm::api
