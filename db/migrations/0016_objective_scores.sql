-- Objectives beyond accuracy: each result's balanced accuracy (mean per-class recall) on the
-- selection and holdout parts, and its score by its sweep's objective (objective.metric:
-- selection_accuracy or selection_balanced_accuracy), which every ranking reads (the best trial,
-- the leaderboard, halving's promotions, TPE's history, ensemble candidates, seeds). Results
-- recorded before were scored by selection accuracy, the only objective then.
ALTER TABLE results ADD COLUMN selection_balanced_accuracy double precision;
ALTER TABLE results ADD COLUMN holdout_balanced_accuracy double precision;
ALTER TABLE results ADD COLUMN selection_score double precision;
UPDATE results SET selection_score = coalesce(selection_accuracy, 0);
ALTER TABLE results ALTER COLUMN selection_score SET NOT NULL;
-- The objective a version was chosen and gated by (its sweep's objective.metric), and the gate's
-- scores by it on the version's holdout: the version's and the champion's it was compared with.
ALTER TABLE model_versions ADD COLUMN objective text NOT NULL DEFAULT 'selection_accuracy';
ALTER TABLE model_versions ADD COLUMN holdout_score double precision;
ALTER TABLE model_versions ADD COLUMN champion_holdout_score double precision;
-- Versions registered before were gated by holdout accuracy (the model_versions_immutable
-- trigger refuses updates, so it is set aside for this one backfill).
ALTER TABLE model_versions DISABLE TRIGGER model_versions_immutable;
UPDATE model_versions SET holdout_score = holdout_accuracy,
  champion_holdout_score = champion_holdout_accuracy;
ALTER TABLE model_versions ENABLE TRIGGER model_versions_immutable;
ALTER TABLE model_versions ALTER COLUMN holdout_score SET NOT NULL;
