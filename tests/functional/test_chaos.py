"""Chaos (SPEC §5 guarantee): two of each role (relay, consumer, worker,
reconcile), 1000 orders, `kill -9` of a random role every 2 s (restarted at
once), and one outage of at least 60 s of each server (Redis, RabbitMQ,
PostgreSQL; Redis and RabbitMQ overlap) while the orders flow: no order lost,
none with a second effect (one effective task run, processed_at never
rewritten), nothing dead-lettered. Runs in under 5 minutes.

Orders are created with an Idempotency-Key each and retried while the api
refuses them (PostgreSQL down), so every order the test counts was committed
once.
"""

import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import Api, item
from pipeline_helpers import (  # noqa: F401 - fixtures
    Outage,
    pipeline,
    poll,
    roles,
)

pytestmark = [pytest.mark.outage, pytest.mark.long]

N = 1000
RATE = 6.5  # orders per second (so that they flow through every outage)
KINDS = ("relay", "consumer", "worker", "reconcile")
# seconds after the start of the order flow: (action, service)
SCHEDULE = [
    (10, "stop", "redis"),
    (35, "stop", "rabbitmq"),
    (75, "start", "redis"),
    (100, "start", "rabbitmq"),
    (108, "stop", "postgres"),
    (170, "start", "postgres"),
]
MIN_OUTAGE = 60


def test_chaos_1000_orders_kill9_and_outages(pipeline, roles):
    pl = pipeline
    env = {
        "PROCESS_ORDER_DELAY_SECONDS": "0.05",
        "RECONCILE_AFTER_SECONDS": "30",
        "RECONCILE_INTERVAL_SECONDS": "5",
    }
    slots = {(k, i): roles.start(k, **env) for k in KINDS for i in range(2)}
    pl.wait_consuming(2)
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 20, roles=roles)
    watch = pl.watch()
    run = uuid.uuid4().hex[:8]

    ids: list = [None] * N
    create_errors: list = []
    stop = threading.Event()
    t0 = time.monotonic()
    local = threading.local()

    def create(i):
        if not hasattr(local, "api"):
            local.api = Api(pl.api_proc.url)
        # paced: order i not before t0 + i / RATE
        wait = t0 + i / RATE - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        key = f"chaos-{run}-{i}"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not stop.is_set():
            try:
                r = local.api.create_order(pl.user.token, [item(1 + i % 20, 1 + i % 4, 4.25)],
                                           headers={"Idempotency-Key": key}, timeout=10)
            except Exception:  # noqa: BLE001 - api waiting on a stopped server
                time.sleep(0.5)
                continue
            if r.status_code == 201 or r.status_code == 200:
                ids[i] = r.json()["id"]
                watch.add([ids[i]])
                return
            if r.status_code >= 500:
                time.sleep(0.5)
                continue
            create_errors.append(f"order {i}: {r.status_code} {r.text[:200]}")
            return
        create_errors.append(f"order {i}: not accepted within 240 s")

    creator_pool = ThreadPoolExecutor(12)
    creating = [creator_pool.submit(create, i) for i in range(N)]

    outages = {}
    outage_log = []
    outage_errors = []

    def outage_schedule():
        try:
            down_at = {}
            for at, action, svc in SCHEDULE:
                due = t0 + at
                if action != "stop":  # a stop can take seconds: the outage lasts from its end
                    due = max(due, down_at[svc] + MIN_OUTAGE + 0.5)
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if action == "stop":
                    outages[svc] = Outage(svc).__enter__()
                    down_at[svc] = time.monotonic()
                    outage_log.append((svc, "down", down_at[svc] - t0))
                else:
                    outage_log.append((svc, "restart", time.monotonic() - t0))
                    outages[svc].restore()
                    outage_log.append((svc, "up", time.monotonic() - t0))
        except Exception as e:  # noqa: BLE001
            outage_errors.append(repr(e))

    kills = {k: 0 for k in KINDS}
    unexpected = []

    def killer():
        rnd = random.Random(run)
        while not stop.is_set():
            time.sleep(2.0)
            if stop.is_set():
                return
            for key, p in list(slots.items()):  # a role that died by itself is a failure
                if not p.alive() and not p.killed:
                    unexpected.append(f"{p.name} exited {p.proc.returncode}:\n{p.tail(1500)}")
                    p.killed = True
                    slots[key] = roles.start(key[0], **env)
            key = rnd.choice(sorted(slots))
            slots[key].kill()
            kills[key[0]] += 1
            slots[key] = roles.start(key[0], **env)

    sched = threading.Thread(target=outage_schedule, daemon=True)
    kill_thread = threading.Thread(target=killer, daemon=True)
    sched.start()
    kill_thread.start()
    try:
        sched.join(260)
        for f in creating:
            f.result(timeout=max(1, 270 - (time.monotonic() - t0)))
    finally:
        stop.set()
        kill_thread.join(30)
        sched.join(1)
        creator_pool.shutdown(wait=False, cancel_futures=True)
        for o in outages.values():
            o.__exit__(None, None, None)
    t_flow = time.monotonic() - t0
    assert not outage_errors, outage_errors
    assert not create_errors, create_errors[:5]
    assert all(ids), f"{sum(1 for i in ids if not i)} orders not created"
    assert len(set(ids)) == N

    downtime = {}
    for svc in ("redis", "rabbitmq", "postgres"):
        down = [t for s, e, t in outage_log if s == svc and e == "down"]
        restart = [t for s, e, t in outage_log if s == svc and e == "restart"]
        assert down and restart, outage_log
        downtime[svc] = restart[0] - down[0]
    assert all(v >= MIN_OUTAGE for v in downtime.values()), downtime

    # everything is up again: every order processed, once
    t_up = time.monotonic()
    pl.wait_processed(ids, 60, desc=f"all {N} orders processed after the chaos")
    drained = time.monotonic() - t_up
    pl.wait_idle(60)
    pl.assert_no_dead_letters()
    runs = pl.assert_exactly_once(ids, watch=watch)
    assert not unexpected, f"{len(unexpected)} role(s) exited by themselves:\n" + "\n".join(unexpected[:3])
    for p in slots.values():
        assert p.alive(), f"{p.name} died:\n{p.tail()}"
    total = time.monotonic() - t0
    assert total < 300, f"the chaos test took {total:.0f}s (limit 5 minutes)"
    redundant = sum(1 for v in runs.values() if v[0] > 1)
    print(f"chaos: {N} orders, kills {kills}, outages {downtime} s, flow {t_flow:.0f}s, "
          f"drained {drained:.1f}s after, total {total:.0f}s, {redundant} redundant runs")
