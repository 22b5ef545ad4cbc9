-- Scheduling priority: workers lease the queued trials of the running sweep with the highest
-- priority first (ties: the oldest sweep, as before). Set at submission (the YAML's `priority`)
-- and changed with SetSweepPriority (`sweepctl priority`).
ALTER TABLE sweeps ADD COLUMN priority integer NOT NULL DEFAULT 0
  CHECK (priority BETWEEN -1000 AND 1000);
CREATE INDEX sweeps_running_by_priority ON sweeps (priority DESC, id) WHERE state = 'running';
