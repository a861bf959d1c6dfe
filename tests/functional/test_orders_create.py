"""POST /orders/ (SPEC §2, §3, §5.1)."""

import json
import time

import pytest

from helpers import (
    assert_422,
    assert_order_shape,
    describe,
    item,
    parse_ts,
    path_of,
    raw_http,
)


def test_create_order(api, alice):
    items = [item(1, 2, 10.0), item(7, 1, 0.01)]
    r = api.create_order(alice.token, items)
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Content-Type", "").startswith("application/json")
    o = r.json()
    assert_order_shape(o)
    assert o["user_id"] == alice.id
    assert o["items"] == items
    assert o["total_price"] == 20.01
    assert o["status"] == "PENDING"
    assert o["processed_at"] is None
    assert abs(parse_ts(o["created_at"]) - time.time()) < 120
    assert parse_ts(o["updated_at"]) >= parse_ts(o["created_at"])
    loc = r.headers.get("Location")
    assert loc, describe(r)
    assert path_of(loc) in (f"/orders/{o['id']}/", f"/orders/{o['id']}"), loc
    g = api.get(path_of(loc), headers=alice.headers)
    assert g.status_code == 200, describe(g)
    assert g.json() == o


@pytest.mark.parametrize(
    "items,total",
    [
        ([item(1, 3, 0.10)], 0.3),
        ([item(1, 2, 10.0), item(2, 1, 0.01)], 20.01),
        ([item(1, 3, 19.99)], 59.97),
        ([item(1, 10000, 0.01)], 100.0),
        ([item(1, 1, 0.29), item(2, 1, 4.35), item(3, 7, 1.1)], 12.34),
        ([item(i, 1, 0.1) for i in range(1, 11)], 1.0),
        ([item(1, 10000, 1000000)] * 100, 1e12),
        ([item(1, 1, 999999.99)], 999999.99),
        ([item(1, 33, 0.07)], 2.31),
    ],
)
def test_total_price_is_exact(api, alice, items, total):
    r = api.create_order(alice.token, items)
    assert r.status_code == 201, describe(r)
    assert r.json()["total_price"] == total, r.json()["total_price"]
    assert r.json()["items"] == items


