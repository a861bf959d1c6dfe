"""`order-service migrate` (SPEC §1, DESIGN "Data")."""

import subprocess

import requests

from conftest import BIN
from helpers import TIMEOUT, describe, item, unique_email

TABLES = {"users", "orders", "outbox_events"}


def tables(stack, dbname):
    conn = stack.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
            return {r[0] for r in cur.fetchall()}
    finally:
        conn.close()


def schema_fingerprint(stack, dbname):
    conn = stack.connect(dbname)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' ORDER BY 1, 2"
            )
            cols = cur.fetchall()
            cur.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")
            idx = cur.fetchall()
            return cols, idx
    finally:
        conn.close()


def migrate(env, tmp_path):
    return subprocess.Popen(
        [str(BIN), "migrate"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(p, timeout=120):
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def test_migrate_twice_is_noop(stack, service_env, tmp_path):
    db = stack.create_database("orders_mig")
    env = service_env(db)
    rc, out, err = finish(migrate(env, tmp_path))
    assert rc == 0, f"first migrate: rc={rc}\n{out}\n{err}"
    assert TABLES <= tables(stack, db)
    fp = schema_fingerprint(stack, db)
    rc, out, err = finish(migrate(env, tmp_path))
    assert rc == 0, f"second migrate: rc={rc}\n{out}\n{err}"
    assert schema_fingerprint(stack, db) == fp


def test_concurrent_migrate(stack, service_env, tmp_path):
    db = stack.create_database("orders_mig")
    env = service_env(db)
    procs = [migrate(env, tmp_path) for _ in range(3)]
    results = [finish(p) for p in procs]
    for rc, out, err in results:
        assert rc == 0, f"rc={rc}\nstdout:\n{out}\nstderr:\n{err}"
    assert TABLES <= tables(stack, db)
    # the same schema as a database migrated by a single process
    ref = stack.create_database("orders_mig")
    rc, out, err = finish(migrate(service_env(ref), tmp_path))
    assert rc == 0, err
    assert schema_fingerprint(stack, db) == schema_fingerprint(stack, ref)


def test_api_with_migrations_on_startup(stack, api_factory):
    """RUN_MIGRATIONS_ON_STARTUP=true makes a fresh database usable; two api
    processes starting at once both come up."""
    db = stack.create_database("orders_mig")
    a = api_factory(dbname=db, wait=False, RUN_MIGRATIONS_ON_STARTUP="true")
    b = api_factory(dbname=db, wait=False, RUN_MIGRATIONS_ON_STARTUP="true")
    a.wait_healthy(30)
    b.wait_healthy(30)
    assert TABLES <= tables(stack, db)
    email = unique_email()
    r = requests.post(a.url + "/register/", json={"email": email, "password": "password-123"}, timeout=TIMEOUT)
    assert r.status_code == 201, describe(r)
    r = requests.post(b.url + "/token/", data={"username": email, "password": "password-123"}, timeout=TIMEOUT)
    assert r.status_code == 200, describe(r)
    tok = r.json()["access_token"]
    # different processes, different SECRET_KEYs: b's token is only valid on b
    r = requests.post(
        b.url + "/orders/", json={"items": [item()]}, headers={"Authorization": f"Bearer {tok}"}, timeout=TIMEOUT
    )
    assert r.status_code == 201, describe(r)
