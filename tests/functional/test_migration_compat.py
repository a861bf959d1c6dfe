"""The previous release survives this release's migrations (docs/architecture.md, "Schema
changes"). The binary of the previous schema generation (tests/functional/
previous_generation.py: built from a git worktree, cached under build/) migrates a fresh
database and serves traffic with its pipeline roles; the new binary migrates it under
that traffic; then the old binary's smoke scenario runs on the migrated schema, and both
binaries serve side by side: each reads, lists and changes the orders the other created,
tokens of either work on both, and the pipeline roles of both process every order."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

import previous_generation
from conftest import BIN, REPO
from helpers import TIMEOUT, Api, describe, free_port, item
from pipeline_helpers import FAST, ROUTING_KEY, Rabbit

pytestmark = pytest.mark.long


@pytest.fixture(scope="module")
def old_bin():
    rev = previous_generation.commit()
    old_migrations = previous_generation.check_prefix(rev)
    path, seconds = previous_generation.build(rev)
    print(
        f"previous generation {rev[:12]} ({len(old_migrations)} migrations): {path}, "
        + (f"built in {seconds:.0f} s" if seconds else "cached"),
        file=sys.stderr,
    )
    return rev, path, old_migrations


class Proc:
    """`<binary> <role>` with its output in a log file."""

    def __init__(self, binary: Path, role: str, env: dict, workdir: Path, name: str):
        self.role = role
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), role], env=env, cwd=str(workdir), stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{env['API_PORT']}" if "API_PORT" in env else None

    def alive(self):
        return self.proc.poll() is None

    def tail(self, n=3000):
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-n:]

    def wait_healthy(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.alive(), f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}"
            try:
                if requests.get(self.url + "/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready within {timeout} s:\n{self.tail()}")

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()
        return self.proc.returncode


def run(binary, args, env, cwd, timeout=300):
    return subprocess.run([str(binary), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def applied(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT version FROM schema_migrations ORDER BY 1")
        return [r[0] for r in cur.fetchall()]


def unprocessed(conn, ids):
    with conn.cursor() as cur:
        cur.execute("SELECT id::text FROM orders WHERE id = ANY(%s::uuid[]) AND processed_at IS NULL", (list(ids),))
        return {r[0] for r in cur.fetchall()}


def wait_processed(conn, ids, timeout=60, procs=()):
    deadline = time.monotonic() + timeout
    left = unprocessed(conn, ids)
    while left and time.monotonic() < deadline:
        time.sleep(0.25)
        left = unprocessed(conn, ids)
    if left:
        logs = "\n".join(f"--- {p.name}\n{p.tail(1500)}" for p in procs)
        raise AssertionError(f"{len(left)} of {len(ids)} orders not processed within {timeout} s\n{logs}")


def smoke(api: Api, label: str):
    """The smoke scenario: register, log in, create, get, list, patch."""
    user = api.new_user()  # register, then log in
    order = api.create_order_ok(user.token, [item(product_id=7, quantity=2, price=12.5)])
    r = api.get_order(user.token, order["id"])
    assert r.status_code == 200, f"{label}: {describe(r)}"
    assert r.json()["id"] == order["id"] and r.json()["total_price"] == order["total_price"]
    r = api.list_orders(user.token, user.id)
    assert r.status_code == 200, f"{label}: {describe(r)}"
    assert order["id"] in [o["id"] for o in r.json()], f"{label}: {describe(r)}"
    r = api.patch_order(user.token, order["id"], "PAID")
    assert r.status_code == 200 and r.json()["status"] == "PAID", f"{label}: {describe(r)}"
    return user, order


class Traffic:
    """Creates and reads orders on one api without pause, in the background."""

    def __init__(self, api: Api, user):
        self.api, self.user = api, user
        self.ok = 0
        self.failures: list[str] = []
        self.ids: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        s = Api(self.api.base)
        while not self._stop.is_set():
            try:
                r = s.create_order(self.user.token, [item()])
                if r.status_code != 201:
                    self.failures.append(describe(r))
                    continue
                oid = r.json()["id"]
                self.ids.append(oid)
                r = s.get_order(self.user.token, oid)
                if r.status_code != 200:
                    self.failures.append(describe(r))
                    continue
                self.ok += 1
            except requests.RequestException as e:
                self.failures.append(repr(e))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=TIMEOUT + 5)
        return False


def same_order(a: dict, b: dict) -> bool:
    keys = ("id", "user_id", "items", "total_price", "status", "created_at")
    return all(a.get(k) == b.get(k) for k in keys)


def test_previous_generation_survives_the_migration_and_serves_beside_the_new(stack, old_bin, tmp_path):
    rev, old, old_migrations = old_bin
    current = sorted(p.name for p in (REPO / "migrations").glob("*.sql"))
    new_migrations = [m for m in current if m not in old_migrations]
    assert new_migrations, "no migration newer than the previous generation: nothing to test"

    db = stack.create_database("orders_compat")
    suffix = uuid.uuid4().hex[:8]
    env = stack.service_env(
        db,
        **FAST,
        RABBITMQ_EXCHANGE=f"orders.compat.{suffix}",
        RABBITMQ_NEW_ORDER_QUEUE=f"new_order.compat.{suffix}",
        RABBITMQ_NEW_ORDER_ROUTING_KEY=ROUTING_KEY,
        TASK_STREAM=f"tasks:compat:{suffix}:process_order",
        SWAGGER_UI_DIR=str(REPO / "node_modules" / "swagger-ui-dist"),
    )
    conn = stack.connect(db)
    procs: list[Proc] = []

    def start(binary, role, gen, **extra):
        p = Proc(binary, role, {**env, **{k: str(v) for k, v in extra.items()}}, tmp_path, f"{gen}-{role}")
        procs.append(p)
        return p

    try:
        # 1. The previous generation's schema, applied by its own binary.
        r = run(old, ["migrate"], env, tmp_path)
        assert r.returncode == 0, r.stderr
        assert applied(conn) == old_migrations
        # A table with some history, so that the new migration has rows to index.
        with conn.cursor() as cur:
            cur.execute(
                "INSERT INTO outbox_events (id, event_type, aggregate_id, payload, created_at, published_at)"
                " SELECT gen_random_uuid(), 'order.created', gen_random_uuid(), '{}',"
                " now() - g * interval '1 ms', now() - g * interval '1 ms' FROM generate_series(1, 200000) g"
            )

        # 2. The previous release serves: api and pipeline roles.
        old_api = start(old, "api", "old", API_PORT=free_port())
        old_roles = [start(old, role, "old") for role in ("relay", "consumer", "worker", "reconcile")]
        old_api.wait_healthy()
        o = Api(old_api.url)
        alice = o.new_user()
        first = o.create_order_ok(alice.token)

        # 3. The new release's migrations, applied while the previous release takes traffic.
        with Traffic(o, alice) as traffic:
            time.sleep(1)
            before = traffic.ok
            started = time.monotonic()
            r = run(BIN, ["migrate"], env, tmp_path)
            migrate_seconds = time.monotonic() - started
            during = traffic.ok - before
            time.sleep(1)
        assert r.returncode == 0, r.stderr
        for name in new_migrations:
            assert name in r.stderr, f"{name} not applied:\n{r.stderr}"
        assert applied(conn) == current
        assert traffic.failures == [], f"{len(traffic.failures)} failed during the migration: {traffic.failures[:5]}"
        assert during > 0, f"no request completed during the {migrate_seconds:.1f} s migration"
        print(
            f"migrated {new_migrations} in {migrate_seconds:.1f} s while the previous release answered "
            f"{during} create+get pairs, 0 failed ({traffic.ok} in all)",
            file=sys.stderr,
        )

        # 4. The previous release's smoke scenario on the migrated schema.
        old_user, old_order = smoke(o, "previous release after the migration")
        wait_processed(conn, [first["id"], old_order["id"], *traffic.ids], procs=procs)

        # 5. The new release beside it: same database, queues, task stream and Redis.
        new_api = start(BIN, "api", "new", API_PORT=free_port())
        new_roles = [start(BIN, role, "new") for role in ("relay", "consumer", "worker", "reconcile")]
        new_api.wait_healthy()
        n = Api(new_api.url)
        new_user, new_order = smoke(n, "new release")

        # Each reads what the other created, with the other's tokens too.
        for reader, token, oid in (
            (n, old_user.token, old_order["id"]),
            (o, new_user.token, new_order["id"]),
            (n, alice.token, first["id"]),
        ):
            a = reader.get_order(token, oid)
            b = (o if reader is n else n).get_order(token, oid)
            assert a.status_code == 200 and b.status_code == 200, f"{describe(a)}\n{describe(b)}"
            assert same_order(a.json(), b.json()), f"{a.json()}\n{b.json()}"
        # Each lists the user's orders whichever created them.
        later = n.create_order_ok(old_user.token)  # old user's token, new api
        for api in (o, n):
            r = api.list_orders(old_user.token, old_user.id)
            assert r.status_code == 200, describe(r)
            assert {old_order["id"], later["id"]} <= {x["id"] for x in r.json()}, describe(r)
        # A change made by one is seen by the other (database and cache).
        r = n.patch_order(old_user.token, old_order["id"], "SHIPPED")
        assert r.status_code == 200, describe(r)
        r = o.get_order(old_user.token, old_order["id"])
        assert r.status_code == 200 and r.json()["status"] == "SHIPPED", describe(r)
        r = o.patch_order(new_user.token, new_order["id"], "SHIPPED")
        assert r.status_code == 200, describe(r)
        r = n.get_order(new_user.token, new_order["id"])
        assert r.status_code == 200 and r.json()["status"] == "SHIPPED", describe(r)

        # Orders from both apis, processed by the roles of both releases.
        mixed = [o.create_order_ok(alice.token)["id"] for _ in range(10)]
        mixed += [n.create_order_ok(new_user.token)["id"] for _ in range(10)]
        wait_processed(conn, [new_order["id"], later["id"], *mixed], procs=procs)

        # 6. The roll completes: the previous release stops cleanly, the new one goes on.
        for p in [old_api, *old_roles]:
            assert p.alive(), f"{p.name} died:\n{p.tail()}"
            assert p.stop() == 0, f"{p.name} did not exit 0:\n{p.tail()}"
        last = n.create_order_ok(new_user.token)["id"]
        wait_processed(conn, [last], procs=procs)
        for p in [new_api, *new_roles]:
            assert p.alive(), f"{p.name} died:\n{p.tail()}"
    finally:
        for p in procs:
            p.stop()
        conn.close()
        rabbit = Rabbit()
        for q in (env["RABBITMQ_NEW_ORDER_QUEUE"], env["RABBITMQ_NEW_ORDER_QUEUE"] + ".retry",
                  env["RABBITMQ_NEW_ORDER_QUEUE"] + ".dlq"):
            try:
                rabbit.delete_queue(q)
            except Exception:  # noqa: BLE001
                pass
        try:
            rabbit.delete_exchange(env["RABBITMQ_EXCHANGE"])
        except Exception:  # noqa: BLE001
            pass
