"""Event pipeline, black box (SPEC §1, §5): POST /orders/ -> outbox -> relay ->
RabbitMQ -> consumer (inbox, retry/DLQ) -> Redis stream -> worker -> processed_at.

Every test runs the real roles (`order-service relay|consumer|worker|all`) as
separate processes against the devstack servers, with this module's own
database and api, and each test's own exchange, queues and task stream (see
pipeline_helpers).
Crash and outage tests of the running pipeline are in test_pipeline_faults.py.
"""

import json
import time
import uuid

import pytest

from helpers import Api, TIMESTAMP_RE, describe, free_port, item
from pipeline_helpers import (  # noqa: F401 - fixtures
    DEFAULT_CONSUMER_MAX_RETRIES,
    FAST,
    Outage,
    RoleProcess,
    assert_dependency_logged_once,
    holds,
    make_message,
    pipeline,
    poll,
    queue_stats,
    roles,
)

# the default budget: the roles run without RABBITMQ_CONSUMER_MAX_RETRIES
MAX_RETRIES = DEFAULT_CONSUMER_MAX_RETRIES


def dead_letter_reason(props):
    """The x-dead-letter-reason header of a DLQ message (SPEC §5.7: with its reason)."""
    reason = (props.headers or {}).get("x-dead-letter-reason")
    if isinstance(reason, bytes):
        reason = reason.decode(errors="replace")
    return reason


def order_without_event(pl):
    """A real order whose outbox event is marked published by hand, so that no
    relay ever delivers it: the test publishes its own messages for it."""
    o = pl.create_order()
    rows = pl.outbox(o["id"])
    assert len(rows) == 1, rows
    pl.query("UPDATE outbox_events SET published_at = now() WHERE id = %s", (rows[0]["id"],))
    return o, rows[0]


def dlq_messages(pl, expect, timeout=10):
    """Wait until `expect` messages are ready in the DLQ, then take them."""
    poll(lambda: pl.rabbit.count(pl.dlq) >= expect, timeout, interval=0.1,
         desc=f"{expect} message(s) in {pl.dlq} (queues: {pl.queue_counts()})")
    msgs = pl.rabbit.get_all(pl.dlq)
    assert len(msgs) == expect, [(p.message_id, b[:80]) for p, b in msgs]
    return msgs


# ---------------------------------------------------------------- happy path


def test_happy_path_order_processed_once(pipeline, roles):
    pl = pipeline
    r = roles.start_pipeline()
    poll(lambda: pl.rabbit.exchange_exists(pl.exchange), 20, desc=f"exchange {pl.exchange} declared")
    tap = pl.rabbit.tap(pl.exchange)
    pl.extra_queues.append(tap)
    pl.wait_topology()
    pl.wait_consuming()

    o = pl.create_order([item(3, 3, 0.10)])
    assert o["processed_at"] is None, o
    t0 = time.monotonic()
    pl.wait_processed([o["id"]], 5, roles=roles)
    elapsed = time.monotonic() - t0

    # outbox: one new_order event for the order, published
    rows = pl.outbox(o["id"])
    assert len(rows) == 1, rows
    ev = rows[0]
    assert ev["event_type"] == "new_order", ev
    assert ev["published_at"] is not None, ev

    # inbox: the event was recorded once, for this order
    assert pl.inbox([o["id"]]) == [(ev["id"], o["id"])]

    # exactly one run, effective
    runs = pl.run_rows(o["id"])
    assert len(runs) == 1 and runs[0]["effective"] is True, runs
    assert runs[0]["started_at"] <= runs[0]["finished_at"], runs
    delay = float(FAST["PROCESS_ORDER_DELAY_SECONDS"])
    assert (runs[0]["finished_at"] - runs[0]["started_at"]).total_seconds() >= delay - 0.05, runs

    # the worker logs "Order <id> processed" through the logger
    r["worker"].wait_log(rf"Order {o['id']} processed", 5)

    # the API shows processed_at (not a stale cached copy)
    def shown():
        g = pl.api.get_order(pl.user.token, o["id"])
        assert g.status_code == 200, describe(g)
        return g.json() if g.json()["processed_at"] else None

    g = poll(shown, 5, desc="GET /orders/{id}/ shows processed_at")
    assert TIMESTAMP_RE.match(g["processed_at"]), g
    assert {k: v for k, v in g.items() if k not in ("processed_at", "updated_at")} == {
        k: v for k, v in o.items() if k not in ("processed_at", "updated_at")
    }

    # the message the relay published (SPEC §5.3)
    msgs = poll(lambda: pl.rabbit.get_all(tap), 5, desc="event on the tap queue")
    assert len(msgs) == 1, msgs
    props, body = msgs[0]
    assert props.message_id == ev["id"], props
    assert props.content_type == "application/json", props
    assert props.delivery_mode == 2, props
    assert props.type, props
    headers = props.headers or {}
    assert "x-retry-count" in headers and headers["x-retry-count"] == 0, headers
    assert isinstance(headers["x-retry-count"], int), headers
    msg = json.loads(body)
    for k in ("event_id", "event_type", "occurred_at", "order_id", "user_id", "total_price", "status"):
        assert k in msg, (k, msg)
    assert msg["event_id"] == ev["id"], msg
    assert msg["event_type"] == "new_order", msg
    assert msg["order_id"] == o["id"], msg
    assert msg["user_id"] == o["user_id"] == pl.user.id, msg
    assert float(msg["total_price"]) == pytest.approx(0.30), msg
    assert msg["status"] == "PENDING", msg

    pl.wait_idle()
    assert pl.rabbit.count(pl.dlq) == 0
    print(f"happy path: processed {elapsed:.2f}s after POST")


