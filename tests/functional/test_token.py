"""POST /token/ — OAuth2 password flow (SPEC §2, §3)."""

import statistics
import time

import pytest

from conftest import TOKEN_MINUTES
from helpers import assert_401, assert_422, describe, jwt_decode_unverified, unique_email


@pytest.fixture
def registered(api):
    email, password = unique_email(), "s3cret-password"
    r = api.register(email, password)
    assert r.status_code == 201, describe(r)
    return email, password, r.json()["id"]


def test_token_success(api, registered):
    email, password, uid = registered
    r = api.token_response(email, password)
    assert r.status_code == 200, describe(r)
    body = r.json()
    assert set(body) >= {"access_token", "token_type", "expires_in"}, body
    assert body["token_type"] == "bearer"
    assert type(body["expires_in"]) is int
    assert body["expires_in"] == TOKEN_MINUTES * 60
    header, claims, _ = jwt_decode_unverified(body["access_token"])
    assert header.get("alg") == "HS256"
    for claim in ("sub", "iat", "exp", "jti"):
        assert claim in claims, claims
    assert claims["exp"] - claims["iat"] == TOKEN_MINUTES * 60
    assert abs(claims["iat"] - time.time()) < 120
    # the token works
    r = api.list_orders(body["access_token"], uid)
    assert r.status_code == 200, describe(r)


def test_tokens_have_unique_jti(api, registered):
    email, password, _ = registered
    a = jwt_decode_unverified(api.token(email, password))[1]["jti"]
    b = jwt_decode_unverified(api.token(email, password))[1]["jti"]
    assert a != b


def test_grant_type_and_scope_accepted(api, registered):
    email, password, _ = registered
    r = api.token_response(email, password, grant_type="password", scope="orders:read orders:write")
    assert r.status_code == 200, describe(r)
    r = api.token_response(email, password, grant_type="password", scope="", client_id="x")
    assert r.status_code == 200, describe(r)


def test_login_email_is_normalised(api, registered):
    email, password, _ = registered
    r = api.token_response(f"  {email.upper()} ", password)
    assert r.status_code == 200, describe(r)


def test_wrong_password_is_401(api, registered):
    email, _, _ = registered
    assert_401(api.token_response(email, "wrong-password"))


def test_unknown_email_is_401(api):
    assert_401(api.token_response(unique_email(), "whatever-password"))


def test_password_is_case_sensitive(api, registered):
    email, password, _ = registered
    assert_401(api.token_response(email, password.upper()))


@pytest.mark.parametrize(
    "data,loc",
    [
        ({"password": "x-password"}, ["body", "username"]),
        ({"username": "x@example.com"}, ["body", "password"]),
        ({}, ["body", "username"]),
    ],
)
def test_missing_form_fields_are_422(api, data, loc):
    r = api.post("/token/", data=data)
    assert_422(r, loc=loc)


def test_json_body_is_422(api, registered):
    email, password, _ = registered
    r = api.post("/token/", json={"username": email, "password": password})
    assert_422(r, loc_prefix=["body"])


def test_empty_body_is_422(api):
    r = api.post("/token/", data=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_422(r, loc_prefix=["body"])


def test_percent_encoded_form_values(api):
    """Form values are URL-decoded ('+' and %XX)."""
    email, password = unique_email(), "p@ss w+rd&=%"
    assert api.register(email, password).status_code == 201
    r = api.token_response(email, password)  # requests encodes the special characters
    assert r.status_code == 200, describe(r)


def test_login_time_does_not_reveal_unknown_email(api, registered):
    """Login takes about the same time whether or not the email exists."""
    email, _, _ = registered

    def timed(u):
        t = time.perf_counter()
        r = api.token_response(u, "wrong-password")
        assert r.status_code == 401
        return time.perf_counter() - t

    known = [timed(email) for _ in range(5)]
    unknown = [timed(unique_email()) for _ in range(5)]
    mk, mu = statistics.median(known), statistics.median(unknown)
    assert mu > 0.4 * mk, f"unknown-email logins {mu*1000:.1f} ms vs known {mk*1000:.1f} ms"
