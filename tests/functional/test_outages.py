"""Dependency outages (SPEC §2 /ready, §4 cache best effort).

These tests stop and start the stack's Redis and PostgreSQL; conftest runs
this file last. Every outage is undone in a `finally`.
"""

import os
import signal
import time

import pytest

from helpers import assert_detail, describe, item, unique_email, wait_until


@pytest.fixture(autouse=True)
def _settled(api, alice):
    """Start each outage test from a working api: earlier tests (here or in
    other files) restart servers, and the first requests after a PostgreSQL
    restart may fail (test_postgres_restarted_while_idle checks that)."""
    ok = 0
    deadline = time.monotonic() + 15
    while ok < 4 and time.monotonic() < deadline:
        ok = ok + 1 if api.list_orders(alice.token, alice.id, params={"limit": 1}).status_code == 200 else 0
        time.sleep(0.05)


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return r, time.perf_counter() - t


def redis_log_lines(text):
    return [l for l in text.splitlines() if "redis" in l.lower()]


def assert_cache_resumes(api, user, order_id, timeout=20):
    def hit():
        api.get_order(user.token, order_id)
        r = api.get_order(user.token, order_id)
        return r.status_code == 200 and r.headers.get("X-Cache") == "HIT"

    wait_until(hit, timeout, interval=0.5, desc="cache hits after Redis came back")


def check_fast_requests(api, user, order_id, n=20, limit=0.1, max_slow=1, hard=1.0):
    times = []
    for _ in range(n):
        r, dt = timed(lambda: api.get_order(user.token, order_id))
        assert r.status_code == 200, describe(r)
        times.append(dt)
    slow = [round(t * 1000) for t in times if t > limit]
    assert len(slow) <= max_slow and max(times) < hard, (
        f"requests with Redis unavailable were slow (ms): {[round(t * 1000) for t in times]}"
    )


def test_redis_stopped(api, server, alice, redis, devstack):
    o = api.create_order_ok(alice.token)
    # an earlier test may have left the breaker open: start from a working cache
    assert_cache_resumes(api, alice, o["id"])
    log_mark = len(server.log_text())
    devstack("stop", "redis")
    try:
        r, dt = timed(lambda: api.create_order(alice.token, [item(4, 4, 4.44)]))
        assert r.status_code == 201, describe(r)
        assert dt < 2.0, f"first request after Redis died took {dt:.2f}s"
        created = r.json()
        assert created["total_price"] == 17.76
        r, dt = timed(lambda: api.get_order(alice.token, o["id"]))
        assert r.status_code == 200, describe(r)
        assert r.json() == o
        check_fast_requests(api, alice, o["id"])
        # creates, reads (DB fallback), updates and lists keep working, fast
        for _ in range(5):
            r, dt = timed(lambda: api.create_order(alice.token, [item()]))
            assert r.status_code == 201, describe(r)
            assert dt < 0.5, dt
        g = api.get_order(alice.token, created["id"])
        assert g.status_code == 200 and g.json() == created, describe(g)
        p = api.patch_order(alice.token, created["id"], "PAID")
        assert p.status_code == 200, describe(p)
        assert api.get_order(alice.token, created["id"]).json()["status"] == "PAID"
        assert api.list_orders(alice.token, alice.id, params={"limit": 5}).status_code == 200
        # registration and login do not need Redis
        email = unique_email()
        assert api.register(email, "password-123").status_code == 201
        assert api.token_response(email, "password-123").status_code == 200
        r = api.get("/ready")
        assert r.status_code == 200, f"Redis down is 'degraded', still 200: {describe(r)}"
        assert api.get("/health").status_code == 200
        # logged once per state change, not once per request (~35 requests above)
        lines = redis_log_lines(server.log_text()[log_mark:])
        assert len(lines) <= 6, "\n".join(lines[:20])
    finally:
        devstack("start", "redis")
    # the cache comes back by itself, and holds the state written while it was down
    assert_cache_resumes(api, alice, created["id"])
    assert api.get_order(alice.token, created["id"]).json()["status"] == "PAID"


def test_redis_killed(api, server, alice, devstack):
    o = api.create_order_ok(alice.token)
    assert_cache_resumes(api, alice, o["id"])
    devstack("kill", "redis")
    try:
        r = api.create_order(alice.token, [item()])
        assert r.status_code == 201, describe(r)
        check_fast_requests(api, alice, o["id"])
    finally:
        devstack("start", "redis")
    assert_cache_resumes(api, alice, o["id"])


def test_no_stale_cache_after_redis_outage(api, server, alice, redis, devstack):
    """An order cached before an outage and updated during it must not be
    served stale once Redis is back (the devstack Redis persists its data
    with AOF, as a production Redis would)."""
    o = api.create_order_ok(alice.token)

    def cached():
        r = api.get_order(alice.token, o["id"])
        return r.headers.get("X-Cache") == "HIT" and redis.exists(f"orders:{o['id']}")

    wait_until(cached, 20, interval=0.5, desc="the order to be cached before the outage")
    time.sleep(1.2)  # let the AOF reach the disk (appendfsync everysec)
    devstack("stop", "redis")
    try:
        r = api.patch_order(alice.token, o["id"], "PAID")
        assert r.status_code == 200, describe(r)
    finally:
        devstack("start", "redis")
    deadline = time.monotonic() + 20
    statuses = []
    while time.monotonic() < deadline:
        g = api.get_order(alice.token, o["id"])
        assert g.status_code == 200, describe(g)
        statuses.append((g.headers.get("X-Cache"), g.json()["status"]))
        if g.headers.get("X-Cache") == "HIT":
            break
        time.sleep(0.5)
    stale = [s for s in statuses if s[1] != "PAID"]
    assert not stale, f"GET served a stale status after the outage: {statuses}"


