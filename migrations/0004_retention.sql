-- Retention prunes task_runs by age in bounded batches; this index makes each batch cheap.
CREATE INDEX task_runs_finished_idx ON task_runs (finished_at);
