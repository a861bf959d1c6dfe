"""Event pipeline under faults (SPEC §5 guarantee): every committed order is
processed, exactly once in effect, through a RabbitMQ, Redis or PostgreSQL
outage and through `kill -9` of the relay, the consumer or a worker mid-task;
and the API shows processed_at after a Redis restart.

These tests stop/kill the stack's servers with scripts/devstack (always
restarted in a `finally`) and SIGKILL role processes they started themselves.
"""

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import Api, describe, free_port, item
from pipeline_helpers import (  # noqa: F401 - fixtures
    FAST,
    WORKER_GROUP,
    Outage,
    assert_dependency_logged_once,
    holds,
    pipeline,
    poll,
    queue_stats,
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
    marks = {p.name: p.mark() for p in r.values()}
    watch = pl.watch()

    with Outage("rabbitmq") as outage:
        created = []
        for _ in range(3):
            o, dt = timed_create(pl)
            assert dt < 1.0, f"POST /orders/ took {dt:.2f}s with RabbitMQ down"
            created.append(o["id"])
        ids = created
        watch.add(ids)
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
    for i in ids:
        assert pl.outbox(i)[0]["published_at"] is not None

    # and the whole pipeline (consumer reconnected too) keeps working
    o = pl.create_order()
    watch.add([o["id"]])
    pl.wait_processed([o["id"]], 10, roles=roles, desc="order created after the restart processed")
    pl.assert_exactly_once(ids + [o["id"]], watch=watch)
    pl.assert_no_dead_letters()
    # the relay (it had events to publish) and the consumer noticed, once each
    assert_dependency_logged_once([r["relay"], r["consumer"]], "rabbitmq", marks)
    print(f"RabbitMQ outage: start took {t_up - t_down:.1f}s, backlog processed "
          f"{t_done - t_up:.1f}s after RabbitMQ was back")


def test_all_rabbitmq_restarted_under_load_every_order_published_long_before_its_lease(
        pipeline, roles):
    """`order-service all`, RabbitMQ restarted while orders keep coming through its api:
    the rows in flight when the connection died, and those committed while the relay
    could not work, are published as soon as RabbitMQ is back, not when a lease ends
    (OUTBOX_LEASE_SECONDS=120 here), and each order is processed once."""
    pl = pipeline
    lease = 120
    port = free_port()
    roles.start("all", API_PORT=str(port), OUTBOX_LEASE_SECONDS=str(lease),
                OUTBOX_POLL_SECONDS="30")
    api = Api(f"http://127.0.0.1:{port}")
    poll(lambda: api.get("/health").status_code == 200, 15, desc="`all` answering /health")
    pl.wait_consuming()
    warm = pl.create_order(api=api)
    pl.wait_processed([warm["id"]], 35, roles=roles)
    watch = pl.watch()

    ids, stop = [], threading.Event()

    def create():
        creator = Api(f"http://127.0.0.1:{port}")
        user = creator.new_user()
        while not stop.is_set():
            r = creator.create_order(user.token, [item(4, 1, 2.5)])
            assert r.status_code == 201, describe(r)
            ids.append(r.json()["id"])
            time.sleep(0.02)

    with ThreadPoolExecutor(2) as ex:
        creators = [ex.submit(create) for _ in range(2)]
        time.sleep(1)
        with Outage("rabbitmq") as outage:
            time.sleep(2)
            outage.restore()
        t_up = time.monotonic()
        time.sleep(2)
        stop.set()
        for c in creators:
            c.result()
    watch.add(ids)
    assert len(ids) > 100, f"only {len(ids)} orders created"
    pl.wait_processed(ids, 30, roles=roles,
                      desc=f"all {len(ids)} orders processed within 30 s of RabbitMQ's return "
                           f"(their lease: {lease} s)")
    print(f"{len(ids)} orders, all processed {time.monotonic() - t_up:.1f}s after RabbitMQ was back")
    pl.assert_exactly_once(ids, watch=watch)
    pl.assert_no_dead_letters()


# ---------------------------------------------------------------- Redis down


def test_redis_down_events_held_nothing_lost(pipeline, roles):
    """Redis down longer than the consumer's whole retry budget (default
    RABBITMQ_CONSUMER_MAX_RETRIES with 0.2 s base delay: about 6 s): the events
    are held by the consumer (unacked), never dead-lettered or recorded as
    handled, and all processed once when Redis is back."""
    pl = pipeline
    r = roles.start_pipeline()
    pl.wait_consuming()
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 5, roles=roles)
    pl.rabbit.purge(pl.dlq)
    marks = {p.name: p.mark() for p in r.values()}
    watch = pl.watch()

    ids = []
    with Outage("redis") as outage:
        for _ in range(10):
            o, dt = timed_create(pl)
            assert dt < 1.0, f"POST /orders/ took {dt:.2f}s with Redis down"
            ids.append(o["id"])
        watch.add(ids)
        # published, but not handled (nothing recorded in the inbox without the enqueue)
        poll(lambda: all(pl.outbox(i)[0]["published_at"] is not None for i in ids), 10,
             desc="events published during the Redis outage")
        assert pl.inbox(ids) == [], "events recorded as handled although the enqueue failed"
        assert pl.processed_ids(ids) == set()
        # Redis stays down for longer than the whole retry budget: nothing is
        # dead-lettered, nothing is recorded as handled, no role gives up
        holds(lambda: pl.rabbit.count(pl.dlq) == 0 and pl.inbox(ids) == [] and
              all(p.alive() for p in r.values()), 10.0, interval=0.2,
              desc="no DLQ, no inbox row, roles alive during the Redis outage")
        # the consumer holds the events (unacked or ready in new_order), not parked elsewhere
        st = queue_stats(pl.queue)
        assert st["ready"] + st["unacked"] == len(ids), f"{pl.queue}: {st}; queues {pl.queue_counts()}"
        assert pl.rabbit.count(pl.retry_queue) == 0, pl.queue_counts()
        outage.restore()

    pl.wait_processed(ids, 30, roles=roles, desc="orders created during the Redis outage processed")
    pl.assert_exactly_once(ids, watch=watch)
    inbox = pl.inbox(ids)
    assert sorted(o for _, o in inbox) == sorted(ids)
    assert {e for e, _ in inbox} == {pl.outbox(i)[0]["id"] for i in ids}
    pl.wait_idle()
    pl.assert_no_dead_letters()
    for i in ids:
        g = pl.api.get_order(pl.user.token, i)
        assert g.status_code == 200 and g.json()["processed_at"], describe(g)
    # logged once per role, not once per message (10 events were held)
    assert_dependency_logged_once([r["consumer"], r["worker"]], "redis", marks)


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
    watch = pl.watch([o["id"]])
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
    pl.assert_exactly_once([o["id"]], watch=watch)
    assert runs[0]["worker"] != (dead_consumer.decode() if isinstance(dead_consumer, bytes) else dead_consumer)
    w2.wait_log(rf"Order {o['id']} processed", 5)
    pl.wait_idle()
    assert pl.redis.xlen(pl.dead_stream) == 0


