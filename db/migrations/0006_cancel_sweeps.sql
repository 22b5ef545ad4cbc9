-- Sweeps can be cancelled. Their unfinished trials end as 'cancelled': queued ones are never
-- leased, running ones lose their lease (a late result is refused as stale). Finished trials and
-- their results stay.
ALTER TABLE sweeps DROP CONSTRAINT sweeps_state_check;
ALTER TABLE sweeps ADD CONSTRAINT sweeps_state_check
  CHECK (state IN ('running', 'done', 'cancelled'));
ALTER TABLE sweeps ADD COLUMN cancel_reason text;
ALTER TABLE trials DROP CONSTRAINT trials_state_check;
ALTER TABLE trials ADD CONSTRAINT trials_state_check
  CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled'));
CREATE INDEX sweeps_newest ON sweeps (id DESC);
