// SQL lives here, one prepared statement per operation, with $n parameters only.
#include "coordinator/store/store.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <pqxx/pqxx>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "common/logging.h"
#include "common/sha256.h"
#include "coordinator/store/internal.h"
#include "coordinator/store/migrations.h"
#include "coordinator/sweep/halving.h"
#include "coordinator/sweep/search_space.h"
#include "coordinator/sweep/sweep_yaml.h"
#include "coordinator/sweep/tpe.h"

namespace sweepfarm::store {
namespace {

// A sweep's status row (SweepStatusFromRow reads it), for one sweep or a list, in one query:
// the trial counts and the best result come from lateral subqueries, not a query per sweep.
std::string SweepStatusSelect() {
  return "SELECT s.id, s.name, s.model, s.state, s.total_trials, s.created_at::text, "
         "  extract(epoch FROM coalesce(s.finished_at, now()) - s.created_at), "
         "  c.queued, c.running, c.succeeded, c.failed, c.retried, c.lost_leases, c.errors, "
         "  (SELECT count(*) FROM report_log l JOIN trials u ON u.id = l.trial_id "
         "   WHERE u.sweep_id = s.id AND l.outcome = 'stale'), "
         "  coalesce(s.parent_sweep_id, 0), coalesce(s.seeded_from, ''), c.seeds, c.neighbours, "
         "  c.cancelled, coalesce(s.cancel_reason, ''), "
         "  b.trial_id, b.selection_accuracy, b.baseline_accuracy, b.holdout_accuracy, "
         "  coalesce(s.pruned_at::text, ''), c.rung, "
         "  coalesce(jsonb_array_length(s.spec->'rung_epochs'), 0), "
         "  coalesce((s.spec->'rung_epochs'->>c.rung)::int, 0), "
         "  CASE WHEN s.spec->>'method' = 'tpe' THEN ((s.spec->>'budget')::bigint + "
         "    (s.spec->>'round_size')::int - 1) / (s.spec->>'round_size')::int ELSE 0 END, "
         "  s.priority, coalesce(s.deadline_at::text, ''), coalesce(s.ended_early, ''), "
         "  coalesce((SELECT a.actor FROM sweep_audit a WHERE a.sweep_id = s.id "
         "    AND a.action = 'submit' ORDER BY a.id LIMIT 1), ''), "
         "  coalesce(extract(epoch FROM s.deadline_at - now()), 0)::float8, "
         "  coalesce(s.spec->>'objective_metric', 'selection_accuracy'), b.selection_score "
         "FROM sweeps s "
         "CROSS JOIN LATERAL (SELECT "
         "    count(*) FILTER (WHERE t.state = 'queued') AS queued, "
         "    count(*) FILTER (WHERE t.state = 'running') AS running, "
         "    count(*) FILTER (WHERE t.state = 'succeeded') AS succeeded, "
         "    count(*) FILTER (WHERE t.state = 'failed') AS failed, "
         "    count(*) FILTER (WHERE t.attempts > 1) AS retried, "
         "    coalesce(sum(t.lost_leases), 0) AS lost_leases, "
         "    coalesce(sum(t.errors), 0) AS errors, "
         "    count(*) FILTER (WHERE t.origin = 'seed') AS seeds, "
         "    count(*) FILTER (WHERE t.origin = 'neighbour') AS neighbours, "
         "    count(*) FILTER (WHERE t.state = 'cancelled') AS cancelled, "
         "    coalesce(max(t.rung), 0) AS rung "
         "  FROM trials t WHERE t.sweep_id = s.id) c "
         "LEFT JOIN LATERAL (SELECT r.trial_id, r.selection_accuracy, r.baseline_accuracy, "
         "    r.holdout_accuracy, r.selection_score "
         "  FROM results r JOIN trials t ON t.id = r.trial_id WHERE t.sweep_id = s.id "
         "  ORDER BY r.selection_score DESC, r.trial_id LIMIT 1) b ON true ";
}

}  // namespace

// Statement texts, prepared on every pooled connection.
const std::vector<Statement>& SweepStatements() {
  static const auto* s = new std::vector<Statement>{
      {"insert_sweep",
       "INSERT INTO sweeps (name, model, source_name, yaml, spec, spec_hash, total_trials, "
       "  parent_sweep_id, seeded_from, pending_rungs, priority, deadline_at, max_failed_trials, "
       "  dataset_sha256) "
       "VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, NULLIF($8, 0), NULLIF($9, ''), $10, $11, "
       "  CASE WHEN $12 > 0 THEN now() + make_interval(secs => $12) END, NULLIF($13, 0), "
       "  NULLIF($14, '')) "
       "RETURNING id"},
      {"insert_trials",
       "INSERT INTO trials (sweep_id, ordinal, params, max_attempts, origin, parent_trial_id, "
       "  rung) "
       "SELECT $1, (t.ord - 1)::int, t.elem, $3, coalesce(($4::text[])[t.ord], 'search'), "
       "  NULLIF(($5::bigint[])[t.ord], 0), CASE WHEN $6 THEN 0 END "
       "FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(elem, ord)"},
      {"register_worker",
       "INSERT INTO workers (id, host, device, capacity, holder) VALUES ($1, $2, $3, $4, $5) "
       "ON CONFLICT (id) DO UPDATE SET last_seen = now()"},
      {"worker_holder", "SELECT holder FROM workers WHERE id = $1"},
      {"trial_holder", "SELECT state, lease_token, worker_id FROM trials WHERE id = $1"},
      // The running sweep of the highest priority (ties: the oldest) with queued trials and time
      // left (limits.max_seconds), the architecture and optimizer of its oldest queued trial
      // (searched channels, kernel size, kind, optimizer; absent: the sweep's), and up to $2
      // queued trials of both: one fusable bundle.
      {"lease",
       "WITH head AS ("
       "  SELECT sweep_id, params->'channels' AS channels, params->'kernel_size' AS kernel, "
       "    params->'architecture' AS arch, params->'optimizer' AS opt "
       "  FROM trials WHERE state = 'queued' AND sweep_id = ("
       "    SELECT s.id FROM sweeps s WHERE s.state = 'running' "
       "      AND (s.deadline_at IS NULL OR s.deadline_at > now()) AND EXISTS ("
       "      SELECT 1 FROM trials q WHERE q.sweep_id = s.id AND q.state = 'queued') "
       "    ORDER BY s.priority DESC, s.id LIMIT 1) "
       "  ORDER BY id LIMIT 1) "
       "UPDATE trials t SET state = 'running', attempts = t.attempts + 1, "
       // 128 bits, as 32 hex digits, of the SHA-256 of two random UUIDs (244 bits from the
       // server's strong random source): a token can be neither guessed nor derived from another.
       "  lease_token = encode(substr(sha256(uuid_send(gen_random_uuid()) || "
       "    uuid_send(gen_random_uuid())), 1, 16), 'hex'), "
       "  worker_id = $1, started_at = now(), "
       "  lease_expires_at = now() + make_interval(secs => $3) "
       "WHERE t.id IN ("
       "  SELECT q.id FROM trials q, head h WHERE q.state = 'queued' AND q.sweep_id = h.sweep_id "
       "    AND q.params->'channels' IS NOT DISTINCT FROM h.channels "
       "    AND q.params->'kernel_size' IS NOT DISTINCT FROM h.kernel "
       "    AND q.params->'architecture' IS NOT DISTINCT FROM h.arch "
       "    AND q.params->'optimizer' IS NOT DISTINCT FROM h.opt "
       "  ORDER BY q.id LIMIT $2 FOR UPDATE OF q SKIP LOCKED) "
       "RETURNING t.id, t.sweep_id, t.params::text, t.lease_token, coalesce(t.rung, 0), "
       // Successive halving: the epochs of the parent's checkpoint a promoted trial resumes from.
       "  coalesce((SELECT c.epochs FROM trial_checkpoints c "
       "            WHERE c.trial_id = t.parent_trial_id AND t.origin = 'promoted'), 0)"},
      {"sweep_spec", "SELECT spec::text FROM sweeps WHERE id = $1"},
      {"touch_worker", "UPDATE workers SET last_seen = now() WHERE id = $1"},
      {"heartbeat",
       "UPDATE trials SET lease_expires_at = now() + make_interval(secs => $4) "
       "WHERE state = 'running' AND worker_id = $1 AND id = ANY($2::bigint[]) "
       "  AND lease_token = ANY($3::text[]) RETURNING id, lease_token"},
      {"complete_trial",
       "UPDATE trials SET state = 'succeeded', finished_at = now(), lease_expires_at = NULL "
       "WHERE id = $1 AND lease_token = $2 AND state = 'running' AND worker_id = $3 "
       "RETURNING sweep_id"},
      {"insert_result",
       "INSERT INTO results (trial_id, lease_token, test_accuracy, test_loss, train_loss, "
       "  wall_seconds, samples_per_second, steps, bundle_size, dataset_hash, device, worker_id, "
       "  baseline_accuracy, selection_accuracy, holdout_accuracy, resumed_epochs, "
       "  train_loss_curve, selection_balanced_accuracy, holdout_balanced_accuracy, "
       "  selection_score, selection_confusion, holdout_confusion) "
       "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
       "  $14::double precision, $15, $16, $17::real[], $18::double precision, $19, "
       "  CASE WHEN s.spec->>'objective_metric' = 'selection_balanced_accuracy' "
       "    THEN $18::double precision ELSE $14::double precision END, "
       "  NULLIF($20, '{}')::bigint[], NULLIF($21, '{}')::bigint[] "
       "FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE t.id = $1"},
      {"insert_predictions",
       "INSERT INTO predictions (trial_id, samples, classes, selection_size, encoding, probs) "
       "VALUES ($1, $2, $3, $4, 'f16le', $5)"},
      {"fail_trial",
       "UPDATE trials SET errors = errors + 1, "
       "  state = CASE WHEN errors + 1 >= max_attempts THEN 'failed' ELSE 'queued' END, "
       "  finished_at = CASE WHEN errors + 1 >= max_attempts THEN now() END, "
       "  lease_expires_at = NULL, worker_id = NULL, last_error = $3 "
       "WHERE id = $1 AND lease_token = $2 AND state = 'running' AND worker_id = $4 "
       "RETURNING sweep_id, state"},
      {"log_report",
       "INSERT INTO report_log (trial_id, lease_token, worker_id, ok, outcome) "
       "VALUES ($1, $2, $3, $4, $5)"},
      {"release_lease",
       "UPDATE trials SET state = 'queued', lease_expires_at = NULL, worker_id = NULL, "
       "  lease_token = NULL, attempts = greatest(attempts - 1, 0) "
       "WHERE id = $1 AND lease_token = $2 AND state = 'running' AND worker_id = $3 RETURNING id"},
      {"trial_lease", "SELECT state, lease_token FROM trials WHERE id = $1"},
      {"requeue_expired",
       "UPDATE trials SET lost_leases = lost_leases + 1, "
       "  state = CASE WHEN lost_leases + 1 >= max_lost THEN 'failed' ELSE 'queued' END, "
       "  finished_at = CASE WHEN lost_leases + 1 >= max_lost THEN now() END, "
       "  last_error = 'lease expired: worker ' || coalesce(worker_id, '?') || ' lost', "
       "  worker_id = NULL, lease_expires_at = NULL, lease_token = NULL "
       "WHERE state = 'running' AND lease_expires_at < now() RETURNING sweep_id, state"},
      {"lock_sweep", "SELECT state, priority FROM sweeps WHERE id = $1 FOR UPDATE"},
      {"finish_running_sweeps",
       "UPDATE sweeps s SET state = 'done', finished_at = now() WHERE s.state = 'running' "
       "AND s.pending_rungs = 0 AND NOT EXISTS (SELECT 1 FROM trials t WHERE t.sweep_id = s.id "
       "  AND t.state IN ('queued', 'running')) RETURNING id"},
      // Successive halving and TPE. A sweep whose rungs (rounds) are not all started and that
      // has no trial queued or running: its rung has ended (in this transaction or a concurrent
      // one).
      {"stalled_rounds",
       "SELECT id FROM sweeps s WHERE s.state = 'running' AND s.pending_rungs > 0 "
       "AND NOT EXISTS (SELECT 1 FROM trials t WHERE t.sweep_id = s.id "
       "  AND t.state IN ('queued', 'running')) ORDER BY id"},
      // No rung or round starts after the sweep's time limit.
      {"rounds_pending",
       "SELECT 1 FROM sweeps WHERE id = $1 AND state = 'running' AND pending_rungs > 0 "
       "  AND (deadline_at IS NULL OR deadline_at > now())"},
      // Limits (EnforceLimits). Sweeps whose time limit has just passed: no further rungs or
      // rounds, and the reason recorded once.
      {"reach_deadlines",
       "UPDATE sweeps s SET pending_rungs = 0, "
       "  total_trials = (SELECT count(*) FROM trials t WHERE t.sweep_id = s.id), "
       "  ended_early = 'limits.max_seconds (' || "
       "    round(extract(epoch FROM s.deadline_at - s.created_at))::bigint || "
       "    ' s after submission) reached: nothing leased since, queued trials dropped' "
       "WHERE s.state = 'running' AND s.deadline_at <= now() AND s.ended_early IS NULL "
       "RETURNING s.id, s.ended_early"},
      // Queued trials of running sweeps past their time limit (also those a retry or a lost
      // lease queued again after it): dropped. Trial rows only (the sweeps are read, not
      // locked), before any sweep row is locked: the order reports and the reaper lock in.
      {"drop_past_deadline",
       "WITH dropped AS (UPDATE trials t SET state = 'cancelled', finished_at = now(), "
       "  lease_expires_at = NULL, lease_token = NULL, "
       "  last_error = 'dropped: limits.max_seconds reached (the sweep''s time limit)' "
       "  FROM sweeps s WHERE s.id = t.sweep_id AND s.state = 'running' "
       "    AND s.deadline_at <= now() AND t.state = 'queued' RETURNING t.sweep_id) "
       "SELECT sweep_id, count(*) FROM dropped GROUP BY sweep_id"},
      {"over_failure_limit",
       "SELECT s.id, s.max_failed_trials, count(*) FROM sweeps s "
       "JOIN trials t ON t.sweep_id = s.id AND t.state = 'failed' "
       "WHERE s.state = 'running' AND s.max_failed_trials IS NOT NULL "
       "GROUP BY s.id HAVING count(*) >= s.max_failed_trials ORDER BY s.id"},
      {"set_ended_early", "UPDATE sweeps SET ended_early = $2 WHERE id = $1"},
      // ExtendSweep.
      {"lock_sweep_for_extend",
       "SELECT state, model, pruned_at IS NOT NULL, coalesce(ended_early, ''), yaml, "
       "  source_name, spec::text, (SELECT count(*) FROM trials WHERE sweep_id = $1) "
       "FROM sweeps WHERE id = $1 FOR UPDATE"},
      {"insert_more",
       "INSERT INTO trials (sweep_id, ordinal, params, max_attempts, origin) "
       "SELECT $1, (SELECT max(ordinal) FROM trials WHERE sweep_id = $1) + t.ord::int, t.elem, $3, "
       "  'search' FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(elem, ord)"},
      {"extend_sweep",
       "UPDATE sweeps SET state = 'running', finished_at = NULL, "
       "  spec = jsonb_set(spec, '{budget}', to_jsonb($2::text)), "
       "  total_trials = total_trials + $3, pending_rungs = $4 WHERE id = $1"},
      {"audit_sweep",
       "INSERT INTO sweep_audit (sweep_id, action, actor, detail) VALUES ($1, $2, $3, $4)"},
      {"sweep_history",
       "SELECT at::text, action, actor, detail FROM sweep_audit WHERE sweep_id = $1 ORDER BY id"},
      {"rung_state",
       "SELECT coalesce(max(rung), 0), count(*) FILTER (WHERE state IN ('queued', 'running')) "
       "FROM trials WHERE sweep_id = $1"},
      {"rung_size", "SELECT count(*) FROM trials WHERE sweep_id = $1 AND rung = $2"},
      // The best $4 succeeded trials of rung $2, trained again with $3 epochs as rung $2 + 1.
      {"promote_rung",
       "INSERT INTO trials (sweep_id, ordinal, params, max_attempts, origin, parent_trial_id, "
       "  rung) "
       "SELECT $1, (SELECT max(ordinal) FROM trials WHERE sweep_id = $1) + (row_number() OVER "
       "    (ORDER BY r.selection_score DESC, t.id))::int, "
       "  jsonb_set(t.params, '{epochs}', to_jsonb($3::int)), t.max_attempts, 'promoted', t.id, "
       "  $2 + 1 "
       "FROM trials t JOIN results r ON r.trial_id = t.id "
       "WHERE t.sweep_id = $1 AND t.rung = $2 AND t.state = 'succeeded' "
       "ORDER BY r.selection_score DESC, t.id LIMIT $4 RETURNING id"},
      // Checkpoints no queued or running promoted trial resumes from (at a rung's end: all but
      // those the new rung needs; at the sweep's end or cancel: all).
      {"drop_checkpoints",
       "DELETE FROM trial_checkpoints c USING trials t "
       "WHERE t.id = c.trial_id AND t.sweep_id = $1 AND NOT EXISTS (SELECT 1 FROM trials p "
       "  WHERE p.sweep_id = $1 AND p.parent_trial_id = t.id AND p.origin = 'promoted' "
       "    AND p.state IN ('queued', 'running'))"},
      // A trial running under this lease: its epochs, rung and sweep's spec (TakesCheckpoint).
      {"checkpoint_trial",
       "SELECT (t.params->>'epochs')::int, coalesce(t.rung, 0), s.spec::text "
       "FROM trials t JOIN sweeps s ON s.id = t.sweep_id "
       "WHERE t.id = $1 AND t.state = 'running' AND t.lease_token = $2"},
      {"upsert_checkpoint",
       "INSERT INTO trial_checkpoints (trial_id, lease_token, epochs, sha256, format, arch, "
       "  size_bytes, content) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) "
       "ON CONFLICT (trial_id) DO UPDATE SET lease_token = excluded.lease_token, "
       "  epochs = excluded.epochs, sha256 = excluded.sha256, format = excluded.format, "
       "  arch = excluded.arch, size_bytes = excluded.size_bytes, content = excluded.content, "
       "  created_at = now()"},
      {"trial_held",
       "SELECT t.origin, coalesce(t.parent_trial_id, 0) FROM trials t "
       "WHERE t.id = $1 AND t.state = 'running' AND t.lease_token = $2 AND t.worker_id = $3"},
      {"get_checkpoint",
       "SELECT epochs, sha256, format, arch::text, content FROM trial_checkpoints "
       "WHERE trial_id = $1"},
      // TPE.
      {"sweep_yaml", "SELECT yaml, source_name FROM sweeps WHERE id = $1"},
      {"trial_count", "SELECT count(*) FROM trials WHERE sweep_id = $1"},
      // The sweep's results and, for a seeded sweep, its parent sweep's on the same data (a
      // nightly TPE sweep starts from everything the night before learnt), each scored by this
      // sweep's objective (a parent's result without that metric is left out).
      {"observations",
       "WITH o AS (SELECT spec->>'objective_metric' = 'selection_balanced_accuracy' AS balanced "
       "  FROM sweeps WHERE id = $1) "
       "SELECT t.params::text, "
       "  CASE WHEN o.balanced THEN r.selection_balanced_accuracy ELSE r.selection_accuracy END "
       "FROM o, trials t JOIN results r ON r.trial_id = t.id "
       "WHERE (t.sweep_id = $1 "
       "  OR (t.sweep_id = (SELECT parent_sweep_id FROM sweeps WHERE id = $1) "
       "      AND r.dataset_hash IN (SELECT x.dataset_hash FROM results x "
       "        JOIN trials y ON y.id = x.trial_id WHERE y.sweep_id = $1))) "
       "  AND (NOT o.balanced OR r.selection_balanced_accuracy IS NOT NULL) "
       "ORDER BY t.id"},
      {"insert_round",
       "INSERT INTO trials (sweep_id, ordinal, params, max_attempts, origin, rung) "
       "SELECT $1, (SELECT max(ordinal) FROM trials WHERE sweep_id = $1) + t.ord::int, t.elem, $3, "
       "  'search', $4 "
       "FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(elem, ord)"},
      {"set_rungs",
       "UPDATE sweeps SET pending_rungs = $2, total_trials = (SELECT count(*) FROM trials "
       "  WHERE sweep_id = $1) + $3 WHERE id = $1"},
      {"finish_sweep",
       "UPDATE sweeps SET state = 'done', finished_at = now() "
       "WHERE id = $1 AND state = 'running' AND pending_rungs = 0 AND NOT EXISTS ("
       "  SELECT 1 FROM trials WHERE sweep_id = $1 AND state IN ('queued', 'running'))"},
      {"sweep_status", SweepStatusSelect() + "WHERE s.id = $1"},
      {"cancel_trials",
       "UPDATE trials t SET state = 'cancelled', finished_at = now(), lease_expires_at = NULL, "
       "  lease_token = NULL, last_error = 'cancelled: ' || $2 "
       "FROM (SELECT id, state FROM trials WHERE sweep_id = $1 AND state IN ('queued', 'running') "
       "      FOR UPDATE) o "
       "WHERE t.id = o.id RETURNING o.state"},
      {"list_workers",
       "SELECT w.id, w.host, w.device, w.capacity, w.registered_at::text, "
       "  extract(epoch FROM now() - w.last_seen), "
       "  w.last_seen > now() - make_interval(secs => 2 * $2), "
       "  (SELECT count(*) FROM trials t WHERE t.state = 'running' AND t.worker_id = w.id), "
       "  l.results, l.recent, l.recent_epochs, l.errors, l.stale "
       "FROM workers w CROSS JOIN LATERAL (SELECT "
       "    count(*) FILTER (WHERE r.outcome = 'accepted' AND r.ok) AS results, "
       "    count(*) FILTER (WHERE r.outcome = 'accepted' AND r.ok "
       "      AND r.reported_at > now() - interval '1 hour') AS recent, "
       "    coalesce(sum((t.params->>'epochs')::int) FILTER (WHERE r.outcome = 'accepted' "
       "      AND r.ok AND r.reported_at > now() - interval '1 hour'), 0) AS recent_epochs, "
       "    count(*) FILTER (WHERE r.outcome = 'accepted' AND NOT r.ok) AS errors, "
       "    count(*) FILTER (WHERE r.outcome = 'stale') AS stale "
       "  FROM report_log r JOIN trials t ON t.id = r.trial_id WHERE r.worker_id = w.id) l "
       "WHERE w.last_seen > now() - make_interval(secs => $1) "
       "ORDER BY w.last_seen DESC, w.id"},
      {"set_priority", "UPDATE sweeps SET priority = $2 WHERE id = $1"},
      {"cancel_sweep",
       "UPDATE sweeps SET state = 'cancelled', finished_at = now(), cancel_reason = $2 "
       "WHERE id = $1 AND state = 'running'"},
      {"list_sweeps",
       SweepStatusSelect() + "WHERE ($1 = '' OR s.state = $1) ORDER BY s.id DESC LIMIT $2"},
      // Retention (PruneSweeps). Predictions and weight links are deleted for every pruned sweep,
      // so what arrived after a sweep was pruned (a late upload) goes the next time.
      {"prune_mark",
       "UPDATE sweeps SET pruned_at = now() WHERE state IN ('done', 'cancelled') "
       "  AND pruned_at IS NULL AND finished_at <= now() - make_interval(secs => $1) RETURNING id"},
      {"prune_predictions",
       "WITH d AS (DELETE FROM predictions p USING trials t, sweeps s "
       "  WHERE t.id = p.trial_id AND s.id = t.sweep_id AND s.pruned_at IS NOT NULL "
       "  RETURNING octet_length(p.probs) AS n) "
       "SELECT count(*), coalesce(sum(n), 0) FROM d"},
      {"prune_kept",
       "SELECT count(*) FROM trial_artifacts a JOIN trials t ON t.id = a.trial_id "
       "WHERE t.sweep_id = ANY($1::bigint[]) "
       "  AND EXISTS (SELECT 1 FROM model_members m WHERE m.trial_id = a.trial_id)"},
      {"prune_links",
       "DELETE FROM trial_artifacts a USING trials t, sweeps s "
       "WHERE t.id = a.trial_id AND s.id = t.sweep_id AND s.pruned_at IS NOT NULL "
       "  AND NOT EXISTS (SELECT 1 FROM model_members m WHERE m.trial_id = a.trial_id)"},
      {"prune_artifacts",
       "WITH d AS (DELETE FROM artifacts a "
       "  WHERE NOT EXISTS (SELECT 1 FROM trial_artifacts x WHERE x.sha256 = a.sha256) "
       "    AND NOT EXISTS (SELECT 1 FROM model_members m WHERE m.sha256 = a.sha256) "
       "  RETURNING a.size_bytes) "
       "SELECT count(*), coalesce(sum(size_bytes), 0) FROM d"},
      // Data set versions nothing uses (PruneSweepsResponse.datasets_deleted), then content that
      // no version refers to.
      {"prune_datasets",
       "DELETE FROM dataset_versions v "
       "WHERE v.created_at <= now() - make_interval(secs => $1) "
       "  AND v.version < (SELECT max(w.version) FROM dataset_versions w WHERE w.name = v.name) "
       "  AND NOT EXISTS (SELECT 1 FROM sweeps s WHERE s.dataset_sha256 = v.sha256 "
       "                  AND s.pruned_at IS NULL) "
       "  AND NOT EXISTS (SELECT 1 FROM model_versions m WHERE m.dataset_hash = v.sha256) "
       "RETURNING v.name || '@' || v.version"},
      {"prune_blobs",
       "WITH d AS (DELETE FROM dataset_blobs b WHERE NOT EXISTS ("
       "  SELECT 1 FROM dataset_versions v WHERE v.sha256 = b.sha256) "
       "  RETURNING octet_length(b.bytes) AS n) "
       "SELECT coalesce(sum(n), 0) FROM d"},
      {"gauges",
       "SELECT 'sweeps', state, count(*) FROM sweeps GROUP BY state "
       "UNION ALL SELECT 'trials', t.state, count(*) FROM trials t JOIN sweeps s "
       "  ON s.id = t.sweep_id WHERE s.state = 'running' AND t.state IN ('queued', 'running') "
       "  GROUP BY t.state "
       // Alive as ListWorkers says: seen within two leases.
       "UNION ALL SELECT 'workers', '', count(*) FROM workers "
       "  WHERE last_seen > now() - make_interval(secs => 2 * $1)"},
      {"list_trials",
       "SELECT t.id, t.params::text, t.state, t.attempts, coalesce(t.worker_id, r.worker_id, ''), "
       "  coalesce(t.last_error, ''), r.test_accuracy, r.test_loss, r.train_loss, r.wall_seconds, "
       "  r.samples_per_second, r.steps, r.dataset_hash, r.device, r.bundle_size, "
       "r.baseline_accuracy, r.selection_accuracy, r.holdout_accuracy, t.origin, "
       "  coalesce(t.parent_trial_id, 0), coalesce(t.rung, 0), r.resumed_epochs, "
       "  coalesce(array_to_string(r.train_loss_curve, ','), ''), "
       "  coalesce(r.selection_balanced_accuracy, 0), coalesce(r.holdout_balanced_accuracy, 0), "
       "  r.selection_score "
       "FROM trials t LEFT JOIN results r ON r.trial_id = t.id "
       "WHERE t.sweep_id = $1 AND (NOT $2 OR t.state = 'succeeded') "
       "ORDER BY CASE WHEN $2 THEN -r.selection_score END, t.id "
       "LIMIT CASE WHEN $3 > 0 THEN $3 END"},
      {"trial_confusion",
       "SELECT coalesce(array_to_string(r.selection_confusion, ','), ''), "
       "  coalesce(array_to_string(r.holdout_confusion, ','), '') "
       "FROM results r JOIN trials t ON t.id = r.trial_id WHERE t.sweep_id = $1 AND t.id = $2"},
      {"sweep_exists", "SELECT 1 FROM sweeps WHERE id = $1"},
      {"result_lease", "SELECT lease_token FROM results WHERE trial_id = $1"},
      {"insert_artifact",
       "INSERT INTO artifacts (sha256, format, arch, size_bytes, content) "
       "VALUES ($1, $2, $3::jsonb, $4, $5) ON CONFLICT (sha256) DO NOTHING"},
      {"link_artifact",
       "INSERT INTO trial_artifacts (trial_id, sha256) VALUES ($1, $2) "
       "ON CONFLICT (trial_id) DO NOTHING"},
      {"trial_artifact_sha", "SELECT sha256 FROM trial_artifacts WHERE trial_id = $1"},
      {"result_holder", "SELECT lease_token, worker_id FROM results WHERE trial_id = $1"},
      {"candidates",
       "SELECT p.trial_id, r.selection_score, r.holdout_accuracy, p.samples, p.classes, "
       "  p.selection_size, r.dataset_hash, p.probs "
       "FROM predictions p JOIN results r ON r.trial_id = p.trial_id "
       "JOIN trials t ON t.id = p.trial_id WHERE t.sweep_id = $1 "
       "  AND (NOT $3 OR EXISTS (SELECT 1 FROM trial_artifacts a WHERE a.trial_id = p.trial_id)) "
       "ORDER BY r.selection_score DESC, p.trial_id LIMIT $2"},
      // Registry.
      {"lock_model", "SELECT pg_advisory_xact_lock(hashtextextended('model:' || $1, 0))"},
      {"alias_version", "SELECT version FROM model_aliases WHERE model = $1 AND alias = $2"},
      {"published_version",
       "SELECT version FROM model_versions WHERE model = $1 AND sweep_id = $2"},
      {"next_version", "SELECT coalesce(max(version), 0) + 1 FROM model_versions WHERE model = $1"},
      {"insert_version",
       "INSERT INTO model_versions (model, version, sweep_id, method, decision, reason, "
       "  selection_accuracy, holdout_accuracy, best_single_trial_id, "
       "  best_single_holdout_accuracy, compared_version, champion_holdout_accuracy, margin, "
       "  holdout_samples, dataset_hash, dataset, architecture, code_version, holdout_report, "
       "  objective, holdout_score, champion_holdout_score, decision_threshold, threshold_tuned, "
       "  argmax_holdout_score, input_stats, compared_dataset) "
       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULLIF($11, 0), "
       "  CASE WHEN $11 > 0 THEN $12::double precision END, $13, $14, $15, $16::jsonb, $17::jsonb, "
       "$18, NULLIF($19, '')::jsonb, $20, $21, CASE WHEN $11 > 0 THEN $22::double precision END, "
       "$23::double precision, $24, "
       "CASE WHEN $23::double precision > 0 THEN $25::double precision END, "
       "NULLIF($26, '')::jsonb, NULLIF($27, ''))"},
      {"insert_member",
       "INSERT INTO model_members (model, version, position, trial_id, weight, sha256) "
       "VALUES ($1, $2, $3, $4, $5, (SELECT sha256 FROM trial_artifacts WHERE trial_id = $4))"},
      {"upsert_alias",
       "INSERT INTO model_aliases (model, alias, version) VALUES ($1, $2, $3) "
       "ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated_at = now()"},
      {"insert_audit",
       "INSERT INTO registry_audit (model, alias, action, from_version, to_version, actor, reason) "
       "VALUES ($1, $2, $3, NULLIF($4, 0), $5, $6, $7)"},
      {"get_version",
       "SELECT v.version, v.sweep_id, v.method, v.decision, v.reason, v.selection_accuracy, "
       "  v.holdout_accuracy, v.best_single_trial_id, v.best_single_holdout_accuracy, "
       "  coalesce(v.compared_version, 0), coalesce(v.champion_holdout_accuracy, 0), v.margin, "
       "  v.holdout_samples, v.dataset_hash, v.dataset::text, v.architecture::text, "
       "  v.code_version, v.created_at::text, coalesce(s.parent_sweep_id, 0), "
       "  coalesce((SELECT string_agg(a.alias, ',' ORDER BY a.alias) FROM model_aliases a "
       "            WHERE a.model = v.model AND a.version = v.version), ''), "
       "  coalesce(v.holdout_report::text, ''), v.objective, v.holdout_score, "
       "  coalesce(v.champion_holdout_score, 0), v.decision_threshold, v.threshold_tuned, "
       "  coalesce(v.argmax_holdout_score, 0), coalesce(v.input_stats::text, ''), "
       "  coalesce(v.compared_dataset, '') "
       "FROM model_versions v JOIN sweeps s ON s.id = v.sweep_id "
       "WHERE v.model = $1 AND ($2 = 0 OR v.version = $2) ORDER BY v.version DESC"},
      {"get_members",
       "SELECT m.trial_id, m.weight, m.sha256, a.size_bytes, a.format, a.arch::text, "
       "  t.params::text, r.selection_accuracy, r.holdout_accuracy "
       "FROM model_members m JOIN artifacts a ON a.sha256 = m.sha256 "
       "JOIN trials t ON t.id = m.trial_id JOIN results r ON r.trial_id = m.trial_id "
       "WHERE m.model = $1 AND m.version = $2 ORDER BY m.position"},
      {"version_artifacts",
       "SELECT m.sha256, a.content FROM model_members m JOIN artifacts a ON a.sha256 = m.sha256 "
       "WHERE m.model = $1 AND m.version = $2 ORDER BY m.position"},
      {"get_artifact", "SELECT format, arch::text, content FROM artifacts WHERE sha256 = $1"},
      {"list_aliases", "SELECT alias, version FROM model_aliases WHERE model = $1 ORDER BY alias"},
      {"list_audit",
       "SELECT id, at::text, alias, action, coalesce(from_version, 0), to_version, actor, reason "
       "FROM registry_audit WHERE model = $1 ORDER BY id DESC LIMIT $2"},
      {"last_move",
       "SELECT coalesce(from_version, 0) FROM registry_audit "
       "WHERE model = $1 AND alias = $2 AND action <> 'reject' AND to_version = $3 "
       "ORDER BY id DESC LIMIT 1"},
      {"seed_members",
       "SELECT m.trial_id, t.params::text FROM model_members m JOIN trials t ON t.id = m.trial_id "
       "WHERE m.model = $1 AND m.version = $2 ORDER BY m.weight DESC, m.position"},
      {"seed_top",
       "SELECT t.id, t.params::text FROM trials t JOIN results r ON r.trial_id = t.id "
       "WHERE t.sweep_id = $1 ORDER BY r.selection_score DESC, t.id LIMIT $2"},
      {"trial_artifact", "SELECT sha256 FROM trial_artifacts WHERE trial_id = $1"},
      {"version_sweep", "SELECT sweep_id FROM model_versions WHERE model = $1 AND version = $2"},
  };
  return *s;
}

namespace {

// TPE, under the sweep's row lock, when round `round` has ended: proposes the next round from
// every result so far (the sweep's stored YAML gives the space and the search seed). Whether it
// queued trials.
bool AdvanceTpe(pqxx::work& tx, int64_t sweep_id, const v1::SweepSpec& spec, int round) {
  pqxx::row y = tx.exec_prepared1("sweep_yaml", sweep_id);
  const sweep::DatasetResolver resolved = sweep::ResolvedAs(spec.dataset());
  auto parsed = sweep::ParseSweepYaml(y[0].as<std::string>(), y[1].as<std::string>(), &resolved);
  const int64_t so_far = tx.exec_prepared1("trial_count", sweep_id)[0].as<int64_t>();
  const int64_t n = std::min<int64_t>(spec.round_size(), spec.budget() - so_far);
  if (!parsed.ok() || n <= 0) {  // Cannot happen for a sweep that was accepted; end it.
    if (!parsed.ok()) SF_LOG(Error) << "sweep " << sweep_id << ": " << parsed.status().ToString();
    tx.exec_prepared0("set_rungs", sweep_id, 0, 0);
    return false;
  }
  std::vector<sweep::Observation> seen;
  for (const auto& row : tx.exec_prepared("observations", sweep_id)) {
    seen.push_back({FromJson<v1::TrialParams>(row[0].as<std::string>()), row[1].as<double>()});
  }
  const auto proposed = sweep::ProposeTpe(parsed->space, seen, n,
                                          MixKey(parsed->search_seed, static_cast<uint64_t>(round)),
                                          sweep::TpeOptionsFor(spec));
  std::string json = "[";
  for (size_t i = 0; i < proposed.size(); ++i) json += (i ? "," : "") + ToJson(proposed[i]);
  json += "]";
  tx.exec_prepared0("insert_round", sweep_id, json, spec.training().max_attempts(), round + 1);
  const int rounds = sweep::TpeRounds(spec.budget(), spec.round_size());
  // The rounds still to start: the trials left, a round at a time (after an extension the last
  // round before it may have been short).
  const int64_t left = spec.budget() - so_far - n;
  tx.exec_prepared0("set_rungs", sweep_id,
                    static_cast<int>((left + spec.round_size() - 1) / spec.round_size()), left);
  SF_LOG(Info) << "sweep " << sweep_id << ": round " << round + 1 << " of " << rounds
               << " ended; TPE proposes " << n << " trial(s) from " << seen.size() << " result(s)";
  return true;
}

// Successive halving and TPE, under the sweep's row lock: when the current rung (round) has
// ended, its best trials are trained again as the next rung, or the next round is proposed (or,
// halving with none succeeded, the sweep may end). Whether it queued trials.
bool AdvanceRounds(pqxx::work& tx, int64_t sweep_id) {
  // Not halving or TPE, ended, or every rung started.
  if (tx.exec_prepared("rounds_pending", sweep_id).empty()) return false;
  pqxx::row st = tx.exec_prepared1("rung_state", sweep_id);
  const int rung = st[0].as<int>();
  if (st[1].as<int64_t>() > 0) return false;  // The rung is still training.
  // The rung has ended: its sweep's plan (eta, the rungs' epochs) says what comes next.
  const auto spec =
      FromJson<v1::SweepSpec>(tx.exec_prepared1("sweep_spec", sweep_id)[0].as<std::string>());
  if (spec.method() == "tpe") return AdvanceTpe(tx, sweep_id, spec, rung);
  const int next = rung + 1, rungs = spec.rung_epochs_size();
  int64_t promoted = 0;
  if (next < rungs) {
    const int64_t keep = sweep::NextRungSize(
        tx.exec_prepared1("rung_size", sweep_id, rung)[0].as<int64_t>(), spec.eta());
    promoted = static_cast<int64_t>(
        tx.exec_prepared("promote_rung", sweep_id, rung, spec.rung_epochs(next), keep).size());
  }
  tx.exec_prepared0("drop_checkpoints", sweep_id);
  if (promoted == 0) {  // Nothing succeeded to promote (or no rung left): the sweep can end.
    tx.exec_prepared0("set_rungs", sweep_id, 0, 0);
    return false;
  }
  tx.exec_prepared0(
      "set_rungs", sweep_id, rungs - 1 - next,
      sweep::PlannedTrials(sweep::NextRungSize(promoted, spec.eta()), spec.eta(), next + 1, rungs));
  SF_LOG(Info) << "sweep " << sweep_id << ": rung " << rung << " ended; its best " << promoted
               << " trial(s) go on to rung " << next << " (" << spec.rung_epochs(next)
               << " epochs)";
  return true;
}

// Marks a sweep done if no trial is queued or running (and, halving, no rung is left), after
// starting a halving sweep's next rung if its current one has ended. The sweep's row lock
// serialises these checks between concurrent report transactions, and they run after the lock in
// a fresh snapshot, so the last of them sees the others' committed trials. Whether it queued
// trials (a rung or round).
bool FinishSweep(pqxx::work& tx, int64_t sweep_id) {
  tx.exec_prepared("lock_sweep", sweep_id);
  const bool queued = AdvanceRounds(tx, sweep_id);
  if (tx.exec_prepared0("finish_sweep", sweep_id).affected_rows() > 0) {
    tx.exec_prepared0("drop_checkpoints", sweep_id);  // A halving sweep's last rung ended.
  }
  return queued;
}

// Whether a trial of `rung` takes a checkpoint (LeasedTrial.save_checkpoint): in a halving sweep
// that resumes promoted trials, below the last rung.
bool TakesCheckpoint(const v1::SweepSpec& spec, int rung) {
  return !spec.restart_promoted() && rung < spec.rung_epochs_size() - 1;
}

// Rungs (halving) or rounds (TPE) a new sweep has not started yet.
int PendingRounds(const v1::SweepSpec& spec) {
  if (spec.method() == "tpe")
    return std::max(0, sweep::TpeRounds(spec.budget(), spec.round_size()) - 1);
  return std::max(0, spec.rung_epochs_size() - 1);
}

// A PostgreSQL real[] literal (NaN and infinities as PostgreSQL spells them).
std::string FloatArray(const google::protobuf::RepeatedField<float>& v) {
  std::string s = "{";
  for (int i = 0; i < v.size(); ++i) {
    char b[32];
    if (std::isnan(v[i])) {
      std::snprintf(b, sizeof(b), "NaN");
    } else if (std::isinf(v[i])) {
      std::snprintf(b, sizeof(b), "%sInfinity", v[i] < 0 ? "-" : "");
    } else {
      std::snprintf(b, sizeof(b), "%.9g", v[i]);
    }
    s += (i ? "," : "") + std::string(b);
  }
  return s + "}";
}

// A PostgreSQL bigint[] literal of `v` (a vector or a repeated protobuf field of int64).
template <typename Ints>
std::string IntArray(const Ints& v) {
  std::string s = "{";
  for (int64_t x : v) s += (s.size() > 1 ? "," : "") + std::to_string(x);
  return s + "}";
}

// Adds to `out` the values of a column read as array_to_string(..., ','), each read by `parse`.
template <typename Field, typename Parse>
void AddListed(const std::string& text, Field* out, Parse parse) {
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find(',', at);
    if (end == std::string::npos) end = text.size();
    out->Add(parse(text.c_str() + at));
    at = end + 1;
  }
}

// Lease tokens as a text[] literal, each quoted and escaped: the service checks their form, and
// one that was malformed would still be one element, matching nothing.
std::string TokenArray(const std::vector<std::string>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    s += i ? ",\"" : "\"";
    for (char ch : v[i]) {
      if (ch == '"' || ch == '\\') s += '\\';
      s += ch;
    }
    s += '"';
  }
  return s + "}";
}

}  // namespace

