"""Idempotency-Key on POST /orders/ (SPEC §2 "Beyond the original")."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from helpers import assert_422, describe, item


def count_orders(db, user_id):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders WHERE user_id = %s", (user_id,))
        return cur.fetchone()[0]


def count_outbox(db, order_id):
    with db.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM outbox_events e WHERE row_to_json(e)::text LIKE %s",
            (f"%{order_id}%",),
        )
        return cur.fetchone()[0]


def test_same_key_same_body_replays(api, make_user, db):
    u = make_user()
    key = str(uuid.uuid4())
    items = [item(1, 2, 3.33)]
    r1 = api.create_order(u.token, items, headers={"Idempotency-Key": key})
    assert r1.status_code == 201, describe(r1)
    r2 = api.create_order(u.token, items, headers={"Idempotency-Key": key})
    assert r2.status_code == 201, describe(r2)
    assert r2.json() == r1.json()
    assert r2.headers.get("Location") == r1.headers.get("Location")
    assert count_orders(db, u.id) == 1
    assert count_outbox(db, r1.json()["id"]) == 1


def test_replay_after_status_change_returns_original_response(api, make_user, db):
    u = make_user()
    key = str(uuid.uuid4())
    r1 = api.create_order(u.token, [item()], headers={"Idempotency-Key": key})
    assert r1.status_code == 201
    assert api.patch_order(u.token, r1.json()["id"], "PAID").status_code == 200
    r2 = api.create_order(u.token, [item()], headers={"Idempotency-Key": key})
    assert r2.status_code == 201, describe(r2)
    # the original response, not the order's current state: status, body and Location
    assert r2.json() == r1.json(), (r1.json(), r2.json())
    assert r2.json()["status"] == "PENDING"
    assert r2.headers.get("Location") == r1.headers.get("Location")
    assert r2.headers.get("Idempotent-Replayed") == "true", describe(r2)
    assert r1.headers.get("Idempotent-Replayed") is None
    assert count_orders(db, u.id) == 1


def test_same_key_different_body_is_422(api, make_user, db):
    u = make_user()
    key = str(uuid.uuid4())
    r1 = api.create_order(u.token, [item(1, 1, 1.0)], headers={"Idempotency-Key": key})
    assert r1.status_code == 201
    r2 = api.create_order(u.token, [item(1, 2, 1.0)], headers={"Idempotency-Key": key})
    assert r2.status_code == 422, describe(r2)
    assert "detail" in r2.json()
    assert count_orders(db, u.id) == 1


def test_different_users_same_key_are_independent(api, make_user, db):
    a, b = make_user(), make_user()
    key = str(uuid.uuid4())
    ra = api.create_order(a.token, [item()], headers={"Idempotency-Key": key})
    rb = api.create_order(b.token, [item()], headers={"Idempotency-Key": key})
    assert ra.status_code == rb.status_code == 201, (describe(ra), describe(rb))
    assert ra.json()["id"] != rb.json()["id"]
    assert ra.json()["user_id"] == a.id and rb.json()["user_id"] == b.id
    assert count_orders(db, a.id) == count_orders(db, b.id) == 1


def test_without_key_each_post_creates(api, make_user, db):
    u = make_user()
    api.create_order_ok(u.token)
    api.create_order_ok(u.token)
    assert count_orders(db, u.id) == 2


def test_different_keys_create_different_orders(api, make_user, db):
    u = make_user()
    r1 = api.create_order(u.token, [item()], headers={"Idempotency-Key": str(uuid.uuid4())})
    r2 = api.create_order(u.token, [item()], headers={"Idempotency-Key": str(uuid.uuid4())})
    assert r1.json()["id"] != r2.json()["id"]
    assert count_orders(db, u.id) == 2


def test_concurrent_same_key_creates_one_order(api, server, make_user, db):
    u = make_user()
    key = str(uuid.uuid4())

    def go(_):
        return requests.post(
            f"{server.url}/orders/",
            json={"items": [item(9, 9, 9.99)]},
            headers=dict(u.headers, **{"Idempotency-Key": key}),
            timeout=10,
        )

    with ThreadPoolExecutor(max_workers=10) as ex:
        results = list(ex.map(go, range(10)))
    ok = [r for r in results if r.status_code == 201]
    assert ok, [describe(r) for r in results]
    assert len({r.json()["id"] for r in ok}) == 1, [r.json()["id"] for r in ok]
    # a request racing with the first one may be told to retry (409), nothing else
    assert all(r.status_code in (201, 409) for r in results), [describe(r) for r in results]
    assert count_orders(db, u.id) == 1


def test_idempotent_invalid_body_still_422(api, make_user):
    u = make_user()
    r = api.create_order(u.token, [item(quantity=0)], headers={"Idempotency-Key": str(uuid.uuid4())})
    assert_422(r, loc=["body", "items", 0, "quantity"])
