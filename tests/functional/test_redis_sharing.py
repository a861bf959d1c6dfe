"""The api's Redis calls (cache reads and writes, rate limits, readiness) share one
connection per io thread: concurrent requests of a thread go out in one write and their
replies come back in order (redis::RedisMultiplexer), rather than each request taking a
pooled connection of its own."""

from __future__ import annotations

import subprocess
import threading
import time

from helpers import Api


def redis_connections(pid: int, redis_port: int) -> int:
    out = subprocess.run(["ss", "-Htnp", "state", "established", f"dport = :{redis_port}"],
                         capture_output=True, text=True, check=True).stdout
    return sum(1 for line in out.splitlines() if f"pid={pid}," in line)


def test_concurrent_requests_share_one_redis_connection_per_io_thread(api_factory, stack):
    threads = 2
    # REDIS_TIMEOUT_MS: 32 readers on a loaded CI machine can see a Redis reply slower
    # than the default 100 ms, which opens the breaker (MISSes); this test is about sharing.
    proc = api_factory(API_THREADS=str(threads), RATE_LIMIT_ENABLED="true",
                       RATE_LIMIT_CAPACITY="1000000", RATE_LIMIT_REFILL_RATE="1000000",
                       REDIS_TIMEOUT_MS="2000")
    client = Api(proc.url)
    user = client.new_user()
    created = client.create_order(user.token, [{"product_id": 1, "quantity": 1, "price": 2.5}])
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]

    stop = threading.Event()
    statuses: list[int] = []
    caches: list[str] = []

    def read():
        local = Api(proc.url)
        while not stop.is_set():
            r = local.get_order(user.token, order_id)
            statuses.append(r.status_code)
            caches.append(r.headers.get("X-Cache", ""))

    readers = [threading.Thread(target=read) for _ in range(32)]
    for t in readers:
        t.start()
    peak = 0
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            peak = max(peak, redis_connections(proc.proc.pid, stack.redis_port))
            time.sleep(0.05)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert statuses and set(statuses) == {200}, set(statuses)
    assert caches.count("HIT") > len(caches) * 0.9, "reads should come from Redis"
    assert 1 <= peak <= threads, f"{peak} Redis connections for {threads} io threads"