Status FromException(const std::exception& e, const char* op) {
  if (dynamic_cast<const std::invalid_argument*>(&e)) {
    return NotFoundError(std::string(op) + ": " + e.what());
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&e)) {
    return UnavailableError(std::string(op) + ": database unreachable: " + e.what());
  }
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) ||
      dynamic_cast<const pqxx::deadlock_detected*>(&e)) {
    return AbortedError(std::string(op) + ": " + e.what());
  }
  return InternalError(std::string(op) + ": " + e.what());
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

void FromJsonInto(const std::string& json, google::protobuf::Message* m) {
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  (void)google::protobuf::util::JsonStringToMessage(json, m, o);
}

Store::~Store() = default;

StatusOr<std::unique_ptr<pqxx::connection>> Store::Connect() try {
  auto conn = std::make_unique<pqxx::connection>(dsn_);
  for (const auto* list : {&SweepStatements(), &DatasetStatements()}) {
    for (const auto& [name, sql] : *list) conn->prepare(name, sql);
  }
  return conn;
} catch (const std::exception& e) {
  return UnavailableError(std::string("connect to database: ") + e.what());
}

StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& dsn, int pool_size) {
  std::unique_ptr<Store> store(new Store());
  store->dsn_ = dsn;
  for (int i = 0; i < pool_size; ++i) {
    SF_ASSIGN_OR_RETURN(auto conn, store->Connect());
    store->idle_.push_back(std::move(conn));
  }
  return store;
}

