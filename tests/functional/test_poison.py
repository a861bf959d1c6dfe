"""Poison stays alone (SPEC §5.7): a new_order message that can never be
recorded is dead-lettered (or retried) by itself, with its reason, and the good
messages delivered in the same batch go on at once, not after a retry delay.

Each test stops the consumer, publishes good events and one bad one straight to
the queue, then starts the consumer, so that they arrive together (the consumer
takes every delivery that has arrived into one batch and records a batch with one
statement). The retry base delay is long (RETRY_BASE s): a good event that went
through the retry queue would be processed late.
"""

import json
import time
import uuid

import pytest

from pipeline_helpers import (  # noqa: F401 - fixtures
    holds,
    make_message,
    pipeline,
    poll,
    roles,
)

GOOD = 20
RETRY_BASE = 10.0  # RABBITMQ_CONSUMER_RETRY_BASE_SECONDS
AT_ONCE = 5.0  # well within RETRY_BASE


def reason_of(props):
    reason = (props.headers or {}).get("x-dead-letter-reason")
    return reason.decode(errors="replace") if isinstance(reason, bytes) else reason


def good_events(pl, n=GOOD):
    """n real orders whose outbox rows are marked published (no relay runs): the
    test publishes their events itself. [(order, message body, event id)]"""
    out = []
    for _ in range(n):
        o = pl.create_order()
        rows = pl.outbox(o["id"])
        assert len(rows) == 1, rows
        pl.query("UPDATE outbox_events SET published_at = now() WHERE id = %s", (rows[0]["id"],))
        out.append((o, make_message(o, rows[0]["id"]), rows[0]["id"]))
    return out


def publish_batch_then_consume(pl, roles, bad_body, bad_message_id):
    """Declares the topology, stops the consumer, publishes GOOD good events with the
    bad one in their middle, starts a consumer; returns (good order ids, start time)."""
    first = roles.start("consumer")
    pl.wait_topology()
    pl.wait_consuming()
    first.stop_ok()
    roles.start("worker")
    goods = good_events(pl)
    pl.rabbit.purge(pl.dlq)
    for i, (o, body, event_id) in enumerate(goods):
        if i == GOOD // 2:
            pl.rabbit.publish(pl.queue, bad_body, message_id=bad_message_id,
                              headers={"x-retry-count": 0})
        pl.rabbit.publish(pl.queue, body, message_id=event_id, headers={"x-retry-count": 0})
    started = time.monotonic()
    roles.start("consumer", RABBITMQ_CONSUMER_RETRY_BASE_SECONDS=str(RETRY_BASE))
    return [o["id"] for o, _, _ in goods], started


def assert_split(roles):
    """The bad event came in a batch with good ones (what these tests are about)."""
    consumer = [p for p in roles.procs if p.role == "consumer"][-1]
    split = [r for r in consumer.records()
             if r.get("msg") == "event batch failed; handling its messages one by one"]
    assert split, f"the bad event was not in a batch with others:\n{consumer.tail()}"


def assert_good_ones_at_once(pl, roles, ids, started):
    pl.wait_processed(ids, AT_ONCE, roles=roles,
                      desc=f"{len(ids)} good events processed within {AT_ONCE} s")
    took = time.monotonic() - started
    assert took < RETRY_BASE, took
    pl.assert_exactly_once(ids)
    return took


def one_dead_letter(pl, message_id):
    poll(lambda: pl.rabbit.count(pl.dlq) >= 1, AT_ONCE, desc=f"a message in {pl.dlq}")
    holds(lambda: pl.rabbit.count(pl.dlq) <= 1, 1.0, desc="no second dead letter")
    msgs = pl.rabbit.get_all(pl.dlq)
    assert len(msgs) == 1, [(p.message_id, b[:80]) for p, b in msgs]
    props, body = msgs[0]
    assert props.message_id == message_id, props.message_id
    reason = reason_of(props)
    assert isinstance(reason, str) and reason.strip(), props.headers
    return body, reason


@pytest.mark.parametrize("bad_id", ["e\x00vil", "bell\x07", "line\nbreak", "x" * 129],
                         ids=["nul", "control", "newline", "too-long"])
