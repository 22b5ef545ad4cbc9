-- Each trial's confusion matrices on the selection and holdout parts of the test split
-- ([true class][predicted class], row-major), for data of at most 32 classes; NULL above that and
-- for results recorded before this migration.
ALTER TABLE results ADD COLUMN selection_confusion bigint[], ADD COLUMN holdout_confusion bigint[];
