"""Failover drills on real local clusters (issue "beyond one machine"): a 3-node
RabbitMQ cluster with quorum queues, a PostgreSQL primary with a synchronous
standby, and a Redis primary + replica watched by 3 Sentinels, all started by
scripts/clusterstack. Two api instances and two of every other role run against
them under a steady 100 orders/s while one node is killed with SIGKILL:

  * the RabbitMQ node that the relay and the consumer are connected to;
  * the PostgreSQL primary, after which the standby is promoted (pg_ctl promote);
  * the Redis primary, which Sentinel replaces by the replica.

For each: every order that got a 201 exists once and is processed once (one
effective task run, processed_at set and never rewritten); the time during which
POST failed and the time until the pipeline drained are printed and written to
build/test-logs/ha-drills.json (docs/benchmarks.md quotes them).

Retry settings are the defaults; only the simulated work is shortened
(PROCESS_ORDER_DELAY_SECONDS=0.2) so that two workers keep up with 100/s.
Run with `make test-ha` (scripts/test runs it as the `ha` suite).
Env: HA_BASE_PORT (23000), HA_RATE (100 orders/s).
"""

import json
import os
import re
import secrets
import shlex
import subprocess
import threading
import time
from pathlib import Path

import psycopg2
import pytest
import requests

from conftest import BIN, REPO
from helpers import free_port, item
from pipeline_helpers import RoleProcess, poll

pytestmark = pytest.mark.ha

CLUSTERSTACK = REPO / "scripts" / "clusterstack"
RATE = float(os.environ.get("HA_RATE", "100"))
BEFORE_FAULT_S = 8    # steady load before the kill
AFTER_FAULT_S = 25    # load goes on this long after the kill
DRAIN_TIMEOUT_S = 240
RESULTS = Path(os.environ.get("TEST_LOG_DIR", REPO / "build" / "test-logs")) / "ha-drills.json"


def clusterstack(env, *args, timeout=300, check=True):
    r = subprocess.run([str(CLUSTERSTACK), *args], env=env, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"clusterstack {' '.join(args)} failed ({r.returncode}):\n"
                             f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout.strip()


def parse_exports(text) -> dict:
    out = {}
    for line in text.splitlines():
        if line.startswith("export "):
            k, _, v = line[len("export "):].partition("=")
            out[k] = shlex.split(v)[0] if v else ""
    return out


class Cluster:
    def __init__(self, workdir: Path):
        self.env = dict(os.environ)
        base = os.environ.get("HA_BASE_PORT", "23000")
        self.env["CLUSTERSTACK_BASE_PORT"] = base
        # Outside the checkout: the postgres user must be able to enter it.
        self.env["CLUSTERSTACK_DIR"] = os.environ.get("HA_CLUSTERSTACK_DIR",
                                                      f"/var/tmp/order-service-ha-{base}")
        self.workdir = workdir
        t0 = time.monotonic()
        clusterstack(self.env, "up", timeout=600)
        print(f"clusters up in {time.monotonic() - t0:.1f}s")
        self.vars = parse_exports(clusterstack(self.env, "env"))

    def __call__(self, *args, **kw):
        return clusterstack(self.env, *args, **kw)

    def service_env(self, **overrides) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not re.match(r"(POSTGRES|REDIS|RABBITMQ|CELERY|DATABASE|TASK_REDIS)_", k)}
        env.update({k: self.vars[k] for k in ("DATABASE_URL", "RABBITMQ_HOSTS", "RABBITMQ_USER",
                                              "RABBITMQ_PASSWORD", "REDIS_SENTINELS",
                                              "REDIS_MASTER_NAME")})
        env.update({
            "API_HOST": "127.0.0.1",
            "SECRET_KEY": self.secret,
            "LOG_LEVEL": "info",
            "LOG_FORMAT": "json",
            "RATE_LIMIT_ENABLED": "false",
            "API_THREADS": "2",
            "PROCESS_ORDER_DELAY_SECONDS": "0.2",
        })
        env.update(overrides)
        return env

    secret = secrets.token_hex(20)

    def pg(self):
        """A connection to the current primary (libpq's multi-host URL picks it)."""
        return psycopg2.connect(self.vars["DATABASE_URL"], connect_timeout=5)

    def healthy(self):
        """Every node running, the standby streaming synchronously, Redis replicating."""
        out = self("status", check=False)
        return ("stopped" not in out and "streaming/sync" in out and "(link up)" in out
                and out.count("running") >= 10)


