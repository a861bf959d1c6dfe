"""Event pipeline under faults (SPEC §5 guarantee): every committed order is
processed, exactly once in effect, through a RabbitMQ, Redis or PostgreSQL
outage and through `kill -9` of the relay, the consumer or a worker mid-task;
and the API shows processed_at after a Redis restart.

These tests stop/kill the stack's servers with scripts/devstack (always
restarted in a `finally`) and SIGKILL role processes they started themselves.
"""

import threading
import time

import pytest

from helpers import describe, item
from pipeline_helpers import (  # noqa: F401 - fixtures
    FAST,
    WORKER_GROUP,
    Outage,
    holds,
    pipeline,
    poll,
    roles,
)

pytestmark = pytest.mark.outage


def timed_create(pl, items=None):
    t = time.monotonic()
    r = pl.api.create_order(pl.user.token, items or [item(5, 1, 3.5)])
    dt = time.monotonic() - t
    assert r.status_code == 201, describe(r)
    return r.json(), dt


# ---------------------------------------------------------------- RabbitMQ down


def test_rabbitmq_down_orders_accepted_and_delivered_after_restart(pipeline, roles):
    pl = pipeline
    r = roles.start_pipeline()
    pl.wait_consuming()
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 5, roles=roles)
    pids = {k: p.pid for k, p in r.items()}

    with Outage("rabbitmq") as outage:
        created = []
        for _ in range(3):
            o, dt = timed_create(pl)
            assert dt < 1.0, f"POST /orders/ took {dt:.2f}s with RabbitMQ down"
            created.append(o["id"])
        ids = created
        # the events wait in the outbox
        holds(lambda: all(pl.outbox(i)[0]["published_at"] is None for i in ids), 2.0,
              desc="outbox rows unpublished while RabbitMQ is down")
        assert pl.processed_ids(ids) == set()
        roles.check_alive()
        t_down = time.monotonic()
        outage.restore()
    t_up = time.monotonic()

    # same processes, no restart of any role
    pl.wait_processed(ids, 30, roles=roles, desc="orders created during the outage processed")
    assert {k: p.pid for k, p in r.items()} == pids
    assert all(p.alive() for p in r.values())
    t_done = time.monotonic()
    pl.assert_exactly_once(ids)
    for i in ids:
        assert pl.outbox(i)[0]["published_at"] is not None

    # and the whole pipeline (consumer reconnected too) keeps working
    o = pl.create_order()
    pl.wait_processed([o["id"]], 10, roles=roles, desc="order created after the restart processed")
    pl.assert_exactly_once([o["id"]])
    print(f"RabbitMQ outage: start took {t_up - t_down:.1f}s, backlog processed "
          f"{t_done - t_up:.1f}s after RabbitMQ was back")


# ---------------------------------------------------------------- Redis down


def test_redis_down_events_retried_nothing_lost(pipeline, roles):
    pl = pipeline
    # enough retries for the outage: 0.2 s * (2^0 + ... + 2^7) ≈ 51 s
    r = roles.start_pipeline(RABBITMQ_CONSUMER_MAX_RETRIES="8")
    pl.wait_consuming()
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 5, roles=roles)
    pl.rabbit.purge(pl.dlq)

    ids = []
    with Outage("redis") as outage:
        for _ in range(10):
            o, dt = timed_create(pl)
            assert dt < 1.0, f"POST /orders/ took {dt:.2f}s with Redis down"
            ids.append(o["id"])
        # the consumer cannot enqueue: the events are parked in the retry queue
        poll(lambda: pl.rabbit.count(pl.retry_queue) > 0, 10, interval=0.05,
             desc=f"messages in {pl.retry_queue} (queues: {pl.queue_counts()})")
        # published, but not handled (nothing recorded in the inbox without the enqueue)
        poll(lambda: all(pl.outbox(i)[0]["published_at"] is not None for i in ids), 10,
             desc="events published during the Redis outage")
        assert pl.inbox(ids) == [], "events recorded as handled although the enqueue failed"
        assert pl.processed_ids(ids) == set()
        assert pl.rabbit.count(pl.dlq) == 0, "a short Redis outage must not dead-letter events"
        roles.check_alive()
        # Redis stays down for several retry rounds (0.2+0.4+0.8+1.6 s): nothing is
        # dead-lettered, nothing is recorded as handled, no role gives up
        holds(lambda: pl.rabbit.count(pl.dlq) == 0 and pl.inbox(ids) == [] and
              all(p.alive() for p in r.values()), 3.0, interval=0.2,
              desc="no DLQ, no inbox row, roles alive during the Redis outage")
        outage.restore()

    pl.wait_processed(ids, 30, roles=roles, desc="orders created during the Redis outage processed")
    pl.assert_exactly_once(ids)
    inbox = pl.inbox(ids)
    assert sorted(o for _, o in inbox) == sorted(ids)
    assert {e for e, _ in inbox} == {pl.outbox(i)[0]["id"] for i in ids}
    pl.wait_idle()
    assert pl.rabbit.count(pl.dlq) == 0
    assert pl.redis.xlen(pl.dead_stream) == 0
    for i in ids:
        g = pl.api.get_order(pl.user.token, i)
        assert g.status_code == 200 and g.json()["processed_at"], describe(g)


