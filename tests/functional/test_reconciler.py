"""The reconciler (SPEC §5.8, `order-service reconcile`): orders still
unprocessed RECONCILE_AFTER_SECONDS after creation get their process_order task
enqueued again, directly on the task stream, every RECONCILE_INTERVAL_SECONDS, unless
their task is still live (waiting, running or delayed: one live task per order), by
any number of reconciler copies together. It is the safety net under everything else,
including lost task-queue data (the inbox already holds the events, so the
consumer never enqueues them again).
"""

import time

import pytest

from helpers import free_port
from pipeline_helpers import (  # noqa: F401 - fixtures
    holds,
    metric,
    pipeline,
    poll,
    roles,
    scrape_metrics,
)

AFTER = 5
INTERVAL = 2
# Per order: processed at most AFTER + INTERVAL (+ this) after its creation.
# Covers the task run (0.2 s), process start-up and a noisy 2-core machine.
SLACK = 8


@pytest.mark.parametrize("how", ["del", "flushdb"])
def test_lost_task_stream_every_order_processed(pipeline, roles, how):
    pl = pipeline
    cfg = {"RECONCILE_AFTER_SECONDS": str(AFTER), "RECONCILE_INTERVAL_SECONDS": str(INTERVAL)}
    # no worker: the tasks wait in the stream, then are lost
    roles.start_pipeline(worker=False, **cfg)
    pl.wait_consuming()
    port = free_port()
    rec = roles.start("reconcile", METRICS_PORT=str(port), **cfg)

    ids = pl.create_orders(50)
    watch = pl.watch(ids)
    poll(lambda: len(pl.inbox(ids)) == 50, 20, desc="50 events consumed (inbox)")
    poll(lambda: pl.redis.xlen(pl.stream) >= 50, 10, desc="50 tasks in the stream")
    assert pl.processed_ids(ids) == set()
    # the task queue's data is lost (DEL of the stream, or FLUSHDB)
    if how == "del":
        pl.redis.delete(pl.stream)
    else:
        pl.redis.flushdb()
    assert pl.redis.xlen(pl.stream) == 0
    roles.start("worker", **cfg)

    pl.wait_processed(ids, AFTER + INTERVAL + SLACK + 20, roles=roles,
                      desc="every order processed after its task was lost")
    rows = pl.query(
        "SELECT id::text, extract(epoch FROM processed_at - created_at) FROM orders "
        "WHERE id = ANY(%s::uuid[])", (ids,))
    late = sorted(((round(float(d), 1), i) for i, d in rows if float(d) > AFTER + INTERVAL + SLACK),
                  reverse=True)
    assert not late, (
        f"{len(late)} orders processed later than RECONCILE_AFTER_SECONDS + one interval "
        f"({AFTER}+{INTERVAL}+{SLACK}s slack) after creation: (seconds, order) {late[:5]}"
    )
    pl.assert_exactly_once(ids, watch=watch)
    pl.assert_no_dead_letters()

    # metrics of the reconciler
    m = scrape_metrics(port)
    reconciled = metric(m, "orders_reconciled_total")
    assert reconciled is not None and reconciled >= 50, (
        f"orders_reconciled_total = {reconciled}; reconciler log:\n{rec.tail()}")
    assert metric(m, "orders_unprocessed_oldest_age_seconds") is not None, sorted(m)[:40]
    poll(lambda: metric(scrape_metrics(port), "orders_unprocessed_oldest_age_seconds") < AFTER,
         INTERVAL + 10, desc="orders_unprocessed_oldest_age_seconds back below RECONCILE_AFTER_SECONDS")
    print("processed after creation (s): max %.1f" % max(float(d) for _, d in rows))


