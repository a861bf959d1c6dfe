"""Transport security and least privilege against real servers with TLS on (issue 29).

The test runs a stack of its own (`scripts/devstack` with DEVSTACK_TLS_DIR, `use_stack
tls`: ports 29xxx unless TEST_TLS_* say otherwise), so it never disturbs the shared one:
  - its own CA and certificates, made here with openssl (plus a second, wrong CA);
  - PostgreSQL with ssl=on and pg_hba `hostssl` only (plaintext TCP rejected);
  - both Redis servers on tls-port only, asking for client certificates;
  - RabbitMQ with an ssl listener only, asking for client certificates.
On it, with the grants of deploy/ (PostgreSQL: deploy/postgres/grants.sql, `migrate` as the
owner, everything else as the DML role; Redis: an ACL user limited to the service's keys;
RabbitMQ: deploy/rabbitmq/setup-user.sh, a user limited to its vhost, guest deleted) and
every secret from a file, `order-service all` takes an order end to end (register, login,
order, processed); a wrong CA is refused by each dependency, /ready shows it, and the log
says why.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from pathlib import Path

import psycopg2
import pytest
import requests

from conftest import BIN, REPO
from helpers import Api, free_port, item

OWNER, APP = "orders_owner", "orders_app"
REDIS_USER = "orders"
VHOST, RMQ_USER = "orders", "orders"


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 180)
    r = subprocess.run(cmd, **kw)
    assert r.returncode == 0, f"{cmd} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r


def make_certs(d: Path):
    """A CA, a server certificate for localhost and 127.0.0.1, a client certificate, and
    a second CA that signed none of them."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def ca(path: Path, cn):
        path.mkdir(exist_ok=True)
        run(["openssl", "req", "-x509", *ec, "-keyout", path / "ca.key", "-out", path / "ca.pem",
             "-days", "2", "-subj", f"/CN={cn}"])

    ca(d, "order-service test CA")
    ca(d / "wrong", "some other CA")
    for name, cn, ext in (
        ("server", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", "order-service", "extendedKeyUsage=clientAuth\n"),
    ):
        (d / f"{name}.ext").write_text(ext)
        run(["openssl", "req", *ec, "-keyout", d / f"{name}.key", "-out", d / f"{name}.csr",
             "-subj", f"/CN={cn}"])
        run(["openssl", "x509", "-req", "-in", d / f"{name}.csr", "-CA", d / "ca.pem", "-CAkey",
             d / "ca.key", "-CAcreateserial", "-out", d / f"{name}.pem", "-days", "2",
             "-extfile", d / f"{name}.ext"])
    for f in d.glob("*.key"):
        f.chmod(0o600)


class TlsStack:
    def __init__(self, tls_dir: Path):
        self.tls_dir = tls_dir
        self.ca = str(tls_dir / "ca.pem")
        self.wrong_ca = str(tls_dir / "wrong" / "ca.pem")

    def devstack(self, *args, check=True, input=None):
        script = f'source "{REPO}/scripts/lib.sh" && use_stack tls && exec "{REPO}/scripts/devstack" "$@"'
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEVSTACK_")}
        env["DEVSTACK_TLS_DIR"] = str(self.tls_dir)
        r = subprocess.run(["bash", "-c", script, "devstack", *args], env=env, input=input,
                           capture_output=True, text=True, timeout=240)
        if check:
            assert r.returncode == 0, f"devstack {args}: {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def up(self):
        t0 = time.monotonic()
        self.devstack("up")
        self.startup_seconds = time.monotonic() - t0
        self.env = {}
        for line in self.devstack("env").stdout.splitlines():
            k, _, v = shlex.split(line)[1].partition("=")
            self.env[k] = v
        self.pg_port = int(self.env["POSTGRES_PORT"])
        self.sock = f"{self.env['DEVSTACK_DIR']}/postgres/sock"

    def superuser_sql(self, sql=None, file=None, variables=()):
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.sock, "-p", str(self.pg_port),
               "-U", "postgres", "-d", "orders"]
        for k, v in variables:
            cmd += ["-v", f"{k}={v}"]
        cmd += ["-c", sql] if sql else ["-f", str(file)]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return run(cmd, cwd="/")

    def connect(self, user, password, ca=None, sslmode="verify-full"):
        return psycopg2.connect(host="127.0.0.1", port=self.pg_port, user=user, password=password,
                                dbname="orders", sslmode=sslmode, sslrootcert=ca or self.ca,
                                connect_timeout=5)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    make_certs(d)
    s = TlsStack(d)
    s.devstack("destroy", check=False)  # leftovers of an interrupted run
    try:
        s.up()
        yield s
    finally:
        s.devstack("destroy", check=False)


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("secrets")
    values = {
        "secret_key": os.urandom(24).hex(),
        "owner_password": "owner-" + os.urandom(8).hex(),
        "app_password": "app-" + os.urandom(8).hex(),
        "redis_password": "redis-" + os.urandom(8).hex(),
        "rabbitmq_password": "rabbit-" + os.urandom(8).hex(),
    }
    for name, value in values.items():
        (d / name).write_text(value + "\n")
        (d / name).chmod(0o600)
    return d, values


