"""A soak (SPEC §5.14): `order-service all` for several minutes at a sustained rate, with
retention in seconds so that a day's retention cycle happens many times over. Every
table retention prunes, the task-queue Redis' memory, the process' RSS and its open
file descriptors reach a plateau and stay on it: the assertions compare the last part
of the run with the part before it (a plateau), never a duration."""

from __future__ import annotations

import os
import threading
import time

import pytest

from helpers import Api, free_port, item
from pipeline_helpers import pipeline, poll, roles  # noqa: F401

RATE = 25           # orders per second, sustained
MINUTES = 4
RETENTION_HOURS = "0.004"  # 14.4 s
SOAK = {
    "OUTBOX_RETENTION_HOURS": RETENTION_HOURS,
    "INBOX_RETENTION_HOURS": RETENTION_HOURS,
    "TASK_RUNS_RETENTION_HOURS": RETENTION_HOURS,
    "HOUSEKEEPING_INTERVAL_SECONDS": "2",
    "PROCESS_ORDER_DELAY_SECONDS": "0.05",
    "RATE_LIMIT_ENABLED": "false",
    "RECONCILE_AFTER_SECONDS": "60",
    "RECONCILE_INTERVAL_SECONDS": "5",
}
TABLES = ("outbox_events", "inbox_events", "task_runs")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sample(pl, pid):
    counts = pl.query("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in TABLES))[0]
    return {
        **dict(zip(TABLES, counts)),
        "redis_bytes": int(pl.redis.info("memory")["used_memory"]),
        "rss_kib": rss_kib(pid),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


@pytest.mark.long
def test_soak_tables_memory_and_descriptors_plateau(pipeline, roles):
    pl = pipeline
    port = free_port()
    proc = roles.start("all", API_PORT=str(port), **SOAK)
    api = Api(f"http://127.0.0.1:{port}")
    poll(lambda: api.get("/health").status_code == 200, 20, desc="all serving")
    user = api.new_user()
    pl.wait_consuming()

    stop = threading.Event()
    created: list[str] = []
    failures: list[str] = []

    def load(worker):  # open loop: RATE orders per second over 5 threads
        local = Api(f"http://127.0.0.1:{port}")
        interval = 5.0 / RATE
        nxt = time.monotonic()
        while not stop.is_set():
            r = local.create_order(user.token, [item(1 + worker, 1, 3.5)])
            if r.status_code != 201:
                failures.append(f"{r.status_code} {r.text[:200]}")
            else:
                created.append(r.json()["id"])
                if len(created) % 10 == 0:
                    g = local.get_order(user.token, r.json()["id"])
                    if g.status_code != 200:
                        failures.append(f"GET {g.status_code}")
            nxt += interval
            time.sleep(max(0.0, nxt - time.monotonic()))

    threads = [threading.Thread(target=load, args=(w,), daemon=True) for w in range(5)]
    for t in threads:
        t.start()
    samples = []
    end = time.monotonic() + MINUTES * 60
    try:
        while time.monotonic() < end:
            time.sleep(10)
            samples.append(sample(pl, proc.pid))
            assert proc.alive(), proc.tail()
    finally:
        stop.set()
        for t in threads:
            t.join(15)
    assert not failures, failures[:5]
    rate = len(created) / (MINUTES * 60)
    assert rate > 0.6 * RATE, f"only {rate:.1f} orders/s were created"

    # The first minute fills the tables up to their retention; the plateau is measured
    # over the rest: its last half may not rise above its first half (plus noise).
    settled = samples[len(samples) // 4:]
    first, last = settled[: len(settled) // 2], settled[len(settled) // 2:]
    report = {k: (max(s[k] for s in first), max(s[k] for s in last)) for k in samples[0]}
    print(f"\nsoak: {len(created)} orders at {rate:.1f}/s; (first half, last half) maxima: {report}")
    # retention 14.4 s + a housekeeping interval, at the rate: the rows the tables may hold
    row_bound = rate * (14.4 + 2 * 2 + 10)
    for t in TABLES:
        a, b = report[t]
        assert b <= row_bound, f"{t}: {b} rows, more than retention allows ({row_bound:.0f})"
        assert b <= 1.25 * a + 50, f"{t} keeps growing: {a} -> {b}"
    a, b = report["redis_bytes"]
    assert b <= 1.25 * a + 2_000_000, f"task-queue Redis memory keeps growing: {a} -> {b}"
    a, b = report["rss_kib"]
    assert b <= 1.2 * a + 8_192, f"RSS keeps growing: {a} -> {b} KiB"
    a, b = report["fds"]
    assert b <= a + 5, f"open file descriptors keep growing: {a} -> {b}"
    # and the pipeline kept up: everything created is processed soon after the load stops
    pl.wait_processed(created, 60, roles=roles)