def test_relay_woken_by_notify_not_by_poll(pipeline, roles):
    """With a 30 s safety-net poll, a new order is still published at once
    (LISTEN/NOTIFY)."""
    pl = pipeline
    roles.start_pipeline(OUTBOX_POLL_SECONDS="30")
    pl.wait_consuming()
    first = pl.create_order()
    # the relay may pick up the first one by its startup scan; give it the poll interval
    pl.wait_processed([first["id"]], 35, roles=roles)
    for _ in range(3):
        o = pl.create_order()
        t0 = time.monotonic()
        poll(lambda: pl.outbox(o["id"])[0]["published_at"] is not None, 2, interval=0.02,
             desc="outbox row published within 2 s with OUTBOX_POLL_SECONDS=30")
        dt = time.monotonic() - t0
        assert dt < 1.0, f"published after {dt:.2f}s: not woken by NOTIFY"
    pl.wait_processed([o["id"]], 5, roles=roles)


def orders_of_all_published_at_once(pl, roles, port, why, healthy=(200,)):
    """Through the api of the `all` process on `port` (OUTBOX_POLL_SECONDS=30): the first
    order may wait for a startup scan; the next ones are published within a second."""
    api = Api(f"http://127.0.0.1:{port}")
    poll(lambda: api.get("/health").status_code in healthy, 15, desc="`all` answering /health")
    pl.wait_consuming()
    first = pl.create_order(api=api)
    pl.wait_processed([first["id"]], 35, roles=roles)
    for _ in range(3):
        o = pl.create_order(api=api)
        t0 = time.monotonic()
        poll(lambda: pl.outbox(o["id"])[0]["published_at"] is not None, 2, interval=0.02,
             desc=f"outbox row published within 2 s with OUTBOX_POLL_SECONDS=30 ({why})")
        dt = time.monotonic() - t0
        assert dt < 1.0, f"published after {dt:.2f}s ({why})"
    pl.wait_processed([o["id"]], 5, roles=roles)


def test_all_wakes_its_own_relay_at_once(pipeline, roles):
    """In `order-service all` the api wakes the relay of its own process after the
    commit (no NOTIFY): with a 30 s safety-net poll, new orders are still published at
    once, and processed."""
    pl = pipeline
    port = free_port()
    roles.start("all", API_PORT=str(port), OUTBOX_POLL_SECONDS="30")
    orders_of_all_published_at_once(pl, roles, port, "the api rings its own relay")


