-- Sweeps, their trials (the work queue), results, and workers.
CREATE TABLE sweeps (
  id            bigserial PRIMARY KEY,
  name          text        NOT NULL,
  model         text        NOT NULL,
  source_name   text        NOT NULL DEFAULT '',
  yaml          text        NOT NULL,
  spec          jsonb       NOT NULL,
  spec_hash     text        NOT NULL,
  state         text        NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done')),
  total_trials  integer     NOT NULL CHECK (total_trials > 0),
  created_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  parent_sweep  bigint REFERENCES sweeps (id)
);

CREATE TABLE trials (
  id                bigserial PRIMARY KEY,
  sweep_id          bigint      NOT NULL REFERENCES sweeps (id),
  ordinal           integer     NOT NULL,
  params            jsonb       NOT NULL,
  state             text        NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
  attempts          integer     NOT NULL DEFAULT 0,
  max_attempts      integer     NOT NULL DEFAULT 3,
  lease_token       bigint,
  lease_expires_at  timestamptz,
  worker_id         text,
  last_error        text,
  started_at        timestamptz,
  finished_at       timestamptz,
  UNIQUE (sweep_id, ordinal)
);
CREATE INDEX trials_queued ON trials (id) WHERE state = 'queued';
CREATE INDEX trials_leases ON trials (lease_expires_at) WHERE state = 'running';
CREATE INDEX trials_by_sweep ON trials (sweep_id, state);

-- Fencing tokens: every lease gets a new one.
CREATE SEQUENCE lease_tokens;

-- At most one result per trial.
CREATE TABLE results (
  trial_id            bigint PRIMARY KEY REFERENCES trials (id),
  lease_token         bigint           NOT NULL,
  test_accuracy       double precision NOT NULL,
  test_loss           double precision NOT NULL,
  train_loss          double precision NOT NULL,
  wall_seconds        double precision NOT NULL,
  samples_per_second  double precision NOT NULL,
  steps               bigint           NOT NULL,
  bundle_size         integer          NOT NULL,
  baseline_accuracy   double precision NOT NULL,
  dataset_hash        text             NOT NULL,
  device              text             NOT NULL,
  worker_id           text             NOT NULL,
  recorded_at         timestamptz      NOT NULL DEFAULT now()
);

CREATE TABLE workers (
  id             text PRIMARY KEY,
  host           text        NOT NULL,
  device         text        NOT NULL,
  capacity       integer     NOT NULL,
  registered_at  timestamptz NOT NULL DEFAULT now(),
  last_seen      timestamptz NOT NULL DEFAULT now()
);