def test_a_live_task_is_never_enqueued_twice_and_a_lost_one_is_replaced(pipeline, roles):
    """An order whose task waits in the stream (no worker) stays unprocessed: the
    reconcilers (two copies) see its task is live and add none, for as long as it waits.
    Once that task is lost (its entry deleted, as a Redis failover may do), they enqueue
    exactly one new one, within a visibility timeout plus an interval. The order is
    processed once in effect."""
    pl = pipeline
    vis = 4
    cfg = {"RECONCILE_AFTER_SECONDS": "1", "RECONCILE_INTERVAL_SECONDS": "1",
           "TASK_VISIBILITY_TIMEOUT_SECONDS": str(vis)}
    roles.start_pipeline(worker=False, **cfg)
    pl.wait_consuming()
    o = pl.create_order()
    poll(lambda: pl.redis.xlen(pl.stream) == 1, 10, interval=0.02, desc="the consumer enqueued the task")

    ports = [free_port(), free_port()]
    recs = [roles.start("reconcile", METRICS_PORT=str(p), **cfg) for p in ports]
    holds(lambda: pl.redis.xlen(pl.stream) == 1, 3 * vis, interval=0.05,
          desc="one entry while the task waits (the reconcilers add none)")
    assert sum(metric(scrape_metrics(p), "orders_reconciled_total") or 0 for p in ports) == 0

    (entry, _), = pl.redis.xrange(pl.stream)
    pl.redis.xdel(pl.stream, entry)  # the task is lost
    t_lost = time.monotonic()
    poll(lambda: pl.redis.xlen(pl.stream) == 1, 2 * vis + 1 + SLACK, interval=0.05,
         desc="a new task for the order whose task was lost")
    print(f"replaced {time.monotonic() - t_lost:.1f} s after the loss (visibility timeout {vis}s)")
    holds(lambda: pl.redis.xlen(pl.stream) == 1, 2, interval=0.05, desc="exactly one new task")
    total = sum(metric(scrape_metrics(p), "orders_reconciled_total") or 0 for p in ports)
    assert total == 1, f"orders_reconciled_total over both reconcilers = {total}"
    entries = pl.redis.xrange(pl.stream)
    assert {f[b"order_id"].decode() for _, f in entries} == {o["id"]}, entries

    roles.start("worker", **cfg)
    pl.wait_processed([o["id"]], 15, roles=roles)
    pl.wait_idle(20)
    pl.assert_exactly_once([o["id"]])
    pl.assert_no_dead_letters()
    for r in recs:
        assert r.alive(), r.tail()


def order_whose_event_is_lost(pl):
    """A committed order whose event never reaches the consumer (the outbox row
    is marked published by hand, as if the broker had lost the message)."""
    o = pl.create_order()
    pl.query("UPDATE outbox_events SET published_at = now() WHERE aggregate_id = %s", (o["id"],))
    return o


def test_reconcile_role_processes_an_order_whose_event_was_lost(pipeline, roles):
    """`order-service reconcile --metrics-port N`: an order with no event and no
    task is processed once it is RECONCILE_AFTER_SECONDS old."""
    pl = pipeline
    cfg = {"RECONCILE_AFTER_SECONDS": "3", "RECONCILE_INTERVAL_SECONDS": "1"}
    roles.start_pipeline(relay=False, **cfg)
    pl.wait_consuming()
    o = order_whose_event_is_lost(pl)
    t0 = time.monotonic()
    port = free_port()
    rec = roles.start("reconcile", "--metrics-port", str(port), **cfg)
    holds(lambda: pl.processed_ids([o["id"]]) == set(), 1.5, desc="not processed before RECONCILE_AFTER_SECONDS")
    pl.wait_processed([o["id"]], 3 + 1 + SLACK, roles=roles, desc="order without event reconciled")
    assert time.monotonic() - t0 >= 2.5, "reconciled before RECONCILE_AFTER_SECONDS"
    pl.assert_exactly_once([o["id"]], strict_total=True)
    m = poll(lambda: scrape_metrics(port), 10, desc=f"reconcile --metrics-port {port} serving /metrics")
    assert (metric(m, "orders_reconciled_total") or 0) >= 1, rec.tail()
    pl.assert_no_dead_letters()


def test_all_role_runs_the_reconciler(pipeline, roles):
    pl = pipeline
    cfg = {"RECONCILE_AFTER_SECONDS": "2", "RECONCILE_INTERVAL_SECONDS": "1"}
    o = order_whose_event_is_lost(pl)
    p = roles.start("all", API_PORT=str(free_port()), **cfg)
    pl.wait_processed([o["id"]], 2 + 1 + SLACK + 5, roles=roles,
                      desc="order without event processed by `order-service all` (its reconciler)")
    pl.assert_exactly_once([o["id"]], strict_total=True)
    assert p.alive()
