"""Helpers and fixtures for the black-box tests of the event pipeline
(SPEC §5: outbox -> relay -> RabbitMQ -> consumer -> Redis stream -> worker).

Everything is observed from the outside: PostgreSQL tables (orders,
outbox_events, inbox_events, task_runs), RabbitMQ queues (pika), the Redis task
stream, the HTTP API and the roles' log files.

Isolation: every test module gets its own database (migrated, dropped at the end
of the session by conftest's `stack`) and its own `order-service api`; every test
(the `roles` fixture) gets its own RabbitMQ exchange/queue names and its own task
stream, with a random suffix, so leftovers of other tests never interfere. The
queues, exchange and streams are deleted at the end of the test.

Test modules import the fixtures they use from here:
    from pipeline_helpers import pipeline, roles  # noqa: F401
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pika
import pika.exceptions
import pytest
import redis as redis_lib
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import BIN, DEVSTACK, ApiProcess, run_service  # noqa: E402
from helpers import Api, describe, free_port, item, wait_until  # noqa: E402

# Small timings (the defaults are production values). The retry budgets
# (RABBITMQ_CONSUMER_MAX_RETRIES, TASK_MAX_ATTEMPTS) are deliberately NOT set:
# the tests run with the defaults a deployment gets, and a dependency outage must
# never consume them (SPEC §5.7).
FAST = {
    "PROCESS_ORDER_DELAY_SECONDS": "0.2",
    "TASK_VISIBILITY_TIMEOUT_SECONDS": "3",
    "OUTBOX_POLL_SECONDS": "1",
    # rows claimed by a relay that then dies are taken over after the lease
    "OUTBOX_LEASE_SECONDS": "5",
    "RABBITMQ_CONSUMER_RETRY_BASE_SECONDS": "0.2",
    "RABBITMQ_TIMEOUT_SECONDS": "2",
    "WORKER_CONCURRENCY": "32",
    "METRICS_PORT": "0",
    "LOG_LEVEL": "info",
    "LOG_FORMAT": "json",
}

ROUTING_KEY = "order.created"
WORKER_GROUP = "workers"

# Defaults of the retry budgets (README / .env.example); the tests rely on them
# without setting them.
DEFAULT_CONSUMER_MAX_RETRIES = 5
DEFAULT_TASK_MAX_ATTEMPTS = 5

# Log messages of the failure classification (SPEC §5.7): one of each per role
# and dependency outage, with the JSON field `dependency`.
DEP_DOWN = "dependency unavailable"
DEP_UP = "dependency available again"


# ---------------------------------------------------------------- polling


def poll(fn, timeout, interval=0.1, desc="condition"):
    """helpers.wait_until with a shorter default interval (pipeline hops take ms)."""
    return wait_until(fn, timeout, interval=interval, desc=desc)


def holds(fn, duration, interval=0.1, desc="condition"):
    """Assert that fn() stays truthy for `duration` seconds (used to show that
    something does NOT happen, e.g. no second task, a row stays unpublished)."""
    deadline = time.monotonic() + duration
    while True:
        v = fn()
        assert v, f"{desc} stopped holding (value {v!r})"
        if time.monotonic() > deadline:
            return
        time.sleep(interval)


# ---------------------------------------------------------------- processes


class RoleProcess:
    """One `order-service <role>` process with its output in a log file."""

    def __init__(self, role, env, workdir: Path, name, args=()):
        self.role = role
        self.name = name
        self.env = env
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        # cwd is a scratch dir so that no stray .env file is read.
        self.proc = subprocess.Popen(
            [str(BIN), role, *args],
            env=env,
            cwd=str(workdir),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.proc.pid
        self.killed = False

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, n=3000) -> str:
        return self.log_text()[-n:]

    def mark(self) -> int:
        """Position in the log; records(since=mark) reads only what came after."""
        return len(self.log_text())

    def records(self, since=0) -> list[dict]:
        """The JSON log lines (LOG_FORMAT=json) written after `since`."""
        return log_records(self.log_text()[since:])

    def dependency_lines(self, dependency, since=0):
        """(#"dependency unavailable", #"dependency available again") lines for
        `dependency` (redis|postgres|rabbitmq) logged after `since`."""
        return dependency_line_counts(self.records(since), dependency)

    def wait_log(self, pattern, timeout, desc=None):
        rx = re.compile(pattern)

        def found():
            if not self.alive():
                raise AssertionError(
                    f"{self.name} exited ({self.proc.returncode}) while waiting for /{pattern}/:\n"
                    f"{self.tail()}"
                )
            return rx.search(self.log_text())

        try:
            return poll(found, timeout, desc=desc or f"/{pattern}/ in {self.name} log")
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- {self.name} log tail:\n{self.tail()}") from None

    def kill(self):
        """SIGKILL (simulated crash)."""
        self.killed = True
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._log.close()

    def stop(self, timeout=15.0):
        """SIGTERM, wait; exit code, or None if it had to be SIGKILLed."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
                self._log.close()
                return None
        self._log.close()
        return self.proc.returncode

    def stop_ok(self, timeout=15.0):
        was_alive = self.alive()
        rc = self.stop(timeout)
        assert was_alive, f"{self.name} had already exited ({rc}) before SIGTERM:\n{self.tail()}"
        assert rc == 0, f"{self.name} did not exit 0 within {timeout}s of SIGTERM (rc={rc}):\n{self.tail()}"


def log_records(text) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def dependency_line_counts(records, dependency):
    down = sum(1 for r in records if r.get("msg") == DEP_DOWN and r.get("dependency") == dependency)
    up = sum(1 for r in records if r.get("msg") == DEP_UP and r.get("dependency") == dependency)
    return down, up


def assert_dependency_logged_once(procs, dependency, marks=None, must=True):
    """Each process in `procs` logged the outage of `dependency` at most once
    (exactly once when `must`) and its return as often as its loss (SPEC §5.7:
    once per role, not once per message)."""
    problems = []
    for p in procs:
        since = (marks or {}).get(p.name, 0)
        down, up = p.dependency_lines(dependency, since)
        lines = [json.dumps(r) for r in p.records(since)
                 if r.get("msg") in (DEP_DOWN, DEP_UP)][:10]
        if down > 1 or up > 1 or down != up or (must and down != 1):
            problems.append(f"{p.name}: {down} x {DEP_DOWN!r}, {up} x {DEP_UP!r} for "
                            f"dependency={dependency!r} (expected {'1' if must else '0 or 1'} each); "
                            f"lines: {lines}")
    assert not problems, "\n".join(problems)


class Roles:
    """Per-test set of role processes; start(role, **env) -> RoleProcess.
    At the end every process still running is stopped with SIGTERM and must
    exit 0 (killed ones are skipped)."""

    def __init__(self, pipeline, workdir: Path):
        self.pl = pipeline
        self.workdir = workdir
        self.procs: list[RoleProcess] = []
        self.counter = 0

    def start(self, role, *args, **overrides) -> RoleProcess:
        """`order-service ROLE ARGS` with the pipeline env plus overrides."""
        self.counter += 1
        name = f"{role}-{self.counter}"
        env = self.pl.env(**overrides)
        p = RoleProcess(role, env, self.workdir, name, args=args)
        self.procs.append(p)
        return p

    def start_pipeline(self, relay=True, consumer=True, worker=True, **overrides):
        out = {}
        if relay:
            out["relay"] = self.start("relay", **overrides)
        if consumer:
            out["consumer"] = self.start("consumer", **overrides)
        if worker:
            out["worker"] = self.start("worker", **overrides)
        return out

    def check_alive(self):
        for p in self.procs:
            if not p.killed and p.proc.returncode is None:
                assert p.alive(), f"{p.name} died (rc={p.proc.returncode}):\n{p.tail()}"

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} (pid {p.pid}):\n{p.tail(2500)}" for p in self.procs)

    def stop_all(self):
        """Stop every process the test did not kill/stop; they must exit 0."""
        errors = []
        for p in reversed(self.procs):
            if p.killed or p._log.closed:
                continue
            was_alive = p.alive()
            rc = p.stop(15)
            if not was_alive:
                errors.append(f"{p.name} had died (rc={rc}) before the end of the test:\n{p.tail()}")
            elif rc != 0:
                errors.append(f"{p.name} did not exit 0 on SIGTERM (rc={rc}):\n{p.tail()}")
        return errors


