"""Rolling restarts without a failed request (issue 26, part 1).

Done as an operator does it, under steady load: CLIENTS threads, each on its own
keep-alive connection (requests.Session, no retries anywhere: not in the client, not in
HAProxy), POST an order and GET it back, again and again. Meanwhile every api process is
replaced, one at a time, ROUNDS times over: start the new process, wait until it is
ready, SIGTERM the old one, wait for it to exit (0, within drain + grace). Any exception
or non-2xx answer counts as a failed request; there must be none, and every order
answered 201 must be in PostgreSQL.

The two ways the api is deployed:
- reuseport: two `order-service api` processes on one port (SO_REUSEPORT); the clients
  connect to the port itself. The relay, consumer and worker are replaced in the same
  rounds (two of each): every order is then processed exactly once, and none waits much
  beyond one outbox lease or task visibility timeout.
- haproxy: HAProxy in front of two of three server slots, health-checking GET /ready;
  the new process starts in the free slot and HAProxy must see it up before the old one
  gets SIGTERM.

What makes it work (docs/architecture.md, "Graceful stop"): on SIGTERM /ready answers 503
while the process keeps accepting and serving for SHUTDOWN_DRAIN_SECONDS, each response
closing its connection; only then do the listening sockets close (what is queued on them
is served first; net.ipv4.tcp_migrate_req=1, set by scripts/devstack, hands a sibling
SO_REUSEPORT listener what arrives in between), then idle connections.

TEST_ROLLING_DRAIN_SECONDS=0 runs the same test with no drain (the stop of before): it
then fails requests.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter

from conftest import ApiProcess
from helpers import item
from pipeline_helpers import pipeline, poll, roles  # noqa: F401

DRAIN_SECONDS = float(os.environ.get("TEST_ROLLING_DRAIN_SECONDS", "2"))
GRACE_SECONDS = 5
CLIENTS = 16
ROUNDS = 2  # every api process replaced this many times (4 replacements per deployment)
BEFORE_SECONDS = 5.0  # steady load before the first restart (the latency baseline)
# HAProxy's checks: down after FALL failed checks INTER apart, well within the drain
CHECK_INTER_MS = 200
CHECK_FALL = 2
# the outbox lease and task visibility timeout of pipeline_helpers.FAST
LEASE_SECONDS = 5
VISIBILITY_SECONDS = 3


def low_free_port() -> int:
    """A free port below the ephemeral range (32768+), so that no outgoing connection of
    this busy test takes it between the check and its use."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 20000-32000")


def p99(latencies: list[float]) -> float:
    if not latencies:
        return float("nan")
    s = sorted(latencies)
    return s[min(len(s) - 1, int(0.99 * len(s)))]


