"""Retention of everything that grows with the orders (issue 11, item 6): inbox_events
and task_runs older than their retention, and expired idempotency keys, are pruned in
bounded batches by the relay's housekeeping, so the tables stay bounded under a stream
of orders."""

from __future__ import annotations

import time

from pipeline_helpers import pipeline, poll, roles  # noqa: F401

RETENTION_HOURS = "0.0005"  # 1.8 s


def count(pl, table):
    return pl.query(f"SELECT count(*) FROM {table}")[0][0]


def test_inbox_task_runs_and_expired_keys_stay_bounded(pipeline, roles):
    pl = pipeline
    roles.start_pipeline(INBOX_RETENTION_HOURS=RETENTION_HOURS,
                         TASK_RUNS_RETENTION_HOURS=RETENTION_HOURS,
                         PROCESS_ORDER_DELAY_SECONDS="0")
    pl.wait_consuming()
    # an idempotency key past its 24 hours, and one still honoured
    fresh = pl.create_order()
    pl.query("INSERT INTO idempotency_keys (user_id, key, request_hash, order_id, created_at)"
             " SELECT user_id, 'old-key', 'h', id, now() - interval '25 hours' FROM orders"
             " WHERE id = %s RETURNING 1", (fresh["id"],))
    pl.query("INSERT INTO idempotency_keys (user_id, key, request_hash, order_id)"
             " SELECT user_id, 'new-key', 'h', id FROM orders WHERE id = %s RETURNING 1",
             (fresh["id"],))
    ids = []
    t_end = time.monotonic() + 25
    while time.monotonic() < t_end:  # a stream of orders, ~10/s
        ids += pl.create_orders(5, threads=5)
        time.sleep(0.4)
    pl.wait_processed(ids, 30, roles=roles)
    # housekeeping runs every 10 s: within two passes only the recent rows remain
    bound = 10 * 12  # rows of the last ~12 s at ~10 orders/s
    poll(lambda: count(pl, "inbox_events") <= bound and count(pl, "task_runs") <= bound, 30,
         interval=1, desc=f"inbox_events and task_runs pruned to the last seconds (<= {bound})")
    assert len(ids) > 2 * bound, "the stream must outgrow the bound for this to show anything"
    keys = {r[0] for r in pl.query("SELECT key FROM idempotency_keys WHERE key IN ('old-key','new-key')")}
    assert keys == {"new-key"}, keys