# ---------------------------------------------------------------- infrastructure


def rabbit_params():
    if not os.environ.get("RABBITMQ_PORT"):
        pytest.fail(
            "RABBITMQ_PORT is not set: export `scripts/devstack env` (the pipeline tests need RabbitMQ)",
            pytrace=False,
        )
    return pika.ConnectionParameters(
        host=os.environ.get("RABBITMQ_HOST", "127.0.0.1"),
        port=int(os.environ["RABBITMQ_PORT"]),
        virtual_host=os.environ.get("RABBITMQ_VHOST", "/"),
        credentials=pika.PlainCredentials(
            os.environ.get("RABBITMQ_USER", "guest"), os.environ.get("RABBITMQ_PASSWORD", "guest")
        ),
        connection_attempts=1,
        socket_timeout=5,
        blocked_connection_timeout=10,
        heartbeat=0,
    )


class Rabbit:
    """Short-lived pika connections (robust to broker restarts in between)."""

    def _open(self):
        conn = pika.BlockingConnection(rabbit_params())
        return conn, conn.channel()

    def run(self, fn):
        conn, ch = self._open()
        try:
            return fn(ch)
        finally:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def count(self, queue) -> int:
        """Ready messages in `queue` (passive declare). Raises if it does not exist."""
        return self.run(lambda ch: ch.queue_declare(queue, passive=True).method.message_count)

    def consumers(self, queue) -> int:
        return self.run(lambda ch: ch.queue_declare(queue, passive=True).method.consumer_count)

    def exists(self, queue) -> bool:
        try:
            self.count(queue)
            return True
        except pika.exceptions.ChannelClosedByBroker:
            return False

    def exchange_exists(self, exchange) -> bool:
        try:
            self.run(lambda ch: ch.exchange_declare(exchange, passive=True))
            return True
        except pika.exceptions.ChannelClosedByBroker:
            return False

    def purge(self, queue):
        self.run(lambda ch: ch.queue_purge(queue))

    def get_all(self, queue, limit=1000):
        """Take every ready message: list of (properties, body)."""

        def take(ch):
            out = []
            while len(out) < limit:
                method, props, body = ch.basic_get(queue, auto_ack=True)
                if method is None:
                    break
                out.append((props, body))
            return out

        return self.run(take)

    def publish(self, queue, body, message_id=None, headers=None, type_="new_order",
                content_type="application/json"):
        """Publish one persistent message straight to `queue` (default exchange)
        with publisher confirms."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        props = pika.BasicProperties(
            content_type=content_type,
            delivery_mode=2,
            message_id=message_id,
            type=type_,
            headers=headers,
        )

        def pub(ch):
            ch.confirm_delivery()
            ch.basic_publish("", queue, body, props, mandatory=True)

        self.run(pub)

    def tap(self, exchange, routing_key=ROUTING_KEY) -> str:
        """Declare a queue bound to the exchange, to observe what the relay
        publishes (the caller deletes it: Pipeline.extra_queues)."""
        name = f"pltap.{uuid.uuid4().hex[:10]}"

        def decl(ch):
            ch.queue_declare(name, durable=False, auto_delete=False)
            ch.queue_bind(name, exchange, routing_key=routing_key)

        self.run(decl)
        return name

    def delete_queue(self, queue):
        try:
            self.run(lambda ch: ch.queue_delete(queue))
        except Exception as e:  # noqa: BLE001
            print(f"warning: cannot delete queue {queue}: {e}", file=sys.stderr)

    def delete_exchange(self, exchange):
        try:
            self.run(lambda ch: ch.exchange_delete(exchange))
        except Exception as e:  # noqa: BLE001
            print(f"warning: cannot delete exchange {exchange}: {e}", file=sys.stderr)


def devstack(*args, timeout=120):
    """scripts/devstack with the stack's env (stop|start|kill SERVICE)."""
    r = subprocess.run(
        [str(DEVSTACK), *args], env=dict(os.environ), capture_output=True, text=True, timeout=timeout
    )
    assert r.returncode == 0, (
        f"scripts/devstack {' '.join(args)} failed ({r.returncode}):\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    )
    return r


def rabbitmqctl(*args, timeout=60) -> str:
    """`scripts/devstack rabbitmqctl ARGS` (stdout)."""
    return devstack("rabbitmqctl", *args, timeout=timeout).stdout


def queue_stats(queue) -> dict:
    """{'ready': n, 'unacked': n, 'consumers': n} of a queue, from the broker
    (pika's passive declare only counts ready messages)."""
    out = rabbitmqctl("list_queues", "-q", "--no-table-headers", "name", "messages_ready",
                      "messages_unacknowledged", "consumers")
    for line in out.splitlines():
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) >= 4 and parts[0] == queue:
            return {"ready": int(parts[1]), "unacked": int(parts[2]), "consumers": int(parts[3])}
    raise AssertionError(f"queue {queue} not listed by rabbitmqctl:\n{out}")


