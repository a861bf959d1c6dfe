"""CORS and rate limiting (SPEC §3), each on its own api process."""

import redis as redis_lib
import requests

from helpers import TIMEOUT, describe

ALLOWED_ORIGIN = "http://allowed.example"


def test_cors_preflight(api_factory):
    p = api_factory(
        CORS_ALLOW_ORIGINS=ALLOWED_ORIGIN,
        CORS_ALLOW_METHODS="GET,POST,PATCH",
        CORS_ALLOW_HEADERS="Authorization,Content-Type,Idempotency-Key",
        CORS_ALLOW_CREDENTIALS="true",
    )
    pre = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    r = requests.options(p.url + "/orders/", headers=dict(pre, Origin=ALLOWED_ORIGIN), timeout=TIMEOUT)
    assert r.status_code in (200, 204), describe(r)
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN, describe(r)
    methods = r.headers.get("Access-Control-Allow-Methods", "").upper()
    assert "POST" in methods, describe(r)
    assert "authorization" in r.headers.get("Access-Control-Allow-Headers", "").lower(), describe(r)
    assert r.headers.get("Access-Control-Allow-Credentials") == "true", describe(r)

    r = requests.options(p.url + "/orders/", headers=dict(pre, Origin="http://evil.example"), timeout=TIMEOUT)
    assert "Access-Control-Allow-Origin" not in r.headers, describe(r)
    assert r.status_code < 500

    # simple request from the allowed origin carries the header, from others not
    r = requests.get(p.url + "/health", headers={"Origin": ALLOWED_ORIGIN}, timeout=TIMEOUT)
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED_ORIGIN, describe(r)
    r = requests.get(p.url + "/health", headers={"Origin": "http://evil.example"}, timeout=TIMEOUT)
    assert "Access-Control-Allow-Origin" not in r.headers, describe(r)


def test_rate_limit(api_factory, stack):
    # buckets live in Redis; use a database of our own and start it empty
    redis_lib.Redis(host=stack.redis_host, port=stack.redis_port, db=3).flushdb()
    p = api_factory(
        RATE_LIMIT_ENABLED="true",
        RATE_LIMIT_CAPACITY="5",
        RATE_LIMIT_REFILL_RATE="0.5",
        REDIS_DB="3",
    )
    s = requests.Session()
    codes = []
    limited = None
    for _ in range(20):
        r = s.get(p.url + "/orders/user/1/", timeout=TIMEOUT)
        codes.append(r.status_code)
        if r.status_code == 429:
            limited = r
    assert limited is not None, codes
    assert codes[:3] == [401, 401, 401], codes
    assert codes.count(429) >= 10, codes
    ra = limited.headers.get("Retry-After")
    assert ra is not None and ra.strip().isdigit() and int(ra) >= 1, describe(limited)
    assert any(h.lower().startswith("ratelimit") for h in limited.headers), describe(limited)
    assert isinstance(limited.json().get("detail"), str)
    # exempt endpoints are never limited
    for path in ("/health", "/ready", "/metrics", "/openapi.json", "/docs"):
        for _ in range(3):
            r = s.get(p.url + path, timeout=TIMEOUT)
            assert r.status_code != 429, describe(r)


def test_rate_limit_disabled_by_default_in_tests(api):
    codes = [api.get("/orders/user/1/").status_code for _ in range(30)]
    assert 429 not in codes


def test_secret_key_not_exposed(api, server):
    for path in ("/openapi.json", "/metrics", "/ready", "/health"):
        r = api.get(path)
        assert server.secret_key not in r.text
    assert server.secret_key not in server.log_text()
