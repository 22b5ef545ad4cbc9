-- ListWorkers (`sweepctl workers`) counts each worker's reports, recent ones apart.
CREATE INDEX report_log_by_worker ON report_log (worker_id, reported_at);
