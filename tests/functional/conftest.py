"""Fixtures for the black-box functional tests of order-service.

The suite runs the real binary against real PostgreSQL and Redis servers (the
ones `scripts/devstack` starts). The test runner exports the stack's settings
(`scripts/devstack env`: DATABASE_URL, REDIS_HOST, REDIS_PORT, ...). Each
session gets its own fresh database, migrated with `order-service migrate`, and
its own `order-service api` process on a free port.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import psycopg2
import pytest
import redis as redis_lib
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import TIMEOUT, Api, free_port, unique_email  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("ORDER_SERVICE_BIN") or REPO / "build" / "order-service")
DEVSTACK = REPO / "scripts" / "devstack"

# Tests in these files stop and start shared servers; they run last (as do
# tests marked `outage`), so that the other tests see a healthy stack.
LAST_FILES = ("test_pipeline_faults.py", "test_outages.py")

ORDERS_TTL_SECONDS = 120
TOKEN_MINUTES = 30


def pytest_configure(config):
    config.addinivalue_line("markers", "outage: stops/starts infrastructure servers (runs last)")
    config.addinivalue_line(
        "markers",
        "long: stops a server for 60-150 s, idles for minutes or runs the chaos test; "
        "scripts/test runs `-m long` on a separate stack, in parallel with `-m 'not long'`",
    )
    config.addinivalue_line(
        "markers", "sanitize: also run by scripts/test-sanitize against the ASan/UBSan build"
    )
    config.addinivalue_line(
        "markers",
        "ha: failover drills on local clusters (scripts/clusterstack); scripts/test runs "
        "`-m ha` as its own suite, `make test-ha` alone",
    )


def pytest_collection_modifyitems(session, config, items):
    def rank(it):
        name = Path(str(it.fspath)).name
        if name in LAST_FILES:
            return 1 + LAST_FILES.index(name)
        return 1 if it.get_closest_marker("outage") else 0

    items[:] = sorted(items, key=rank)  # stable: file order kept within a rank
    for i in items:
        if rank(i):
            i.add_marker(pytest.mark.outage)


# ---------------------------------------------------------------- environment


class Stack:
    """Connection details of the running PostgreSQL/Redis (from the env)."""

    def __init__(self):
        url = os.environ.get("DATABASE_URL")
        if not url:
            pytest.fail(
                "DATABASE_URL is not set: the functional tests need a running stack. "
                "Start one with `scripts/devstack up` and export `scripts/devstack env` "
                "(the test runner script does this).",
                pytrace=False,
            )
        if not BIN.is_file() or not os.access(BIN, os.X_OK):
            pytest.fail(
                f"order-service binary not found or not executable at {BIN} "
                "(build it first, or set ORDER_SERVICE_BIN)",
                pytrace=False,
            )
        u = urlsplit(url)
        if u.scheme not in ("postgresql", "postgres"):
            pytest.fail(f"DATABASE_URL must be postgresql://...; got {url!r}", pytrace=False)
        self.database_url = url
        self.pg_user = unquote(u.username or os.environ.get("POSTGRES_USER", ""))
        self.pg_password = unquote(u.password or os.environ.get("POSTGRES_PASSWORD", ""))
        self.pg_host = u.hostname or os.environ.get("POSTGRES_HOST", "127.0.0.1")
        self.pg_port = u.port or int(os.environ.get("POSTGRES_PORT", "5432"))
        self.pg_db = u.path.lstrip("/") or os.environ.get("POSTGRES_DB", "orders")
        # The stack's durable Redis (the task queue's, CELERY_BROKER_URL; REDIS_* without
        # it). Tests run the cache and the task queue on it: `devstack stop redis` is then
        # an outage of both, and one client sees cache keys and task streams alike.
        queue = urlsplit(os.environ.get("CELERY_BROKER_URL", ""))
        self.redis_host = queue.hostname or os.environ.get("REDIS_HOST", "127.0.0.1")
        self.redis_port = queue.port or int(os.environ.get("REDIS_PORT", "6379"))
        self.redis_db = int(queue.path.lstrip("/") or os.environ.get("REDIS_DB", "0"))
        self.created_dbs: list[str] = []
        # order-service validates its whole config in every role, migrate included
        self.secret_key = secrets.token_hex(20)  # 40 characters

    def connect(self, dbname=None, autocommit=True):
        conn = psycopg2.connect(
            host=self.pg_host,
            port=self.pg_port,
            user=self.pg_user,
            password=self.pg_password,
            dbname=dbname or self.pg_db,
            connect_timeout=5,
        )
        conn.autocommit = autocommit
        return conn

    def db_url(self, dbname):
        return (
            f"postgresql://{quote(self.pg_user, safe='')}:{quote(self.pg_password, safe='')}"
            f"@{self.pg_host}:{self.pg_port}/{dbname}"
        )

    def create_database(self, prefix="orders_test") -> str:
        name = f"{prefix}_{secrets.token_hex(6)}"
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        except psycopg2.Error as e:
            pytest.fail(
                f"cannot CREATE DATABASE as role {self.pg_user!r} on "
                f"{self.pg_host}:{self.pg_port}: {e}. The functional tests need a role "
                "with CREATEDB (scripts/devstack's `orders` role has it).",
                pytrace=False,
            )
        finally:
            conn.close()
        self.created_dbs.append(name)
        return name

    def drop_databases(self):
        try:
            conn = self.connect()
        except psycopg2.Error as e:
            print(f"warning: cannot drop test databases {self.created_dbs}: {e}", file=sys.stderr)
            return
        try:
            with conn.cursor() as cur:
                for name in self.created_dbs:
                    try:
                        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    except psycopg2.Error as e:
                        print(f"warning: cannot drop {name}: {e}", file=sys.stderr)
        finally:
            conn.close()

    def service_env(self, dbname, **overrides) -> dict:
        """Environment for an order-service process using database `dbname`."""
        env = dict(os.environ)
        # Settings that could silently point the process elsewhere.
        for k in ("REDIS_URL", "CELERY_BROKER_URL"):
            env.pop(k, None)
        env.update(
            {
                "API_HOST": "127.0.0.1",
                "SECRET_KEY": self.secret_key,
                "DATABASE_URL": self.db_url(dbname),
                "POSTGRES_HOST": self.pg_host,
                "POSTGRES_PORT": str(self.pg_port),
                "POSTGRES_USER": self.pg_user,
                "POSTGRES_PASSWORD": self.pg_password,
                "POSTGRES_DB": dbname,
                "REDIS_HOST": self.redis_host,
                "REDIS_PORT": str(self.redis_port),
                "REDIS_DB": str(self.redis_db),
                "REDIS_ORDERS_TTL_SECONDS": str(ORDERS_TTL_SECONDS),
                "RUN_MIGRATIONS_ON_STARTUP": "false",
                "LOG_LEVEL": "info",
                "LOG_FORMAT": "json",
                "ACCESS_TOKEN_EXPIRE_MINUTES": str(TOKEN_MINUTES),
                "RATE_LIMIT_ENABLED": "false",
                "API_THREADS": "2",
                # no drain on SIGTERM (the default waits 5 s for load balancers); the tests
                # of the drain set it (test_rolling_restart.py, test_shutdown.py)
                "SHUTDOWN_DRAIN_SECONDS": "0",
            }
        )
        for k, v in overrides.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env


def run_service(args, env, timeout=60, cwd=None):
    """Run `order-service <args>` to completion; returns CompletedProcess."""
    return subprocess.run(
        [str(BIN), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class ApiProcess:
    """One running `order-service api` with its output in a log file."""

    def __init__(self, env, workdir: Path, name="api"):
        self.env = env
        self.port = int(env["API_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.secret_key = env.get("SECRET_KEY")
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        # cwd is a scratch dir so that no stray .env file is read.
        self.proc = subprocess.Popen(
            [str(BIN), "api"],
            env=env,
            cwd=str(workdir),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def tail(self, n=4000) -> str:
        t = self.log_text()
        return t[-n:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_healthy(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(
                    f"order-service api exited with {self.proc.returncode} before answering "
                    f"/health; output:\n{self.tail()}"
                )
            try:
                r = requests.get(self.url + "/health", timeout=1)
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.1)
        raise AssertionError(
            f"order-service api did not answer GET /health within {timeout}s (last: {last}); "
            f"output:\n{self.tail()}"
        )

    def stop(self, timeout=10.0):
        """SIGTERM, wait; return exit code (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                self._log.close()
                return None
        self._log.close()
        return self.proc.returncode


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def stack():
    s = Stack()
    yield s
    s.drop_databases()


@pytest.fixture(scope="session")
def test_db(stack):
    """Name of this session's fresh, migrated database."""
    name = stack.create_database()
    r = run_service(["migrate"], stack.service_env(name), timeout=120)
    assert r.returncode == 0, (
        f"`order-service migrate` failed ({r.returncode}):\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    )
    return name


class ServerHandle:
    """The session's api process; restarted (same port, key and database) if
    a test crashes it, so that one crash fails one test, not the rest."""

    def __init__(self, env, workdir: Path):
        self.env = env
        self.workdir = workdir
        self.generation = 0
        self.crashes: list[str] = []
        self.p = ApiProcess(env, workdir, name="api-0")

    def __getattr__(self, name):  # url, port, secret_key, log_path, alive, tail, ...
        return getattr(self.p, name)

    @property
    def proc(self):
        return self.p.proc

    def log_text(self) -> str:
        """Output of every generation of the process, oldest first."""
        parts = []
        for i in range(self.generation + 1):
            f = self.workdir / f"api-{i}.log"
            if f.exists():
                parts.append(f.read_text(errors="replace"))
        self.p.log_text()  # flush
        return "".join(parts)

    def restart(self):
        self.p.stop(5)
        self.generation += 1
        self.p = ApiProcess(self.env, self.workdir, name=f"api-{self.generation}")
        self.p.wait_healthy(15)


@pytest.fixture(scope="session")
def server(stack, test_db, tmp_path_factory):
    """The session's api process."""
    env = stack.service_env(
        test_db,
        API_PORT=free_port(),
        SECRET_KEY=secrets.token_hex(20),  # 40 characters
    )
    h = ServerHandle(env, tmp_path_factory.mktemp("server"))
    try:
        h.p.wait_healthy(15)
    except AssertionError:
        h.p.stop()
        raise
    yield h
    was_alive = h.alive()
    rc = h.p.stop(10)
    assert was_alive, f"api had died at the end of the session (rc={h.proc.returncode}); output:\n{h.tail()}"
    assert rc == 0, f"api did not exit 0 within 10 s of SIGTERM (rc={rc}); output:\n{h.tail()}"


@pytest.fixture(autouse=True)
def _server_still_alive(request):
    """After each test using the server, make sure the test did not crash it
    (and bring it back for the next tests if it did)."""
    yield
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        if not srv.alive():
            rc = srv.proc.returncode
            tail = srv.tail()
            srv.crashes.append(request.node.nodeid)
            srv.restart()
            pytest.fail(
                f"the api process died during this test (rc={rc}); output:\n{tail}", pytrace=False
            )


@pytest.fixture
def api(server) -> Api:
    return Api(server.url)


@pytest.fixture(scope="session")
def session_api(server) -> Api:
    return Api(server.url)


@pytest.fixture
def make_user(api):
    """make_user(password=..., email=...) -> User (registered and logged in)."""
    return api.new_user


@pytest.fixture
def user(api):
    return api.new_user()


@pytest.fixture
def other_user(api):
    return api.new_user()


@pytest.fixture(scope="session")
def alice(session_api):
    return session_api.new_user()


@pytest.fixture(scope="session")
def bob(session_api):
    return session_api.new_user()


@pytest.fixture
def db(stack, test_db):
    """psycopg2 connection (autocommit) to the session's test database."""
    conn = stack.connect(test_db)
    yield conn
    conn.close()


@pytest.fixture
def redis(stack):
    r = redis_lib.Redis(
        host=stack.redis_host,
        port=stack.redis_port,
        db=stack.redis_db,
        socket_timeout=5,
        socket_connect_timeout=5,
    )
    yield r
    r.close()


@pytest.fixture
def api_factory(stack, test_db, tmp_path_factory):
    """start(dbname=None, wait=True, **env_overrides) -> ApiProcess.

    Extra api processes for a test (custom config); all stopped at test end.
    A value of None removes the variable from the environment."""
    started: list[ApiProcess] = []

    def start(dbname=None, wait=True, **overrides):
        overrides.setdefault("API_PORT", free_port())
        overrides.setdefault("SECRET_KEY", secrets.token_hex(20))
        env = stack.service_env(dbname or test_db, **overrides)
        p = ApiProcess(env, tmp_path_factory.mktemp("extra-api"))
        started.append(p)
        if wait:
            p.wait_healthy(15)
        return p

    yield start
    for p in started:
        p.stop(10)


@pytest.fixture
def service_env(stack, test_db):
    """service_env(dbname=None, **overrides) -> env dict for order-service."""

    def make(dbname=None, **overrides):
        return stack.service_env(dbname or test_db, **overrides)

    return make


@pytest.fixture
def devstack(stack):
    """devstack('stop', 'redis') runs scripts/devstack with the stack's env."""
    if not DEVSTACK.is_file():
        pytest.fail(f"{DEVSTACK} is missing", pytrace=False)

    def run(*args, timeout=90):
        r = subprocess.run(
            [str(DEVSTACK), *args],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert r.returncode == 0, (
            f"scripts/devstack {' '.join(args)} failed ({r.returncode}):\n"
            f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
        )
        return r

    return run


@pytest.fixture
def email():
    return unique_email()


__all__ = ["TIMEOUT", "run_service", "ApiProcess", "Stack"]
