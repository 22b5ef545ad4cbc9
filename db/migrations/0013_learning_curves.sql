-- Learning curves: each trial's mean training loss per epoch trained (from resumed_epochs + 1 to
-- its epochs), as the worker measured it; NULL for results recorded before this migration.
ALTER TABLE results ADD COLUMN train_loss_curve real[];