class Fleet:
    """Two api instances and two of each other role."""

    def __init__(self, cluster: Cluster, workdir: Path):
        self.cluster = cluster
        self.procs: list[RoleProcess] = []
        self.apis = []
        for i in (1, 2):
            port = free_port()
            p = RoleProcess("api", cluster.service_env(API_PORT=str(port)), workdir, f"api-{i}")
            self.procs.append(p)
            self.apis.append(f"http://127.0.0.1:{port}")
        for role in ("relay", "consumer", "worker", "reconcile"):
            for i in (1, 2):
                self.procs.append(RoleProcess(role, cluster.service_env(), workdir, f"{role}-{i}"))
        for url in self.apis:
            poll(lambda: requests.get(url + "/health", timeout=1).ok, 30, desc=f"{url} healthy")

    def by_name(self, name) -> RoleProcess:
        return next(p for p in self.procs if p.name == name)

    def check_alive(self):
        for p in self.procs:
            assert p.alive(), f"{p.name} died (rc={p.proc.returncode}):\n{p.tail()}"

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}:\n{p.tail(2000)}" for p in self.procs)

    def stop(self):
        errors = []
        for p in reversed(self.procs):
            was_alive = p.alive()
            rc = p.stop(20)
            if not was_alive or rc != 0:
                errors.append(f"{p.name}: alive={was_alive} rc={rc}\n{p.tail()}")
        return errors


class Load:
    """POST /orders at a steady rate through both api instances (alternately);
    every attempt is recorded as (sent_at, finished_at, status, order_id)."""

    def __init__(self, apis, token, rate=RATE, threads=16):
        self.apis = apis
        self.token = token
        self.interval = 1.0 / rate
        self.results = []
        self.lock = threading.Lock()
        self.next_slot = 0
        self.stopping = threading.Event()
        self.t0 = time.monotonic()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self):
        session = requests.Session()
        headers = {"Authorization": f"Bearer {self.token}"}
        while not self.stopping.is_set():
            with self.lock:
                slot = self.next_slot
                self.next_slot += 1
            due = self.t0 + slot * self.interval
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if self.stopping.is_set():
                return
            url = self.apis[slot % len(self.apis)] + "/orders/"
            sent = time.monotonic()
            status, order_id = 0, None
            try:
                r = session.post(url, json={"items": [item(slot % 50 + 1, 1, 2.5)]},
                                 headers=headers, timeout=5)
                status = r.status_code
                if status == 201:
                    order_id = r.json()["id"]
            except requests.RequestException:
                status = -1
            with self.lock:
                self.results.append((sent, time.monotonic(), status, order_id))

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(10)

    def created(self) -> list[str]:
        return [r[3] for r in self.results if r[2] == 201]

    def failed(self):
        return sorted((r for r in self.results if r[2] != 201), key=lambda r: r[0])


def verify_once(cluster: Cluster, ids, timeout=DRAIN_TIMEOUT_S):
    """Waits until every order is processed; then checks once-ness. Returns the
    monotonic time at which the last one was seen processed."""
    pending = set(ids)
    deadline = time.monotonic() + timeout
    conn = None
    while pending and time.monotonic() < deadline:
        try:
            if conn is None:
                conn = cluster.pg()
                conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT id::text FROM orders WHERE id = ANY(%s::uuid[]) "
                            "AND processed_at IS NOT NULL", (list(pending),))
                for (oid,) in cur.fetchall():
                    pending.discard(oid)
        except psycopg2.Error:
            conn = None
        if pending:
            time.sleep(0.5)
    done_at = time.monotonic()
    assert not pending, f"{len(pending)} of {len(ids)} orders never processed, e.g. {sorted(pending)[:3]}"
    with cluster.pg() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders WHERE id = ANY(%s::uuid[])", (list(ids),))
        assert cur.fetchone()[0] == len(ids), "an order that got a 201 is missing"
        cur.execute("SELECT order_id::text, count(*) FILTER (WHERE effective) FROM task_runs "
                    "WHERE order_id = ANY(%s::uuid[]) GROUP BY order_id", (list(ids),))
        effective = dict(cur.fetchall())
        not_once = {k: v for k, v in effective.items() if v != 1}
        missing = set(ids) - set(effective)
        assert not not_once and not missing, (
            f"orders not processed exactly once: {len(not_once)} with !=1 effective runs "
            f"(e.g. {list(not_once.items())[:3]}), {len(missing)} without a run")
        cur.execute("SELECT max(processed_at - created_at) FROM orders WHERE id = ANY(%s::uuid[])",
                    (list(ids),))
        worst = cur.fetchone()[0]
    return done_at, worst.total_seconds() if worst else 0.0


def processed_at_snapshot(cluster, ids):
    with cluster.pg() as conn, conn.cursor() as cur:
        cur.execute("SELECT id::text, processed_at FROM orders WHERE id = ANY(%s::uuid[])",
                    (list(ids),))
        return dict(cur.fetchall())


