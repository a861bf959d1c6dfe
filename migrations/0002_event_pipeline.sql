-- Consumer inbox (deduplicates redelivered events) and a record of every task run.
CREATE TABLE inbox_events (
    event_id    TEXT        PRIMARY KEY,
    order_id    UUID        NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX inbox_events_received_idx ON inbox_events (received_at);

-- One row per process_order run; `effective` is true for the run that set processed_at.
CREATE TABLE task_runs (
    id          BIGSERIAL   PRIMARY KEY,
    order_id    UUID        NOT NULL,
    worker      TEXT        NOT NULL,
    attempt     INTEGER     NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    effective   BOOLEAN     NOT NULL
);
CREATE INDEX task_runs_order_idx ON task_runs (order_id);
