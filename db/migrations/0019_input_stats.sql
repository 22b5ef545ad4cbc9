-- Each version's reference inputs: per channel (the telemetry's 16 metrics), the mean and standard
-- deviation of every value of its selection split's samples (the customer-like data it was chosen
-- on), as the protobuf JSON of sweepfarm.v1.InputStats. sweepfarm-serve exports them beside what
-- it is sent, for the input-drift alert. NULL for versions registered before.
ALTER TABLE model_versions ADD COLUMN input_stats jsonb;