std::unique_ptr<pqxx::connection> Store::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  available_.wait(lock, [&] { return !idle_.empty(); });
  auto conn = std::move(idle_.back());
  idle_.pop_back();
  return conn;
}

void Store::Release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(conn));
  available_.notify_one();
}

Status Store::Migrate() {
  return Conn::Run(this, "migrate",
                   [&](pqxx::connection& c) -> StatusOr<int> {
                     SF_ASSIGN_OR_RETURN(int n, ApplyMigrations(c, EmbeddedMigrations()));
                     if (n > 0) {
                       SF_LOG(Info) << "applied " << n << " migration(s)";
                     }
                     return n;
                   })
      .status();
}

StatusOr<int64_t> Store::CreateSweep(const NewSweep& s) {
  std::string trials_json = "[";
  for (size_t i = 0; i < s.trials.size(); ++i) {
    trials_json += (i ? "," : "") + ToJson(s.trials[i]);
  }
  trials_json += "]";
  std::string spec_json = ToJson(s.spec);
  return Conn::Run(this, "CreateSweep", [&](pqxx::connection& c) -> StatusOr<int64_t> {
    pqxx::work tx(c);
    int64_t id =
        tx.exec_prepared1(
              "insert_sweep", s.spec.name(), s.spec.model(), s.source_name, s.yaml, spec_json,
              s.spec_hash,
              s.planned_trials > 0 ? s.planned_trials : static_cast<int64_t>(s.trials.size()),
              s.parent_sweep_id, s.seeded_from, PendingRounds(s.spec), s.spec.priority(),
              s.spec.limits().max_seconds(), s.spec.limits().max_failed_trials(),
              s.spec.dataset().sha256())[0]
            .as<int64_t>();
    std::string origins = "{";
    for (size_t i = 0; i < s.origins.size(); ++i) origins += (i ? "," : "") + s.origins[i];
    origins += "}";
    tx.exec_prepared0("insert_trials", id, trials_json, s.spec.training().max_attempts(), origins,
                      IntArray(s.parents), PendingRounds(s.spec) > 0);
    std::string detail = std::to_string(s.trials.size()) + " trials (spec " + s.spec_hash +
                         ", priority " + std::to_string(s.spec.priority()) + ")";
    if (!s.seeded_from.empty()) detail += ", seeded from " + s.seeded_from;
    tx.exec_prepared0("audit_sweep", id, "submit", s.actor, detail);
    tx.commit();
    return id;
  });
}