def broker_connections() -> list[str]:
    """Names of the broker's client connections (`list_connections name`)."""
    out = rabbitmqctl("list_connections", "-q", "--no-table-headers", "name")
    return sorted(l.strip() for l in out.splitlines() if l.strip())


def scrape_metrics(port, timeout=5) -> dict:
    """Prometheus text of 127.0.0.1:port/metrics -> {'name{labels}': value}."""
    r = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=timeout)
    assert r.status_code == 200, describe(r)
    out = {}
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            continue
    return out


def metric(metrics: dict, name: str):
    """Sum of every series of `name` (with or without labels); None if absent."""
    vals = [v for k, v in metrics.items() if k == name or k.startswith(name + "{")]
    return sum(vals) if vals else None


class ProcessedAtWatch:
    """Samples orders.processed_at of the watched orders in the background and
    records every change of a value once set (SPEC §5.6: processed_at is set
    once; exactly once in effect means it never changes afterwards). Tolerates
    PostgreSQL being down between samples."""

    def __init__(self, pl, ids=(), interval=0.5):
        self.pl = pl
        self.interval = interval
        self.ids: set = set(ids)
        self.first: dict = {}
        self.changes: list = []
        self.samples = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conn = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def add(self, ids):
        with self._lock:
            self.ids.update(ids)

    def sample(self):
        with self._lock:
            ids = list(self.ids)
        if not ids:
            return
        if self._conn is None:
            self._conn = self.pl.connect()
        with self._conn.cursor() as cur:
            cur.execute("SELECT id::text, processed_at FROM orders WHERE id = ANY(%s::uuid[]) "
                        "AND processed_at IS NOT NULL", (ids,))
            rows = cur.fetchall()
        with self._lock:
            for oid, ts in rows:
                if oid not in self.first:
                    self.first[oid] = ts
                elif self.first[oid] != ts:
                    self.changes.append((oid, self.first[oid], ts))
            self.samples += 1

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - PostgreSQL may be down
                self.errors += 1
                try:
                    if self._conn is not None:
                        self._conn.close()
                except Exception:  # noqa: BLE001
                    pass
                self._conn = None

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        try:
            if self._conn is not None:
                self._conn.close()
        except Exception:  # noqa: BLE001
            pass
        self._conn = None

    def assert_stable(self):
        """Two final samples, then: no processed_at changed after it was first seen.
        (Two, so that a pipeline fast enough to finish before the background thread
        sampled the ids added last is still compared at least once.)"""
        self.stop()
        self.sample()
        time.sleep(self.interval)
        self.sample()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        assert self.samples >= 2, f"processed_at sampled only {self.samples} times"
        assert not self.changes, (
            f"processed_at rewritten after it was set for {len({c[0] for c in self.changes})} "
            f"orders (order, first seen, later): {self.changes[:5]}"
        )


