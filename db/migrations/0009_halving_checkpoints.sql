-- Successive halving resumes promoted trials. A trial of a rung that is not the last uploads its
-- parameters and SGD momentum before it reports; the trial promoted from it continues from there.
-- Checkpoints are working state, not results: when a rung ends, every checkpoint of the sweep
-- that no queued or running promoted trial needs is deleted, and a sweep that ends keeps none.
CREATE TABLE trial_checkpoints (
  trial_id     bigint      PRIMARY KEY REFERENCES trials (id),
  lease_token  bigint      NOT NULL,
  epochs       integer     NOT NULL CHECK (epochs > 0),
  sha256       text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  format       text        NOT NULL,
  arch         jsonb       NOT NULL,
  size_bytes   bigint      NOT NULL,
  content      bytea       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  CHECK (octet_length(content) = size_bytes)
);
-- How many epochs a result's model had trained before (resumed from its parent); 0: none.
ALTER TABLE results ADD COLUMN resumed_epochs integer NOT NULL DEFAULT 0
  CHECK (resumed_epochs >= 0);
