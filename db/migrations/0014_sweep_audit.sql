-- Who did what to a sweep: its submission, priority changes, a cancel, or a limit that ended it
-- (actor "coordinator"). The actor is the authenticated token holder's name with what the client
-- says of itself ("alice via root@host (sweepctl)"), as in registry_audit.
CREATE TABLE sweep_audit (
  id        bigserial   PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  sweep_id  bigint      NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  action    text        NOT NULL CHECK (action IN ('submit', 'priority', 'cancel', 'limit')),
  actor     text        NOT NULL,
  detail    text        NOT NULL
);
CREATE INDEX sweep_audit_by_sweep ON sweep_audit (sweep_id, id);
