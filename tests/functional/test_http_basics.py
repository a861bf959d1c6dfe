"""Generic HTTP behaviour: health, 404/405, trailing slashes, docs, metrics,
request ids (SPEC §2)."""

import time
import uuid

import pytest

from helpers import assert_detail, bearer, describe, item, unique_email


def test_health(api):
    r = api.get("/health")
    assert r.status_code == 200, describe(r)
    assert r.json() == {"status": "ok"}
    assert r.headers.get("Content-Type", "").startswith("application/json")


def test_health_with_trailing_slash(api):
    r = api.get("/health/")
    assert r.status_code == 200, describe(r)
    assert r.json() == {"status": "ok"}


def test_ready_when_everything_is_up(api):
    r = api.get("/ready")
    assert r.status_code == 200, describe(r)
    assert isinstance(r.json(), dict), describe(r)
    # per-dependency status
    text = r.text.lower()
    assert "postgres" in text and "redis" in text, describe(r)


@pytest.mark.parametrize("path", ["/nope", "/register/extra", "/health/x", "/ORDERS/"])
def test_unknown_path_is_404(api, path):
    r = api.get(path)
    assert r.status_code == 404, describe(r)
    assert r.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    "method,path,allowed",
    [
        ("POST", "/health", {"GET"}),
        ("GET", "/register/", {"POST"}),
        ("PUT", "/register", {"POST"}),
        ("GET", "/token/", {"POST"}),
        ("GET", "/orders/", {"POST"}),
        ("DELETE", "/orders/00000000-0000-0000-0000-000000000000/", {"GET", "PATCH"}),
        ("PUT", "/orders/00000000-0000-0000-0000-000000000000", {"GET", "PATCH"}),
        ("POST", "/orders/user/1/", {"GET"}),
    ],
)
def test_wrong_method_is_405_with_allow(api, method, path, allowed):
    r = api.request(method, path)
    assert r.status_code == 405, describe(r)
    allow = {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}
    assert allowed <= allow, describe(r)
    assert method not in allow, describe(r)
    assert isinstance(r.json().get("detail"), str), describe(r)


def test_paths_work_without_trailing_slash(api):
    """Every route answers directly (no redirect) with and without '/'."""
    email = unique_email()
    r = api.post("/register", json={"email": email, "password": "password-123"})
    assert r.status_code == 201, describe(r)
    r = api.post("/token", data={"username": email, "password": "password-123"})
    assert r.status_code == 200, describe(r)
    tok = r.json()["access_token"]
    r = api.post("/orders", json={"items": [item()]}, headers=bearer(tok))
    assert r.status_code == 201, describe(r)
    oid = r.json()["id"]
    user_id = r.json()["user_id"]
    for p in (f"/orders/{oid}", f"/orders/{oid}/"):
        r = api.get(p, headers=bearer(tok))
        assert r.status_code == 200, describe(r)
    r = api.patch(f"/orders/{oid}", json={"status": "PAID"}, headers=bearer(tok))
    assert r.status_code == 200, describe(r)
    for p in (f"/orders/user/{user_id}", f"/orders/user/{user_id}/"):
        r = api.get(p, headers=bearer(tok))
        assert r.status_code == 200, describe(r)
        assert [o["id"] for o in r.json()] == [oid]


def test_request_id_is_echoed(api, server):
    rid = f"ft-{uuid.uuid4().hex}"
    r = api.get("/health", headers={"X-Request-ID": rid})
    assert r.status_code == 200
    assert r.headers.get("X-Request-ID") == rid, describe(r)
    # also on errors and on authenticated routes
    r = api.get("/orders/user/1/", headers={"X-Request-ID": rid + "-2"})
    assert r.status_code == 401
    assert r.headers.get("X-Request-ID") == rid + "-2", describe(r)


def test_request_id_is_generated(api):
    r1 = api.get("/health")
    r2 = api.get("/health")
    a, b = r1.headers.get("X-Request-ID"), r2.headers.get("X-Request-ID")
    assert a and a.strip(), describe(r1)
    assert b and b.strip(), describe(r2)
    assert a != b


def test_request_id_appears_in_logs(api, server):
    rid = f"ft-log-{uuid.uuid4().hex}"
    r = api.get("/orders/user/1/", headers={"X-Request-ID": rid})
    assert r.status_code == 401
    deadline = time.monotonic() + 5
    while rid not in server.log_text():
        assert time.monotonic() < deadline, (
            f"request id {rid} not found in the server log; tail:\n{server.tail(2000)}"
        )
        time.sleep(0.2)


def test_openapi_document(api):
    r = api.get("/openapi.json")
    assert r.status_code == 200, describe(r)
    doc = r.json()
    assert str(doc.get("openapi", "")).startswith("3"), doc.get("openapi")
    paths = doc.get("paths", {})
    for p in ("/register/", "/token/", "/orders/", "/orders/{order_id}/", "/orders/user/{user_id}/"):
        assert p in paths, f"{p} missing from openapi paths {sorted(paths)}"


def test_swagger_ui(api):
    r = api.get("/docs")
    assert r.status_code == 200, describe(r)
    assert "text/html" in r.headers.get("Content-Type", "")
    assert "swagger" in r.text.lower()


def test_metrics(api):
    api.get("/health")
    r = api.get("/metrics")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").startswith("text/plain"), describe(r)
    assert "# TYPE" in r.text


def test_error_bodies_are_json(api):
    for r in (api.get("/nope"), api.get("/orders/user/1/"), api.post("/health")):
        assert r.headers.get("Content-Type", "").startswith("application/json"), describe(r)
        assert_detail(r, r.status_code)
