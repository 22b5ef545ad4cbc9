-- Sweep limits (the YAML's `limits`): a time limit after which nothing more is leased, queued
-- trials are dropped and the sweep ends `done` with what finished; and a failed-trial limit
-- at which the sweep is cancelled. `ended_early` says which limit ended it.
ALTER TABLE sweeps
  ADD COLUMN deadline_at timestamptz,
  ADD COLUMN max_failed_trials integer CHECK (max_failed_trials > 0),
  ADD COLUMN ended_early text;
-- The coordinators' reaper looks for running sweeps past their deadline at every tick.
CREATE INDEX sweeps_running_deadline ON sweeps (deadline_at)
  WHERE state = 'running' AND deadline_at IS NOT NULL;