class Load:
    """CLIENTS threads, each with one keep-alive connection: POST /orders/, GET it back."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.stop = threading.Event()
        self.phase = "before"
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = {"before": [], "restarts": [], "after": []}
        self.sent = 0
        self.failures: list[str] = []
        self.created: list[str] = []
        self.threads = [threading.Thread(target=self.client, args=(i,), daemon=True)
                        for i in range(CLIENTS)]

    def client(self, n: int):
        session = requests.Session()
        # No retries: urllib3 still opens a new connection for a request when the pooled
        # one was closed by the server beforehand (as every HTTP client does), never after
        # a request was sent.
        adapter = HTTPAdapter(max_retries=0, pool_connections=1, pool_maxsize=1)
        session.mount("http://", adapter)
        i = 0
        while not self.stop.is_set():
            i += 1
            order_id = self.one(session, "POST", "/orders/",
                                json={"items": [item(1 + (n * 7 + i) % 50, 1 + i % 3, 9.99)]})
            if order_id:
                self.one(session, "GET", f"/orders/{order_id}/")
        session.close()

    def one(self, session, method, path, **kw):
        phase = self.phase
        t0 = time.monotonic()
        order_id = None
        failure = None
        try:
            r = session.request(method, self.url + path, headers=self.headers, timeout=30, **kw)
            if not 200 <= r.status_code < 300:
                failure = f"{method} {path}: HTTP {r.status_code} {r.text[:200]}"
            elif method == "POST":
                order_id = r.json()["id"]
        except Exception as e:  # noqa: BLE001 - every exception is a failed request
            failure = f"{method} {path}: {type(e).__name__}: {e}"
        took = time.monotonic() - t0
        with self.lock:
            self.sent += 1
            if failure:
                self.failures.append(f"[{phase}] {failure}")
            else:
                self.latencies[phase].append(took)
                if order_id:
                    self.created.append(order_id)
        return order_id

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)
        return False

    def report(self, deployment: str, replacements: int) -> str:
        ms = {k: p99(v) * 1000 for k, v in self.latencies.items()}
        return (
            f"rolling restart ({deployment}): {replacements} api replacements, {self.sent} requests "
            f"sent, {len(self.failures)} failed, {len(self.created)} orders created; p99 "
            f"{ms['before']:.1f} ms before ({len(self.latencies['before'])} ok), "
            f"{ms['restarts']:.1f} ms during the restarts ({len(self.latencies['restarts'])} ok), "
            f"{ms['after']:.1f} ms after"
        )


def api_settings(pl, port: int) -> dict:
    return pl.env(API_PORT=str(port), SHUTDOWN_DRAIN_SECONDS=str(DRAIN_SECONDS),
                  SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS), API_THREADS="2")


def start_api(pl, workdir: Path, port: int) -> ApiProcess:
    p = ApiProcess(api_settings(pl, port), workdir, name=f"api-{port}-{uuid.uuid4().hex[:6]}")
    poll(lambda: p.alive() and "api listening" in p.log_text(), 20, desc="api listening")
    return p


def sigterm(p: ApiProcess) -> float:
    assert p.alive(), f"api died before its SIGTERM:\n{p.tail()}"
    p.proc.send_signal(signal.SIGTERM)
    return time.monotonic()


def wait_exit(p: ApiProcess, since: float) -> float:
    """It must exit 0 within drain + grace of its SIGTERM (+ slack for a loaded machine);
    seconds from SIGTERM to exit. (One SIGTERM only: a second one cuts the drain short.)"""
    limit = DRAIN_SECONDS + GRACE_SECONDS + 3
    try:
        p.proc.wait(timeout=max(0.1, since + limit - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.stop(timeout=5)
        raise AssertionError(f"api still running {limit} s after SIGTERM:\n{p.tail()}") from None
    took = time.monotonic() - since
    rc = p.proc.returncode
    p.stop()  # closes its log
    assert rc == 0, f"api exited {rc} on SIGTERM:\n{p.tail()}"
    return took


def assert_stored(pl, load: Load):
    ids = list(load.created)
    found = pl.query("SELECT count(*) FROM orders WHERE id = ANY(%s::uuid[])", (ids,))[0][0]
    assert found == len(ids), f"{len(ids) - found} of {len(ids)} orders answered 201 are not stored"


def wait_ready(url: str, timeout=20.0):
    def ready():
        try:
            return requests.get(url + "/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    poll(ready, timeout, interval=0.1, desc=f"{url}/ready 200")


# ---------------------------------------------------------------- SO_REUSEPORT


def replace_role(roles, old, pattern: str):
    new = roles.start(old.role)
    new.wait_log(pattern, 20)
    old.stop_ok(timeout=GRACE_SECONDS + 5)
    return new


@pytest.mark.parametrize("deployment", ["reuseport"])
def test_rolling_restart_sharing_a_port(pipeline, roles, tmp_path, deployment):
    pl = pipeline
    migrate = Path("/proc/sys/net/ipv4/tcp_migrate_req")
    migrate_req = migrate.read_text().strip() if migrate.exists() else "absent"
    print(f"net.ipv4.tcp_migrate_req = {migrate_req}")
    if DRAIN_SECONDS > 0:
        assert migrate_req == "1", (
            "net.ipv4.tcp_migrate_req must be 1 (scripts/devstack up sets it as root): without "
            "it, connections queued on a listener that closes are reset instead of handed to "
            "the other process"
        )
    port = low_free_port()
    apis = [start_api(pl, tmp_path, port) for _ in range(2)]
    url = f"http://127.0.0.1:{port}"
    wait_ready(url)
    background = {}
    for role, pattern in (("relay", "relay connected to RabbitMQ"),
                          ("consumer", "consumer connected to RabbitMQ"),
                          ("worker", "worker started")):
        background[role] = [roles.start(role) for _ in range(2)]
        for p in background[role]:
            p.wait_log(pattern, 20)
    patterns = {"relay": "relay connected to RabbitMQ",
                "consumer": "consumer connected to RabbitMQ", "worker": "worker started"}

    stops = []
    try:
        with Load(url, pl.user.token) as load:
            time.sleep(BEFORE_SECONDS)
            load.phase = "restarts"
            for _ in range(ROUNDS):
                for i in range(len(apis)):
                    new = start_api(pl, tmp_path, port)
                    time.sleep(0.5)  # listening: the kernel hands it connections already
                    old, apis[i] = apis[i], new
                    stops.append(wait_exit(old, sigterm(old)))
                for role, procs in background.items():
                    for i in range(len(procs)):
                        procs[i] = replace_role(roles, procs[i], patterns[role])
            load.phase = "after"
            time.sleep(1.0)
        print(load.report("two processes sharing a port", len(stops)))
        print(f"SIGTERM to exit of the api: {', '.join(f'{s:.2f}' for s in stops)} s")
        assert not load.failures, (
            f"{len(load.failures)} of {load.sent} requests failed, e.g.:\n"
            + "\n".join(load.failures[:15])
        )
        assert_stored(pl, load)
        # The background roles handed over cleanly: every order processed, exactly once,
        # none later than one lease + one visibility timeout (and its own processing).
        ids = list(load.created)
        t0 = time.monotonic()
        pl.wait_processed(ids, 60, roles=roles)
        pl.assert_exactly_once(ids)
        pl.assert_no_dead_letters()
        worst = pl.query(
            "SELECT max(extract(epoch FROM processed_at - created_at)) FROM orders "
            "WHERE id = ANY(%s::uuid[])", (ids,))[0][0]
        print(f"pipeline: {len(ids)} orders processed exactly once; longest create-to-processed "
              f"{worst:.2f} s (waited {time.monotonic() - t0:.1f} s after the load)")
        bound = LEASE_SECONDS + VISIBILITY_SECONDS
        assert worst <= bound, (
            f"an order waited {worst:.1f} s to be processed: more than one outbox lease "
            f"({LEASE_SECONDS} s) + one visibility timeout ({VISIBILITY_SECONDS} s)"
        )
    finally:
        for p in apis:
            p.stop(timeout=DRAIN_SECONDS + GRACE_SECONDS + 3)


# ---------------------------------------------------------------- HAProxy


class HAProxy:
    """haproxy -db with a generated config: FRONT port -> slots, checks on GET /ready."""

    def __init__(self, workdir: Path, front: int, slots: list[int]):
        self.sock = workdir / "haproxy.sock"
        self.cfg = workdir / "haproxy.cfg"
        self.log_path = workdir / "haproxy.log"
        servers = "\n".join(
            f"    server s{i} 127.0.0.1:{p} check" for i, p in enumerate(slots)
        )
        self.names = {p: f"s{i}" for i, p in enumerate(slots)}
        self.cfg.write_text(f"""\
