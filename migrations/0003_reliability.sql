-- Every change of an order bumps `version`, under the row lock: cache writes carry it and
-- Redis keeps the newest, so a slow writer can never put an older state back.
ALTER TABLE orders ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- The reconciler looks for orders still unprocessed after a while; this index holds only
-- those, so the scan costs nothing when the pipeline keeps up.
CREATE INDEX orders_unprocessed_idx ON orders (created_at) WHERE processed_at IS NULL;

-- The reconciler's own record of when it last enqueued an order's task, so that it never
-- enqueues one again while that task may still be in flight.
CREATE TABLE reconcile_enqueues (
    order_id    UUID        PRIMARY KEY,
    enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    times       INTEGER     NOT NULL DEFAULT 1
);

-- The reconciler reuses the event id the consumer recorded for an order.
CREATE INDEX inbox_events_order_idx ON inbox_events (order_id);