StatusOr<std::string> Store::RegisterWorker(const std::string& host, const std::string& device,
                                            int capacity, const std::string& holder) {
  std::random_device rd;
  char id[32];
  std::snprintf(id, sizeof(id), "w-%08x%04x", rd(), rd() & 0xffff);
  std::string worker_id = id;
  return Conn::Run(this, "RegisterWorker", [&](pqxx::connection& c) -> StatusOr<std::string> {
    pqxx::work tx(c);
    tx.exec_prepared0("register_worker", worker_id, host, device, capacity, holder);
    tx.commit();
    return worker_id;
  });
}

StatusOr<Lease> Store::LeaseTrials(const std::string& worker_id, int max_trials,
                                   int lease_seconds) {
  return Conn::Run(this, "LeaseWork", [&](pqxx::connection& c) -> StatusOr<Lease> {
    pqxx::work tx(c);
    tx.exec_prepared0("touch_worker", worker_id);
    pqxx::result r = tx.exec_prepared("lease", worker_id, max_trials, lease_seconds);
    Lease lease;
    std::vector<int> rungs;
    for (const auto& row : r) {
      v1::LeasedTrial t;
      t.set_trial_id(row[0].as<int64_t>());
      lease.sweep_id = row[1].as<int64_t>();
      *t.mutable_params() = FromJson<v1::TrialParams>(row[2].as<std::string>());
      t.set_lease_token(row[3].as<std::string>());
      rungs.push_back(row[4].as<int>());
      t.set_resume_epochs(row[5].as<int>());
      lease.trials.push_back(std::move(t));
    }
    if (!lease.trials.empty()) {
      lease.spec = FromJson<v1::SweepSpec>(
          tx.exec_prepared1("sweep_spec", lease.sweep_id)[0].as<std::string>());
      // The lease's trials share one architecture (the statement's grouping): the worker trains
      // the spec's.
      *lease.spec.mutable_architecture() =
          sweep::TrialArchitecture(lease.spec.architecture(), lease.trials[0].params());
      for (size_t i = 0; i < lease.trials.size(); ++i) {
        lease.trials[i].set_save_checkpoint(TakesCheckpoint(lease.spec, rungs[i]));
      }
    }
    tx.commit();
    return lease;
  });
}

