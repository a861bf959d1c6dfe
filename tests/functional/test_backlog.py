"""Backlogs drain and never multiply (SPEC §5.11): the task stream holds at most one
live entry per unprocessed order, however long the workers are away and however often
the reconciler looks; a worker that comes back drains the backlog at full speed, and an
order created then waits no longer than the backlog in front of it."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from pipeline_helpers import make_message, pipeline, poll, roles  # noqa: F401

# The reconciler at short settings: without the live-task index it re-enqueued every
# unprocessed order every few seconds (15 entries per order after 60 s).
RECONCILE = {"RECONCILE_AFTER_SECONDS": "5", "RECONCILE_INTERVAL_SECONDS": "2",
             "TASK_VISIBILITY_TIMEOUT_SECONDS": "3"}


def unprocessed(pl, ids):
    return pl.query("SELECT count(*) FROM orders WHERE processed_at IS NULL AND id = ANY(%s::uuid[])",
                    (list(ids),))[0][0]


@pytest.mark.long
def test_workers_down_for_two_minutes_the_stream_holds_one_entry_per_order(pipeline, roles):
    pl = pipeline
    roles.start("relay", **RECONCILE)
    roles.start("consumer", **RECONCILE)
    reconciler = roles.start("reconcile", **RECONCILE)
    pl.wait_consuming()
    ids: list[str] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def flow():  # ~5 orders/s for as long as the workers are down
        try:
            while not stop.is_set():
                ids.extend(pl.create_orders(5, threads=5))
                time.sleep(1)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    feeder = threading.Thread(target=flow, daemon=True)
    feeder.start()
    worst = 0.0
    samples = 0
    t_end = time.monotonic() + 120
    try:
        while time.monotonic() < t_end:
            time.sleep(2)
            known = list(ids)
            if len(known) < 20:
                continue
            xlen = pl.redis.xlen(pl.stream) + pl.redis.zcard(pl.stream + ":delayed")
            waiting = unprocessed(pl, known) + (len(ids) - len(known)) + 10  # orders created meanwhile
            worst = max(worst, xlen / waiting)
            samples += 1
            assert xlen <= 1.2 * waiting, (
                f"the task stream holds {xlen} entries for {waiting} unprocessed orders")
    finally:
        stop.set()
        feeder.join(30)
    assert not errors, errors
    assert samples > 40
    assert len(ids) > 300, len(ids)
    # the reconciler looked all along (every order past RECONCILE_AFTER_SECONDS was due),
    # and found each one's task still live: it added none
    assert reconciler.alive()
    assert "reconciler re-enqueued" not in reconciler.log_text(), reconciler.tail()

    # A worker now drains everything at full speed; an order created as it starts waits
    # no longer than the backlog in front of it.
    backlog = len(ids)
    start = time.monotonic()
    roles.start("worker", **RECONCILE)
    late = pl.create_order()["id"]
    pl.wait_processed(ids, 120, roles=roles)
    drain = time.monotonic() - start
    pl.wait_processed([late], max(10.0, drain), roles=roles)
    late_wait = time.monotonic() - start
    pl.assert_exactly_once(ids + [late], strict_total=True)
    pl.assert_no_dead_letters()
    print(f"\nbacklog {backlog} orders, worst {worst:.3f} stream entries per unprocessed order, "
          f"drained in {drain:.1f} s; the order created at the worker's start waited {late_wait:.1f} s")
    poll(lambda: pl.redis.xlen(pl.stream) == 0 and pl.redis.hlen(pl.stream + ":live") == 0, 30,
         desc="stream and live index empty after the drain")


def test_a_redelivered_event_for_an_order_with_a_live_task_adds_nothing(pipeline, roles):
    """Two events for one order (a republished row, a reconciler pass) while its task
    waits: one entry. Once it ran, a new event for it is dropped before any delay."""
    pl = pipeline
    roles.start("consumer")
    pl.wait_consuming()
    order = pl.create_order()
    for _ in range(3):
        pl.rabbit.publish(pl.queue, make_message(order, str(uuid.uuid4())),
                          message_id=str(uuid.uuid4()))
    poll(lambda: pl.redis.hlen(pl.stream + ":live") >= 1 and pl.rabbit.count(pl.queue) == 0, 20,
         desc="events consumed")
    time.sleep(1)
    assert pl.redis.xlen(pl.stream) == 1, pl.redis.xrange(pl.stream)
    worker = roles.start("worker", PROCESS_ORDER_DELAY_SECONDS="2")
    pl.wait_processed([order["id"]], 20, roles=roles)
    pl.assert_exactly_once([order["id"]], strict_total=True)
    # a task for an order already processed costs no delay: one more event, done at once
    pl.rabbit.publish(pl.queue, make_message(order, str(uuid.uuid4())), message_id=str(uuid.uuid4()))
    worker.wait_log("already processed; nothing to do", 1.5)
    pl.assert_no_dead_letters()


def test_the_dead_letter_stream_is_trimmed_to_its_bound(pipeline, roles):
    """TASK_DEAD_LETTER_MAX bounds the task dead-letter stream (XADD MAXLEN ~: Redis trims
    whole nodes of 100 entries, so it may hold up to about a node more)."""
    pl = pipeline
    order = pl.create_order()
    for _ in range(400):
        pl.add_task(order["id"], task="no_such_task")  # can never succeed: dead at once
    roles.start("worker", TASK_DEAD_LETTER_MAX="100")
    poll(lambda: pl.redis.xlen(pl.stream) == 0, 30, desc="every task dead-lettered")
    dead = pl.redis.xlen(pl.dead_stream)
    assert 100 <= dead <= 200, f"{dead} dead letters kept with TASK_DEAD_LETTER_MAX=100"
    newest = pl.dead_tasks()[-1]
    assert newest["task"] == "no_such_task" and "unknown task" in newest["reason"], newest
