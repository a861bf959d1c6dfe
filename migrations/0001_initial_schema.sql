-- Users, orders, the transactional outbox and idempotency keys.
CREATE TYPE order_status AS ENUM ('PENDING', 'PAID', 'SHIPPED', 'CANCELED');

CREATE TABLE users (
    id              BIGSERIAL PRIMARY KEY,
    email           TEXT        NOT NULL UNIQUE,
    hashed_password TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id           UUID          PRIMARY KEY,            -- UUIDv7, time-ordered
    user_id      BIGINT        NOT NULL REFERENCES users (id),
    items        JSONB         NOT NULL,
    total_price  NUMERIC(18, 2) NOT NULL CHECK (total_price > 0),
    status       order_status  NOT NULL DEFAULT 'PENDING',
    created_at   TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ   NOT NULL DEFAULT now(),
    processed_at TIMESTAMPTZ
);
CREATE INDEX orders_user_created_idx ON orders (user_id, created_at DESC, id DESC);

-- Column names follow the original service so operators' queries keep working.
CREATE TABLE outbox_events (
    id              UUID        PRIMARY KEY,           -- the event id
    event_type      TEXT        NOT NULL,
    aggregate_id    UUID        NOT NULL,              -- the order id
    payload         JSONB       NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at    TIMESTAMPTZ,                       -- set once the broker confirmed
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT
);
CREATE INDEX outbox_events_pending_idx ON outbox_events (next_attempt_at) WHERE published_at IS NULL;
CREATE INDEX outbox_events_published_idx ON outbox_events (published_at) WHERE published_at IS NOT NULL;

-- Wake relays as soon as an event commits (NOTIFY is delivered at commit).
CREATE FUNCTION outbox_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox_events', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_events_notify();

CREATE TABLE idempotency_keys (
    user_id      BIGINT      NOT NULL REFERENCES users (id),
    key          TEXT        NOT NULL,
    request_hash TEXT        NOT NULL,
    order_id     UUID        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Timestamp text as the API renders it (UTC, milliseconds, trailing Z).
CREATE FUNCTION api_timestamp(ts TIMESTAMPTZ) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;
-- Full-precision form used in pagination cursors.
CREATE FUNCTION cursor_timestamp(ts TIMESTAMPTZ) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;
