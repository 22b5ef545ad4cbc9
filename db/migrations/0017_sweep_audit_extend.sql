-- ExtendSweep records "extend" in a sweep's audit trail. 0014's CHECK did not list it; 0014 is
-- not edited (a database that applied it keeps it), so the constraint is replaced here. Its name
-- is the one PostgreSQL gave 0014's column constraint.
ALTER TABLE sweep_audit DROP CONSTRAINT sweep_audit_action_check;
ALTER TABLE sweep_audit ADD CONSTRAINT sweep_audit_action_check
  CHECK (action IN ('submit', 'priority', 'cancel', 'extend', 'limit'));
