"""Rotating the signing key without logging anyone out (SPEC §3; README, "Rotating the
signing key"): SECRET_KEY signs, SECRET_KEY_FALLBACKS only verifies, tokens name their
key in a `kid` header, and a key removed from the configuration ends its tokens."""

import hashlib
import secrets

import pytest

from test_config import run_api  # the api with a config it must refuse
from helpers import (
    Api,
    assert_401,
    describe,
    free_port,
    jwt_decode_unverified,
    jwt_encode,
)


def new_key() -> str:
    return secrets.token_urlsafe(32)


def kid(key: str) -> str:
    """What the README tells operators: the first 16 hex digits of SHA-256(key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def test_a_rotated_key_keeps_tokens_valid_until_it_is_removed(api_factory):
    key_a, key_b = new_key(), new_key()
    port = free_port()

    # Generation 1: key A signs.
    p = api_factory(SECRET_KEY=key_a, API_PORT=port)
    api = Api(p.url)
    user = api.new_user()
    token_a = user.token
    header, claims, _ = jwt_decode_unverified(token_a)
    assert header == {"alg": "HS256", "typ": "JWT", "kid": kid(key_a)}
    assert key_a not in token_a
    order = api.create_order_ok(token_a)
    # A token as the previous release issued it (no kid), signed with A.
    legacy_a = jwt_encode({"alg": "HS256", "typ": "JWT"}, claims, key_a)
    assert api.get_order(legacy_a, order["id"]).status_code == 200
    p.stop()

    # Generation 2: B signs, A verifies only. Nobody is logged out.
    p = api_factory(SECRET_KEY=key_b, SECRET_KEY_FALLBACKS=key_a, API_PORT=port)
    for _ in range(3):  # the second and third are answered from the verified-token cache
        r = api.get_order(token_a, order["id"])
        assert r.status_code == 200, describe(r)
    r = api.get_order(legacy_a, order["id"])
    assert r.status_code == 200, describe(r)
    token_b = api.token(user.email, user.password)
    assert jwt_decode_unverified(token_b)[0]["kid"] == kid(key_b)
    r = api.create_order(token_b, [{"product_id": 1, "quantity": 1, "price": 1.0}])
    assert r.status_code == 201, describe(r)
    # A key that was never configured still gets nowhere, with or without a kid.
    forged = jwt_encode({"alg": "HS256", "typ": "JWT"}, claims, new_key())
    assert_401(api.get_order(forged, order["id"]))
    p.stop()

    # Generation 3: the tokens' lifetime has passed, A is removed: its tokens are over.
    p = api_factory(SECRET_KEY=key_b, API_PORT=port)
    for token in (token_a, legacy_a):
        assert_401(api.get_order(token, order["id"]))
        assert_401(api.list_orders(token, user.id))
    r = api.get_order(token_b, order["id"])
    assert r.status_code == 200, describe(r)


def test_several_fallbacks_and_the_previous_release_tokens(api_factory):
    """Two rotations in a row: both earlier keys verify (a JSON list works too)."""
    key_a, key_b, key_c = new_key(), new_key(), new_key()
    p = api_factory(SECRET_KEY=key_a)
    api = Api(p.url)
    user = api.new_user()
    token_a = user.token
    order = api.create_order_ok(token_a)
    port = p.port
    p.stop()
    p = api_factory(SECRET_KEY=key_b, API_PORT=port)
    token_b = api.token(user.email, user.password)
    p.stop()
    p = api_factory(SECRET_KEY=key_c, SECRET_KEY_FALLBACKS=f'["{key_b}", "{key_a}"]', API_PORT=port)
    for token in (token_a, token_b):
        r = api.get_order(token, order["id"])
        assert r.status_code == 200, describe(r)
    # A kid naming B over a body signed by A: the kid picks the key, so it is refused.
    mislabelled = jwt_encode(
        {"alg": "HS256", "typ": "JWT", "kid": kid(key_b)}, jwt_decode_unverified(token_a)[1], key_a
    )
    assert_401(api.get_order(mislabelled, order["id"]))


BAD_KEYS = [
    ("short", "short"),
    ("placeholder", "change-me-to-a-random-string-of-32-chars-or-more"),
    ("one-character", "s" * 40),
    ("digits-repeated", "0123456789" * 4),  # 10 distinct characters (issue 26)
    ("alphabet", "abcdefghijklmnopqrstuvwxyz012345"),
    ("keyboard", "qwertyuiopasdfghjklzxcvbnm123456"),
    ("short-period", "Tr0ub4dor&3" * 3),
]


@pytest.mark.parametrize("bad", [k for _, k in BAD_KEYS], ids=[n for n, _ in BAD_KEYS])
def test_a_weak_fallback_is_a_startup_error_naming_it(service_env, tmp_path, bad):
    env = service_env(API_PORT=free_port(), SECRET_KEY=new_key(), SECRET_KEY_FALLBACKS=f"{new_key()},{bad}")
    r = run_api(env, tmp_path)
    assert r.returncode == 2, f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "SECRET_KEY_FALLBACKS" in r.stderr, r.stderr
    assert "entry 2 of 2" in r.stderr, r.stderr
    assert bad not in r.stderr, "the error message shows the key"


@pytest.mark.parametrize("bad", [k for _, k in BAD_KEYS[3:]], ids=[n for n, _ in BAD_KEYS[3:]])
def test_a_patterned_secret_key_is_a_startup_error(service_env, tmp_path, bad):
    r = run_api(service_env(API_PORT=free_port(), SECRET_KEY=bad), tmp_path)
    assert r.returncode == 2, f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "SECRET_KEY" in r.stderr and "pattern" in r.stderr, r.stderr
