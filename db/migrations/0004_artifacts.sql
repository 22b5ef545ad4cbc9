-- Model weights uploaded by workers for the trials that can enter an ensemble, content-addressed by
-- sha256, with what is needed to rebuild the model.
CREATE TABLE artifacts (
  sha256      text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  format      text        NOT NULL,
  arch        jsonb       NOT NULL,
  size_bytes  bigint      NOT NULL,
  content     bytea       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (octet_length(content) = size_bytes)
);

CREATE TABLE trial_artifacts (
  trial_id  bigint PRIMARY KEY REFERENCES trials (id),
  sha256    text   NOT NULL REFERENCES artifacts (sha256)
);