StatusOr<std::vector<int64_t>> Store::Heartbeat(const std::string& worker_id,
                                                const std::vector<v1::TrialLease>& leases,
                                                int lease_seconds) {
  std::vector<int64_t> ids;
  std::vector<std::string> tokens;
  for (const auto& l : leases) {
    ids.push_back(l.trial_id());
    tokens.push_back(l.lease_token());
  }
  return Conn::Run(this, "Heartbeat", [&](pqxx::connection& c) -> StatusOr<std::vector<int64_t>> {
    pqxx::work tx(c);
    tx.exec_prepared0("touch_worker", worker_id);
    pqxx::result r =
        tx.exec_prepared("heartbeat", worker_id, IntArray(ids), TokenArray(tokens), lease_seconds);
    tx.commit();
    std::set<std::pair<int64_t, std::string>> held;
    for (const auto& row : r) held.insert({row[0].as<int64_t>(), row[1].as<std::string>()});
    std::vector<int64_t> lost;
    for (const auto& l : leases) {
      if (!held.count({l.trial_id(), l.lease_token()})) lost.push_back(l.trial_id());
    }
    return lost;
  });
}

namespace {

// Locks a sweep that must still be running (cancel, priority): its row (state, priority), or
// NOT_FOUND, or FAILED_PRECONDITION naming the state it ended in.
StatusOr<pqxx::row> LockRunningSweep(pqxx::work& tx, int64_t sweep_id) {
  pqxx::result r = tx.exec_prepared("lock_sweep", sweep_id);
  if (r.empty()) return NotFoundError("sweep " + std::to_string(sweep_id) + " does not exist");
  const std::string state = r[0][0].as<std::string>();
  if (state != "running") {
    return FailedPreconditionError("sweep " + std::to_string(sweep_id) + " has already ended (" +
                                   state + ")");
  }
  return r[0];
}

// Cancels, as CancelSweep would, every running sweep with limits.max_failed_trials failed
// trials, the limit as the reason. Run where trials fail (reports, lost leases) and by the reaper
// (which catches what concurrent reports each fell one short of).
std::vector<LimitReached> CancelOverFailureLimit(pqxx::work& tx) {
  std::vector<LimitReached> out;
  for (const auto& row : tx.exec_prepared("over_failure_limit")) {
    const int64_t id = row[0].as<int64_t>();
    if (!LockRunningSweep(tx, id).ok()) continue;  // Another transaction was first.
    const std::string reason = "limits.max_failed_trials (" + row[1].as<std::string>() +
                               ") reached: " + row[2].as<std::string>() + " trials failed";
    LimitReached r{id, reason, 0};
    for (const auto& t : tx.exec_prepared("cancel_trials", id, reason)) {
      r.dropped += t[0].as<std::string>() == "queued" ? 1 : 0;
    }
    tx.exec_prepared0("cancel_sweep", id, reason);
    tx.exec_prepared0("set_ended_early", id, reason);
    tx.exec_prepared0("drop_checkpoints", id);
    tx.exec_prepared0("audit_sweep", id, "limit", "coordinator", reason);
    SF_LOG(Warning) << "sweep " << id << " cancelled: " << reason << " (" << r.dropped
                    << " queued trial(s) dropped)";
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

StatusOr<RecordedReports> Store::RecordResults(const std::string& worker_id,
                                               const std::vector<v1::TrialReport>& reports) {
  return Conn::Run(this, "ReportResults", [&](pqxx::connection& c) -> StatusOr<RecordedReports> {
    pqxx::work tx(c);
    RecordedReports out;
    std::set<int64_t> sweeps;
    bool failed = false;  // A trial failed for good: a sweep may have reached its limit.
    for (const auto& rep : reports) {
      pqxx::result r;
      if (rep.ok()) {
        r = tx.exec_prepared("complete_trial", rep.trial_id(), rep.lease_token(), worker_id);
        if (r.size() == 1) {
          const v1::TrialResult& m = rep.result();
          tx.exec_prepared0("insert_result", rep.trial_id(), rep.lease_token(), m.test_accuracy(),
                            m.test_loss(), m.train_loss(), m.wall_seconds(), m.samples_per_second(),
                            m.steps(), m.bundle_size(), m.dataset_hash(), m.device(), worker_id,
                            m.baseline_accuracy(), m.selection_accuracy(), m.holdout_accuracy(),
                            m.resumed_epochs(), FloatArray(m.train_loss_curve()),
                            m.selection_balanced_accuracy(), m.holdout_balanced_accuracy(),
                            IntArray(m.selection_confusion()), IntArray(m.holdout_confusion()));
          if (m.has_predictions()) {
            const v1::Predictions& p = m.predictions();
            tx.exec_prepared0("insert_predictions", rep.trial_id(), p.samples(), p.classes(),
                              p.selection_size(), pqxx::binarystring(p.probs_f16()));
          }
        }
      } else {
        r = tx.exec_prepared("fail_trial", rep.trial_id(), rep.lease_token(),
                             "worker " + worker_id + ": " + rep.error(), worker_id);
        failed = failed || (r.size() == 1 && r[0][1].as<std::string>() == "failed");
        out.queued = out.queued || (r.size() == 1 && r[0][1].as<std::string>() == "queued");
      }
      ReportOutcome outcome = ReportOutcome::kAccepted;
      if (r.size() == 1) {
        sweeps.insert(r[0][0].as<int64_t>());
      } else {
        // Not applied: the same report again (idempotent), or a lease this worker lost.
        pqxx::result cur = tx.exec_prepared("trial_lease", rep.trial_id());
        if (cur.empty()) {
          throw std::invalid_argument("trial " + std::to_string(rep.trial_id()) +
                                      " does not exist");
        }
        bool same = !cur[0][1].is_null() && cur[0][1].as<std::string>() == rep.lease_token() &&
                    cur[0][0].as<std::string>() != "running";
        outcome = same ? ReportOutcome::kDuplicate : ReportOutcome::kStale;
      }
      static const char* kNames[] = {"accepted", "duplicate", "stale"};
      tx.exec_prepared0("log_report", rep.trial_id(), rep.lease_token(), worker_id, rep.ok(),
                        kNames[static_cast<int>(outcome)]);
      out.outcomes.push_back(outcome);
    }
    if (failed) CancelOverFailureLimit(tx);
    for (int64_t s : sweeps) out.queued = FinishSweep(tx, s) || out.queued;
    tx.commit();
    return out;
  });
}

StatusOr<int> Store::ReleaseLeases(const std::string& worker_id,
                                   const std::vector<v1::TrialLease>& leases) {
  return Conn::Run(this, "ReleaseLeases", [&](pqxx::connection& c) -> StatusOr<int> {
    pqxx::work tx(c);
    int released = 0;
    for (const auto& l : leases) {
      released += static_cast<int>(
          tx.exec_prepared("release_lease", l.trial_id(), l.lease_token(), worker_id).size());
    }
    tx.commit();
    return released;
  });
}

StatusOr<int> Store::RequeueExpired() {
  return Conn::Run(this, "RequeueExpired", [&](pqxx::connection& c) -> StatusOr<int> {
    pqxx::work tx(c);
    pqxx::result r = tx.exec_prepared("requeue_expired");
    std::set<int64_t> sweeps;
    bool failed = false;
    for (const auto& row : r) {
      sweeps.insert(row[0].as<int64_t>());
      failed = failed || row[1].as<std::string>() == "failed";
    }
    if (failed) CancelOverFailureLimit(tx);
    for (int64_t s : sweeps) FinishSweep(tx, s);
    // Also any sweep whose last trials finished in concurrent transactions: a halving sweep's
    // next rung or a TPE sweep's next round, then the sweeps that have ended.
    for (const auto& row : tx.exec_prepared("stalled_rounds")) {
      FinishSweep(tx, row[0].as<int64_t>());
    }
    for (const auto& row : tx.exec_prepared("finish_running_sweeps")) {
      tx.exec_prepared0("drop_checkpoints", row[0].as<int64_t>());
    }
    tx.commit();
    return static_cast<int>(r.size());
  });
}

namespace {

// A row of SweepStatusSelect().
v1::SweepStatus SweepStatusFromRow(const pqxx::row& row) {
  v1::SweepStatus s;
  s.set_sweep_id(row[0].as<int64_t>());
  s.set_name(row[1].as<std::string>());
  s.set_model(row[2].as<std::string>());
  s.set_state(row[3].as<std::string>());
  s.set_total(row[4].as<int64_t>());
  s.set_created_at(row[5].as<std::string>());
  s.set_elapsed_seconds(row[6].as<double>());
  s.set_queued(row[7].as<int64_t>());
  s.set_running(row[8].as<int64_t>());
  s.set_succeeded(row[9].as<int64_t>());
  s.set_failed(row[10].as<int64_t>());
  s.set_retried(row[11].as<int64_t>());
  s.set_lost_leases(row[12].as<int64_t>());
  s.set_trainer_errors(row[13].as<int64_t>());
  s.set_stale_results(row[14].as<int64_t>());
  s.set_parent_sweep_id(row[15].as<int64_t>());
  s.set_seeded_from(row[16].as<std::string>());
  s.set_seed_trials(row[17].as<int64_t>());
  s.set_neighbour_trials(row[18].as<int64_t>());
  s.set_cancelled(row[19].as<int64_t>());
  s.set_cancel_reason(row[20].as<std::string>());
  double finished = static_cast<double>(s.succeeded() + s.failed());
  s.set_trials_per_second(s.elapsed_seconds() > 0 ? finished / s.elapsed_seconds() : 0);
  s.set_pruned_at(row[25].as<std::string>());
  s.set_rung(row[26].as<int>());
  s.set_rungs(row[27].as<int>());
  s.set_rung_epochs(row[28].as<int>());
  s.set_rounds(row[29].as<int>());
  s.set_priority(row[30].as<int>());
  s.set_deadline_at(row[31].as<std::string>());
  s.set_ended_early(row[32].as<std::string>());
  s.set_submitted_by(row[33].as<std::string>());
  s.set_seconds_to_deadline(row[34].as<double>());
  s.set_objective(row[35].as<std::string>());
  if (!row[21].is_null()) {
    s.set_best_selection_score(row[36].as<double>(0.0));
    s.set_best_trial_id(row[21].as<int64_t>());
    s.set_best_selection_accuracy(row[22].as<double>(0.0));
    s.set_baseline_accuracy(row[23].as<double>());
    s.set_best_holdout_accuracy(row[24].as<double>(0.0));
  }
  return s;
}

}  // namespace

StatusOr<v1::SweepStatus> Store::GetSweepStatus(int64_t sweep_id) {
  return Conn::Run(this, "GetSweepStatus", [&](pqxx::connection& c) -> StatusOr<v1::SweepStatus> {
    pqxx::read_transaction tx(c);
    pqxx::result r = tx.exec_prepared("sweep_status", sweep_id);
    if (r.empty()) return NotFoundError("sweep " + std::to_string(sweep_id) + " does not exist");
    v1::SweepStatus s = SweepStatusFromRow(r[0]);
    for (const auto& row : tx.exec_prepared("sweep_history", sweep_id)) {
      v1::SweepEvent* e = s.add_history();
      e->set_at(row[0].as<std::string>());
      e->set_action(row[1].as<std::string>());
      e->set_actor(row[2].as<std::string>());
      e->set_detail(row[3].as<std::string>());
    }
    return s;
  });
}

StatusOr<std::vector<v1::SweepStatus>> Store::ListSweeps(const std::string& state, int limit) {
  return Conn::Run(this, "ListSweeps",
                   [&](pqxx::connection& c) -> StatusOr<std::vector<v1::SweepStatus>> {
                     pqxx::read_transaction tx(c);
                     std::vector<v1::SweepStatus> out;
                     for (const auto& row : tx.exec_prepared("list_sweeps", state, limit)) {
                       out.push_back(SweepStatusFromRow(row));
                     }
                     return out;
                   });
}

StatusOr<CancelOutcome> Store::CancelSweep(int64_t sweep_id, const std::string& reason,
                                           const std::string& actor) {
  return Conn::Run(this, "CancelSweep", [&](pqxx::connection& c) -> StatusOr<CancelOutcome> {
    pqxx::work tx(c);
    SF_RETURN_IF_ERROR(LockRunningSweep(tx, sweep_id).status());
    CancelOutcome out;
    for (const auto& row : tx.exec_prepared("cancel_trials", sweep_id, reason)) {
      (row[0].as<std::string>() == "queued" ? out.queued : out.running) += 1;
    }
    tx.exec_prepared0("cancel_sweep", sweep_id, reason);
    tx.exec_prepared0("drop_checkpoints", sweep_id);
    tx.exec_prepared0("audit_sweep", sweep_id, "cancel", actor, reason);
    tx.commit();
    return out;
  });
}

StatusOr<std::vector<LimitReached>> Store::EnforceLimits() {
  return Conn::Run(
      this, "EnforceLimits", [&](pqxx::connection& c) -> StatusOr<std::vector<LimitReached>> {
        pqxx::work tx(c);
        std::vector<LimitReached> out = CancelOverFailureLimit(tx);
        // Time: nothing more is leased (the lease checks the deadline itself); queued
        // trials are dropped, running ones finish, and the sweep ends done once they
        // have.
        std::map<int64_t, int64_t> dropped;
        for (const auto& row : tx.exec_prepared("drop_past_deadline")) {
          dropped[row[0].as<int64_t>()] = row[1].as<int64_t>();
        }
        std::set<int64_t> touched;
        for (const auto& [id, n] : dropped) touched.insert(id);
        for (const auto& row : tx.exec_prepared("reach_deadlines")) {
          const int64_t id = row[0].as<int64_t>();
          touched.insert(id);
          out.push_back({id, row[1].as<std::string>(), dropped.count(id) ? dropped[id] : 0});
          tx.exec_prepared0("audit_sweep", id, "limit", "coordinator", row[1].as<std::string>());
        }
        for (int64_t id : touched) FinishSweep(tx, id);
        tx.commit();
        return out;
      });
}

StatusOr<ExtendOutcome> Store::ExtendSweep(int64_t sweep_id, int64_t trials,
                                           const std::string& actor) {
  return Conn::Run(this, "ExtendSweep", [&](pqxx::connection& c) -> StatusOr<ExtendOutcome> {
    pqxx::work tx(c);
    pqxx::result r = tx.exec_prepared("lock_sweep_for_extend", sweep_id);
    const std::string name = "sweep " + std::to_string(sweep_id);
    if (r.empty()) return NotFoundError(name + " does not exist");
    const pqxx::row row = r[0];
    if (row[0].as<std::string>() == "cancelled") {
      return FailedPreconditionError(name + " was cancelled; submit a new sweep");
    }
    if (row[2].as<bool>()) return FailedPreconditionError(name + " was pruned");
    if (!row[3].as<std::string>().empty()) {
      return FailedPreconditionError(name + " was ended by a limit (" + row[3].as<std::string>() +
                                     "); submit a new sweep");
    }
    if (pqxx::result v = tx.exec_prepared("published_version", row[1].as<std::string>(), sweep_id);
        !v.empty()) {
      return FailedPreconditionError(name + " is published as " + row[1].as<std::string>() + " v" +
                                     v[0][0].as<std::string>() +
                                     " (versions are immutable); submit a sweep seeded from it");
    }
    const auto spec = FromJson<v1::SweepSpec>(row[6].as<std::string>());
    if (spec.method() != "random" && spec.method() != "tpe") {
      return FailedPreconditionError(name + " searches by " + spec.method() +
                                     ": only random and tpe sweeps take more trials");
    }
    const sweep::DatasetResolver resolved = sweep::ResolvedAs(spec.dataset());
    auto parsed =
        sweep::ParseSweepYaml(row[4].as<std::string>(), row[5].as<std::string>(), &resolved);
    if (!parsed.ok()) return InternalError(name + ": " + parsed.status().message());
    const int64_t budget = spec.budget() + trials, stored = row[7].as<int64_t>();
    ExtendOutcome out;
    out.budget = budget;
    int pending = 0;
    if (spec.method() == "random") {
      // The next draws of the sweep's own stream: those after every draw it has used.
      SF_ASSIGN_OR_RETURN(auto all,
                          sweep::Expand(parsed->space, "random", budget, parsed->search_seed));
      std::string json = "[";
      for (int64_t i = spec.budget(); i < budget; ++i) {
        json += (i > spec.budget() ? "," : "") + ToJson(all[i]);
      }
      json += "]";
      tx.exec_prepared0("insert_more", sweep_id, json, spec.training().max_attempts());
      out.queued = trials;
    } else {
      // TPE: the rounds the remaining trials make; the next one is proposed below if the last
      // has ended, else when it ends.
      const int64_t left = budget - stored;
      pending = static_cast<int>((left + spec.round_size() - 1) / spec.round_size());
    }
    tx.exec_prepared0("extend_sweep", sweep_id, std::to_string(budget), trials, pending);
    tx.exec_prepared0("audit_sweep", sweep_id, "extend", actor,
                      std::to_string(trials) + " more trials (budget " +
                          std::to_string(spec.budget()) + " to " + std::to_string(budget) + ")");
    if (spec.method() == "tpe") {
      FinishSweep(tx, sweep_id);
      out.queued = tx.exec_prepared1("trial_count", sweep_id)[0].as<int64_t>() - stored;
    }
    out.total = tx.exec_prepared1("sweep_status", sweep_id)[4].as<int64_t>();
    tx.commit();
    return out;
  });
}

StatusOr<std::vector<v1::WorkerInfo>> Store::ListWorkers(int seen_within_seconds,
                                                         int lease_seconds) {
  return Conn::Run(this, "ListWorkers",
                   [&](pqxx::connection& c) -> StatusOr<std::vector<v1::WorkerInfo>> {
                     pqxx::read_transaction tx(c);
                     std::vector<v1::WorkerInfo> out;
                     for (const auto& row :
                          tx.exec_prepared("list_workers", seen_within_seconds, lease_seconds)) {
                       v1::WorkerInfo w;
                       w.set_worker_id(row[0].as<std::string>());
                       w.set_host(row[1].as<std::string>());
                       w.set_device(row[2].as<std::string>());
                       w.set_capacity(row[3].as<int>());
                       w.set_registered_at(row[4].as<std::string>());
                       w.set_seconds_since_seen(row[5].as<double>());
                       w.set_alive(row[6].as<bool>());
                       w.set_running_trials(row[7].as<int64_t>());
                       w.set_results(row[8].as<int64_t>());
                       w.set_results_last_hour(row[9].as<int64_t>());
                       w.set_model_epochs_last_hour(row[10].as<int64_t>());
                       w.set_trainer_errors(row[11].as<int64_t>());
                       w.set_stale_results(row[12].as<int64_t>());
                       out.push_back(std::move(w));
                     }
                     return out;
                   });
}

StatusOr<int> Store::SetSweepPriority(int64_t sweep_id, int priority, const std::string& actor) {
  return Conn::Run(this, "SetSweepPriority", [&](pqxx::connection& c) -> StatusOr<int> {
    pqxx::work tx(c);
    SF_ASSIGN_OR_RETURN(pqxx::row sweep, LockRunningSweep(tx, sweep_id));
    const int previous = sweep[1].as<int>();
    tx.exec_prepared0("set_priority", sweep_id, priority);
    tx.exec_prepared0("audit_sweep", sweep_id, "priority", actor,
                      "from " + std::to_string(previous) + " to " + std::to_string(priority));
    tx.commit();
    return previous;
  });
}

StatusOr<v1::PruneSweepsResponse> Store::PruneSweeps(double older_than_seconds, bool dry_run,
                                                     const std::string& actor) {
  return Conn::Run(
      this, "PruneSweeps", [&](pqxx::connection& c) -> StatusOr<v1::PruneSweepsResponse> {
        pqxx::work tx(c);
        v1::PruneSweepsResponse out;
        std::vector<int64_t> ids;
        for (const auto& row : tx.exec_prepared("prune_mark", older_than_seconds)) {
          ids.push_back(row[0].as<int64_t>());
        }
        std::sort(ids.begin(), ids.end());
        for (int64_t id : ids) out.add_sweep_ids(id);
        pqxx::row p = tx.exec_prepared1("prune_predictions");
        out.set_predictions_deleted(p[0].as<int64_t>());
        out.set_prediction_bytes(p[1].as<int64_t>());
        out.set_artifacts_kept(tx.exec_prepared1("prune_kept", IntArray(ids))[0].as<int64_t>());
        tx.exec_prepared0("prune_links");
        pqxx::row a = tx.exec_prepared1("prune_artifacts");
        out.set_artifacts_deleted(a[0].as<int64_t>());
        out.set_artifact_bytes(a[1].as<int64_t>());
        for (const auto& row : tx.exec_prepared("prune_datasets", older_than_seconds)) {
          out.add_datasets_deleted(row[0].as<std::string>());
        }
        out.set_dataset_bytes(tx.exec_prepared1("prune_blobs")[0].as<int64_t>());
        char detail[160];
        std::snprintf(detail, sizeof(detail),
                      "ended at least %.6g day(s) ago: with it %lld sweep(s) pruned",
                      older_than_seconds / 86400.0, static_cast<long long>(ids.size()));
        for (int64_t id : ids) tx.exec_prepared0("audit_sweep", id, "prune", actor, detail);
        // A dry run did it all and undoes it, so its figures are exactly what a real run deletes
        // now.
        if (dry_run) {
          tx.abort();
        } else {
          tx.commit();
        }
        return out;
      });
}

StatusOr<FarmGauges> Store::Gauges(int lease_seconds) {
  return Conn::Run(this, "Gauges", [&](pqxx::connection& c) -> StatusOr<FarmGauges> {
    pqxx::read_transaction tx(c);
    FarmGauges g;
    for (const auto& row : tx.exec_prepared("gauges", lease_seconds)) {
      const std::string kind = row[0].as<std::string>(), state = row[1].as<std::string>();
      const int64_t n = row[2].as<int64_t>();
      if (kind == "sweeps") g.sweeps[state] = n;
      if (kind == "trials") (state == "queued" ? g.queued : g.running) = n;
      if (kind == "workers") g.workers = n;
    }
    return g;
  });
}

StatusOr<std::vector<v1::Trial>> Store::ListTrials(int64_t sweep_id, int top, bool leaderboard) {
  return Conn::Run(
      this, "ListTrials", [&](pqxx::connection& c) -> StatusOr<std::vector<v1::Trial>> {
        pqxx::read_transaction tx(c);
        if (tx.exec_prepared("sweep_exists", sweep_id).empty()) {
          return NotFoundError("sweep " + std::to_string(sweep_id) + " does not exist");
        }
        pqxx::result r = tx.exec_prepared("list_trials", sweep_id, leaderboard, top);
        std::vector<v1::Trial> out;
        for (const auto& row : r) {
          v1::Trial t;
          t.set_trial_id(row[0].as<int64_t>());
          t.set_sweep_id(sweep_id);
          *t.mutable_params() = FromJson<v1::TrialParams>(row[1].as<std::string>());
          t.set_state(row[2].as<std::string>());
          t.set_attempts(row[3].as<int>());
          t.set_worker_id(row[4].as<std::string>());
          t.set_last_error(row[5].as<std::string>());
          if (!row[6].is_null()) {
            v1::TrialResult* m = t.mutable_result();
            m->set_test_accuracy(row[6].as<double>());
            m->set_test_loss(row[7].as<double>());
            m->set_train_loss(row[8].as<double>());
            m->set_wall_seconds(row[9].as<double>());
            m->set_samples_per_second(row[10].as<double>());
            m->set_steps(row[11].as<int64_t>());
            m->set_dataset_hash(row[12].as<std::string>());
            m->set_device(row[13].as<std::string>());
            m->set_bundle_size(row[14].as<int>());
            m->set_baseline_accuracy(row[15].as<double>());
            m->set_selection_accuracy(row[16].as<double>());
            m->set_holdout_accuracy(row[17].as<double>());
            m->set_resumed_epochs(row[21].as<int>());
            m->set_selection_balanced_accuracy(row[23].as<double>());
            m->set_holdout_balanced_accuracy(row[24].as<double>());
            m->set_selection_score(row[25].as<double>());
            AddListed(row[22].as<std::string>(), m->mutable_train_loss_curve(),
                      [](const char* v) { return std::strtof(v, nullptr); });
          }
          t.set_origin(row[18].as<std::string>());
          t.set_parent_trial_id(row[19].as<int64_t>());
          t.set_rung(row[20].as<int>());
          out.push_back(std::move(t));
        }
        return out;
      });
}

Status Store::LoadConfusion(int64_t sweep_id, int64_t trial_id, v1::TrialResult* result) {
  return Conn::Run(
             this, "LoadConfusion",
             [&](pqxx::connection& c) -> StatusOr<int> {
               pqxx::read_transaction tx(c);
               pqxx::result r = tx.exec_prepared("trial_confusion", sweep_id, trial_id);
               if (r.empty()) {
                 return NotFoundError("sweep " + std::to_string(sweep_id) +
                                      " has no result of trial " + std::to_string(trial_id));
               }
               const auto read = [](const char* v) { return std::strtoll(v, nullptr, 10); };
               result->clear_selection_confusion();
               result->clear_holdout_confusion();
               AddListed(r[0][0].as<std::string>(), result->mutable_selection_confusion(), read);
               AddListed(r[0][1].as<std::string>(), result->mutable_holdout_confusion(), read);
               return 0;
             })
      .status();
}

Status Store::CheckWorker(const std::string& worker_id, const std::string& holder,
                          const char* rpc) {
  return Conn::Run(this, rpc,
                   [&](pqxx::connection& c) -> StatusOr<int> {
                     pqxx::read_transaction tx(c);
                     pqxx::result r = tx.exec_prepared("worker_holder", worker_id);
                     if (r.empty()) {
                       return PermissionDeniedError(std::string(rpc) + ": worker " +
                                                    worker_id.substr(0, 64) +
                                                    " is not registered (RegisterWorker first)");
                     }
                     if (r[0][0].as<std::string>() != holder) {
                       return PermissionDeniedError(std::string(rpc) + ": worker " +
                                                    worker_id.substr(0, 64) +
                                                    " was registered by another token's holder");
                     }
                     return 0;
                   })
      .status();
}

Status Store::CheckUpload(int64_t trial_id, const std::string& lease_token,
                          const std::string& worker_id, bool checkpoint) {
  return Conn::Run(this, "UploadArtifact",
                   [&](pqxx::connection& c) -> StatusOr<int> {
                     pqxx::read_transaction tx(c);
                     const std::string what = "UploadArtifact: trial " + std::to_string(trial_id) +
                                              " under lease " + lease_token;
                     if (checkpoint) {
                       pqxx::result r = tx.exec_prepared("trial_holder", trial_id);
                       if (r.empty() || r[0][0].as<std::string>() != "running" ||
                           r[0][1].is_null() || r[0][1].as<std::string>() != lease_token ||
                           r[0][2].is_null() || r[0][2].as<std::string>() != worker_id) {
                         return FailedPreconditionError(what + " is not running on worker " +
                                                        worker_id.substr(0, 64));
                       }
                       return 0;
                     }
                     pqxx::result r = tx.exec_prepared("result_holder", trial_id);
                     if (r.empty() || r[0][0].as<std::string>() != lease_token ||
                         r[0][1].as<std::string>() != worker_id) {
                       return FailedPreconditionError(
                           what + " has no result accepted from worker " + worker_id.substr(0, 64));
                     }
                     return 0;
                   })
      .status();
}

Status Store::StoreArtifact(int64_t trial_id, const std::string& lease_token,
                            const std::string& sha256, const std::string& format,
                            const std::string& arch_json, const std::string& content) {
  return Conn::Run(this, "UploadArtifact",
                   [&](pqxx::connection& c) -> StatusOr<int> {
                     pqxx::work tx(c);
                     pqxx::result r = tx.exec_prepared("result_lease", trial_id);
                     if (r.empty() || r[0][0].as<std::string>() != lease_token) {
                       return FailedPreconditionError(
                           "UploadArtifact: trial " + std::to_string(trial_id) +
                           " has no result accepted with lease " + lease_token);
                     }
                     // Stored weights are never replaced (the same ones again: a retried upload).
                     if (pqxx::result had = tx.exec_prepared("trial_artifact_sha", trial_id);
                         !had.empty() && had[0][0].as<std::string>() != sha256) {
                       return FailedPreconditionError(
                           "UploadArtifact: trial " + std::to_string(trial_id) +
                           " already has weights stored (" + had[0][0].as<std::string>() +
                           "); they are never replaced");
                     }
                     tx.exec_prepared0("insert_artifact", sha256, format, arch_json,
                                       static_cast<int64_t>(content.size()),
                                       pqxx::binarystring(content));
                     tx.exec_prepared0("link_artifact", trial_id, sha256);
                     tx.commit();
                     return 0;
                   })
      .status();
}

Status Store::StoreCheckpoint(int64_t trial_id, const std::string& lease_token,
                              const std::string& sha256, const std::string& format,
                              const std::string& arch_json, const std::string& content) {
  return Conn::Run(
             this, "UploadArtifact",
             [&](pqxx::connection& c) -> StatusOr<int> {
               pqxx::work tx(c);
               pqxx::result r = tx.exec_prepared("checkpoint_trial", trial_id, lease_token);
               if (r.empty() || !TakesCheckpoint(FromJson<v1::SweepSpec>(r[0][2].as<std::string>()),
                                                 r[0][1].as<int>())) {
                 return FailedPreconditionError(
                     "UploadArtifact: trial " + std::to_string(trial_id) +
                     " takes no checkpoint under lease " + lease_token +
                     " (it must be running under that lease, in a halving sweep that "
                     "resumes, below the last rung)");
               }
               tx.exec_prepared0("upsert_checkpoint", trial_id, lease_token, r[0][0].as<int>(),
                                 sha256, format, arch_json, static_cast<int64_t>(content.size()),
                                 pqxx::binarystring(content));
               tx.commit();
               return 0;
             })
      .status();
}

StatusOr<Checkpoint> Store::LoadCheckpoint(const std::string& worker_id, int64_t trial_id,
                                           const std::string& lease_token) {
  return Conn::Run(this, "GetCheckpoint", [&](pqxx::connection& c) -> StatusOr<Checkpoint> {
    pqxx::read_transaction tx(c);
    const std::string what = "GetCheckpoint: trial " + std::to_string(trial_id);
    pqxx::result held = tx.exec_prepared("trial_held", trial_id, lease_token, worker_id);
    if (held.empty()) {
      return FailedPreconditionError(what + " is not running under lease " + lease_token +
                                     " of worker " + worker_id);
    }
    const int64_t parent = held[0][1].as<int64_t>();
    if (held[0][0].as<std::string>() != "promoted" || parent == 0) {
      return NotFoundError(what + " was not promoted from a trial: it has no checkpoint to resume");
    }
    pqxx::result r = tx.exec_prepared("get_checkpoint", parent);
    if (r.empty()) {
      return NotFoundError(what + ": its parent trial " + std::to_string(parent) +
                           " left no checkpoint");
    }
    Checkpoint out;
    out.trial_id = parent;
    out.epochs = r[0][0].as<int>();
    out.sha256 = r[0][1].as<std::string>();
    out.format = r[0][2].as<std::string>();
    out.arch_json = r[0][3].as<std::string>();
    out.content = pqxx::binarystring(r[0][4]).str();
    return out;
  });
}

StatusOr<std::pair<v1::SweepSpec, std::vector<Candidate>>> Store::LoadCandidates(
    int64_t sweep_id, int n, bool with_artifacts) {
  using Out = std::pair<v1::SweepSpec, std::vector<Candidate>>;
  return Conn::Run(this, "LoadCandidates", [&](pqxx::connection& c) -> StatusOr<Out> {
    pqxx::read_transaction tx(c);
    pqxx::result spec = tx.exec_prepared("sweep_spec", sweep_id);
    if (spec.empty()) return NotFoundError("sweep " + std::to_string(sweep_id) + " does not exist");
    Out out;
    out.first = FromJson<v1::SweepSpec>(spec[0][0].as<std::string>());
    for (const auto& row : tx.exec_prepared("candidates", sweep_id, n, with_artifacts)) {
      Candidate cand;
      cand.trial_id = row[0].as<int64_t>();
      cand.selection_score = row[1].as<double>();
      cand.holdout_accuracy = row[2].as<double>();
      cand.samples = row[3].as<int>();
      cand.classes = row[4].as<int>();
      cand.selection_size = row[5].as<int>();
      cand.dataset_hash = row[6].as<std::string>();
      pqxx::binarystring probs(row[7]);
      cand.probs_f16 = probs.str();
      out.second.push_back(std::move(cand));
    }
    return out;
  });
}

namespace {

// Verifies every member artifact of a version inside the caller's transaction.
Status VerifyVersion(pqxx::transaction_base& tx, const std::string& model, int version) {
  pqxx::result r = tx.exec_prepared("version_artifacts", model, version);
  if (r.empty()) {
    return NotFoundError("model " + model + " has no version " + std::to_string(version));
  }
  for (const auto& row : r) {
    const std::string sha = row[0].as<std::string>();
    pqxx::binarystring content(row[1]);
    const std::string digest = Sha256Hex(content.str());
    if (digest != sha) {
      return DataLossError("model " + model + " v" + std::to_string(version) + ": artifact " + sha +
                           " is corrupt: its bytes hash to " + digest);
    }
  }
  return OkStatus();
}

int AliasIn(pqxx::transaction_base& tx, const std::string& model, const std::string& alias) {
  pqxx::result r = tx.exec_prepared("alias_version", model, alias);
  return r.empty() ? 0 : r[0][0].as<int>();
}

// One row of "get_version" (no members).
v1::ModelVersion VersionFromRow(const std::string& model, const pqxx::row& row) {
  v1::ModelVersion v;
  v.set_model(model);
  v.set_version(row[0].as<int>());
  v.set_sweep_id(row[1].as<int64_t>());
  v.set_method(row[2].as<std::string>());
  v.set_decision(row[3].as<std::string>());
  v.set_reason(row[4].as<std::string>());
  v.set_selection_accuracy(row[5].as<double>());
  v.set_holdout_accuracy(row[6].as<double>());
  v.set_best_single_trial_id(row[7].as<int64_t>());
  v.set_best_single_holdout_accuracy(row[8].as<double>());
  v.set_compared_version(row[9].as<int>());
  v.set_champion_holdout_accuracy(row[10].as<double>());
  v.set_margin(row[11].as<double>());
  v.set_holdout_samples(row[12].as<int>());
  v.set_dataset_hash(row[13].as<std::string>());
  *v.mutable_dataset() = FromJson<v1::DatasetSpec>(row[14].as<std::string>());
  *v.mutable_architecture() = FromJson<v1::ArchitectureSpec>(row[15].as<std::string>());
  v.set_code_version(row[16].as<std::string>());
  v.set_created_at(row[17].as<std::string>());
  v.set_parent_sweep_id(row[18].as<int64_t>());
  std::stringstream aliases(row[19].as<std::string>());
  for (std::string a; std::getline(aliases, a, ',');) v.add_aliases(a);
  if (const std::string report = row[20].as<std::string>(); !report.empty()) {
    *v.mutable_holdout_report() = FromJson<v1::ClassificationReport>(report);
  }
  v.set_objective(row[21].as<std::string>());
  v.set_holdout_score(row[22].as<double>());
  v.set_champion_holdout_score(row[23].as<double>());
  v.set_decision_threshold(row[24].as<double>());
  v.set_threshold_tuned(row[25].as<bool>());
  v.set_argmax_holdout_score(row[26].as<double>());
  if (const std::string stats = row[27].as<std::string>(); !stats.empty()) {
    *v.mutable_input_stats() = FromJson<v1::InputStats>(stats);
  }
  v.set_compared_dataset(row[28].as<std::string>());
  return v;
}

}  // namespace

StatusOr<SeedSource> Store::LoadSeeds(const std::string& model, int top) {
  return Conn::Run(this, "LoadSeeds", [&](pqxx::connection& c) -> StatusOr<SeedSource> {
    pqxx::read_transaction tx(c);
    SeedSource out;
    out.version = AliasIn(tx, model, "champion");
    if (out.version == 0) return out;
    out.sweep_id = tx.exec_prepared1("version_sweep", model, out.version)[0].as<int64_t>();
    for (const auto& row : tx.exec_prepared("seed_members", model, out.version)) {
      out.members.push_back(
          {row[0].as<int64_t>(), FromJson<v1::TrialParams>(row[1].as<std::string>())});
    }
    for (const auto& row : tx.exec_prepared("seed_top", out.sweep_id, top)) {
      out.top.push_back(
          {row[0].as<int64_t>(), FromJson<v1::TrialParams>(row[1].as<std::string>())});
    }
    return out;
  });
}

StatusOr<int> Store::AliasVersion(const std::string& model, const std::string& alias) {
  return Conn::Run(this, "AliasVersion", [&](pqxx::connection& c) -> StatusOr<int> {
    pqxx::read_transaction tx(c);
    return AliasIn(tx, model, alias);
  });
}

StatusOr<int> Store::PublishedVersion(const std::string& model, int64_t sweep_id) {
  return Conn::Run(this, "PublishedVersion", [&](pqxx::connection& c) -> StatusOr<int> {
    pqxx::read_transaction tx(c);
    pqxx::result r = tx.exec_prepared("published_version", model, sweep_id);
    return r.empty() ? 0 : r[0][0].as<int>();
  });
}

StatusOr<int> Store::RegisterVersion(const v1::ModelVersion& v, int expected_champion,
                                     const std::string& actor) {
  return Conn::Run(this, "RegisterVersion", [&](pqxx::connection& c) -> StatusOr<int> {
    pqxx::work tx(c);
    tx.exec_prepared("lock_model", v.model());
    pqxx::result done = tx.exec_prepared("published_version", v.model(), v.sweep_id());
    if (!done.empty()) {
      return Status(StatusCode::kAlreadyExists, "sweep " + std::to_string(v.sweep_id()) +
                                                    " is already " + v.model() + " v" +
                                                    std::to_string(done[0][0].as<int>()));
    }
    const int champion = AliasIn(tx, v.model(), "champion");
    if (champion != expected_champion) {
      return AbortedError("the champion of " + v.model() + " changed from v" +
                          std::to_string(expected_champion) + " to v" + std::to_string(champion) +
                          " during the gate; publish again");
    }
    const int version = tx.exec_prepared1("next_version", v.model())[0].as<int>();
    tx.exec_prepared0(
        "insert_version", v.model(), version, v.sweep_id(), v.method(), v.decision(), v.reason(),
        v.selection_accuracy(), v.holdout_accuracy(), v.best_single_trial_id(),
        v.best_single_holdout_accuracy(), v.compared_version(), v.champion_holdout_accuracy(),
        v.margin(), v.holdout_samples(), v.dataset_hash(), ToJson(v.dataset()),
        ToJson(v.architecture()), v.code_version(),
        v.has_holdout_report() ? ToJson(v.holdout_report()) : std::string(), v.objective(),
        v.holdout_score(), v.champion_holdout_score(), v.decision_threshold(), v.threshold_tuned(),
        v.argmax_holdout_score(), v.has_input_stats() ? ToJson(v.input_stats()) : std::string(),
        v.compared_dataset());
    for (int i = 0; i < v.members_size(); ++i) {
      tx.exec_prepared0("insert_member", v.model(), version, i, v.members(i).trial_id(),
                        v.members(i).weight());
    }
    SF_RETURN_IF_ERROR(VerifyVersion(tx, v.model(), version));
    const bool promote = v.decision() == "promoted";
    if (promote) tx.exec_prepared0("upsert_alias", v.model(), "champion", version);
    tx.exec_prepared0("insert_audit", v.model(), "champion", promote ? "promote" : "reject",
                      champion, version, actor, v.reason());
    tx.commit();
    return version;
  });
}

StatusOr<v1::ModelVersion> Store::GetVersion(const std::string& model, int version) {
  return Conn::Run(this, "GetVersion", [&](pqxx::connection& c) -> StatusOr<v1::ModelVersion> {
    pqxx::read_transaction tx(c);
    pqxx::result r = tx.exec_prepared("get_version", model, version);
    if (r.empty()) {
      return NotFoundError(version == 0
                               ? "model " + model + " has no versions"
                               : "model " + model + " has no version " + std::to_string(version));
    }
    v1::ModelVersion v = VersionFromRow(model, r[0]);
    for (const auto& m : tx.exec_prepared("get_members", model, v.version())) {
      v1::ModelMember* member = v.add_members();
      member->set_trial_id(m[0].as<int64_t>());
      member->set_weight(m[1].as<double>());
      member->set_sha256(m[2].as<std::string>());
      member->set_size_bytes(m[3].as<int64_t>());
      member->set_format(m[4].as<std::string>());
      member->set_arch_json(m[5].as<std::string>());
      *member->mutable_params() = FromJson<v1::TrialParams>(m[6].as<std::string>());
      member->set_selection_accuracy(m[7].as<double>());
      member->set_holdout_accuracy(m[8].as<double>());
    }
    return v;
  });
}

StatusOr<Artifact> Store::LoadArtifact(const std::string& sha256) {
  return Conn::Run(this, "LoadArtifact", [&](pqxx::connection& c) -> StatusOr<Artifact> {
    pqxx::read_transaction tx(c);
    pqxx::result r = tx.exec_prepared("get_artifact", sha256);
    if (r.empty()) return NotFoundError("artifact " + sha256 + " does not exist");
    pqxx::binarystring content(r[0][2]);
    return Artifact{r[0][0].as<std::string>(), r[0][1].as<std::string>(), content.str()};
  });
}

StatusOr<v1::ListVersionsResponse> Store::ListVersions(const std::string& model, int audit_limit) {
  return Conn::Run(this, "ListVersions",
                   [&](pqxx::connection& c) -> StatusOr<v1::ListVersionsResponse> {
                     pqxx::read_transaction tx(c);
                     v1::ListVersionsResponse out;
                     for (const auto& row : tx.exec_prepared("get_version", model, 0)) {
                       *out.add_versions() = VersionFromRow(model, row);
                     }
                     if (out.versions().empty())
                       return NotFoundError("model " + model + " has no versions");
                     for (const auto& row : tx.exec_prepared("list_aliases", model)) {
                       (*out.mutable_aliases())[row[0].as<std::string>()] = row[1].as<int>();
                     }
                     for (const auto& row : tx.exec_prepared("list_audit", model, audit_limit)) {
                       v1::AuditEntry* e = out.add_audit();
                       e->set_id(row[0].as<int64_t>());
                       e->set_at(row[1].as<std::string>());
                       e->set_alias(row[2].as<std::string>());
                       e->set_action(row[3].as<std::string>());
                       e->set_from_version(row[4].as<int>());
                       e->set_to_version(row[5].as<int>());
                       e->set_actor(row[6].as<std::string>());
                       e->set_reason(row[7].as<std::string>());
                     }
                     return out;
                   });
}

StatusOr<AliasMove> Store::MoveAlias(const std::string& model, const std::string& alias,
                                     int version, const std::string& actor,
                                     const std::string& reason) {
  return Conn::Run(this, "MoveAlias", [&](pqxx::connection& c) -> StatusOr<AliasMove> {
    pqxx::work tx(c);
    tx.exec_prepared("lock_model", model);
    AliasMove move;
    move.from_version = AliasIn(tx, model, alias);
    move.to_version = version;
    if (version == 0) {  // Rollback: undo the alias's last move.
      if (move.from_version == 0) {
        return FailedPreconditionError("model " + model + " has no alias " + alias);
      }
      pqxx::result r = tx.exec_prepared("last_move", model, alias, move.from_version);
      move.to_version = r.empty() ? 0 : r[0][0].as<int>();
      if (move.to_version == 0) {
        return FailedPreconditionError(alias + " of " + model + " has named v" +
                                       std::to_string(move.from_version) +
                                       " since it was first set: nothing to roll back to");
      }
    }
    SF_RETURN_IF_ERROR(VerifyVersion(tx, model, move.to_version));
    tx.exec_prepared0("upsert_alias", model, alias, move.to_version);
    tx.exec_prepared0("insert_audit", model, alias, version == 0 ? "rollback" : "set_alias",
                      move.from_version, move.to_version, actor, reason);
    tx.commit();
    return move;
  });
}

StatusOr<std::string> Store::TrialArtifact(int64_t trial_id) {
  return Conn::Run(this, "TrialArtifact", [&](pqxx::connection& c) -> StatusOr<std::string> {
    pqxx::read_transaction tx(c);
    pqxx::result r = tx.exec_prepared("trial_artifact", trial_id);
    if (r.empty()) return NotFoundError("trial " + std::to_string(trial_id) + " has no weights");
    return r[0][0].as<std::string>();
  });
}

StatusOr<v1::SweepSpec> Store::GetSweepSpec(int64_t sweep_id) {
  return Conn::Run(this, "GetSweepSpec", [&](pqxx::connection& c) -> StatusOr<v1::SweepSpec> {
    pqxx::read_transaction tx(c);
    pqxx::result r = tx.exec_prepared("sweep_spec", sweep_id);
    if (r.empty()) return NotFoundError("sweep " + std::to_string(sweep_id) + " does not exist");
    return FromJson<v1::SweepSpec>(r[0][0].as<std::string>());
  });
}

}  // namespace sweepfarm::store
