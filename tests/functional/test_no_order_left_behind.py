"""No order left behind (SPEC §5 guarantee, §5.7): a dependency that is down
never dead-letters an event or a task, however long it is down. Long outages
(60-90 s, far beyond every retry budget at its default) of Redis, PostgreSQL
and RabbitMQ, each with work in flight: nothing is dead-lettered, every order
is processed within 30 s of the server returning, exactly once in effect
(one effective task run, processed_at never rewritten), and each role logs the
outage once, not once per message.

The roles run with the default retry budgets (RABBITMQ_CONSUMER_MAX_RETRIES,
TASK_MAX_ATTEMPTS, TASK_RETRY_MAX_BACKOFF_SECONDS).
"""

import time

import pytest

from pipeline_helpers import (  # noqa: F401 - fixtures
    WORKER_GROUP,
    Outage,
    assert_dependency_logged_once,
    pipeline,
    poll,
    roles,
)

pytestmark = [pytest.mark.outage, pytest.mark.long]

DRAIN = 30  # every order processed within this many seconds of the server returning


def during(seconds, check, every=2.0):
    """Run check() every `every` s until `seconds` have passed since the call."""
    end = time.monotonic() + seconds
    while True:
        check()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(every, left))


def warm_up(pl, roles, **env):
    r = roles.start_pipeline(**env)
    pl.wait_consuming()
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 15, roles=roles)
    pl.wait_idle()
    pl.assert_no_dead_letters()
    return r


def test_redis_down_90s_while_50_orders_are_created(pipeline, roles):
    pl = pipeline
    r = warm_up(pl, roles)
    marks = {p.name: p.mark() for p in r.values()}
    watch = pl.watch()

    with Outage("redis") as outage:
        t_down = time.monotonic()
        ids = pl.create_orders(50, threads=8)  # the api falls back to PostgreSQL
        watch.add(ids)

        def check():
            roles.check_alive()
            assert pl.rabbit.count(pl.dlq) == 0, f"events dead-lettered while Redis is down: {pl.queue_counts()}"
            assert pl.processed_ids(ids) == set()

        during(90 - (time.monotonic() - t_down), check)
        assert pl.inbox(ids) == [], "events recorded as handled although nothing could be enqueued"
        outage.restore()
    t_up = time.monotonic()

    pl.wait_processed(ids, DRAIN, roles=roles, desc=f"all 50 orders processed within {DRAIN}s of Redis returning")
    drained = time.monotonic() - t_up
    pl.wait_idle()
    pl.assert_no_dead_letters()
    pl.assert_exactly_once(ids, watch=watch)
    assert_dependency_logged_once([r["consumer"], r["worker"]], "redis", marks)
    print(f"Redis down 90 s: 50 orders drained {drained:.1f}s after Redis returned")


def test_postgres_down_60s_with_50_tasks_in_flight(pipeline, roles):
    pl = pipeline
    delay = 5.0
    r = warm_up(pl, roles)
    r.pop("worker").stop_ok()
    marks = {p.name: p.mark() for p in r.values()}
    # 50 tasks waiting, then all taken by one worker and running (pending) at once
    ids = pl.create_orders(50, threads=8)
    watch = pl.watch(ids)
    poll(lambda: len(pl.inbox(ids)) == 50 and pl.redis.xlen(pl.stream) >= 50, 20, desc="50 tasks enqueued")
    # the visibility timeout must exceed the delay (a startup rule), or running tasks would
    # be reclaimed by other workers
    worker = roles.start("worker", PROCESS_ORDER_DELAY_SECONDS=str(delay), WORKER_CONCURRENCY="64",
                         TASK_VISIBILITY_TIMEOUT_SECONDS="30")
    poll(lambda: pl.redis.xpending(pl.stream, WORKER_GROUP)["pending"] >= 50, 15, interval=0.02,
         desc="50 tasks delivered to the worker")
    with Outage("postgres") as outage:
        # stopped while the tasks are still in their PROCESS_ORDER_DELAY_SECONDS
        # (checked below: no run had finished before the outage)
        t_down = time.monotonic()

        def check():
            roles.check_alive()
            assert pl.redis.xlen(pl.dead_stream) == 0, (
                f"tasks dead-lettered while PostgreSQL is down: {pl.dead_tasks()[:3]}")

        during(60 - (time.monotonic() - t_down), check)
        outage.restore()
    t_up = time.monotonic()

    runs_before = pl.runs(ids)
    pl.wait_processed(ids, DRAIN, roles=roles,
                      desc=f"all 50 orders processed within {DRAIN}s of PostgreSQL returning")
    drained = time.monotonic() - t_up
    pl.wait_idle()
    pl.assert_no_dead_letters()
    pl.assert_exactly_once(ids, watch=watch)
    assert not [v for v in runs_before.values() if v[1]], (
        "tasks had finished before PostgreSQL stopped: they were not in flight", runs_before)
    assert_dependency_logged_once([worker], "postgres")
    assert_dependency_logged_once([r["relay"], r["consumer"]], "postgres", marks, must=False)
    print(f"PostgreSQL down 60 s: 50 in-flight tasks drained {drained:.1f}s after it returned")


def test_rabbitmq_down_90s_while_50_orders_are_created(pipeline, roles):
    pl = pipeline
    r = warm_up(pl, roles)
    marks = {p.name: p.mark() for p in r.values()}
    watch = pl.watch()
    unpublished = ("SELECT count(*) FROM outbox_events WHERE aggregate_id = ANY(%s::uuid[]) "
                   "AND published_at IS NULL")

    with Outage("rabbitmq") as outage:
        t_down = time.monotonic()
        ids = pl.create_orders(50, threads=8)
        watch.add(ids)

        def check():
            roles.check_alive()
            assert pl.query(unpublished, (ids,))[0][0] == 50, "rows marked published with RabbitMQ down"
            assert pl.redis.xlen(pl.dead_stream) == 0

        during(90 - (time.monotonic() - t_down), check)
        outage.restore()
    t_up = time.monotonic()

    pl.wait_processed(ids, DRAIN, roles=roles,
                      desc=f"all 50 orders processed within {DRAIN}s of RabbitMQ returning")
    drained = time.monotonic() - t_up
    pl.wait_idle()
    pl.assert_no_dead_letters()
    pl.assert_exactly_once(ids, watch=watch)
    assert pl.query(unpublished, (ids,))[0][0] == 0
    assert_dependency_logged_once([r["relay"], r["consumer"]], "rabbitmq", marks)
    print(f"RabbitMQ down 90 s: 50 orders drained {drained:.1f}s after RabbitMQ returned")
