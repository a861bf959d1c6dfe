"""The cache never goes back in time (SPEC §4, §5): the worker's cache write
of a processed order (processed_at set, status as it read it) races a
concurrent `PATCH /orders/{id}/` of the status. Whatever the interleaving,
afterwards every `GET /orders/{id}/` answered from the cache (`X-Cache: HIT`)
equals the database row.
"""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from helpers import Api, describe, item, parse_ts
from pipeline_helpers import (  # noqa: F401 - fixtures
    pipeline,
    poll,
    roles,
)

N = 200
DELAY = 0.05  # PROCESS_ORDER_DELAY_SECONDS: the worker writes ~60-150 ms after the POST


def cache_working(pl, order_id):
    """Start from a cache that answers (an earlier test may have restarted Redis
    moments ago, and the api skips it for a while after errors)."""
    poll(lambda: pl.api.get_order(pl.user.token, order_id).headers.get("X-Cache") == "HIT", 30,
         interval=0.5, desc="GET /orders/{id}/ served from the cache")


def test_patch_racing_process_order_leaves_no_stale_cache(pipeline, roles):
    pl = pipeline
    for _ in range(2):
        roles.start_pipeline(PROCESS_ORDER_DELAY_SECONDS=str(DELAY))
    pl.wait_consuming(2)
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 10, roles=roles)
    cache_working(pl, warm["id"])

    local = threading.local()
    rnd = random.Random(7)
    offsets = [rnd.uniform(0.0, 0.25) for _ in range(N)]

    def one(i):
        if not hasattr(local, "api"):
            local.api = Api(pl.api_proc.url)
        api = local.api
        r = api.create_order(pl.user.token, [item(1 + i % 9, 1, 2.5)])
        assert r.status_code == 201, describe(r)
        oid = r.json()["id"]
        # PATCH around the time the worker runs process_order
        time.sleep(offsets[i])
        p = api.patch_order(pl.user.token, oid, "PAID")
        assert p.status_code == 200, describe(p)
        if i % 3 == 0:  # and some a second status change, for more interleavings
            p = api.patch_order(pl.user.token, oid, "SHIPPED")
            assert p.status_code == 200, describe(p)
        return oid

    with ThreadPoolExecutor(12) as ex:
        ids = list(ex.map(one, range(N)))
    pl.wait_processed(ids, 60, roles=roles)
    pl.wait_idle(30)
    pl.assert_exactly_once(ids)

    stale, hits = cached_vs_db(pl, ids)
    assert not stale, (
        f"{len(stale)} of {hits} cached orders differ from the database (X-Cache: HIT), e.g. {stale[:5]}"
    )
    # the check above means something only if the cache was actually read
    assert hits >= N // 2, f"only {hits} of {N} GETs were cache hits"
    print(f"{hits} cache hits, all equal to the database")


def cached_vs_db(pl, ids):
    """(stale list, number of orders served from the cache) for GET /orders/{id}/ of
    every order, read twice: a cache write that failed under load (a Redis timeout)
    makes the process advance the cache generation, after which each order's first
    GET is a miss that fills the cache and its second a hit. Every hit is checked."""
    db = {
        oid: (status, processed)
        for oid, status, processed in pl.query(
            "SELECT id::text, status::text, extract(epoch FROM processed_at)::float8 FROM orders "
            "WHERE id = ANY(%s::uuid[])", (ids,))
    }
    stale, hits = [], 0
    for oid in ids:
        hit = False
        for _ in range(2):
            g = pl.api.get_order(pl.user.token, oid)
            assert g.status_code == 200, describe(g)
            if g.headers.get("X-Cache") != "HIT":
                continue
            hit = True
            body = g.json()
            status, processed = db[oid]
            shown = parse_ts(body["processed_at"]) if body["processed_at"] else None
            if body["status"] != status or shown is None or abs(shown - processed) > 0.002:
                stale.append({"order": oid, "cached": (body["status"], body["processed_at"]),
                              "db": (status, processed)})
        hits += hit
    return stale, hits


def test_patch_queued_behind_process_order_on_the_row_lock(pipeline, roles):
    """The same race, made certain to interleave: the test holds the order's row
    lock while process_order's update and then the PATCH's queue behind it; on
    release both commit back to back and both write the cache at once. The
    cached copy must be the newer one (the PATCH's status with processed_at)."""
    pl = pipeline
    delay = 1.0
    roles.start_pipeline(PROCESS_ORDER_DELAY_SECONDS=str(delay))
    pl.wait_consuming()
    warm = pl.create_order()
    pl.wait_processed([warm["id"]], 10, roles=roles)
    cache_working(pl, warm["id"])

    def one(i):
        api = Api(pl.api_proc.url)
        conn = pl.connect()
        conn.autocommit = False
        try:
            r = api.create_order(pl.user.token, [item(1 + i % 9, 1, 2.5)])
            assert r.status_code == 201, describe(r)
            oid = r.json()["id"]
            with conn.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                me = cur.fetchone()[0]
                cur.execute("SELECT processed_at FROM orders WHERE id = %s FOR UPDATE", (oid,))
                assert cur.fetchone()[0] is None, "processed before the test took the row lock"

            def blocked():
                return pl.query("SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                                (me,))[0][0]

            poll(lambda: blocked() >= 1, delay + 15, interval=0.02,
                 desc="process_order waiting for the row lock")
            result = {}
            t = threading.Thread(target=lambda: result.update(
                p=api.patch_order(pl.user.token, oid, "PAID", timeout=30)))
            t.start()
            time.sleep(0.5)  # the PATCH reaches the lock and queues behind process_order
            conn.commit()
            t.join(30)
            p = result.get("p")
            assert p is not None and p.status_code == 200, describe(p) if p is not None else "no response"
            return oid
        finally:
            conn.close()

    ids = []
    for batch in range(4):
        with ThreadPoolExecutor(10) as ex:
            ids += list(ex.map(one, range(batch * 10, batch * 10 + 10)))
    pl.wait_processed(ids, 30, roles=roles)
    pl.wait_idle(30)
    pl.assert_exactly_once(ids)
    time.sleep(0.5)
    stale, hits = cached_vs_db(pl, ids)
    assert not stale, (
        f"{len(stale)} of {hits} cached orders differ from the database (X-Cache: HIT), e.g. {stale[:5]}"
    )
    assert hits >= len(ids) // 2, f"only {hits} of {len(ids)} GETs were cache hits"
    statuses = {s for (s,) in pl.query("SELECT status::text FROM orders WHERE id = ANY(%s::uuid[])", (ids,))}
    assert statuses == {"PAID"}, statuses
