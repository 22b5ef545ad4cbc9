-- Tell a lost worker (lease expired) from a trainer error: only errors count towards max_attempts;
-- lost leases are retried up to max_lost times. Every report is logged with its outcome, so
-- duplicates and stale results can be counted.
ALTER TABLE trials ADD COLUMN errors integer NOT NULL DEFAULT 0;
ALTER TABLE trials ADD COLUMN lost_leases integer NOT NULL DEFAULT 0;
ALTER TABLE trials ADD COLUMN max_lost integer NOT NULL DEFAULT 10;

CREATE TABLE report_log (
  id           bigserial PRIMARY KEY,
  trial_id     bigint      NOT NULL REFERENCES trials (id),
  lease_token  bigint      NOT NULL,
  worker_id    text        NOT NULL,
  ok           boolean     NOT NULL,
  outcome      text        NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'stale')),
  reported_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_log_by_trial ON report_log (trial_id);
