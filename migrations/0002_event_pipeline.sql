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

-- Api instances cache "this user exists" for valid tokens; a deletion is announced at
-- commit so the cache forgets the user at once and the token stops working.
CREATE FUNCTION users_deleted_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('users_deleted', '*');
    ELSE
        PERFORM pg_notify('users_deleted', OLD.id::text);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER users_deleted_notify AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_deleted_notify();
CREATE TRIGGER users_truncated_notify AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION users_deleted_notify();
