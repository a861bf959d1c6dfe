"""GET /orders/{id}/ and the Redis cache (SPEC §2, §4)."""

import uuid

import pytest

from conftest import ORDERS_TTL_SECONDS
from helpers import assert_422, assert_detail, assert_order_shape, describe, item


def test_get_own_order(api, alice):
    o = api.create_order_ok(alice.token, [item(5, 3, 2.5)])
    r = api.get_order(alice.token, o["id"])
    assert r.status_code == 200, describe(r)
    assert_order_shape(r.json())
    assert r.json() == o


def test_create_fills_cache_with_ttl(api, alice, redis):
    o = api.create_order_ok(alice.token)
    key = f"orders:{o['id']}"
    val = redis.get(key)
    assert val is not None, f"{key} not in Redis after create"
    assert o["id"].encode() in val
    ttl = redis.ttl(key)
    assert 0 < ttl <= ORDERS_TTL_SECONDS, ttl


def test_cache_miss_then_hit(api, alice, redis):
    o = api.create_order_ok(alice.token)
    key = f"orders:{o['id']}"
    redis.delete(key)
    r1 = api.get_order(alice.token, o["id"])
    assert r1.status_code == 200, describe(r1)
    assert r1.headers.get("X-Cache") == "MISS", describe(r1)
    assert redis.exists(key), "a miss must fill the cache"
    ttl = redis.ttl(key)
    assert 0 < ttl <= ORDERS_TTL_SECONDS, ttl
    r2 = api.get_order(alice.token, o["id"])
    assert r2.status_code == 200, describe(r2)
    assert r2.headers.get("X-Cache") == "HIT", describe(r2)
    assert r1.json() == r2.json() == o


def test_other_users_order_is_403_from_cache(api, alice, bob, redis):
    o = api.create_order_ok(alice.token)
    assert api.get_order(alice.token, o["id"]).status_code == 200
    assert redis.exists(f"orders:{o['id']}")
    r = api.get_order(bob.token, o["id"])
    assert_detail(r, 403)
    assert "items" not in r.json()


def test_other_users_order_is_403_from_db(api, alice, bob, redis):
    o = api.create_order_ok(alice.token)
    redis.delete(f"orders:{o['id']}")
    r = api.get_order(bob.token, o["id"])
    assert_detail(r, 403)
    assert "items" not in r.json()
    # and again now that the DB read may have filled the cache
    r = api.get_order(bob.token, o["id"])
    assert_detail(r, 403)


def test_unknown_order_is_404(api, alice):
    r = api.get_order(alice.token, str(uuid.uuid4()))
    assert_detail(r, 404)


def test_corrupt_cache_entry_falls_back_to_db(api, alice, redis):
    o = api.create_order_ok(alice.token)
    redis.set(f"orders:{o['id']}", b"\x00not json{", ex=60)
    r = api.get_order(alice.token, o["id"])
    assert r.status_code == 200, describe(r)
    assert r.json() == o


@pytest.mark.parametrize(
    "bad_id",
    [
        "abc",
        "123",
        "00000000-0000-0000-0000-00000000000g",
        "00000000-0000-0000-0000-0000000000000",
        "00000000-0000-0000-0000",
        "%27%20OR%201%3D1--",
    ],
)
def test_malformed_id_is_422(api, alice, bad_id):
    r = api.get(f"/orders/{bad_id}/", headers=alice.headers)
    assert_422(r, loc=["path", "order_id"])


def test_cache_fills_after_redis_lost_its_scripts(api, alice, redis):
    """Cache writes call their Lua script by its SHA1 (EVALSHA). A Redis that lost its
    scripts (restarted, failed over, SCRIPT FLUSH) answers NOSCRIPT; the write is sent
    again with the script's body, so the cache keeps filling."""
    o = api.create_order_ok(alice.token)
    key = f"orders:{o['id']}"
    redis.delete(key)
    redis.script_flush()
    r1 = api.get_order(alice.token, o["id"])
    assert r1.status_code == 200, describe(r1)
    assert r1.headers.get("X-Cache") == "MISS", describe(r1)
    assert redis.exists(key), "a miss must fill the cache, scripts flushed or not"
    r2 = api.get_order(alice.token, o["id"])
    assert r2.headers.get("X-Cache") == "HIT", describe(r2)
    assert r2.json() == o
