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
    FAST,
    Outage,
    RoleProcess,
    holds,
    make_message,
    pipeline,
    poll,
    roles,
)

MAX_RETRIES = int(FAST["RABBITMQ_CONSUMER_MAX_RETRIES"])


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
    # straight to the DLQ: never retried, nothing enqueued
    assert pl.rabbit.count(pl.retry_queue) == 0
    assert pl.rabbit.count(pl.queue) == 0
    assert pl.redis.xlen(pl.stream) == 0
    holds(lambda: pl.rabbit.count(pl.dlq) == 0, 1.0, desc="no further DLQ messages")
    roles.check_alive()


def test_retry_count_over_max_goes_to_dlq_at_once(pipeline, roles):
    pl = pipeline
    roles.start_pipeline(relay=False)
    pl.wait_topology()
    pl.wait_consuming()
    pl.rabbit.purge(pl.dlq)

    o, ev = order_without_event(pl)
    body = make_message(o, ev["id"])
    pl.rabbit.publish(pl.queue, body, message_id=ev["id"], headers={"x-retry-count": MAX_RETRIES + 1})
    msgs = dlq_messages(pl, 1, timeout=10)
    assert msgs[0][0].message_id == ev["id"]
    assert json.loads(msgs[0][1])["order_id"] == o["id"]
    assert pl.rabbit.count(pl.retry_queue) == 0
    assert pl.inbox([o["id"]]) == [], "a dead-lettered event must not be recorded as handled"
    assert pl.processed_ids([o["id"]]) == set()

    # control: x-retry-count == max with everything up is still handled normally
    o2, ev2 = order_without_event(pl)
    pl.rabbit.publish(pl.queue, make_message(o2, ev2["id"]), message_id=ev2["id"],
                      headers={"x-retry-count": MAX_RETRIES})
    pl.wait_processed([o2["id"]], 5, roles=roles)
    pl.assert_exactly_once([o2["id"]], strict_total=True)
    assert pl.rabbit.count(pl.dlq) == 0
    assert pl.processed_ids([o["id"]]) == set()


def test_last_retry_failing_goes_to_dlq(pipeline, roles):
    """Redis (task queue) down and the message already retried max times: the
    next failure dead-letters it instead of retrying again."""
    pl = pipeline
    roles.start_pipeline(relay=False)
    pl.wait_topology()
    pl.wait_consuming()
    pl.rabbit.purge(pl.dlq)
    o, ev = order_without_event(pl)

    with Outage("redis") as outage:
        pl.rabbit.publish(pl.queue, make_message(o, ev["id"]), message_id=ev["id"],
                          headers={"x-retry-count": MAX_RETRIES})
        msgs = dlq_messages(pl, 1, timeout=15)
        assert msgs[0][0].message_id == ev["id"]
        assert pl.rabbit.count(pl.retry_queue) == 0
        assert pl.rabbit.count(pl.queue) == 0
        roles.check_alive()
        outage.restore()

    # the failed attempt left no trace in the inbox; nothing runs for it later
    assert pl.inbox([o["id"]]) == []
    # the pipeline works again once Redis is back
    o2, ev2 = order_without_event(pl)
    pl.rabbit.publish(pl.queue, make_message(o2, ev2["id"]), message_id=ev2["id"],
                      headers={"x-retry-count": 0})
    pl.wait_processed([o2["id"]], 20, roles=roles)
    assert pl.processed_ids([o["id"]]) == set()
    assert pl.runs([o["id"]]) == {}


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
    t_created = time.monotonic() - t0
    assert len(set(ids)) == 500
    pl.wait_processed(ids, 90, roles=roles)
    t_done = time.monotonic() - t0
    runs = pl.assert_exactly_once(ids)
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