@pytest.fixture(scope="module")
def granted(tls, secrets_dir):
    """The least-privilege set-up of deploy/ on the TLS stack."""
    d, v = secrets_dir
    tls.superuser_sql(file=REPO / "deploy/postgres/grants.sql",
                      variables=(("db", "orders"), ("owner", OWNER), ("app", APP)))
    tls.superuser_sql(f"ALTER ROLE {OWNER} PASSWORD '{v['owner_password']}'; "
                      f"ALTER ROLE {APP} PASSWORD '{v['app_password']}'")
    acl = ["ACL", "SETUSER", REDIS_USER, "reset", "on", f">{v['redis_password']}", "resetchannels",
           "~orders:*", "~ratelimit:*", "~tasks:*", "-@all", "+@read", "+@write", "+@stream",
           "+@hash", "+@string", "+@sortedset", "+@scripting", "+@connection", "+@transaction",
           "-@dangerous", "-@admin", "+wait"]
    for cli in ("redis-cli", "cache-cli"):
        assert tls.devstack(cli, *acl).stdout.strip() == "OK"
    script = f'source "{REPO}/scripts/lib.sh" && use_stack tls && exec "{REPO}/deploy/rabbitmq/setup-user.sh" "$@"'
    env = {k: v2 for k, v2 in os.environ.items() if not k.startswith("DEVSTACK_")}
    env.update(DEVSTACK_TLS_DIR=str(tls.tls_dir), RABBITMQ_PASSWORD_FILE=str(d / "rabbitmq_password"),
               RABBITMQCTL=f"{REPO}/scripts/devstack rabbitmqctl")
    run(["bash", "-c", script, "setup-user", VHOST, RMQ_USER], env=env)
    return d, v


def service_env(tls, d, pg_user=APP, **overrides):
    """Every dependency over TLS, every secret from a file; nothing from the caller's
    environment (the shared stack's variables must not leak in)."""
    e = tls.env
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update({
        "SECRET_KEY_FILE": str(d / "secret_key"),
        "DATABASE_URL": f"postgresql://127.0.0.1:{tls.pg_port}/orders?sslmode=verify-full"
                        f"&sslrootcert={tls.ca}",
        "POSTGRES_USER": pg_user,
        "POSTGRES_PASSWORD_FILE": str(d / ("owner_password" if pg_user == OWNER else "app_password")),
        "REDIS_URL": e["REDIS_URL"].replace("rediss://", f"rediss://{REDIS_USER}@"),
        "CELERY_BROKER_URL": e["CELERY_BROKER_URL"].replace("rediss://", f"rediss://{REDIS_USER}@"),
        "REDIS_PASSWORD_FILE": str(d / "redis_password"),
        "REDIS_TLS_CA_FILE": tls.ca,
        "REDIS_TLS_CERT_FILE": e["REDIS_TLS_CERT_FILE"],
        "REDIS_TLS_KEY_FILE": e["REDIS_TLS_KEY_FILE"],
        "RABBITMQ_TLS": "true",
        "RABBITMQ_HOSTS": f"localhost:{e['RABBITMQ_PORT']}",
        "RABBITMQ_TLS_CA_FILE": tls.ca,
        "RABBITMQ_TLS_CERT_FILE": e["RABBITMQ_TLS_CERT_FILE"],
        "RABBITMQ_TLS_KEY_FILE": e["RABBITMQ_TLS_KEY_FILE"],
        "RABBITMQ_USER": RMQ_USER,
        "RABBITMQ_PASSWORD_FILE": str(d / "rabbitmq_password"),
        "RABBITMQ_VHOST": VHOST,
        "RABBITMQ_TIMEOUT_SECONDS": "2",
        "API_HOST": "127.0.0.1",
        "API_THREADS": "2",
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_CAPACITY": "1000",
        "PROCESS_ORDER_DELAY_SECONDS": "0.1",
        "OUTBOX_POLL_SECONDS": "0.5",
        "TASK_VISIBILITY_TIMEOUT_SECONDS": "3",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
    })
    env.update({k: str(v) for k, v in overrides.items()})
    return env


