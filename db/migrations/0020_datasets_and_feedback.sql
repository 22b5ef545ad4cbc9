-- Data sets as versioned, immutable, content-addressed rows (docs/data.md), and the feedback
-- loop: the predictions sweepfarm-serve answered, the labels engineers gave them, and which of
-- them each grown version took.

-- A version's content (engine/data/codec.h) in pieces of at most 1 MiB, shared by every version
-- with that content. Written once, never changed.
CREATE TABLE dataset_blobs (
  sha256  text    NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  seq     integer NOT NULL CHECK (seq >= 0),
  bytes   bytea   NOT NULL,
  PRIMARY KEY (sha256, seq)
);

CREATE TABLE dataset_versions (
  id              bigserial   PRIMARY KEY,
  name            text        NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  version         integer     NOT NULL CHECK (version >= 1),
  sha256          text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes      bigint      NOT NULL,
  shape           bigint[]    NOT NULL,
  classes         text[]      NOT NULL,
  -- Per split, samples of each class: {"train": [..], "selection": [..], "holdout": [..]}.
  counts          jsonb       NOT NULL,
  parent_version  integer,
  source          text        NOT NULL,
  split_rule      text        NOT NULL DEFAULT '',
  created_by      text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (name, version),
  UNIQUE (name, sha256)
);

-- Versions are immutable.
CREATE FUNCTION dataset_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    RAISE EXCEPTION 'dataset versions are immutable';
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER dataset_versions_immutable BEFORE UPDATE ON dataset_versions
  FOR EACH ROW EXECUTE FUNCTION dataset_versions_immutable();

-- Built-in data sets: which version a generator's parameters made (so a sweep's data are made
-- once, and the next sweep with the same parameters finds them without generating).
CREATE TABLE dataset_generated (
  name     text    NOT NULL,
  params   jsonb   NOT NULL,
  version  integer NOT NULL,
  PRIMARY KEY (name, params),
  FOREIGN KEY (name, version) REFERENCES dataset_versions (name, version) ON DELETE CASCADE
);

-- Which data set version a sweep trains on (resolved at submission); workers may fetch it only
-- while they hold a lease in such a sweep.
ALTER TABLE sweeps ADD COLUMN dataset_sha256 text;
CREATE INDEX sweeps_dataset ON sweeps (dataset_sha256) WHERE dataset_sha256 IS NOT NULL;

-- Predictions answered by sweepfarm-serve (at its sampling rate), with the data set version the
-- answering model learned from. Unlabelled ones are deleted after the coordinator's
-- --prediction-retention-days; labelled ones are training data and stay.
CREATE TABLE served_predictions (
  id             text        PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
  model          text        NOT NULL,
  version        integer     NOT NULL,
  dataset_name   text        NOT NULL,
  dataset_sha256 text        NOT NULL,
  input          bytea       NOT NULL,  -- float32 little-endian, channels first
  probabilities  real[]      NOT NULL,
  label          integer     NOT NULL,
  served_by      text        NOT NULL,
  served_at      timestamptz NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  true_label     integer,
  labelled_by    text,
  labelled_at    timestamptz
);
CREATE INDEX served_predictions_recent ON served_predictions (served_at DESC);
CREATE INDEX served_predictions_labelled ON served_predictions (dataset_name, labelled_at)
  WHERE true_label IS NOT NULL;

-- Every label given (who, when, from what to what); a later one replaces an earlier.
CREATE TABLE prediction_labels (
  id             bigserial   PRIMARY KEY,
  prediction_id  text        NOT NULL REFERENCES served_predictions (id) ON DELETE CASCADE,
  at             timestamptz NOT NULL DEFAULT now(),
  actor          text        NOT NULL,
  old_label      integer,
  new_label      integer     NOT NULL
);

-- Lineage: the labelled predictions a grown version took, and the split each went to.
CREATE TABLE dataset_feedback (
  dataset_version_id  bigint  NOT NULL REFERENCES dataset_versions (id) ON DELETE CASCADE,
  prediction_id       text    NOT NULL REFERENCES served_predictions (id),
  split               text    NOT NULL CHECK (split IN ('train', 'selection', 'holdout')),
  true_label          integer NOT NULL,
  PRIMARY KEY (dataset_version_id, prediction_id)
);
CREATE INDEX dataset_feedback_prediction ON dataset_feedback (prediction_id);

-- Registry versions name the data version their gate compared on.
ALTER TABLE model_versions ADD COLUMN compared_dataset text;