global
    maxconn 4096
    stats socket {self.sock} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
    # no retries, no redispatch: every request the server side fails reaches the client
    retries 0
    option http-keep-alive

frontend fe
    bind 127.0.0.1:{front}
    default_backend api

backend api
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    default-server inter {CHECK_INTER_MS}ms fall {CHECK_FALL} rise 1
{servers}
""")
        check = subprocess.run(["haproxy", "-c", "-f", str(self.cfg)], capture_output=True, text=True)
        assert check.returncode == 0, f"haproxy -c: {check.stdout}{check.stderr}"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(self.cfg)], stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        poll(lambda: self.sock.exists(), 10, desc="haproxy stats socket")

    def status(self) -> dict[str, str]:
        """{server name: UP | DOWN | ...} from `show stat`."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.sock))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        lines = data.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "api" and row.get("svname", "").startswith("s"):
                out[row["svname"]] = row["status"]
        return out

    def wait_status(self, port: int, want: str, timeout=10.0):
        name = self.names[port]
        poll(lambda: self.status().get(name, "").startswith(want), timeout, interval=0.05,
             desc=f"haproxy sees {name} (port {port}) {want}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def test_rolling_restart_behind_haproxy(pipeline, tmp_path):
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy is not installed (scripts/setup installs Debian's haproxy)",
                    pytrace=False)
    pl = pipeline
    slots = [low_free_port() for _ in range(3)]
    front = low_free_port()
    while front in slots:
        front = low_free_port()
    running = {slots[0]: start_api(pl, tmp_path, slots[0]), slots[1]: start_api(pl, tmp_path, slots[1])}
    for port in running:
        wait_ready(f"http://127.0.0.1:{port}")
    proxy = HAProxy(tmp_path, front, slots)
    stops, down = [], []
    try:
        proxy.wait_status(slots[0], "UP")
        proxy.wait_status(slots[1], "UP")
        proxy.wait_status(slots[2], "DOWN")  # never routed to before it has a process
        with Load(f"http://127.0.0.1:{front}", pl.user.token) as load:
            time.sleep(BEFORE_SECONDS)
            load.phase = "restarts"
            for _ in range(ROUNDS):
                for old_port in list(running):
                    free = next(p for p in slots if p not in running)
                    running[free] = start_api(pl, tmp_path, free)
                    wait_ready(f"http://127.0.0.1:{free}")
                    proxy.wait_status(free, "UP")
                    old = running.pop(old_port)
                    t0 = sigterm(old)
                    # out of rotation by its /ready long before the drain ends
                    proxy.wait_status(old_port, "DOWN", timeout=DRAIN_SECONDS + 2)
                    down.append(time.monotonic() - t0)
                    stops.append(wait_exit(old, t0))
            load.phase = "after"
            time.sleep(1.0)
        print(load.report("behind HAProxy", len(stops)))
        print(f"SIGTERM to DOWN in HAProxy: {', '.join(f'{s:.2f}' for s in down)} s; "
              f"to exit: {', '.join(f'{s:.2f}' for s in stops)} s")
        assert not load.failures, (
            f"{len(load.failures)} of {load.sent} requests failed, e.g.:\n"
            + "\n".join(load.failures[:15])
        )
        assert_stored(pl, load)
    finally:
        proxy.close()
        for p in running.values():
            p.stop(timeout=DRAIN_SECONDS + GRACE_SECONDS + 3)
