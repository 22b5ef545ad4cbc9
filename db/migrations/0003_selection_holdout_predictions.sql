-- The customer-like split has a selection part (what trials and ensembles are chosen by) and a
-- holdout part (reported only). Per-trial class probabilities are kept for ensembles built after the
-- sweep without retraining.
ALTER TABLE results ADD COLUMN selection_accuracy double precision;
ALTER TABLE results ADD COLUMN holdout_accuracy double precision;

CREATE TABLE predictions (
  trial_id        bigint  PRIMARY KEY REFERENCES trials (id),
  samples         integer NOT NULL CHECK (samples > 0),
  classes         integer NOT NULL CHECK (classes > 1),
  selection_size  integer NOT NULL CHECK (selection_size >= 0 AND selection_size <= samples),
  encoding        text    NOT NULL CHECK (encoding IN ('f16le')),
  probs           bytea   NOT NULL CHECK (octet_length(probs) = 2 * samples * classes)
);