def test_event_id_the_inbox_cannot_hold_is_dead_lettered_alone(pipeline, roles, bad_id):
    pl = pipeline
    o = pl.create_order()
    bad = json.dumps(make_message(o, bad_id)).encode()  # \u0000 etc. in the JSON
    mid = str(uuid.uuid4())
    ids, started = publish_batch_then_consume(pl, roles, bad, mid)
    took = assert_good_ones_at_once(pl, roles, ids, started)
    body, reason = one_dead_letter(pl, mid)
    assert body == bad
    assert "event id" in reason, reason
    # never retried, never recorded
    assert pl.rabbit.count(pl.retry_queue) == 0
    assert pl.query("SELECT count(*) FROM inbox_events WHERE order_id = %s", (o["id"],))[0][0] == 0
    print(f"{len(ids)} good events processed {took:.2f} s after the consumer started; "
          f"dead letter reason: {reason!r}")


# A statement failure that the message causes although it parses: a trigger refuses one
# event id. The consumer must find that message by itself (the others are recorded at once).
TRIGGER = """
CREATE OR REPLACE FUNCTION poison_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.event_id LIKE 'poison-data-%' THEN
        RAISE EXCEPTION 'refused by the test: %', NEW.event_id USING ERRCODE = '22023';
    END IF;
    IF NEW.event_id LIKE 'poison-other-%' THEN
        RAISE EXCEPTION 'refused by the test: %', NEW.event_id;
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS poison_test ON inbox_events;
CREATE TRIGGER poison_test BEFORE INSERT ON inbox_events
    FOR EACH ROW EXECUTE FUNCTION poison_test_refuse();
"""
DROP_TRIGGER = "DROP TRIGGER IF EXISTS poison_test ON inbox_events; " \
               "DROP FUNCTION IF EXISTS poison_test_refuse();"


def execute(pl, sql):
    conn = pl.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)  # no parameters: the % in the SQL is literal
    finally:
        conn.close()


@pytest.fixture
def refusing_inbox(pipeline):
    execute(pipeline, TRIGGER)
    yield
    execute(pipeline, DROP_TRIGGER)


def test_batch_whose_statement_fails_is_split_data_error_dead_lettered(pipeline, roles,
                                                                        refusing_inbox):
    """A data error (SQLSTATE class 22) caused by one event: that event is
    dead-lettered at once, with PostgreSQL's reason; the rest of its batch is
    recorded and processed at once."""
    pl = pipeline
    o = pl.create_order()
    event_id = f"poison-data-{uuid.uuid4().hex[:8]}"
    bad = json.dumps(make_message(o, event_id)).encode()
    ids, started = publish_batch_then_consume(pl, roles, bad, event_id)
    assert_good_ones_at_once(pl, roles, ids, started)
    body, reason = one_dead_letter(pl, event_id)
    assert body == bad
    assert "refused by the test" in reason and "22023" in reason, reason
    assert_split(roles)
    assert pl.rabbit.count(pl.retry_queue) == 0
    assert pl.inbox([o["id"]]) == []


def test_batch_whose_statement_fails_is_split_unknown_error_retried_alone(pipeline, roles,
                                                                          refusing_inbox):
    """Any other statement error caused by one event: that event alone goes to
    the retry queue (the bounded budget), the rest of its batch at once."""
    pl = pipeline
    o = pl.create_order()
    event_id = f"poison-other-{uuid.uuid4().hex[:8]}"
    bad = json.dumps(make_message(o, event_id)).encode()
    ids, started = publish_batch_then_consume(pl, roles, bad, event_id)
    assert_good_ones_at_once(pl, roles, ids, started)
    poll(lambda: pl.rabbit.count(pl.retry_queue) == 1, AT_ONCE, desc="the bad event in the retry queue")
    retried = pl.rabbit.get_all(pl.retry_queue)
    assert [p.message_id for p, _ in retried] == [event_id]
    assert retried[0][1] == bad
    assert pl.rabbit.count(pl.dlq) == 0
    assert_split(roles)
    assert pl.inbox([o["id"]]) == []
