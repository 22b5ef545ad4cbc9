#include "coordinator/api/metrics.h"

#include <sstream>

#include "common/metrics_server.h"

namespace sweepfarm::api {

void Metrics::CountResults(int64_t accepted, int64_t duplicate, int64_t stale) {
  accepted_ += accepted;
  duplicate_ += duplicate;
  stale_ += stale;
}

std::string Metrics::Render(store::Store* store, int lease_seconds) const {
  std::ostringstream out;
  auto gauges = store->Gauges(lease_seconds);
  MetricFamily(out, "sweepfarm_database_up", "gauge",
               "1 if this scrape could read the database, else 0 (then no farm gauges).");
  out << "sweepfarm_database_up " << (gauges.ok() ? 1 : 0) << "\n";
  if (gauges.ok()) {
    MetricFamily(out, "sweepfarm_sweeps", "gauge", "Sweeps by state.");
    for (const char* state : {"running", "done", "cancelled"}) {
      auto it = gauges->sweeps.find(state);
      out << "sweepfarm_sweeps{state=\"" << state << "\"} "
          << (it == gauges->sweeps.end() ? 0 : it->second) << "\n";
    }
    MetricFamily(out, "sweepfarm_queue_trials", "gauge",
                 "Trials of running sweeps waiting for a worker (queued) or leased (running).");
    out << "sweepfarm_queue_trials{state=\"queued\"} " << gauges->queued << "\n";
    out << "sweepfarm_queue_trials{state=\"running\"} " << gauges->running << "\n";
    MetricFamily(out, "sweepfarm_workers_active", "gauge",
                 "Workers alive: seen within two leases (the dashboard's \"alive\").");
    out << "sweepfarm_workers_active " << gauges->workers << "\n";
  }
  MetricFamily(out, "sweepfarm_results_total", "counter",
               "Trial reports received by this coordinator, by outcome.");
  out << "sweepfarm_results_total{outcome=\"accepted\"} " << accepted_ << "\n";
  out << "sweepfarm_results_total{outcome=\"duplicate\"} " << duplicate_ << "\n";
  out << "sweepfarm_results_total{outcome=\"stale\"} " << stale_ << "\n";
  MetricFamily(out, "sweepfarm_trials_leased_total", "counter", "Trials leased to workers.");
  out << "sweepfarm_trials_leased_total " << leased_ << "\n";
  MetricFamily(out, "sweepfarm_leases_expired_total", "counter",
               "Trials whose lease expired (worker lost) and were re-queued or failed.");
  out << "sweepfarm_leases_expired_total " << expired_ << "\n";
  rpcs_.Render(out);
  return out.str();
}

}  // namespace sweepfarm::api
