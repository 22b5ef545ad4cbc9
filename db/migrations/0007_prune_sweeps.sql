-- Retention: PruneSweeps deletes what an ended sweep no longer needs once it is old (its trials'
-- stored class probabilities and the weights no registered version uses) and marks it pruned.
-- Sweeps, trials, results and the report log stay.
ALTER TABLE sweeps ADD COLUMN pruned_at timestamptz;
-- The anti-joins that find unreferenced weights.
CREATE INDEX trial_artifacts_by_sha256 ON trial_artifacts (sha256);
CREATE INDEX model_members_by_sha256 ON model_members (sha256);
CREATE INDEX model_members_by_trial ON model_members (trial_id);
