-- A prune is audited on each sweep it prunes (who, and the age it was given).
ALTER TABLE sweep_audit DROP CONSTRAINT sweep_audit_action_check;
ALTER TABLE sweep_audit ADD CONSTRAINT sweep_audit_action_check
  CHECK (action IN ('submit', 'priority', 'cancel', 'extend', 'limit', 'prune'));
