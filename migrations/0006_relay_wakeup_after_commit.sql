-- A NOTIFY inside a transaction takes a database-wide lock held until the commit is
-- flushed, so transactions that notify commit one WAL flush at a time (no group commit):
-- the order insert reached 1.4k tps with the per-statement NOTIFY below and 2.9k without
-- (pgbench, 64 clients, 2 cores). Sessions that set order_service.relay_wakeup to
-- 'after_commit' (the api's; src/db/relay_wakeup.hpp) send the NOTIFY themselves once
-- they have committed; every other writer keeps the NOTIFY at commit.
CREATE OR REPLACE FUNCTION outbox_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('order_service.relay_wakeup', true) IS DISTINCT FROM 'after_commit' THEN
        PERFORM pg_notify('outbox_events', '');
    END IF;
    RETURN NULL;
END;
$$;
