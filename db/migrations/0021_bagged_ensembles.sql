-- Versions may be bagged ensembles (selection.method: bagged, Caruana et al. 2006).
ALTER TABLE model_versions DROP CONSTRAINT model_versions_method_check;
ALTER TABLE model_versions ADD CONSTRAINT model_versions_method_check
  CHECK (method IN ('greedy', 'bagged', 'top_k'));
