"""GET /orders/user/{user_id}/ — listing and keyset pagination (SPEC §2)."""

import math
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from helpers import assert_422, assert_detail, assert_order_shape, describe, item, parse_ts

N_MANY = 250


def assert_newest_first(orders, creation_order_ids):
    """orders are sorted newest first: created_at non-increasing, and items
    with distinct timestamps appear in reverse creation order."""
    ts = [parse_ts(o["created_at"]) for o in orders]
    assert all(a >= b for a, b in zip(ts, ts[1:])), "created_at is not non-increasing"
    rank = {oid: i for i, oid in enumerate(creation_order_ids)}
    for a, b in zip(orders, orders[1:]):
        if parse_ts(a["created_at"]) != parse_ts(b["created_at"]):
            assert rank[a["id"]] > rank[b["id"]], (a["id"], b["id"])


@pytest.fixture(scope="module")
def many(session_api):
    """A user with 250 orders, created one after another."""
    u = session_api.new_user()
    ids = []
    for i in range(N_MANY):
        o = session_api.create_order_ok(u.token, [item(i + 1, 1, 1.0)])
        ids.append(o["id"])
    u.extra["ids"] = ids
    return u


def test_list_own_orders_newest_first(api, make_user):
    u = make_user()
    created = []
    for i in range(5):
        created.append(api.create_order_ok(u.token, [item(i + 1, i + 1, 1.5)]))
        time.sleep(0.005)
    r = api.list_orders(u.token, u.id)
    assert r.status_code == 200, describe(r)
    body = r.json()
    assert isinstance(body, list)
    for o in body:
        assert_order_shape(o)
        assert o["user_id"] == u.id
    assert [o["id"] for o in body] == [o["id"] for o in reversed(created)]
    assert body == list(reversed(created))
    assert "next" not in r.links, describe(r)


def test_list_empty(api, make_user):
    u = make_user()
    r = api.list_orders(u.token, u.id)
    assert r.status_code == 200, describe(r)
    assert r.json() == []
    assert "next" not in r.links


def test_list_only_contains_own_orders(api, alice, bob):
    api.create_order_ok(bob.token)
    a = api.create_order_ok(alice.token)
    r = api.list_orders(alice.token, alice.id, params={"limit": 1000})
    assert r.status_code == 200
    assert all(o["user_id"] == alice.id for o in r.json())
    assert a["id"] in [o["id"] for o in r.json()]


def test_other_users_list_is_403(api, alice, bob):
    assert_detail(api.list_orders(alice.token, bob.id), 403)
    assert_detail(api.list_orders(alice.token, 987654321), 403)


@pytest.mark.parametrize("bad", ["abc", "1.5", "1e3", "%20"])
def test_non_integer_user_id_is_422(api, alice, bad):
    r = api.get(f"/orders/user/{bad}/", headers=alice.headers)
    assert_422(r, loc=["path", "user_id"])


def test_default_limit_and_link_pagination(api, many):
    pages = api.list_all_pages(many.token, many.id)
    assert [len(p) for p in pages] == [100, 100, 50]
    ids = [o["id"] for p in pages for o in p]
    assert len(ids) == len(set(ids)) == N_MANY
    assert set(ids) == set(many.extra["ids"])
    assert_newest_first([o for p in pages for o in p], many.extra["ids"])


@pytest.mark.parametrize("limit", [1, 7, 50, 125, 249, 250, 1000])
def test_limits(api, many, limit):
    pages = api.list_all_pages(many.token, many.id, params={"limit": limit})
    expected_pages = math.ceil(N_MANY / limit)
    assert len(pages) == expected_pages, [len(p) for p in pages]
    assert all(len(p) == limit for p in pages[:-1])
    ids = [o["id"] for p in pages for o in p]
    assert len(ids) == len(set(ids)) == N_MANY
    assert_newest_first([o for p in pages for o in p], many.extra["ids"])


def test_link_header_format(api, many):
    r = api.list_orders(many.token, many.id, params={"limit": 10})
    assert r.status_code == 200
    link = r.headers.get("Link", "")
    assert 'rel="next"' in link and link.strip().startswith("<"), link
    nxt = r.links["next"]["url"]
    q = parse_qs(urlsplit(nxt).query)
    assert "cursor" in q, nxt
    assert q.get("limit") == ["10"], nxt
    assert urlsplit(nxt).path.rstrip("/") == f"/orders/user/{many.id}"


@pytest.mark.parametrize("limit", ["0", "-1", "1001", "abc", "1.5", "99999999999999999999"])
def test_bad_limit_is_422(api, many, limit):
    r = api.list_orders(many.token, many.id, params={"limit": limit})
    assert_422(r, loc=["query", "limit"])


@pytest.mark.parametrize("cursor", ["garbage", "!!!", "eyJmb28iOiAiYmFyIn0", "MTIz", "a" * 500])
def test_bad_cursor_is_422(api, many, cursor):
    r = api.list_orders(many.token, many.id, params={"cursor": cursor})
    assert_422(r, loc=["query", "cursor"])


def test_cursor_cannot_be_used_on_another_users_list(api, many, alice):
    r = api.list_orders(many.token, many.id, params={"limit": 5})
    nxt = r.links["next"]["url"]
    cursor = parse_qs(urlsplit(nxt).query)["cursor"][0]
    r2 = api.list_orders(alice.token, many.id, params={"cursor": cursor})
    assert_detail(r2, 403)


def test_pagination_stable_under_concurrent_inserts(api, make_user):
    u = make_user()
    ids = [api.create_order_ok(u.token, [item(i + 1)])["id"] for i in range(30)]
    before = api.list_orders(u.token, u.id, params={"limit": 1000}).json()
    assert len(before) == 30
    seen = []
    r = api.list_orders(u.token, u.id, params={"limit": 7})
    new_ids = []
    while True:
        assert r.status_code == 200, describe(r)
        seen.extend(r.json())
        # orders created while a client is paging
        for _ in range(2):
            new_ids.append(api.create_order_ok(u.token)["id"])
        if "next" not in r.links:
            break
        r = api.get(urljoin(r.url, r.links["next"]["url"]), headers=u.headers)
    seen_ids = [o["id"] for o in seen]
    assert len(seen_ids) == len(set(seen_ids)), "a page repeated an order"
    old = [i for i in seen_ids if i not in new_ids]
    assert old == [o["id"] for o in before], "pre-existing orders skipped or reordered"
    assert set(ids) <= set(seen_ids)
