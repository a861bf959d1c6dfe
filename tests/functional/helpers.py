"""Helpers shared by the functional (black-box) tests of order-service.

Nothing here knows how the server is implemented: everything goes through
HTTP, the database or Redis, exactly as a client or an operator would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests

# Every HTTP call in the suite has a timeout: a hung server must fail a test,
# never hang the run.
TIMEOUT = 10

ORDER_KEYS = {
    "id",
    "user_id",
    "items",
    "total_price",
    "status",
    "created_at",
    "updated_at",
    "processed_at",
}
ITEM_KEYS = {"product_id", "quantity", "price"}
STATUSES = ("PENDING", "PAID", "SHIPPED", "CANCELED")

TIMESTAMP_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$"
)
UUID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


def unique_email(prefix: str = "ft") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:16]}@example.com"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def item(product_id=1, quantity=1, price=10.0, **extra):
    d = {"product_id": product_id, "quantity": quantity, "price": price}
    d.update(extra)
    return d


def describe(resp: requests.Response) -> str:
    """Short text of a response for assertion messages."""
    body = resp.text
    if len(body) > 600:
        body = body[:600] + "..."
    return (
        f"{resp.request.method} {resp.request.url} -> {resp.status_code} "
        f"headers={dict(resp.headers)} body={body!r}"
    )


# ---------------------------------------------------------------- JWT


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_decode_unverified(token: str):
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), s


_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def jwt_encode(header: dict, payload: dict, key: str | bytes | None) -> str:
    """Build a JWT by hand. alg is taken from header; 'none' gives an empty
    signature."""
    h = b64url(json.dumps(header, separators=(",", ":")).encode())
    p = b64url(json.dumps(payload, separators=(",", ":")).encode())
    signing_input = f"{h}.{p}".encode()
    alg = header.get("alg")
    if alg in _DIGESTS:
        if isinstance(key, str):
            key = key.encode()
        sig = b64url(hmac.new(key, signing_input, _DIGESTS[alg]).digest())
    else:
        sig = ""
    return f"{h}.{p}.{sig}"


# ---------------------------------------------------------------- validation shapes


def assert_422(resp: requests.Response, loc=None, loc_prefix=None):
    """Assert a FastAPI-shaped validation error. `loc` (exact) or `loc_prefix`
    must match the loc of at least one error entry."""
    assert resp.status_code == 422, describe(resp)
    body = resp.json()
    assert isinstance(body, dict) and "detail" in body, describe(resp)
    detail = body["detail"]
    assert isinstance(detail, list) and detail, describe(resp)
    for e in detail:
        assert isinstance(e, dict), describe(resp)
        assert isinstance(e.get("loc"), list) and e["loc"], describe(resp)
        assert isinstance(e.get("msg"), str) and e["msg"], describe(resp)
        assert isinstance(e.get("type"), str) and e["type"], describe(resp)
    locs = [e["loc"] for e in detail]
    if loc is not None:
        assert list(loc) in locs, f"expected loc {loc} in {locs}; {describe(resp)}"
    if loc_prefix is not None:
        n = len(loc_prefix)
        assert any(l[:n] == list(loc_prefix) for l in locs), (
            f"expected a loc starting with {loc_prefix} in {locs}; {describe(resp)}"
        )
    return detail


def assert_detail(resp: requests.Response, status: int, detail=None):
    """Assert a non-422 error: {"detail": "<string>"}."""
    assert resp.status_code == status, describe(resp)
    body = resp.json()
    assert isinstance(body, dict), describe(resp)
    assert isinstance(body.get("detail"), str) and body["detail"], describe(resp)
    if detail is not None:
        assert body["detail"] == detail, describe(resp)
    return body["detail"]


def assert_401(resp: requests.Response):
    assert_detail(resp, 401)
    www = resp.headers.get("WWW-Authenticate", "")
    assert www.split(" ")[0].lower() == "bearer", describe(resp)


def assert_order_shape(o: dict):
    assert isinstance(o, dict), o
    assert set(o.keys()) == ORDER_KEYS, f"order keys {sorted(o.keys())}"
    assert isinstance(o["id"], str) and UUID_RE.match(o["id"]), o
    assert isinstance(o["user_id"], int) and not isinstance(o["user_id"], bool), o
    assert isinstance(o["items"], list) and o["items"], o
    for it in o["items"]:
        assert set(it.keys()) == ITEM_KEYS, it
        assert type(it["product_id"]) is int, it
        assert type(it["quantity"]) is int, it
        assert type(it["price"]) in (int, float), it
    assert type(o["total_price"]) in (int, float), o
    assert o["status"] in STATUSES, o
    for k in ("created_at", "updated_at"):
        assert isinstance(o[k], str) and TIMESTAMP_RE.match(o[k]), (k, o[k])
    assert o["processed_at"] is None or (
        isinstance(o["processed_at"], str) and TIMESTAMP_RE.match(o["processed_at"])
    ), o


def parse_ts(s: str) -> float:
    """Timestamp string -> epoch seconds (float)."""
    from datetime import datetime

    s2 = s.replace("Z", "+00:00")
    # Python's fromisoformat (3.11) handles up to 6 fraction digits.
    m = re.match(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$", s2)
    frac = (m.group(2) or "")[:7]
    tz = m.group(3)
    if tz and ":" not in tz:
        tz = tz[:3] + ":" + tz[3:]
    return datetime.fromisoformat(m.group(1) + frac + tz).timestamp()


# ---------------------------------------------------------------- client


@dataclass
class User:
    email: str
    password: str
    id: int
    token: str
    extra: dict = field(default_factory=dict)

    @property
    def headers(self):
        return {"Authorization": f"Bearer {self.token}"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


class Api:
    """Thin HTTP client bound to one server. Never follows redirects: the
    spec says paths work with and without the trailing slash, not that they
    redirect."""

    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/")
        self.s = requests.Session()

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        if not path.startswith("/"):
            path = "/" + path
        return self.base + path

    def request(self, method, path, **kw):
        kw.setdefault("timeout", TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return self.s.request(method, self.url(path), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    # -- auth
    def register(self, email, password, path="/register/"):
        return self.post(path, json={"email": email, "password": password})

    def token_response(self, email, password, path="/token/", **extra):
        data = {"username": email, "password": password}
        data.update(extra)
        return self.post(path, data=data)

    def token(self, email, password) -> str:
        r = self.token_response(email, password)
        assert r.status_code == 200, describe(r)
        return r.json()["access_token"]

    def new_user(self, password="correct-horse-battery", email=None) -> User:
        email = email or unique_email()
        r = self.register(email, password)
        assert r.status_code == 201, describe(r)
        uid = r.json()["id"]
        return User(email=email, password=password, id=uid, token=self.token(email, password))

    # -- orders
    def create_order(self, token, items, headers=None, **kw):
        h = bearer(token)
        if headers:
            h.update(headers)
        return self.post("/orders/", json={"items": items}, headers=h, **kw)

    def create_order_ok(self, token, items=None) -> dict:
        r = self.create_order(token, items or [item()])
        assert r.status_code == 201, describe(r)
        return r.json()

    def get_order(self, token, order_id, **kw):
        return self.get(f"/orders/{order_id}/", headers=bearer(token), **kw)

    def patch_order(self, token, order_id, status, **kw):
        return self.patch(f"/orders/{order_id}/", json={"status": status}, headers=bearer(token), **kw)

    def list_orders(self, token, user_id, params=None, **kw):
        return self.get(f"/orders/user/{user_id}/", headers=bearer(token), params=params, **kw)

    def list_all_pages(self, token, user_id, params=None, max_pages=1000):
        """Follow Link rel=next until absent; return list of pages (each a list)."""
        pages = []
        r = self.list_orders(token, user_id, params=params)
        while True:
            assert r.status_code == 200, describe(r)
            body = r.json()
            assert isinstance(body, list), describe(r)
            pages.append(body)
            nxt = r.links.get("next")
            if not nxt:
                return pages
            assert len(pages) < max_pages, "Link rel=next never ends"
            r = self.get(urljoin(r.url, nxt["url"]), headers=bearer(token))


def path_of(url: str) -> str:
    return urlsplit(url).path


def wait_until(fn, timeout, interval=0.2, desc="condition"):
    """Call fn until it returns a truthy value; return it or raise."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - keep polling, report the last error
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {desc}; last={last!r}")
        time.sleep(interval)


def raw_http(host, port, request_bytes: bytes, timeout=10, send_chunk=65536):
    """Send raw bytes, tolerate the server closing early (e.g. 413 before the
    whole body is read), and return (status, headers_text, body_bytes) or
    (None, '', b'') when no response came."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        try:
            for i in range(0, len(request_bytes), send_chunk):
                s.sendall(request_bytes[i : i + send_chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data:
                    head, _, rest = data.partition(b"\r\n\r\n")
                    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                    if m and len(rest) >= int(m.group(1)):
                        break
        except (ConnectionResetError, socket.timeout):
            pass
    finally:
        s.close()
    if not data.startswith(b"HTTP/"):
        return None, "", data
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head.decode("latin-1"), body