class Service:
    def __init__(self, args, env, workdir: Path, name):
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(BIN), *args], env=env, cwd=workdir, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.url = f"http://127.0.0.1:{env.get('API_PORT')}"

    def log(self):
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait(self, fn, timeout, what):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"exited {self.proc.returncode} waiting for {what}:\n{self.log()[-4000:]}"
            try:
                last = fn()
                if last:
                    return last
            except (requests.RequestException, KeyError, ValueError) as e:
                last = repr(e)
            time.sleep(0.2)
        raise AssertionError(f"{what} not within {timeout}s (last: {last}):\n{self.log()[-4000:]}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode


@pytest.fixture(scope="module")
def migrated(tls, granted, tmp_path_factory):
    d, _ = granted
    # The owner migrates; libpq's own PGSSLMODE/PGSSLROOTCERT next to POSTGRES_* this time.
    env = service_env(tls, d, pg_user=OWNER, DATABASE_URL="", POSTGRES_HOST="127.0.0.1",
                      POSTGRES_PORT=tls.pg_port, POSTGRES_DB="orders", PGSSLMODE="verify-full",
                      PGSSLROOTCERT=tls.ca)
    r = subprocess.run([str(BIN), "migrate"], env=env, cwd=tmp_path_factory.mktemp("migrate"),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return d


@pytest.fixture(scope="module")
def pipeline(tls, migrated, tmp_path_factory):
    env = service_env(tls, migrated, API_PORT=free_port(), METRICS_ON_API_PORT="false",
                      METRICS_PORT=free_port())
    s = Service(["all"], env, tmp_path_factory.mktemp("all"), "all")
    s.metrics_url = f"http://127.0.0.1:{env['METRICS_PORT']}/metrics"
    try:
        s.wait(lambda: requests.get(s.url + "/ready", timeout=2).status_code == 200
               and requests.get(s.url + "/ready", timeout=2).json()["status"] == "ready",
               60, "/ready: ready over TLS")
        yield s
    finally:
        rc = s.stop()
        assert rc == 0, f"order-service all exited {rc}:\n{s.log()[-3000:]}"


def test_whole_pipeline_over_tls_under_the_dml_role(tls, granted, pipeline):
    api = Api(pipeline.url)
    user = api.new_user()
    order = api.create_order_ok(user.token, [item(quantity=2, price=3.5)])
    done = pipeline.wait(
        lambda: (o := api.get_order(user.token, order["id"]).json())["processed_at"] and o,
        30, "the order processed")
    assert done["id"] == order["id"]
    # Every PostgreSQL session of the service (as the DML role) is encrypted.
    with tls.connect(APP, granted[1]["app_password"]) as c:
        with c.cursor() as cur:
            cur.execute("SELECT count(*), bool_and(s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s "
                        "USING (pid) WHERE a.usename = %s AND a.application_name = 'order-service'",
                        (APP,))
            sessions, all_ssl = cur.fetchone()
    assert sessions > 0 and all_ssl, (sessions, all_ssl)
    # RabbitMQ: the service's connections are the limited user's, over TLS.
    conns = tls.devstack("rabbitmqctl", "list_connections", "user", "vhost", "ssl", "--silent").stdout
    rows = [line.split("\t") for line in conns.strip().splitlines()]
    assert rows and all(r == [RMQ_USER, VHOST, "true"] for r in rows), conns


def test_metrics_only_on_the_metrics_port(pipeline):
    assert requests.get(pipeline.url + "/metrics", timeout=5).status_code == 404
    r = requests.get(pipeline.metrics_url, timeout=5)
    assert r.status_code == 200 and "http_requests_total" in r.text or "# TYPE" in r.text, r.text[:300]


def test_dml_role_cannot_create_or_drop_tables(tls, granted, pipeline):
    _, v = granted
    c = tls.connect(APP, v["app_password"])
    c.autocommit = True
    try:
        with c.cursor() as cur:
            for sql in ("CREATE TABLE intruder (id int)", "DROP TABLE orders",
                        "ALTER TABLE orders ADD COLUMN x int", "TRUNCATE orders"):
                with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                    cur.execute(sql)
            cur.execute("SELECT count(*) FROM orders")  # and it can do its work
            assert cur.fetchone()[0] >= 1
    finally:
        c.close()


def test_plaintext_postgres_is_rejected(tls, granted):
    _, v = granted
    with pytest.raises(psycopg2.OperationalError, match="reject|no encryption|pg_hba"):
        tls.connect(APP, v["app_password"], sslmode="disable")


def test_redis_acl_user_is_limited_to_the_service_keys(tls, granted):
    _, v = granted
    auth = ["--user", REDIS_USER, "--pass", v["redis_password"], "--no-auth-warning"]
    assert tls.devstack("cache-cli", *auth, "SET", "orders:acl-probe", "1").stdout.strip() == "OK"
    for cmd in (["SET", "elsewhere", "1"], ["CONFIG", "GET", "maxmemory"], ["FLUSHALL"], ["KEYS", "*"]):
        out = tls.devstack("cache-cli", *auth, *cmd, check=False).stdout
        assert "NOPERM" in out, (cmd, out)


def test_wrong_ca_is_refused_by_every_dependency(tls, migrated, tmp_path_factory):
    """Each dependency's certificate checked against a CA that did not sign it: refused,
    /ready says which, the log says why; no fallback to plaintext."""
    wrong = tls.wrong_ca
    env = service_env(tls, migrated, API_PORT=free_port(),
                      DATABASE_URL=f"postgresql://127.0.0.1:{tls.pg_port}/orders?sslmode=verify-full"
                                   f"&sslrootcert={wrong}",
                      REDIS_TLS_CA_FILE=wrong, RABBITMQ_TLS_CA_FILE=wrong,
                      RABBITMQ_HOSTS=f"127.0.0.1:{tls.env['RABBITMQ_PORT']}")
    s = Service(["all"], env, tmp_path_factory.mktemp("wrong-ca"), "wrong-ca")
    try:
        body = s.wait(lambda: (r := requests.get(s.url + "/ready", timeout=3)).status_code == 503
                      and r.json(), 30, "/ready answering")
        time.sleep(3)  # a reconnect or two of every role
        for _ in range(3):  # not ok, and stays so
            r = requests.get(s.url + "/ready", timeout=5)
            assert r.status_code == 503, r.text
            assert all(r.json()["checks"][d] != "ok" for d in ("postgres", "redis", "rabbitmq")), r.text
            time.sleep(0.5)
        text = s.log()
        records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        def reasons(dependency):
            return [json.dumps(r) for r in records if dependency in json.dumps(r).lower()
                    and "certificate verify failed" in json.dumps(r)]
        assert reasons("redis"), text[-3000:]
        assert reasons("rabbitmq"), text[-3000:]
        assert reasons("postgres") or [l for l in text.splitlines() if "certificate verify failed" in l
                                       and ("SSL" in l or "postgres" in l.lower())], text[-3000:]
    finally:
        s.stop()