def test_relays_elsewhere_are_notified_while_the_local_relay_cannot_work(pipeline, roles):
    """An `all` process whose relay cannot reach RabbitMQ does not keep its orders to
    itself: its api notifies, and a relay in another process publishes them at once."""
    pl = pipeline
    port = free_port()
    roles.start_pipeline(OUTBOX_POLL_SECONDS="30")
    roles.start("all", API_PORT=str(port), OUTBOX_POLL_SECONDS="30",
                RABBITMQ_PORT=str(free_port()))  # nothing listens there
    orders_of_all_published_at_once(pl, roles, port, "the other process's relay is notified",
                                    healthy=(200, 503))


# ---------------------------------------------------------------- DLQ


def test_malformed_messages_go_to_dlq(pipeline, roles):
    pl = pipeline
    roles.start_pipeline(relay=False)
    pl.wait_topology()
    pl.wait_consuming()
    pl.rabbit.purge(pl.dlq)

    bad = {
        "not-json": b"this is {not json",
        "no-order-id": json.dumps(
            {"event_id": str(uuid.uuid4()), "event_type": "new_order", "user_id": 1}
        ).encode(),
        "bad-order-id": json.dumps(
            {"event_id": str(uuid.uuid4()), "event_type": "new_order", "order_id": "not-a-uuid",
             "user_id": 1}
        ).encode(),
        "json-array": b"[1, 2, 3]",
    }
    ids = {}
    for name, body in bad.items():
        mid = str(uuid.uuid4())
        ids[mid] = name
        pl.rabbit.publish(pl.queue, body, message_id=mid, headers={"x-retry-count": 0})

    msgs = dlq_messages(pl, len(bad), timeout=10)
    assert {p.message_id for p, _ in msgs} == set(ids), msgs
    for p, b in msgs:
        assert b == bad[ids[p.message_id]], (ids[p.message_id], b)
        reason = dead_letter_reason(p)
        assert isinstance(reason, str) and reason.strip(), (
            f"{ids[p.message_id]}: dead-lettered without an x-dead-letter-reason header: {p.headers}"
        )
    # straight to the DLQ: never retried, nothing enqueued
    assert pl.rabbit.count(pl.retry_queue) == 0
    assert pl.rabbit.count(pl.queue) == 0
    assert pl.redis.xlen(pl.stream) == 0
    holds(lambda: pl.rabbit.count(pl.dlq) == 0, 1.0, desc="no further DLQ messages")
    roles.check_alive()


def test_retry_count_over_max_is_still_handled(pipeline, roles):
    """A high x-retry-count says nothing about the message itself: with everything up
    it can succeed, so it is handled, not dead-lettered (SPEC §5.7: only a message that
    can never succeed is dead-lettered)."""
    pl = pipeline
    roles.start_pipeline(relay=False)
    pl.wait_topology()
    pl.wait_consuming()
    pl.rabbit.purge(pl.dlq)

    o, ev = order_without_event(pl)
    pl.rabbit.publish(pl.queue, make_message(o, ev["id"]), message_id=ev["id"],
                      headers={"x-retry-count": MAX_RETRIES + 1})
    pl.wait_processed([o["id"]], 10, roles=roles)
    pl.assert_exactly_once([o["id"]], strict_total=True)
    assert pl.rabbit.count(pl.dlq) == 0
    assert pl.rabbit.count(pl.retry_queue) == 0


