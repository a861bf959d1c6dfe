"""Clean shutdown (issue 7, item 7): SIGTERM while orders flow — with everything up,
with PostgreSQL stalled (SIGSTOP of every server process) or with RabbitMQ down — stops
every role within its drain + grace period with exit status 0. The api's stop is a drain
(issue 26): /ready 503 at once, still serving, each response closing its connection, idle
connections closed only at the drain's end (test_sigterm_drains_the_api). scripts/test-sanitize runs these
tests again with the AddressSanitizer + UBSan build, which turns a use-after-free at
shutdown into a failure."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import ApiProcess
from helpers import free_port
from pipeline_helpers import Outage, pipeline, roles  # noqa: F401

GRACE_SECONDS = 3
DRAIN_SECONDS = 1  # the api's (and `all`'s) SIGTERM to exit: drain + grace
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
    settings = dict(SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS),
                    SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS), PROCESS_ORDER_DELAY_SECONDS="0.5",
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
            deadline = time.monotonic() + DRAIN_SECONDS + GRACE_SECONDS + SLACK_SECONDS
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
                f"not stopped with status 0 within {DRAIN_SECONDS}+{GRACE_SECONDS}+{SLACK_SECONDS} s "
                f"of SIGTERM "
                f"({fault}): {late}"
            )
        finally:
            for pid in stalled:
                os.kill(pid, signal.SIGCONT)
            if outage:
                outage.__exit__(None, None, None)


# ---------------------------------------------------------------- the api's drain


class Conn:
    """One raw keep-alive HTTP/1.1 connection (to see exactly what the server does)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def get(self, path) -> tuple[int, dict, bytes]:
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, f"GET {path}: connection closed before a response"
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
        n = int(headers.get("content-length", 0))
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed within a body"
            self.buf += chunk
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(lines[0].split()[1]), headers, body

    def closed_by_server(self, wait: float) -> bool:
        """True once the server has closed its side (EOF) within `wait` seconds."""
        ready, _, _ = select.select([self.sock], [], [], wait)
        if not ready:
            return False
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except ConnectionResetError:
            raise AssertionError("the server reset the connection instead of closing it") from None

    def close(self):
        self.sock.close()


@pytest.mark.sanitize
def test_sigterm_drains_the_api(service_env, tmp_path):
    drain, grace = 2.0, 3
    port = free_port()
    api = ApiProcess(service_env(API_PORT=port, SHUTDOWN_DRAIN_SECONDS=str(drain),
                                 SHUTDOWN_GRACE_SECONDS=str(grace)), tmp_path)
    try:
        api.wait_healthy()
        busy, idle = Conn(port), Conn(port)
        for c in (busy, idle):
            status, headers, _ = c.get("/health")
            assert status == 200 and headers.get("connection", "").lower() != "close"
        status, _, body = Conn(port).get("/ready")
        assert status == 200, body

        api.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        # /ready is 503 at once, on a new connection: accepted and answered while draining
        fresh = Conn(port)
        status, headers, body = fresh.get("/ready")
        assert status == 503 and json.loads(body)["status"] == "draining", (status, body)
        assert headers.get("connection", "").lower() == "close"
        assert fresh.closed_by_server(1.0), "the connection stays open after Connection: close"
        # a kept-alive connection: served, its response says Connection: close, then closed
        status, headers, _ = busy.get("/health")
        assert status == 200
        assert headers.get("connection", "").lower() == "close", headers
        assert busy.closed_by_server(1.0), "the connection stays open after Connection: close"
        # idle keep-alive connections stay open for the whole drain...
        assert not idle.closed_by_server(max(0.0, t0 + drain - 0.3 - time.monotonic())), (
            "an idle connection was closed before the end of the drain"
        )
        # ... and are closed at its end
        assert idle.closed_by_server(t0 + drain + 1.5 - time.monotonic()), (
            "an idle connection was not closed at the end of the drain"
        )
        took_idle = time.monotonic() - t0
        api.proc.wait(timeout=drain + grace + SLACK_SECONDS)
        took = time.monotonic() - t0
        assert api.proc.returncode == 0, api.tail()
        print(f"idle connection closed {took_idle:.2f} s after SIGTERM, exit after {took:.2f} s "
              f"(drain {drain} s)")
        assert took <= drain + grace + 1.0, f"exit {took:.1f} s after SIGTERM"
        with pytest.raises(OSError):  # not listening any more
            Conn(port)
    finally:
        api.stop()
