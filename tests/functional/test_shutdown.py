"""Clean shutdown (issue 7, item 7): SIGTERM while orders flow — with everything up,
with PostgreSQL stalled (SIGSTOP of every server process) or with RabbitMQ down — stops
every role within its grace period with exit status 0. scripts/test-sanitize runs these
tests again with the AddressSanitizer + UBSan build, which turns a use-after-free at
shutdown into a failure."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from pipeline_helpers import Outage, pipeline, roles  # noqa: F401

GRACE_SECONDS = 3
# what a role may take beyond its grace: the longest outbound call timeout (5 s) + slack
SLACK_SECONDS = 8


def postgres_pids() -> list[int]:
    """The postmaster and all its children (backends, checkpointer, ...)."""
    pidfile = Path(os.environ["DEVSTACK_DIR"]) / "postgres" / "data" / "postmaster.pid"
    master = int(pidfile.read_text().split()[0])
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids


class Feeder:
    """Orders flowing from a background thread; failures (503 while PostgreSQL is
    stalled) are expected and ignored."""

    def __init__(self, pl):
        self.pl = pl
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            try:
                self.pl.create_orders(4, threads=4)
            except Exception:  # noqa: BLE001
                time.sleep(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)
        return False


@pytest.mark.sanitize
@pytest.mark.outage
@pytest.mark.parametrize("fault", ["none", "postgres_stalled", "rabbitmq_down"])
def test_sigterm_under_load_exits_0_within_grace(pipeline, roles, fault):
    pl = pipeline
    settings = dict(SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS), PROCESS_ORDER_DELAY_SECONDS="0.5",
                    RECONCILE_AFTER_SECONDS="1", RECONCILE_INTERVAL_SECONDS="1")
    procs = roles.start_pipeline(**settings)
    procs["reconcile"] = roles.start("reconcile", **settings)
    procs["all"] = roles.start("all", API_PORT="0", **settings)
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 20, roles=roles)

    stalled: list[int] = []
    with Feeder(pl):
        time.sleep(2.0)  # tasks running, deliveries unacked, rows being published
        outage = Outage("rabbitmq") if fault == "rabbitmq_down" else None
        if outage:
            outage.__enter__()
        if fault == "postgres_stalled":
            stalled = postgres_pids()
            for pid in stalled:
                os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(1.0)
            for p in procs.values():
                os.kill(p.pid, signal.SIGTERM)
            deadline = time.monotonic() + GRACE_SECONDS + SLACK_SECONDS
            late = {}
            for name, p in procs.items():
                try:
                    p.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except Exception:  # noqa: BLE001 - reported below
                    late[name] = "still running"
                    continue
                if p.proc.returncode != 0:
                    late[name] = f"exit status {p.proc.returncode}:\n{p.tail()}"
                p.stop()  # closes its log
            assert not late, (
                f"not stopped with status 0 within {GRACE_SECONDS}+{SLACK_SECONDS} s of SIGTERM "
                f"({fault}): {late}"
            )
        finally:
            for pid in stalled:
                os.kill(pid, signal.SIGCONT)
            if outage:
                outage.__exit__(None, None, None)