@pytest.mark.outage
def test_redis_down_at_last_retry_is_not_dead_lettered(pipeline, roles):
    """Redis (task queue) down and the message already retried the maximum number
    of times: a dependency that is down is not the message's fault (SPEC §5.7).
    The event is neither dead-lettered nor recorded as handled while Redis is
    down; the consumer keeps the delivery unacked, and once Redis is back the
    order is processed, once. (This replaces the old test that asserted the
    opposite: dead-lettered, never processed.)"""
    pl = pipeline
    r = roles.start_pipeline(relay=False)
    pl.wait_topology()
    pl.wait_consuming()
    pl.rabbit.purge(pl.dlq)
    o, ev = order_without_event(pl)
    mark = r["consumer"].mark()

    with Outage("redis") as outage:
        pl.rabbit.publish(pl.queue, make_message(o, ev["id"]), message_id=ev["id"],
                          headers={"x-retry-count": MAX_RETRIES})
        poll(lambda: pl.rabbit.count(pl.queue) == 0, 10, desc="the consumer took the delivery")
        # well past the time the old consumer needed to dead-letter it (at once)
        holds(lambda: pl.rabbit.count(pl.dlq) == 0 and pl.inbox([o["id"]]) == []
              and r["consumer"].alive() and r["worker"].alive(), 8.0, interval=0.2,
              desc="not dead-lettered, not recorded as handled, roles alive while Redis is down")
        # the consumer holds the delivery (unacked), it did not park it anywhere else
        st = queue_stats(pl.queue)
        assert st["ready"] + st["unacked"] == 1 and pl.rabbit.count(pl.retry_queue) == 0, (
            f"{pl.queue}: {st}, retry queue: {pl.rabbit.count(pl.retry_queue)}"
        )
        outage.restore()

    pl.wait_processed([o["id"]], 30, roles=roles, desc="order processed after Redis came back")
    pl.assert_exactly_once([o["id"]], strict_total=True)
    assert pl.inbox([o["id"]]) == [(ev["id"], o["id"])]
    pl.wait_idle()
    pl.assert_no_dead_letters()
    assert_dependency_logged_once([r["consumer"]], "redis", {r["consumer"].name: mark})


def test_publish_to_missing_queue_not_marked_published(pipeline, roles):
    """Publishes are mandatory (SPEC §5.9): with the queue deleted (no binding on
    the exchange) the broker returns the message; the row is not marked
    published, carries the reason, and is delivered once the topology is back."""
    pl = pipeline
    # a short relay backoff so that the retry after the topology returns comes soon
    # (this is the outbox backoff cap, not a retry budget)
    r = roles.start_pipeline(OUTBOX_MAX_BACKOFF_SECONDS="2")
    pl.wait_consuming()
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 10, roles=roles)

    r["consumer"].stop_ok()
    pl.rabbit.delete_queue(pl.queue)
    assert not pl.rabbit.exists(pl.queue)

    o = pl.create_order()
    # the first outcome of the first attempt, sampled often: a returned message is
    # recorded as a failure (last_error) and not marked published. (The relay may
    # declare the topology again itself afterwards, so a later attempt may succeed.)
    sql = "SELECT published_at, attempts, last_error FROM outbox_events WHERE aggregate_id = %s"
    row = poll(lambda: (lambda r: r if r[0] is not None or r[2] is not None else None)(
        pl.query(sql, (o["id"],))[0]), 15, interval=0.01, desc="the outcome of the first publish")
    assert row[0] is None, f"an unroutable (returned) message was marked published: {row}"
    assert row[2] and "return" in row[2].lower(), f"last_error should mention the return: {row}"
    roles.check_alive()

    # the topology comes back (the relay or the consumer declares it) and the event is delivered
    roles.start("consumer", OUTBOX_MAX_BACKOFF_SECONDS="2")
    pl.wait_topology()
    pl.wait_processed([o["id"]], 30, roles=roles, desc="returned event delivered once the queue is back")
    assert pl.outbox(o["id"])[0]["published_at"] is not None
    pl.assert_exactly_once([o["id"]], strict_total=True)
    pl.wait_idle()
    pl.assert_no_dead_letters()


# ---------------------------------------------------------------- duplicates


