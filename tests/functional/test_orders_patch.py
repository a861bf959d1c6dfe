"""PATCH /orders/{id}/ — status transitions (SPEC §2, §4)."""

import uuid

import pytest

from helpers import assert_422, assert_detail, assert_order_shape, describe, item, parse_ts

ALLOWED = {
    ("PENDING", "PAID"),
    ("PENDING", "CANCELED"),
    ("PAID", "SHIPPED"),
    ("PAID", "CANCELED"),
}
# how to reach each status from PENDING
PATH_TO = {
    "PENDING": [],
    "PAID": ["PAID"],
    "SHIPPED": ["PAID", "SHIPPED"],
    "CANCELED": ["CANCELED"],
}
STATUSES = ["PENDING", "PAID", "SHIPPED", "CANCELED"]


def order_in(api, user, status):
    o = api.create_order_ok(user.token)
    for s in PATH_TO[status]:
        r = api.patch_order(user.token, o["id"], s)
        assert r.status_code == 200, describe(r)
        assert r.json()["status"] == s
    return o


def test_full_lifecycle(api, alice):
    o = api.create_order_ok(alice.token, [item(1, 2, 3.5)])
    # warm the cache so that a stale cache would show
    assert api.get_order(alice.token, o["id"]).json()["status"] == "PENDING"
    prev_updated = parse_ts(o["updated_at"])
    for s in ("PAID", "SHIPPED"):
        r = api.patch_order(alice.token, o["id"], s)
        assert r.status_code == 200, describe(r)
        body = r.json()
        assert_order_shape(body)
        assert body["status"] == s
        assert body["id"] == o["id"]
        assert body["items"] == o["items"]
        assert body["total_price"] == o["total_price"]
        assert body["created_at"] == o["created_at"]
        assert parse_ts(body["updated_at"]) >= prev_updated
        prev_updated = parse_ts(body["updated_at"])
        g = api.get_order(alice.token, o["id"])
        assert g.status_code == 200
        assert g.json() == body, "GET after PATCH must return the new state (cache updated)"


@pytest.mark.parametrize("src,dst", [(a, b) for a in STATUSES for b in STATUSES])
def test_transition_matrix(api, alice, src, dst):
    o = order_in(api, alice, src)
    api.get_order(alice.token, o["id"])  # fill cache
    r = api.patch_order(alice.token, o["id"], dst)
    if src == dst:
        assert r.status_code == 200, describe(r)
        assert r.json()["status"] == src
        expected = src
    elif (src, dst) in ALLOWED:
        assert r.status_code == 200, describe(r)
        assert r.json()["status"] == dst
        expected = dst
    else:
        assert_detail(r, 409)
        expected = src
    g = api.get_order(alice.token, o["id"])
    assert g.json()["status"] == expected, describe(g)


def test_same_status_is_noop(api, alice):
    o = api.create_order_ok(alice.token)
    r = api.patch_order(alice.token, o["id"], "PENDING")
    assert r.status_code == 200, describe(r)
    assert r.json() == o, "setting the current status again changes nothing"


@pytest.mark.parametrize(
    "body,loc",
    [
        ({"status": "DONE"}, ["body", "status"]),
        ({"status": "paid"}, ["body", "status"]),
        ({"status": ""}, ["body", "status"]),
        ({"status": None}, ["body", "status"]),
        ({"status": 1}, ["body", "status"]),
        ({"status": ["PAID"]}, ["body", "status"]),
        ({}, ["body", "status"]),
    ],
)
def test_bad_status_is_422(api, alice, body, loc):
    o = api.create_order_ok(alice.token)
    r = api.patch(f"/orders/{o['id']}/", json=body, headers=alice.headers)
    assert_422(r, loc=loc)
    assert api.get_order(alice.token, o["id"]).json()["status"] == "PENDING"


def test_patch_malformed_json(api, alice):
    o = api.create_order_ok(alice.token)
    r = api.patch(
        f"/orders/{o['id']}/",
        data=b'{"status": ',
        headers=dict(alice.headers, **{"Content-Type": "application/json"}),
    )
    assert_422(r, loc=["body"])


def test_patch_other_users_order_is_403(api, alice, bob, redis):
    o = api.create_order_ok(alice.token)
    r = api.patch_order(bob.token, o["id"], "CANCELED")
    assert_detail(r, 403)
    redis.delete(f"orders:{o['id']}")
    r = api.patch_order(bob.token, o["id"], "PAID")
    assert_detail(r, 403)
    assert api.get_order(alice.token, o["id"]).json()["status"] == "PENDING"


def test_patch_unknown_order_is_404(api, alice):
    assert_detail(api.patch_order(alice.token, str(uuid.uuid4()), "PAID"), 404)


def test_patch_malformed_id_is_422(api, alice):
    assert_422(api.patch_order(alice.token, "not-a-uuid", "PAID"), loc=["path", "order_id"])


def test_patch_updates_list_too(api, make_user):
    u = make_user()
    o = api.create_order_ok(u.token)
    assert api.patch_order(u.token, o["id"], "CANCELED").status_code == 200
    r = api.list_orders(u.token, u.id)
    assert [x["status"] for x in r.json()] == ["CANCELED"]


def test_concurrent_conflicting_transitions(api, server, alice):
    """PAID -> SHIPPED and PAID -> CANCELED exclude each other: under a race
    exactly one target wins, every request for the other gets 409."""
    import requests
    from concurrent.futures import ThreadPoolExecutor

    o = order_in(api, alice, "PAID")
    targets = ["SHIPPED", "CANCELED"] * 8

    def go(s):
        return s, requests.patch(
            f"{server.url}/orders/{o['id']}/", json={"status": s}, headers=alice.headers, timeout=10
        )

    with ThreadPoolExecutor(max_workers=16) as ex:
        results = list(ex.map(go, targets))
    final = api.get_order(alice.token, o["id"]).json()["status"]
    assert final in ("SHIPPED", "CANCELED")
    for s, r in results:
        if s == final:
            assert r.status_code == 200, describe(r)
            assert r.json()["status"] == final
        else:
            assert r.status_code == 409, describe(r)
