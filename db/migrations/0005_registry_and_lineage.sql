-- The model registry (immutable versions, movable aliases, an audit of every alias move) and the
-- lineage of seeded sweeps.
ALTER TABLE sweeps ADD COLUMN parent_sweep_id bigint REFERENCES sweeps (id);
ALTER TABLE sweeps ADD COLUMN seeded_from text;  -- 'MODEL vN'
ALTER TABLE trials ADD COLUMN origin text NOT NULL DEFAULT 'search'
  CHECK (origin IN ('search', 'seed', 'neighbour'));
ALTER TABLE trials ADD COLUMN parent_trial_id bigint REFERENCES trials (id);

CREATE TABLE model_versions (
  model                        text             NOT NULL,
  version                      integer          NOT NULL CHECK (version > 0),
  sweep_id                     bigint           NOT NULL REFERENCES sweeps (id),
  method                       text             NOT NULL CHECK (method IN ('greedy', 'top_k')),
  decision                     text             NOT NULL CHECK (decision IN ('promoted', 'rejected')),
  reason                       text             NOT NULL,
  selection_accuracy           double precision NOT NULL,
  holdout_accuracy             double precision NOT NULL,
  best_single_trial_id         bigint           NOT NULL REFERENCES trials (id),
  best_single_holdout_accuracy double precision NOT NULL,
  compared_version             integer,
  champion_holdout_accuracy    double precision,
  margin                       double precision NOT NULL,
  holdout_samples              integer          NOT NULL,
  dataset_hash                 text             NOT NULL,
  dataset                      jsonb            NOT NULL,
  architecture                 jsonb            NOT NULL,
  code_version                 text             NOT NULL,
  created_at                   timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (model, version),
  UNIQUE (model, sweep_id)  -- A sweep is published once per model.
);

CREATE TABLE model_members (
  model     text             NOT NULL,
  version   integer          NOT NULL,
  position  integer          NOT NULL CHECK (position >= 0),
  trial_id  bigint           NOT NULL REFERENCES trials (id),
  weight    double precision NOT NULL CHECK (weight > 0),
  sha256    text             NOT NULL REFERENCES artifacts (sha256),
  PRIMARY KEY (model, version, position),
  FOREIGN KEY (model, version) REFERENCES model_versions (model, version)
);

CREATE TABLE model_aliases (
  model       text        NOT NULL,
  alias       text        NOT NULL CHECK (alias ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  version     integer     NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model, alias),
  FOREIGN KEY (model, version) REFERENCES model_versions (model, version)
);

CREATE TABLE registry_audit (
  id            bigserial   PRIMARY KEY,
  at            timestamptz NOT NULL DEFAULT now(),
  model         text        NOT NULL,
  alias         text        NOT NULL,
  action        text        NOT NULL CHECK (action IN ('promote', 'reject', 'set_alias', 'rollback')),
  from_version  integer,
  to_version    integer     NOT NULL,
  actor         text        NOT NULL,
  reason        text        NOT NULL
);
CREATE INDEX registry_audit_model ON registry_audit (model, alias, id);

-- Versions and their members never change once written.
CREATE FUNCTION refuse_registry_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'registry versions are immutable (% on %)', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER model_versions_immutable BEFORE UPDATE OR DELETE ON model_versions
  FOR EACH ROW EXECUTE FUNCTION refuse_registry_change();
CREATE TRIGGER model_members_immutable BEFORE UPDATE OR DELETE ON model_members
  FOR EACH ROW EXECUTE FUNCTION refuse_registry_change();