def test_duplicate_delivery_enqueues_one_task(pipeline, roles):
    pl = pipeline
    # no relay yet: the order's event stays in the outbox
    o = pl.create_order()
    ev = pl.outbox(o["id"])[0]
    assert ev["published_at"] is None
    r = roles.start_pipeline(relay=False)
    pl.wait_topology()
    pl.wait_consuming()

    body = make_message(o, ev["id"])
    for _ in range(2):
        pl.rabbit.publish(pl.queue, body, message_id=ev["id"], headers={"x-retry-count": 0})
    pl.wait_processed([o["id"]], 5, roles=roles)

    # a sentinel behind the duplicates: once it is processed, both copies were handled
    s, sev = order_without_event(pl)
    pl.rabbit.publish(pl.queue, make_message(s, sev["id"]), message_id=sev["id"],
                      headers={"x-retry-count": 0})
    pl.wait_processed([s["id"]], 5, roles=roles)
    pl.wait_idle()
    holds(lambda: pl.runs([o["id"]]) == {o["id"]: (1, 1)}, 1.0, desc="one task run for the order")
    assert pl.inbox([o["id"]]) == [(ev["id"], o["id"])]

    # a third delivery of the same event, by the relay this time
    roles.start("relay")
    poll(lambda: pl.outbox(o["id"])[0]["published_at"] is not None, 10, desc="relay published the event")
    pl.wait_idle()
    holds(lambda: pl.runs([o["id"]]) == {o["id"]: (1, 1)}, 1.0, desc="still one task run")
    assert pl.rabbit.count(pl.dlq) == 0, "a duplicate is not an error"
    assert r["worker"].log_text().count(f"Order {o['id']} processed") == 1


# ---------------------------------------------------------------- scale out


def test_two_of_each_role_500_orders_exactly_once(pipeline, roles):
    pl = pipeline
    for _ in range(2):
        roles.start_pipeline()
    pl.wait_consuming(2)
    t0 = time.monotonic()
    ids = pl.create_orders(500, threads=16)
    watch = pl.watch(ids)
    t_created = time.monotonic() - t0
    assert len(set(ids)) == 500
    pl.wait_processed(ids, 90, roles=roles)
    t_done = time.monotonic() - t0
    time.sleep(1.0)  # a few samples after the last order was processed
    runs = pl.assert_exactly_once(ids, watch=watch)
    dup = sum(1 for v in runs.values() if v[0] > 1)
    workers = {w for (w,) in pl.query(
        "SELECT DISTINCT worker FROM task_runs WHERE order_id = ANY(%s::uuid[])", (ids,))}
    assert len(workers) == 2, f"both workers should share the tasks; saw {workers}"
    published = pl.query(
        "SELECT count(*) FROM outbox_events WHERE aggregate_id = ANY(%s::uuid[]) AND published_at IS NOT NULL",
        (ids,),
    )[0][0]
    assert published == 500
    assert len(pl.inbox(ids)) == 500
    assert pl.rabbit.count(pl.dlq) == 0
    assert pl.redis.xlen(pl.dead_stream) == 0
    print(f"500 orders: created in {t_created:.1f}s, all processed after {t_done:.1f}s, "
          f"{dup} orders with a redundant (non-effective) run")


# ---------------------------------------------------------------- all-in-one


def test_all_role_sigterm_idle_and_end_to_end(pipeline, roles, tmp_path):
    pl = pipeline

    def start_all():
        port = free_port()
        p = RoleProcess("all", pl.env(API_PORT=port), tmp_path, f"all-{port}")
        url = f"http://127.0.0.1:{port}"
        api = Api(url)

        def healthy():
            assert p.alive(), f"`all` exited ({p.proc.returncode}):\n{p.tail()}"
            return api.get("/health", timeout=1).status_code == 200

        poll(healthy, 20, desc="`order-service all` answering /health")
        return p, api

    # idle: SIGTERM -> exit 0
    p, _ = start_all()
    try:
        pl.wait_consuming()
        p.stop_ok(15)
    finally:
        p.stop()

    # end to end in one process
    p, api = start_all()
    try:
        user = api.new_user()
        r = api.create_order(user.token, [item(2, 1, 5.0)])
        assert r.status_code == 201, describe(r)
        o = r.json()
        pl.wait_processed([o["id"]], 10)
        pl.assert_exactly_once([o["id"]], strict_total=True)
        p.wait_log(rf"Order {o['id']} processed", 5)
        poll(lambda: api.get_order(user.token, o["id"]).json()["processed_at"], 5,
             desc="processed_at shown by the all-in-one api")
        pl.wait_idle()
        p.stop_ok(15)
    finally:
        p.stop()
