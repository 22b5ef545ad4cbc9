-- A worker id is bound to the token holder that registered it: its leases, reports, heartbeats,
-- releases, checkpoints, uploads and data set fetches are accepted only from that holder ('' for
-- an unnamed token or a farm without tokens).
ALTER TABLE workers ADD COLUMN holder text NOT NULL DEFAULT '';