def test_order_ids_are_unique(api, alice):
    ids = {api.create_order_ok(alice.token)["id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize(
    "body,loc",
    [
        ({}, ["body", "items"]),
        ({"items": []}, ["body", "items"]),
        ({"items": None}, ["body", "items"]),
        ({"items": "abc"}, ["body", "items"]),
        ({"items": {"product_id": 1, "quantity": 1, "price": 1.0}}, ["body", "items"]),
        ({"items": [item()] * 101}, ["body", "items"]),
        ({"items": [1]}, ["body", "items", 0]),
        ({"items": [None]}, ["body", "items", 0]),
        ({"items": [item(product_id=0)]}, ["body", "items", 0, "product_id"]),
        ({"items": [item(product_id=-5)]}, ["body", "items", 0, "product_id"]),
        ({"items": [item(product_id=1.5)]}, ["body", "items", 0, "product_id"]),
        ({"items": [item(product_id="abc")]}, ["body", "items", 0, "product_id"]),
        ({"items": [item(product_id=None)]}, ["body", "items", 0, "product_id"]),
        ({"items": [item(quantity=0)]}, ["body", "items", 0, "quantity"]),
        ({"items": [item(quantity=-1)]}, ["body", "items", 0, "quantity"]),
        ({"items": [item(quantity=10001)]}, ["body", "items", 0, "quantity"]),
        ({"items": [item(quantity=1.5)]}, ["body", "items", 0, "quantity"]),
        ({"items": [item(quantity="two")]}, ["body", "items", 0, "quantity"]),
        ({"items": [item(quantity=[1])]}, ["body", "items", 0, "quantity"]),
        ({"items": [item(price=0)]}, ["body", "items", 0, "price"]),
        ({"items": [item(price=-1.0)]}, ["body", "items", 0, "price"]),
        ({"items": [item(price=1.005)]}, ["body", "items", 0, "price"]),
        ({"items": [item(price=0.001)]}, ["body", "items", 0, "price"]),
        ({"items": [item(price=10.123)]}, ["body", "items", 0, "price"]),
        ({"items": [item(price=1000000.01)]}, ["body", "items", 0, "price"]),
        ({"items": [item(price=1e7)]}, ["body", "items", 0, "price"]),
        ({"items": [item(price="abc")]}, ["body", "items", 0, "price"]),
        ({"items": [item(price=None)]}, ["body", "items", 0, "price"]),
        ({"items": [{"quantity": 1, "price": 1.0}]}, ["body", "items", 0, "product_id"]),
        ({"items": [{"product_id": 1, "price": 1.0}]}, ["body", "items", 0, "quantity"]),
        ({"items": [{"product_id": 1, "quantity": 1}]}, ["body", "items", 0, "price"]),
        ({"items": [item(), item(quantity=0)]}, ["body", "items", 1, "quantity"]),
        ({"items": [item(), item(), item(price=-2)]}, ["body", "items", 2, "price"]),
    ],
)
def test_validation_errors(api, alice, db, body, loc):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders WHERE user_id = %s", (alice.id,))
        before = cur.fetchone()[0]
    r = api.post("/orders/", json=body, headers=alice.headers)
    assert_422(r, loc=loc)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM orders WHERE user_id = %s", (alice.id,))
        assert cur.fetchone()[0] == before


def test_hundred_items_allowed(api, alice):
    items = [item(i, 1, 1.0) for i in range(1, 101)]
    r = api.create_order(alice.token, items)
    assert r.status_code == 201, describe(r)
    assert len(r.json()["items"]) == 100
    assert r.json()["total_price"] == 100.0


@pytest.mark.parametrize("price", [0.01, 0.29, 4.35, 1.1, 10, 999999.99, 1000000])
def test_valid_price_boundaries(api, alice, price):
    r = api.create_order(alice.token, [item(price=price)])
    assert r.status_code == 201, describe(r)
    assert r.json()["items"][0]["price"] == price


@pytest.mark.parametrize("quantity", [1, 10000])
def test_valid_quantity_boundaries(api, alice, quantity):
    r = api.create_order(alice.token, [item(quantity=quantity, price=1.0)])
    assert r.status_code == 201, describe(r)
    assert r.json()["total_price"] == float(quantity)


def test_unknown_fields_are_ignored(api, alice, bob):
    body = {
        "items": [dict(item(3, 2, 5.5), color="red", discount=0.5)],
        "status": "SHIPPED",
        "user_id": bob.id,
        "total_price": 0.01,
        "id": "00000000-0000-0000-0000-000000000001",
        "processed_at": "2020-01-01T00:00:00Z",
        "extra": {"nested": [1, 2, 3]},
    }
    r = api.post("/orders/", json=body, headers=alice.headers)
    assert r.status_code == 201, describe(r)
    o = r.json()
    assert_order_shape(o)
    assert o["user_id"] == alice.id
    assert o["status"] == "PENDING"
    assert o["total_price"] == 11.0
    assert o["items"] == [item(3, 2, 5.5)]
    assert o["id"] != body["id"]
    assert o["processed_at"] is None


def test_malformed_json(api, alice):
    for raw in (b'{"items": [', b"{items: []}", b"not json", b'{"items": [] } trailing', b"\xff\xfe"):
        r = api.post(
            "/orders/", data=raw, headers=dict(alice.headers, **{"Content-Type": "application/json"})
        )
        assert_422(r, loc=["body"])


def test_outbox_row_written_with_order(api, alice, db):
    """POST /orders/ writes the order and its outbox event together (the relay
    may or may not have published it yet)."""
    o = api.create_order_ok(alice.token)
    with db.cursor() as cur:
        cur.execute(
            "SELECT event_type, aggregate_id::text, payload::text FROM outbox_events WHERE aggregate_id::text = %s",
            (o["id"],),
        )
        rows = cur.fetchall()
    assert len(rows) == 1, rows
    event_type, aggregate_id, payload = rows[0]
    assert "new_order" in event_type, event_type
    assert aggregate_id == o["id"]
    assert o["id"] in payload


def test_failed_validation_writes_no_outbox_row(api, alice, db):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM outbox_events")
        before = cur.fetchone()[0]
    assert api.create_order(alice.token, [item(quantity=0)]).status_code == 422
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM outbox_events")
        assert cur.fetchone()[0] == before


def _raw_post(server, path, body: bytes, token, extra_headers=""):
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra_headers}\r\n"
    ).encode()
    return raw_http("127.0.0.1", server.port, head + body, timeout=15)


def test_body_over_1mib_is_413(server, alice):
    pad = "x" * (1024 * 1024 + 100)
    body = json.dumps({"items": [item()], "pad": pad}).encode()
    status, head, resp = _raw_post(server, "/orders/", body, alice.token)
    assert status == 413, (status, head, resp[:300])
    assert isinstance(json.loads(resp).get("detail"), str)


def test_large_body_under_limit_is_accepted(api, alice):
    pad = "x" * 900_000
    r = api.post("/orders/", json={"items": [item()], "pad": pad}, headers=alice.headers)
    assert r.status_code == 201, describe(r)


def test_chunked_body_over_limit_is_413(server, alice):
    chunk = b"x" * 65536
    body = b'{"items": [], "pad": "'
    parts = [body] + [chunk] * 20 + [b'"}']
    enc = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    head = (
        f"POST /orders/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {alice.token}\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    status, h, resp = raw_http("127.0.0.1", server.port, head + enc, timeout=15)
    assert status == 413, (status, h, resp[:300])


def test_register_body_over_limit_is_413(server):
    body = json.dumps({"email": "big@example.com", "password": "p" * (1100 * 1024)}).encode()
    head = (
        f"POST /register/ HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    status, h, resp = raw_http("127.0.0.1", server.port, head + body, timeout=15)
    assert status == 413, (status, h, resp[:300])