def test_relay_and_consumer_killed_while_orders_flow(pipeline, roles):
    """kill -9 of the relay and the consumer, three times, while orders flow, each
    time with work in flight: the consumer holds unacked deliveries and outbox rows
    are unpublished at the moment of the kill (both are frozen with SIGSTOP first,
    so the state checked is the state they die in). Every order is processed,
    exactly once in effect."""
    pl = pipeline
    r = roles.start_pipeline()
    pl.wait_consuming()
    # Enough orders (80 s at 5/s) that they keep coming through the three cycles even
    # when each cycle's waits are slow (a sanitizer build on a loaded machine).
    n = 400
    ids = []
    errors = []
    lock = threading.Lock()
    test_start = pl.query("SELECT now()")[0][0]
    watch = pl.watch()

    rate = 5.0  # orders per second: they keep coming through every freeze and kill

    def create():
        t_start = time.monotonic()
        local = threading.local()

        def one(i):
            wait = t_start + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not hasattr(local, "api"):
                local.api = Api(pl.api_proc.url)
            r = local.api.create_order(pl.user.token, [item(1 + i % 50, 1 + i % 3, 9.99)])
            assert r.status_code == 201, describe(r)
            return r.json()["id"]

        try:
            with ThreadPoolExecutor(4) as ex:
                got = list(ex.map(one, range(n)))
            with lock:
                ids.extend(got)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    created_before = pl.query("SELECT count(*) FROM orders")[0][0]

    def created():
        return pl.query("SELECT count(*) FROM orders")[0][0] - created_before

    def unpublished():
        return pl.query("SELECT count(*) FROM outbox_events WHERE created_at >= %s AND published_at IS NULL",
                        (test_start,))[0][0]

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
            assert th.is_alive(), "all orders created before the kill: test inconclusive"
            # freeze the consumer: the broker keeps pushing deliveries to it (up to
            # the prefetch), which it holds unacked
            os.kill(consumer.pid, signal.SIGSTOP)
            st = poll(lambda: (lambda q: q if q["unacked"] > 0 else None)(queue_stats(pl.queue)), 30,
                      interval=0.2, desc="deliveries unacked by the frozen consumer")
            # freeze the relay: new orders' rows stay unpublished
            os.kill(relay.pid, signal.SIGSTOP)
            pending = poll(lambda: unpublished(), 30, interval=0.05,
                           desc="outbox rows unpublished while the relay is frozen")
            relay.kill()
            consumer.kill()
            c_kill = created()
            cycles.append({"created": c_kill, "unacked_at_kill": st["unacked"],
                           "unpublished_at_kill": pending})
            # orders keep coming while relay and consumer are dead
            poll(lambda: created() >= min(n, c_kill + 20) or not th.is_alive(), 60, interval=0.005,
                 desc="more orders created while relay/consumer are dead")
            relay = roles.start("relay")
            consumer = roles.start("consumer")
            # the next cycle freezes this consumer: it must be subscribed by then (a slow
            # start, e.g. under ASan, froze it before it consumed anything)
            consumer.wait_log(r"consumer connected to RabbitMQ", 30, desc="new consumer subscribed")
    finally:
        for p in (relay, consumer):  # never leave a frozen process behind
            if p.alive():
                os.kill(p.pid, signal.SIGCONT)
        th.join(120)
    assert not errors, errors
    assert len(ids) == n
    watch.add(ids)
    for c in cycles:
        assert c["unacked_at_kill"] > 0 and c["unpublished_at_kill"] > 0, cycles
    pl.wait_processed(ids, 60, roles=roles, desc=f"all {n} orders processed")
    t_done = time.monotonic() - t0
    assert len(pl.inbox(ids)) == n
    # rows a killed relay had claimed (and maybe published) are published by the
    # new relay once their lease has expired
    lease = float(FAST["OUTBOX_LEASE_SECONDS"])
    unpublished_ids = ("SELECT count(*) FROM outbox_events WHERE aggregate_id = ANY(%s::uuid[]) "
                       "AND published_at IS NULL")
    poll(lambda: pl.query(unpublished_ids, (ids,))[0][0] == 0, lease + 10, interval=0.2,
         desc="every outbox row published")
    pl.wait_idle()
    pl.assert_no_dead_letters()
    # redelivered events (republished by the new relay) never ran a second task
    runs = pl.assert_exactly_once(ids, watch=watch)
    redundant = sum(1 for v in runs.values() if v[0] > 1)
    print(f"crash test: {cycles}; {n} processed in {t_done:.1f}s; {redundant} redundant runs")