def _pid_listening_on(port):
    """pid of the process with a LISTEN socket on 127.0.0.1/0.0.0.0:port."""
    inodes = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(f).read().splitlines()[1:]
        except OSError:
            continue
        for l in lines:
            parts = l.split()
            if parts[3] == "0A" and int(parts[1].split(":")[1], 16) == port:
                inodes.add(parts[9])
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    return None


def test_redis_frozen(api, server, stack, alice):
    """A Redis that accepts connections but never answers (SIGSTOP) must not
    slow requests down: a timeout, then the circuit breaker skips Redis."""
    pid = _pid_listening_on(stack.redis_port)
    if pid is None:
        pytest.fail(f"cannot find the Redis process listening on port {stack.redis_port}")
    o = api.create_order_ok(alice.token)
    assert_cache_resumes(api, alice, o["id"])
    os.kill(pid, signal.SIGSTOP)
    try:
        r, dt = timed(lambda: api.get_order(alice.token, o["id"]))
        assert r.status_code == 200, describe(r)
        assert dt < 3.0, f"first request with a frozen Redis took {dt:.2f}s"
        r, dt = timed(lambda: api.create_order(alice.token, [item()]))
        assert r.status_code == 201, describe(r)
        assert dt < 3.0, f"create with a frozen Redis took {dt:.2f}s"
        check_fast_requests(api, alice, o["id"], max_slow=2, hard=3.0)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert_cache_resumes(api, alice, o["id"])


def test_postgres_stopped(api, server, alice, redis, devstack):
    o = api.create_order_ok(alice.token)
    redis.delete(f"orders:{o['id']}")
    devstack("stop", "postgres")
    try:
        checks = [
            ("GET order", lambda: api.get_order(alice.token, o["id"])),
            ("POST order", lambda: api.create_order(alice.token, [item()])),
            ("PATCH order", lambda: api.patch_order(alice.token, o["id"], "PAID")),
            ("list", lambda: api.list_orders(alice.token, alice.id)),
            ("register", lambda: api.register(unique_email(), "password-123")),
            ("token", lambda: api.token_response(alice.email, alice.password)),
        ]
        for name, fn in checks:
            r, dt = timed(fn)
            assert_detail(r, 503)
            assert dt < 3.0, f"{name} took {dt:.2f}s with PostgreSQL down"
        r, dt = timed(lambda: api.get("/health"))
        assert r.status_code == 200 and r.json() == {"status": "ok"}, describe(r)
        assert dt < 1.0
        r, dt = timed(lambda: api.get("/ready"))
        assert r.status_code == 503, describe(r)
        assert dt < 3.0
    finally:
        devstack("start", "postgres")

    def recovered():
        g = api.get_order(alice.token, o["id"])
        return g.status_code == 200 and g.json()["status"] == "PENDING"

    wait_until(recovered, 15, interval=0.5, desc="GET after PostgreSQL restart")
    # once back, it stays back: no request fails on a connection that died with
    # the old server (the pool must not hand out dead connections one by one)
    failures = []
    for i in range(40):
        for name, fn in (
            ("GET order", lambda: api.get_order(alice.token, o["id"])),
            ("POST order", lambda: api.create_order(alice.token, [item()])),
            ("list", lambda: api.list_orders(alice.token, alice.id, params={"limit": 1})),
        ):
            r = fn()
            if r.status_code >= 500:
                failures.append(f"#{i} {name}: {r.status_code} {r.text[:100]}")
    assert not failures, f"{len(failures)} failed requests after recovery: {failures[:10]}"
    wait_until(lambda: api.get("/ready").status_code == 200, 15, desc="/ready 200 after restart")


def test_postgres_restarted_while_idle(api, server, alice, devstack):
    """PostgreSQL restarts while the api is idle (e.g. a maintenance restart).
    Once it answers again, requests succeed: a pooled connection that died with
    the old server is not handed to a request."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    o = api.create_order_ok(alice.token)

    def warm(_):
        return requests.get(
            f"{server.url}/orders/user/{alice.id}/", params={"limit": 1}, headers=alice.headers, timeout=10
        ).status_code

    with ThreadPoolExecutor(16) as ex:  # open pooled connections on every io thread
        assert set(ex.map(warm, range(64))) == {200}
    devstack("restart", "postgres")  # returns once PostgreSQL answers again
    time.sleep(0.5)
    results = []
    for _ in range(10):
        results.append(("GET", api.get_order(alice.token, o["id"]).status_code))
        results.append(("POST", api.create_order(alice.token, [item()]).status_code))
    bad = [r for r in results if r[1] >= 500]
    assert not bad, f"requests failed after PostgreSQL was back: {results}"
