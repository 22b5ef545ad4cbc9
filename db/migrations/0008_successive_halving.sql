-- Successive halving (search.method: halving). Trials carry their rung; a promoted trial is a
-- parent of the rung below trained again with more epochs. A sweep counts the rungs it has not
-- started yet and is done only when none is left and no trial is queued or running.
ALTER TABLE trials ADD COLUMN rung integer CHECK (rung >= 0);
ALTER TABLE trials DROP CONSTRAINT trials_origin_check;
ALTER TABLE trials ADD CONSTRAINT trials_origin_check
  CHECK (origin IN ('search', 'seed', 'neighbour', 'promoted'));
ALTER TABLE sweeps ADD COLUMN pending_rungs integer NOT NULL DEFAULT 0 CHECK (pending_rungs >= 0);
-- Leases go to the oldest sweep with queued trials, so a halving sweep's later rungs do not queue
-- behind sweeps submitted after it started.
CREATE INDEX trials_queued_by_sweep ON trials (sweep_id, id) WHERE state = 'queued';