# ---------------------------------------------------------------- PostgreSQL down


def test_postgres_down_with_events_and_tasks_in_flight(pipeline, roles):
    """SPEC §5 guarantee through a PostgreSQL outage longer than the retry
    budgets (defaults): tasks waiting in the stream and events waiting in the
    queue while PostgreSQL is down are all processed, once, after it returns
    (consumer and worker wait, never drop or dead-letter)."""
    pl = pipeline
    r = roles.start_pipeline()
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
    ids = tasks + events
    watch = pl.watch(ids)

    with Outage("postgres") as outage:
        consumer = roles.start("consumer")
        # the backoff between retries of a task whose dependency is down is capped
        worker = roles.start("worker", TASK_RETRY_MAX_BACKOFF_SECONDS="1")
        # longer than the worker's TASK_MAX_ATTEMPTS backoff and the consumer's
        # retry budget: nothing is dead-lettered, no role gives up
        holds(lambda: pl.rabbit.count(pl.dlq) == 0 and pl.redis.xlen(pl.dead_stream) == 0
              and consumer.alive() and worker.alive() and r["relay"].alive(), 20.0, interval=0.3,
              desc="no dead letter, roles alive while PostgreSQL is down")
        st = queue_stats(pl.queue)
        assert st["ready"] + st["unacked"] == 5 and pl.rabbit.count(pl.retry_queue) == 0, (
            f"the 5 events should be held in {pl.queue}: {st}; {pl.queue_counts()}"
        )
        # each task waits, in the stream or (put off by the outage) in the delayed set
        waiting = pl.redis.xlen(pl.stream) + pl.redis.zcard(pl.stream + ":delayed")
        assert waiting >= 5, pl.stream_state()
        outage.restore()
    t_up = time.monotonic()
    # PostgreSQL answers again (devstack waited for it): the api takes orders again
    after = pl.api.create_order(pl.user.token, [item(9, 1, 1.25)])

    # the tasks retry at most TASK_RETRY_MAX_BACKOFF_SECONDS (1 s) apart
    pl.wait_processed(tasks, 10 - (time.monotonic() - t_up), roles=roles,
                      desc="tasks retried within the capped backoff once PostgreSQL is back")
    pl.wait_processed(ids, 30, roles=roles, desc="orders in flight during the PostgreSQL outage processed")
    pl.wait_idle()
    pl.assert_no_dead_letters()
    # and new orders keep flowing
    assert after.status_code == 201, (
        f"first POST /orders/ after PostgreSQL came back failed: {describe(after)}"
    )
    o = pl.create_order()
    more = [after.json()["id"], o["id"]]
    watch.add(more)
    pl.wait_processed(more, 10, roles=roles)
    pl.assert_exactly_once(ids + more, watch=watch)
    assert_dependency_logged_once([consumer, worker], "postgres")


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


