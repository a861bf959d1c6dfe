"""Migrations applied while the service runs (docs/architecture.md, "Schema changes"): an
index built CONCURRENTLY outside a transaction, rebuilt when an earlier build was
interrupted; a lock_timeout on every migration, tried again when it expires."""

import subprocess
import time

import psycopg2
import pytest

from conftest import BIN

INDEX = "outbox_events_unpublished_created_idx"
MIGRATION = "0008_outbox_unpublished_age_index.sql"


def migrate(env, cwd, timeout=120):
    return subprocess.run([str(BIN), "migrate"], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def index_state(conn):
    with conn.cursor() as cur:
        cur.execute(
            "SELECT i.indisvalid, i.indisunique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE c.relname = %s",
            (INDEX,),
        )
        return cur.fetchone()


def applied(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT version FROM schema_migrations ORDER BY 1")
        return [r[0] for r in cur.fetchall()]


@pytest.fixture
def before_0008(stack, service_env, tmp_path):
    """A database as the previous generation left it once 0008 was interrupted: all
    migrations applied but 0008, whose index is absent."""
    db = stack.create_database("orders_online")
    env = service_env(db)
    r = migrate(env, tmp_path)
    assert r.returncode == 0, r.stderr
    conn = stack.connect(db)
    assert MIGRATION in applied(conn)
    assert index_state(conn) == (True, False)
    with conn.cursor() as cur:
        cur.execute(f"DROP INDEX {INDEX}")
        cur.execute("DELETE FROM schema_migrations WHERE version = %s", (MIGRATION,))
    yield db, env, conn
    conn.close()


def test_an_interrupted_concurrent_build_is_built_again(before_0008, tmp_path):
    db, env, conn = before_0008
    # An interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index under the name: here
    # a unique build that fails on duplicates.
    with conn.cursor() as cur:
        for _ in range(2):
            cur.execute(
                "INSERT INTO outbox_events (id, event_type, aggregate_id, payload, created_at)"
                " VALUES (gen_random_uuid(), 'order.created', gen_random_uuid(), '{}', '2026-01-01')"
            )
        with pytest.raises(psycopg2.errors.UniqueViolation):
            cur.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {INDEX} ON outbox_events (created_at) WHERE published_at IS NULL")
    assert index_state(conn) == (False, True), "the failed build should have left an invalid index"

    r = migrate(env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert index_state(conn) == (True, False), "the index was not built again"
    assert MIGRATION in applied(conn)
    assert '"transaction":"none"' in r.stderr, r.stderr


def test_a_migration_waiting_for_a_lock_gives_up_and_tries_again(stack, before_0008, tmp_path):
    db, env, conn = before_0008
    holder = stack.connect(db, autocommit=False)
    try:
        with holder.cursor() as cur:
            # What CREATE INDEX CONCURRENTLY needs (as a VACUUM or another DDL would hold it).
            cur.execute("LOCK TABLE outbox_events IN SHARE UPDATE EXCLUSIVE MODE")
        log = tmp_path / "migrate.log"
        with open(log, "w") as out:
            p = subprocess.Popen([str(BIN), "migrate"], env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 30
            while "trying again" not in log.read_text() and time.monotonic() < deadline:
                assert p.poll() is None, log.read_text()
                time.sleep(0.2)
            text = log.read_text()
            assert "migration gave up waiting for a lock; trying again" in text, text
            assert "lock timeout" in text, text  # the server's own words for lock_not_available
            assert index_state(conn) is None
            holder.commit()  # the lock goes away: the next attempt gets it
            assert p.wait(timeout=60) == 0, log.read_text()
    finally:
        holder.close()
    assert index_state(conn) == (True, False)
    assert MIGRATION in applied(conn)
