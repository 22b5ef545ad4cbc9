-- Lease tokens: 128 random bits as 32 lowercase hex digits (they were 60 bits in a bigint).
-- Tokens already stored keep their digits as text; leases running during the upgrade are lost
-- and re-queued like any other whose worker no longer answers (their workers send the old field).
ALTER TABLE trials ALTER COLUMN lease_token TYPE text USING lease_token::text;
ALTER TABLE results ALTER COLUMN lease_token TYPE text USING lease_token::text;
ALTER TABLE report_log ALTER COLUMN lease_token TYPE text USING lease_token::text;
ALTER TABLE trial_checkpoints ALTER COLUMN lease_token TYPE text USING lease_token::text;
DROP SEQUENCE IF EXISTS lease_tokens;
