"""POST /register/ (SPEC §2, §3)."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from helpers import TIMEOUT, TIMESTAMP_RE, assert_422, assert_detail, describe, parse_ts, unique_email


def test_register_returns_201_with_public_fields(api, email):
    r = api.register(email, "password-123")
    assert r.status_code == 201, describe(r)
    assert r.headers.get("Content-Type", "").startswith("application/json")
    body = r.json()
    assert set(body) == {"id", "email", "created_at"}, body
    assert type(body["id"]) is int and body["id"] > 0
    assert body["email"] == email
    assert TIMESTAMP_RE.match(body["created_at"]), body
    assert abs(parse_ts(body["created_at"]) - time.time()) < 120


def test_register_ids_are_distinct(api):
    a = api.register(unique_email(), "password-123")
    b = api.register(unique_email(), "password-123")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_email_is_trimmed_and_lowercased(api):
    local = unique_email().split("@")[0]
    r = api.register(f"  {local.upper()}@Example.COM \t", "password-123")
    assert r.status_code == 201, describe(r)
    assert r.json()["email"] == f"{local}@example.com"
    # the normalised address is the identity: same address differently cased is a duplicate
    r2 = api.register(f"{local}@EXAMPLE.com", "password-123")
    assert_detail(r2, 400, "email already registered")


def test_password_is_stored_hashed(api, db, email):
    r = api.register(email, "password-123")
    assert r.status_code == 201
    with db.cursor() as cur:
        cur.execute("SELECT row_to_json(u)::text FROM users u WHERE id = %s", (r.json()["id"],))
        row = cur.fetchone()
    assert row is not None
    assert "password-123" not in row[0]
    assert "$argon2id$" in row[0], "password hash should be Argon2id"


@pytest.mark.parametrize(
    "bad_email",
    [
        "notanemail",
        "no-at-sign.example.com",
        "a@b",
        "@example.com",
        "user@",
        "user@@example.com",
        "us er@example.com",
        "",
        "   ",
        "user@example.",
        "user@.com",
    ],
)
def test_invalid_email_is_422(api, bad_email):
    r = api.register(bad_email, "password-123")
    assert_422(r, loc=["body", "email"])


def test_email_length_limit(api):
    """At most 254 characters: 254 is accepted, 255 is not."""
    local = unique_email().split("@")[0][:16].ljust(64, "a")  # 64 characters
    labels = "b" * 60 + "." + "c" * 60 + "." + "d" * 60  # 182 characters
    ok = f"{local}@{labels}.museum"
    assert len(ok) == 254
    r = api.register(ok, "password-123")
    assert r.status_code == 201, describe(r)
    assert r.json()["email"] == ok
    too_long = f"{local}@{labels}.museums"
    assert len(too_long) == 255
    assert_422(api.register(too_long, "password-123"), loc=["body", "email"])


@pytest.mark.parametrize("length,ok", [(7, False), (8, True), (128, True), (129, False), (0, False)])
def test_password_length_limits(api, length, ok):
    r = api.register(unique_email(), "p" * length)
    if ok:
        assert r.status_code == 201, describe(r)
    else:
        assert_422(r, loc=["body", "password"])


@pytest.mark.parametrize(
    "body,loc",
    [
        ({"password": "password-123"}, ["body", "email"]),
        ({"email": "x@example.com"}, ["body", "password"]),
        ({"email": None, "password": "password-123"}, ["body", "email"]),
        ({"email": "x@example.com", "password": None}, ["body", "password"]),
        ({"email": 12345, "password": "password-123"}, ["body", "email"]),
        ({"email": "x@example.com", "password": 12345678}, ["body", "password"]),
        ({"email": ["x@example.com"], "password": "password-123"}, ["body", "email"]),
    ],
)
def test_register_field_errors(api, body, loc):
    assert_422(api.post("/register/", json=body), loc=loc)


def test_register_malformed_json(api):
    r = api.post("/register/", data=b'{"email": "x@example.com", ', headers={"Content-Type": "application/json"})
    assert_422(r, loc=["body"])


def test_register_empty_body(api):
    r = api.post("/register/", data=b"", headers={"Content-Type": "application/json"})
    assert_422(r, loc_prefix=["body"])


def test_duplicate_email_is_400(api, email):
    assert api.register(email, "password-123").status_code == 201
    r = api.register(email, "another-password")
    assert_detail(r, 400, "email already registered")


def test_unknown_fields_are_ignored(api, email):
    r = api.post("/register/", json={"email": email, "password": "password-123", "id": 1, "is_admin": True})
    assert r.status_code == 201, describe(r)
    assert set(r.json()) == {"id", "email", "created_at"}
    assert r.json()["email"] == email


def test_duplicate_registration_race(api, server):
    """20 parallel registrations of one address: exactly one wins."""
    email = unique_email("race")

    def attempt(_):
        return requests.post(
            server.url + "/register/",
            json={"email": email, "password": "password-123"},
            timeout=TIMEOUT * 3,
        )

    with ThreadPoolExecutor(max_workers=20) as ex:
        results = list(ex.map(attempt, range(20)))
    # The hashing queue is bounded (~1 s of work): some may be told to retry (503 with
    # Retry-After) instead of waiting; a retry then finds the address taken.
    busy = [r for r in results if r.status_code == 503]
    for r in busy:
        assert r.headers.get("Retry-After"), describe(r)
    results = [r for r in results if r.status_code != 503] + [attempt(0) for _ in busy]
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) == 1, codes
    assert codes.count(400) == 19, [describe(r) for r in results if r.status_code not in (201, 400)]
    for r in results:
        if r.status_code == 400:
            assert r.json() == {"detail": "email already registered"}