# ---------------------------------------------------------------- task-queue Redis durability


def test_task_queue_redis_is_durable_and_eviction_is_warned_about(pipeline, roles):
    """SPEC §5 (queued data durable): the stack's Redis runs with appendfsync
    always and maxmemory-policy noeviction; when the policy could evict tasks,
    the worker and the consumer say so at start, naming the setting."""
    pl = pipeline
    cfg = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
           for k, v in {**pl.redis.config_get("appendfsync"),
                        **pl.redis.config_get("maxmemory-policy")}.items()}
    assert cfg.get("appendfsync") == "always", cfg
    assert cfg.get("maxmemory-policy") == "noeviction", cfg

    def warned(p):
        return [r for r in p.records()
                if "maxmemory-policy" in json.dumps(r) and r.get("level") in ("warning", "warn")]

    # the safe policy: no warning
    quiet = roles.start_pipeline(relay=False)
    pl.wait_consuming()
    quiet["worker"].wait_log(r"worker started", 15)
    time.sleep(1.0)
    for p in quiet.values():
        assert not warned(p), f"{p.name} warned about a safe policy: {warned(p)}"
        p.stop_ok()

    pl.redis.config_set("maxmemory-policy", "allkeys-lru")
    try:
        procs = roles.start_pipeline(relay=False)
        for p in procs.values():
            poll(lambda: warned(p), 15, desc=f"{p.name} warns about maxmemory-policy allkeys-lru "
                                              f"(log: {p.tail(1500)})")
        # a warning, not a refusal: the roles run
        pl.wait_consuming()
        roles.check_alive()
    finally:
        pl.redis.config_set("maxmemory-policy", "noeviction")


def test_redis_error_replies_are_transient_not_poison(pipeline, roles):
    """A task-queue Redis that answers with an error reply (-OOM here: maxmemory
    reached under noeviction) is a dependency that is unavailable, like a dead
    one (SPEC §5.7): the events are held, never dead-lettered nor recorded as
    handled, and processed once Redis accepts writes again."""
    pl = pipeline
    r = roles.start_pipeline()
    pl.wait_consuming()
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 10, roles=roles)
    pl.wait_idle()
    marks = {p.name: p.mark() for p in r.values()}
    cfg = pl.redis.config_get("maxmemory")
    old = cfg.get("maxmemory") or cfg.get(b"maxmemory") or "0"
    old = old.decode() if isinstance(old, bytes) else old
    pl.redis.config_set("maxmemory", "1")  # every write is refused with -OOM
    try:
        ids = [pl.create_order()["id"] for _ in range(5)]
        watch = pl.watch(ids)
        poll(lambda: all(pl.outbox(i)[0]["published_at"] is not None for i in ids), 10,
             desc="events published")
        holds(lambda: pl.rabbit.count(pl.dlq) == 0 and pl.redis.xlen(pl.dead_stream) == 0
              and pl.inbox(ids) == [] and all(p.alive() for p in r.values()), 10.0, interval=0.2,
              desc="no dead letter, no inbox row, roles alive while Redis refuses writes")
        assert pl.processed_ids(ids) == set()
    finally:
        pl.redis.config_set("maxmemory", old)
    pl.wait_processed(ids, 30, roles=roles, desc="orders processed once Redis accepts writes again")
    pl.wait_idle()
    pl.assert_no_dead_letters()
    pl.assert_exactly_once(ids, watch=watch)
    assert_dependency_logged_once([r["consumer"]], "redis", marks)
    assert_dependency_logged_once([r["worker"], r["relay"]], "redis", marks, must=False)