# ---------------------------------------------------------------- crashes


def test_worker_killed_mid_task_is_reclaimed_by_another(pipeline, roles):
    pl = pipeline
    delay = 1.0
    vis = float(FAST["TASK_VISIBILITY_TIMEOUT_SECONDS"])
    roles.start_pipeline(worker=False)
    w1 = roles.start("worker", PROCESS_ORDER_DELAY_SECONDS=str(delay))
    pl.wait_consuming()
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 10, roles=roles)
    pl.wait_idle()

    o = pl.create_order()
    # the task has been delivered to worker 1 and is running (pending, not acked)
    pending = poll(lambda: pl.redis.xpending(pl.stream, WORKER_GROUP)["pending"] == 1
                   and pl.redis.xpending(pl.stream, WORKER_GROUP), 5, interval=0.01,
                   desc="task pending at worker 1")
    t_delivered = time.monotonic()
    w1.kill()
    assert pl.processed_ids([o["id"]]) == set(), "the task finished before the kill: test inconclusive"
    assert pl.runs([o["id"]]) == {}
    dead_consumer = pending["consumers"][0]["name"]

    w2 = roles.start("worker", PROCESS_ORDER_DELAY_SECONDS=str(delay))
    pl.wait_processed([o["id"]], vis + delay + 10, roles=roles, desc="task reclaimed by worker 2")
    t_done = time.monotonic()
    assert t_done - t_delivered >= vis - 0.5, (
        f"reclaimed {t_done - t_delivered:.2f}s after delivery: before the visibility timeout ({vis}s)"
    )
    runs = pl.run_rows(o["id"])
    assert len(runs) == 1 and runs[0]["effective"], runs
    assert runs[0]["worker"] != (dead_consumer.decode() if isinstance(dead_consumer, bytes) else dead_consumer)
    w2.wait_log(rf"Order {o['id']} processed", 5)
    pl.wait_idle()
    assert pl.redis.xlen(pl.dead_stream) == 0


def test_relay_and_consumer_killed_while_200_orders_flow(pipeline, roles):
    pl = pipeline
    r = roles.start_pipeline()
    pl.wait_consuming()
    n = 200
    ids = []
    errors = []
    lock = threading.Lock()

    def create():
        try:
            got = pl.create_orders(n, threads=8)
            with lock:
                ids.extend(got)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    created_before = pl.query("SELECT count(*) FROM orders")[0][0]

    def created():
        return pl.query("SELECT count(*) FROM orders")[0][0] - created_before

    t0 = time.monotonic()
    th = threading.Thread(target=create)
    th.start()
    cycles = []
    relay, consumer = r["relay"], r["consumer"]
    try:
        # three crash/restart cycles while the orders are being created
        for at in (30, 80, 130):
            poll(lambda: created() >= at or not th.is_alive(), 60, interval=0.005,
                 desc=f"{at} orders created")
            relay.kill()
            consumer.kill()
            c_kill = created()
            # orders keep coming while relay and consumer are dead
            poll(lambda: created() >= min(n, c_kill + 20) or not th.is_alive(), 60, interval=0.005,
                 desc="more orders created while relay/consumer are dead")
            relay = roles.start("relay")
            consumer = roles.start("consumer")
            cycles.append((c_kill, created()))
    finally:
        th.join(120)
    assert not errors, errors
    assert len(ids) == n
    pl.wait_processed(ids, 60, roles=roles, desc=f"all {n} orders processed")
    t_done = time.monotonic() - t0
    pl.assert_exactly_once(ids)
    assert len(pl.inbox(ids)) == n
    # rows a killed relay had claimed (and maybe published) are published by the
    # new relay once their lease has expired
    lease = float(FAST["OUTBOX_LEASE_SECONDS"])
    unpublished = "SELECT count(*) FROM outbox_events WHERE aggregate_id = ANY(%s::uuid[]) AND published_at IS NULL"
    poll(lambda: pl.query(unpublished, (ids,))[0][0] == 0, lease + 10, interval=0.2,
         desc="every outbox row published")
    pl.wait_idle()
    assert pl.rabbit.count(pl.dlq) == 0
    assert pl.redis.xlen(pl.dead_stream) == 0
    # redelivered events (republished by the new relay) never ran a second task
    runs = pl.assert_exactly_once(ids)
    redundant = sum(1 for v in runs.values() if v[0] > 1)
    print(f"crash test: (killed at, restarted at) orders created: {cycles}; "
          f"{n} processed in {t_done:.1f}s; {redundant} redundant runs")