def service_running(service) -> bool:
    r = subprocess.run(
        [str(DEVSTACK), "status", service], env=dict(os.environ), capture_output=True, text=True, timeout=30
    )
    return r.returncode == 0


class Outage:
    """with Outage('redis'): ... stops the server and always starts it again."""

    def __init__(self, service, how="stop"):
        self.service = service
        self.how = how
        self.restored = False

    def __enter__(self):
        devstack(self.how, self.service)
        return self

    def restore(self):
        if not self.restored:
            devstack("start", self.service)
            self.restored = True

    def __exit__(self, *exc):
        if not self.restored:
            try:
                self.restore()
            except Exception:
                if exc[0] is None:
                    raise
                print(f"warning: could not restart {self.service}", file=sys.stderr)
        return False


# ---------------------------------------------------------------- the pipeline


class Pipeline:
    """Module-wide state: database, api process, RabbitMQ/Redis names."""

    def __init__(self, stack, workdir: Path, tag: str):
        self.stack = stack
        self.workdir = workdir
        self.tag = tag
        self.rabbit = Rabbit()
        self.extra_queues: list[str] = []
        self.fresh_names()

        self.dbname = stack.create_database(prefix=f"orders_pl{tag}")
        r = run_service(["migrate"], stack.service_env(self.dbname), timeout=120)
        assert r.returncode == 0, f"migrate failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
        self.redis = redis_lib.Redis(
            host=stack.redis_host, port=stack.redis_port, db=stack.redis_db,
            socket_timeout=5, socket_connect_timeout=5,
        )
        self.api_proc = None
        self.start_api()

    # -- names
    def fresh_names(self):
        """New exchange, queues and task stream (one set per test, so that what a
        failed test leaves behind in RabbitMQ or Redis never reaches the next)."""
        suffix = uuid.uuid4().hex[:8]
        self.exchange = f"orders.pl{self.tag}.{suffix}"
        self.queue = f"new_order.pl{self.tag}.{suffix}"
        self.retry_queue = self.queue + ".retry"
        self.dlq = self.queue + ".dlq"
        self.stream = f"tasks:pl{self.tag}:{suffix}:process_order"
        self.dead_stream = self.stream + ":dead"

    def delete_names(self):
        """Delete the current queues, exchange and streams (and tap queues)."""
        for q in [self.queue, self.retry_queue, self.dlq, *self.extra_queues]:
            self.rabbit.delete_queue(q)
        self.extra_queues.clear()
        self.rabbit.delete_exchange(self.exchange)
        try:
            self.redis.delete(self.stream, self.dead_stream, *self.task_index_keys())
        except Exception as e:  # noqa: BLE001
            print(f"warning: cannot delete streams: {e}", file=sys.stderr)

    def task_index_keys(self):
        """The task queue's own keys beside the stream (tasks/task_queue.hpp): each order's
        live task, and the tasks waiting out a backoff."""
        return [self.stream + ":live", self.stream + ":delayed", self.stream + ":delayed:tasks"]

    # -- configuration
    def env(self, **overrides) -> dict:
        base = dict(FAST)
        base.update(
            {
                "RABBITMQ_EXCHANGE": self.exchange,
                "RABBITMQ_NEW_ORDER_QUEUE": self.queue,
                "RABBITMQ_NEW_ORDER_ROUTING_KEY": ROUTING_KEY,
                "TASK_STREAM": self.stream,
            }
        )
        base.update(overrides)
        return self.stack.service_env(self.dbname, **base)

    # -- api
    def start_api(self):
        env = self.env(API_PORT=free_port())
        self.api_proc = ApiProcess(env, self.workdir, name=f"api-{uuid.uuid4().hex[:6]}")
        self.api_proc.wait_healthy(15)
        self.api = Api(self.api_proc.url)
        self.user = self.api.new_user()

    def ensure_api(self):
        if not self.api_proc.alive():
            tail = self.api_proc.tail()
            self.start_api()
            raise AssertionError(f"the pipeline api process had died; output:\n{tail}")
        # A failed outage test may leave the api with dead database connections
        # (the outage test itself asserts on that); each test starts with an api
        # that answers.
        poll(lambda: self.api.list_orders(self.user.token, self.user.id, params={"limit": 1}).status_code
             == 200, 15, interval=0.2, desc="pipeline api answering")

    def create_order(self, items=None, api=None, user=None) -> dict:
        api = api or self.api
        user = user or self.user
        r = api.create_order(user.token, items or [item(7, 2, 12.5)])
        assert r.status_code == 201, describe(r)
        return r.json()

    def create_orders(self, n, threads=16) -> list[str]:
        """Create n orders concurrently (each thread its own HTTP session)."""
        local = threading.local()

        def one(i):
            if not hasattr(local, "api"):
                local.api = Api(self.api_proc.url)
            r = local.api.create_order(self.user.token, [item(1 + i % 50, 1 + i % 3, 9.99)])
            assert r.status_code == 201, describe(r)
            return r.json()["id"]

        with ThreadPoolExecutor(threads) as ex:
            return list(ex.map(one, range(n)))

    # -- database
    def connect(self):
        return self.stack.connect(self.dbname)

    def query(self, sql, args=()):
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def outbox(self, order_id):
        rows = self.query(
            "SELECT id::text, event_type, payload, published_at, attempts FROM outbox_events "
            "WHERE aggregate_id = %s",
            (order_id,),
        )
        return [
            {"id": r[0], "event_type": r[1], "payload": r[2], "published_at": r[3], "attempts": r[4]}
            for r in rows
        ]

    def processed_ids(self, order_ids) -> set:
        rows = self.query(
            "SELECT id::text FROM orders WHERE id = ANY(%s::uuid[]) AND processed_at IS NOT NULL",
            (list(order_ids),),
        )
        return {r[0] for r in rows}

    def runs(self, order_ids):
        """{order_id: (total_runs, effective_runs)} for orders with any run."""
        rows = self.query(
            "SELECT order_id::text, count(*), count(*) FILTER (WHERE effective) FROM task_runs "
            "WHERE order_id = ANY(%s::uuid[]) GROUP BY order_id",
            (list(order_ids),),
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    def run_rows(self, order_id):
        rows = self.query(
            "SELECT worker, attempt, started_at, finished_at, effective FROM task_runs "
            "WHERE order_id = %s ORDER BY id",
            (order_id,),
        )
        return [dict(zip(("worker", "attempt", "started_at", "finished_at", "effective"), r)) for r in rows]

    def inbox(self, order_ids):
        rows = self.query(
            "SELECT event_id, order_id::text FROM inbox_events WHERE order_id = ANY(%s::uuid[])",
            (list(order_ids),),
        )
        return rows

    def wait_processed(self, order_ids, timeout, roles=None, desc=None):
        ids = set(order_ids)
        state = {}

        def done():
            state["done"] = self.processed_ids(ids)
            if roles is not None:
                roles.check_alive()
            return len(state["done"]) == len(ids)

        try:
            poll(done, timeout, interval=0.2, desc=desc or f"{len(ids)} orders processed")
        except AssertionError as e:
            missing = sorted(ids - state.get("done", set()))
            msg = f"{e}\n{len(missing)} of {len(ids)} not processed, e.g. {missing[:5]}"
            if missing:
                msg += f"\noutbox of {missing[0]}: {self.outbox(missing[0])}"
            counts = self.queue_counts()
            msg += f"\nqueues (ready messages): {counts} stream: {self.stream_state()}"
            if roles is not None:
                msg += "\n" + roles.logs()
                msg += self._unacked_diagnosis(roles)
            raise AssertionError(msg) from None

    def _unacked_diagnosis(self, roles):
        """Ready counts do not show messages a consumer holds unacked: stop the
        consumers (the test has failed anyway) and see what comes back."""
        consumers = [p for p in roles.procs if p.role in ("consumer", "all") and p.alive()]
        if not consumers:
            return ""
        before = self.queue_counts().get("main")
        for p in consumers:
            p.stop(15)
        # requeued messages appear within moments; take the count once it is stable
        after, stable_since, deadline = -1, time.monotonic(), time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                c = self.rabbit.count(self.queue)
            except Exception:  # noqa: BLE001
                c = after
            if c != after:
                after, stable_since = c, time.monotonic()
            elif time.monotonic() - stable_since > 1.0:
                break
            time.sleep(0.1)
        return (
            f"\nDIAGNOSIS: after SIGTERM of the consumer(s) {[p.name for p in consumers]}, "
            f"{self.queue} has {after} ready message(s) (before: {before}): messages the consumer "
            "had received but neither handled nor acked."
        )

    def watch(self, ids=()) -> ProcessedAtWatch:
        """Start sampling processed_at of `ids` (more with .add); see ProcessedAtWatch."""
        return ProcessedAtWatch(self, ids)

    def assert_exactly_once(self, order_ids, strict_total=False, watch=None):
        """Exactly once in effect: one effective task run per order, and (with a
        ProcessedAtWatch) processed_at never changed after it was first set."""
        if watch is not None:
            watch.assert_stable()
            unseen = [o for o in order_ids if o not in watch.first]
            assert not unseen, f"{len(unseen)} orders never seen processed by the watch: {unseen[:5]}"
        runs = self.runs(order_ids)
        missing = [o for o in order_ids if o not in runs]
        bad_eff = {o: v for o, v in runs.items() if v[1] != 1}
        assert not missing, f"{len(missing)} orders have no task_runs row, e.g. {missing[:5]}"
        assert not bad_eff, (
            f"{len(bad_eff)} orders do not have exactly one effective run "
            f"(order: (runs, effective)), e.g. {list(bad_eff.items())[:5]}"
        )
        if strict_total:
            dup = {o: v for o, v in runs.items() if v[0] != 1}
            assert not dup, f"orders with more than one task run: {list(dup.items())[:5]}"
        return runs

    # -- dead letters
    def dead_letters(self) -> dict:
        """Ready messages in the DLQ and entries in the task dead-letter stream."""
        try:
            dlq = self.rabbit.count(self.dlq)
        except pika.exceptions.ChannelClosedByBroker:
            dlq = 0  # never declared: nothing was dead-lettered
        return {"dlq": dlq, "dead_stream": self.redis.xlen(self.dead_stream)}

    def assert_no_dead_letters(self):
        d = self.dead_letters()
        detail = ""
        if d["dead_stream"]:
            detail = f" dead tasks: {self.redis.xrange(self.dead_stream, count=3)}"
        assert d == {"dlq": 0, "dead_stream": 0}, f"dead letters: {d}{detail}"

    def add_task(self, order_id, task="process_order", event_id=None, attempt=0):
        """XADD a task to the task stream as the consumer does; returns the entry id."""
        now_ms = int(time.time() * 1000)
        eid = self.redis.xadd(self.stream, {
            "task": task, "order_id": order_id, "event_id": event_id or str(uuid.uuid4()),
            "attempt": str(attempt), "not_before_ms": "0", "enqueued_ms": str(now_ms),
        })
        return eid.decode() if isinstance(eid, bytes) else eid

    def dead_tasks(self) -> list[dict]:
        out = []
        for eid, fields in self.redis.xrange(self.dead_stream):
            d = {k.decode(): v.decode(errors="replace") for k, v in fields.items()}
            d["_id"] = eid.decode()
            out.append(d)
        return out

    def dlq_cli(self, *args, timeout=60, **overrides):
        """Run `order-service dlq ARGS` with this test's names; CompletedProcess."""
        return run_service(["dlq", *args], self.env(**overrides), timeout=timeout, cwd=str(self.workdir))

    # -- rabbit / redis state
    def queue_counts(self):
        out = {}
        for q in (self.queue, self.retry_queue, self.dlq):
            try:
                out[q.rsplit(".", 1)[-1] if q != self.queue else "main"] = self.rabbit.count(q)
            except Exception as e:  # noqa: BLE001
                out[q] = repr(e)[:80]
        return out

    def stream_state(self):
        try:
            xlen = self.redis.xlen(self.stream)
            try:
                pending = self.redis.xpending(self.stream, WORKER_GROUP)["pending"]
            except redis_lib.ResponseError:
                pending = None
            dead = self.redis.xlen(self.dead_stream)
            delayed = self.redis.zcard(self.stream + ":delayed")
            return {"xlen": xlen, "pending": pending, "dead": dead, "delayed": delayed}
        except Exception as e:  # noqa: BLE001
            return repr(e)[:120]

    def wait_topology(self, timeout=20):
        """Wait until the consumer has declared the queues."""
        poll(
            lambda: all(self.rabbit.exists(q) for q in (self.queue, self.retry_queue, self.dlq)),
            timeout, interval=0.2, desc=f"queues {self.queue}(.retry/.dlq) declared",
        )

    def wait_consuming(self, n=1, timeout=20):
        poll(lambda: self.rabbit.consumers(self.queue) >= n, timeout, interval=0.2,
             desc=f"{n} consumer(s) on {self.queue}")

    def wait_idle(self, timeout=20):
        """Queues empty, task stream empty and nothing pending."""

        def idle():
            c = self.queue_counts()
            s = self.stream_state()
            return c.get("main") == 0 and c.get("retry") == 0 and isinstance(s, dict) \
                and s["xlen"] == 0 and not s["pending"] and s["delayed"] == 0

        poll(idle, timeout, interval=0.2, desc="pipeline idle (queues and task stream empty)")

    # -- teardown
    def close(self):
        errors = []
        if self.api_proc is not None:
            rc = self.api_proc.stop(10)
            if rc != 0:
                errors.append(f"api did not exit 0 on SIGTERM (rc={rc})")
        self.delete_names()
        self.redis.close()
        return errors


def make_message(order: dict, event_id: str, **override) -> dict:
    """A new_order event body as the relay publishes it (SPEC §5.3)."""
    body = {
        "event_id": event_id,
        "event_type": "new_order",
        "occurred_at": order.get("created_at"),
        "order_id": order["id"],
        "user_id": order["user_id"],
        "total_price": order.get("total_price"),
        "status": order.get("status", "PENDING"),
    }
    body.update(override)
    return body


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pipeline(request, stack, tmp_path_factory):
    tag = re.sub(r"[^a-z0-9]", "", Path(str(request.fspath)).stem.replace("test_pipeline", ""))[:8]
    for svc in ("postgres", "redis", "rabbitmq"):
        if not service_running(svc):
            # a previous (failed) test left a server down: bring it back
            devstack("start", svc)
    pl = Pipeline(stack, tmp_path_factory.mktemp("pipeline"), tag or "m")
    yield pl
    errors = pl.close()
    assert not errors, errors


@pytest.fixture
def roles(pipeline, tmp_path):
    pipeline.ensure_api()
    pipeline.fresh_names()
    r = Roles(pipeline, tmp_path)
    yield r
    errors = r.stop_all()
    # servers a failed test may have left down
    for svc in ("postgres", "redis", "rabbitmq"):
        if not service_running(svc):
            devstack("start", svc)
    pipeline.delete_names()
    assert not errors, "\n".join(errors)
