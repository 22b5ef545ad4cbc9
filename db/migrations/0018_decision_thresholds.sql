-- Binary models' decision thresholds (selection.threshold): the label a version serves is 1
-- exactly when its probability exceeds decision_threshold (0: the argmax, as every version
-- registered before); whether it was tuned on the selection split; and with a threshold, the
-- objective's holdout score of the argmax's decisions, for what the threshold changed.
ALTER TABLE model_versions ADD COLUMN decision_threshold double precision NOT NULL DEFAULT 0
  CHECK (decision_threshold >= 0 AND decision_threshold < 1);
ALTER TABLE model_versions ADD COLUMN threshold_tuned boolean NOT NULL DEFAULT false;
ALTER TABLE model_versions ADD COLUMN argmax_holdout_score double precision;