# ---------------------------------------------------------------- PostgreSQL down


def test_postgres_down_with_events_and_tasks_in_flight(pipeline, roles):
    """SPEC §5 guarantee through a PostgreSQL outage: tasks waiting in the
    stream and events waiting in the queue while PostgreSQL is down are all
    processed, once, after it returns (consumer and worker retry, never drop)."""
    pl = pipeline
    slow = {"RABBITMQ_CONSUMER_MAX_RETRIES": "8"}
    r = roles.start_pipeline(**slow)
    pl.wait_consuming()
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 5, roles=roles)
    pl.rabbit.purge(pl.dlq)

    # tasks waiting in the stream: worker stopped
    r["worker"].stop_ok()
    tasks = [pl.create_order()["id"] for _ in range(5)]
    poll(lambda: len(pl.inbox(tasks)) == 5, 10, desc="5 tasks enqueued")
    # events waiting in the queue: consumer stopped
    r["consumer"].stop_ok()
    events = [pl.create_order()["id"] for _ in range(5)]
    poll(lambda: all(pl.outbox(i)[0]["published_at"] is not None for i in events)
         and pl.rabbit.count(pl.queue) >= 5, 10, desc="5 events published, ready in the queue")

    with Outage("postgres") as outage:
        consumer = roles.start("consumer", **slow)
        worker = roles.start("worker", **slow)
        # the consumer cannot record the events: they go round the retry queue
        consumer.wait_log(r"retry scheduled", 15)
        holds(lambda: pl.rabbit.count(pl.dlq) == 0 and consumer.alive() and worker.alive()
              and r["relay"].alive(), 3.0, interval=0.2,
              desc="no DLQ, roles alive while PostgreSQL is down")
        outage.restore()
    # PostgreSQL answers again (devstack waited for it): the api takes orders again
    after = pl.api.create_order(pl.user.token, [item(9, 1, 1.25)])

    ids = tasks + events
    pl.wait_processed(ids, 30, roles=roles, desc="orders in flight during the PostgreSQL outage processed")
    pl.assert_exactly_once(ids)
    pl.wait_idle()
    assert pl.rabbit.count(pl.dlq) == 0
    assert pl.redis.xlen(pl.dead_stream) == 0, "tasks dead-lettered because PostgreSQL was down"
    # and new orders keep flowing
    assert after.status_code == 201, (
        f"first POST /orders/ after PostgreSQL came back failed: {describe(after)}"
    )
    o = pl.create_order()
    pl.wait_processed([after.json()["id"], o["id"]], 10, roles=roles)
    pl.assert_exactly_once([after.json()["id"], o["id"]])


# ---------------------------------------------------------------- cache after a Redis restart


def test_processed_at_visible_after_redis_restart(pipeline, roles):
    """GET /orders/{id}/ shows processed_at (SPEC §4: updates write the new
    representation) also when the order was cached before a Redis restart and
    processed after it: the worker must not leave the stale cached copy."""
    pl = pipeline
    r = roles.start_pipeline()
    pl.wait_consuming()
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 5, roles=roles)  # the worker has used its Redis connections
    r["consumer"].stop_ok()

    o = pl.create_order()
    pl.api.get_order(pl.user.token, o["id"])
    g = pl.api.get_order(pl.user.token, o["id"])
    assert g.status_code == 200 and g.json()["processed_at"] is None, describe(g)
    key = f"orders:{o['id']}"
    assert pl.redis.exists(key), "the api caches the order (SPEC §4)"

    with Outage("redis") as outage:
        outage.restore()  # stop + start: Redis keeps its data (append-only file)
    pl.redis.connection_pool.disconnect()

    roles.start("consumer")
    pl.wait_processed([o["id"]], 10, roles=roles)

    # once the api reads its cache again (its own breaker may skip Redis for a few
    # seconds after the restart), the cached copy must show processed_at
    def cached_get():
        g = pl.api.get_order(pl.user.token, o["id"])
        assert g.status_code == 200, describe(g)
        return g if g.headers.get("X-Cache") == "HIT" else None

    g = poll(cached_get, 15, interval=0.2, desc="GET served from the cache again")
    assert g.json()["processed_at"], (
        f"stale cache: GET /orders/{{id}}/ shows processed_at null although the order was "
        f"processed; {describe(g)}; redis {key} = {pl.redis.get(key)!r}"
    )
