-- Each registered version's classification report on its holdout split (confusion matrix,
-- per-class precision and recall, balanced accuracy, macro F1, log loss, ROC AUC), as the
-- protobuf JSON of sweepfarm.v1.ClassificationReport. NULL for versions registered before.
ALTER TABLE model_versions ADD COLUMN holdout_report jsonb;