def record(name, **figures):
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[name] = figures
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True))
    print(f"HA drill {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ha")
    c = Cluster(workdir)
    try:
        env = c.service_env()
        r = subprocess.run([str(BIN), "migrate"], env=env, cwd=str(workdir), capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        yield c
    finally:
        c("destroy", check=False, timeout=300)


@pytest.fixture(scope="module")
def fleet(cluster, tmp_path_factory):
    f = Fleet(cluster, tmp_path_factory.mktemp("fleet"))
    yield f
    errors = f.stop()
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="module")
def token(fleet):
    email = f"ha-{secrets.token_hex(4)}@example.com"
    api = fleet.apis[0]
    r = requests.post(api + "/register/", json={"email": email, "password": "correct-horse-1"},
                      timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(api + "/token/", data={"username": email, "password": "correct-horse-1"},
                      timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def drill(name, cluster, fleet, token, fault, restore):
    """Steady load; `fault()` at BEFORE_FAULT_S; load until AFTER_FAULT_S later; then
    every 201 must be processed exactly once, before `restore()` brings the node back."""
    poll(cluster.healthy, 120, interval=1, desc="clusters healthy before the drill")
    fleet.check_alive()
    load = Load(fleet.apis, token)
    try:
        time.sleep(BEFORE_FAULT_S)
        fault_at = time.monotonic()
        fault()
        # How long the cluster itself could not serve: the kill, and for PostgreSQL the
        # promotion until the standby accepts writes (slower on a loaded machine).
        fault_took = time.monotonic() - fault_at
        time.sleep(max(0.0, AFTER_FAULT_S - fault_took))
    finally:
        load.stop()
    load_end = time.monotonic()
    ids = load.created()
    failed = load.failed()
    window = (max(r[1] for r in failed) - min(r[0] for r in failed)) if failed else 0.0
    # Not a vacuous drill: while the cluster could serve, most of the load got a 201.
    serving_s = max(BEFORE_FAULT_S, BEFORE_FAULT_S + AFTER_FAULT_S - fault_took)
    assert len(ids) > 0.5 * RATE * serving_s, \
        f"only {len(ids)} orders created of {len(load.results)} attempts " \
        f"(the cluster could serve for {serving_s:.1f} s of the load)"
    done_at, worst = verify_once(cluster, ids)
    before = processed_at_snapshot(cluster, ids)
    restore()  # the node comes back (for the next drill); nothing may change
    assert processed_at_snapshot(cluster, ids) == before, "processed_at rewritten after processing"
    fleet.check_alive()
    record(name, orders_created=len(ids), posts_failed=len(failed),
           post_unavailable_s=round(window, 2),
           drain_after_load_s=round(max(0.0, done_at - load_end), 2),
           drain_after_fault_s=round(done_at - fault_at, 2),
           worst_order_latency_s=round(worst, 2))


def rabbit_node_of(proc: RoleProcess, cluster: Cluster) -> str:
    ports = {cluster.vars[f"CLUSTERSTACK_RABBIT{i}_PORT"]: f"rabbit{i}" for i in (1, 2, 3)}
    found = re.findall(r'connected to RabbitMQ".*?"node":"[^"]*:(\d+)"', proc.log_text())
    assert found, f"{proc.name} never logged the node it connected to:\n{proc.tail()}"
    return ports[found[-1]]


def test_rabbitmq_node_killed(cluster, fleet, token):
    node = {}

    def fault():
        relay_node = rabbit_node_of(fleet.by_name("relay-1"), cluster)
        consumer_node = rabbit_node_of(fleet.by_name("consumer-1"), cluster)
        assert relay_node == consumer_node, (relay_node, consumer_node)  # both take the first
        node["name"] = relay_node
        cluster("kill", relay_node)

    def restore():
        cluster("start", node["name"], timeout=300)

    drill("rabbitmq_node", cluster, fleet, token, fault, restore)
    # Both moved to another node.
    for name in ("relay-1", "consumer-1"):
        assert rabbit_node_of(fleet.by_name(name), cluster) != node["name"]


def test_postgres_primary_killed_and_standby_promoted(cluster, fleet, token):
    nodes = {}

    def fault():
        primary = cluster("pg-primary")
        standby = "pg2" if primary == "pg1" else "pg1"
        nodes.update(primary=primary, standby=standby)
        cluster("kill", primary)
        time.sleep(2)  # an operator (or a failover manager) noticing
        cluster("promote", standby, timeout=120)

    def restore():
        cluster("rejoin", nodes["primary"], timeout=300)

    drill("postgres_primary", cluster, fleet, token, fault, restore)
    assert cluster("pg-primary") == nodes["standby"]


def test_redis_primary_killed_sentinel_promotes_replica(cluster, fleet, token):
    nodes = {}

    def fault():
        primary = cluster("redis-primary")
        nodes["primary"] = primary
        cluster("kill", primary)

    def restore():
        poll(lambda: cluster("redis-primary", check=False) not in ("", nodes["primary"]), 60,
             interval=0.5, desc="Sentinel promoted the replica")
        cluster("start", nodes["primary"], timeout=120)

    drill("redis_primary", cluster, fleet, token, fault, restore)
