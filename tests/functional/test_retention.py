"""Retention of everything that grows with the orders: published outbox rows,
inbox_events and task_runs older than their retention, and expired idempotency keys, are
pruned in bounded batches by the reconcile role's housekeeping duty, so the tables stay
bounded under a stream of orders; /metrics shows each table's size and oldest row."""

from __future__ import annotations

import time

from helpers import free_port
from pipeline_helpers import metric, pipeline, poll, roles, scrape_metrics  # noqa: F401

RETENTION_HOURS = "0.0005"  # 1.8 s


def count(pl, table):
    return pl.query(f"SELECT count(*) FROM {table}")[0][0]


def test_inbox_task_runs_and_expired_keys_stay_bounded(pipeline, roles):
    pl = pipeline
    retention = dict(INBOX_RETENTION_HOURS=RETENTION_HOURS, TASK_RUNS_RETENTION_HOURS=RETENTION_HOURS,
                     OUTBOX_RETENTION_HOURS=RETENTION_HOURS, HOUSEKEEPING_INTERVAL_SECONDS="2",
                     PROCESS_ORDER_DELAY_SECONDS="0")
    roles.start_pipeline(**retention)
    metrics_port = free_port()
    roles.start("reconcile", METRICS_PORT=str(metrics_port), **retention)
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
    # housekeeping runs every 2 s: within two passes only the recent rows remain
    bound = 10 * 6  # rows of the last ~6 s at ~10 orders/s
    poll(lambda: all(count(pl, t) <= bound for t in ("inbox_events", "task_runs", "outbox_events")),
         30, interval=1, desc=f"outbox_events, inbox_events and task_runs pruned to the last seconds (<= {bound})")
    assert len(ids) > 2 * bound, "the stream must outgrow the bound for this to show anything"
    keys = {r[0] for r in pl.query("SELECT key FROM idempotency_keys WHERE key IN ('old-key','new-key')")}
    assert keys == {"new-key"}, keys
    m = scrape_metrics(metrics_port)
    for table in ("outbox_events", "inbox_events", "task_runs", "idempotency_keys", "reconcile_enqueues"):
        age = metric(m, f'table_oldest_row_age_seconds{{table="{table}"}}')
        assert age is not None, f"no oldest-row age for {table}"
        assert metric(m, f'table_rows_estimate{{table="{table}"}}') is not None, table
        if table in ("inbox_events", "task_runs", "outbox_events"):
            assert age < 30, f"{table}: oldest row {age} s old, past its retention"
