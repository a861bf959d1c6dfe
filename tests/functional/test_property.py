"""Property test against the running api (issue 8 item 2).

Hypothesis generates thousands of requests to every route of `order-service
api` (`order-service routes`): junk and almost-valid values in every path
parameter, query parameter, header and body field, with and without a valid
token (and with forged tokens signed with the server's own key), sent byte for
byte over a raw socket. Every response is checked against SPEC §2-§3:

- never a 5xx, never a dropped connection, /health answers and the process
  lives after every batch;
- every 4xx is JSON, `{"detail": "<string>"}` or, for 422,
  `{"detail": [{"loc": [...], "msg": "...", "type": "..."}, ...]}`; 401 has
  `WWW-Authenticate: Bearer`, 405 `Allow`; only the statuses the spec lists for
  the route (plus 400/413/415/431 for framing and header problems);
- input the spec says must be refused (price with 3 decimals, over 1,000,000,
  <= 0, quantity out of 1..10000, bad JSON, forged or expired tokens, ...) is
  never accepted, and plainly valid input is accepted with its exact values;
- the api's log stays valid UTF-8 JSON lines whatever the input.

Runs are deterministic (derandomize=True, no example database). Failures are
collected, not raised at the first: each test fails with every distinct
(route, mutated field, kind of violation), each with the smallest request that
showed it and the server's log lines for that request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from decimal import Decimal
from urllib.parse import quote

import pytest

HYPOTHESIS_MISSING = (
    "tests/functional/test_property.py needs python3-hypothesis (apt-get install python3-hypothesis; "
    "scripts/setup should install it with the other test packages)"
)
try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    HYPOTHESIS_MISSING = None
except ImportError:  # every test of this file then fails with the message above (no silent skip)

    class _Absorb:
        def __getattr__(self, name):
            return self

        def __call__(self, *a, **k):
            return self

        def __iter__(self):
            return iter(())

    HealthCheck = given = settings = st = _Absorb()

from helpers import ORDER_KEYS, STATUSES, UUID_RE, unique_email  # noqa: E402
from property_helpers import Failures, Req, Resp, check, header_label, send  # noqa: E402


def prop_settings(n):
    return settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


# ---------------------------------------------------------------- context


class Ctx:
    def __init__(self, server, api):
        self.server = server
        self.api = api
        self.host = "127.0.0.1"
        self.alice = api.new_user()
        self.bob = api.new_user()
        self.alice_orders = [api.create_order_ok(self.alice.token)["id"] for _ in range(3)]
        self.bob_order = api.create_order_ok(self.bob.token)["id"]
        self.secret = server.secret_key
        self.n = 0
        self.last: list = []
        self.log_start = (server.generation, len(server.p.log_text().encode("utf-8", "replace")))

    @property
    def port(self):
        return self.server.port

    def auth(self, token):
        return [(b"Authorization", b"Bearer " + token.encode())]

    def run(self, fails: Failures, req: Req, body_check=None):
        self.n += 1
        rid = f"prop-{self.n}"
        if not any(n.lower() == b"x-request-id" for n, _ in req.headers):
            req.headers.append((b"X-Request-ID", rid.encode()))
        resp = send(self.host, self.port, req)
        fails.sent += 1
        self.last = (self.last + [req])[-5:]
        problems = check(req, resp, body_check)
        if req.method == "HEAD":
            problems = [p for p in problems if p[0] in ("no-response",) or p[0][0] == "5"]
        for kind, detail in problems:
            fails.add(req, resp, kind, detail, self.log_for(rid) if kind[0] in "5n" else "")
        if resp.status is None or fails.sent % 100 == 0:
            self.health(fails, req)
        return resp

    def log_for(self, rid):
        out = []
        for line in self.server.log_text().splitlines():
            if f'"{rid}"' in line:
                out.append(line[:400])
        return " | ".join(out[-3:])

    def health(self, fails: Failures, req: Req | None = None):
        """The process is alive and answers /health; restart it if not (so
        that the rest of the run still finds other failures)."""
        if not self.server.alive():
            rc = self.server.proc.returncode
            tail = self.server.tail(1500).replace("\n", " | ")
            fails.add(
                req or Req("GET", b"/health", "process", "-"),
                Resp(None, {}, b""),
                "process-died",
                f"api exited rc={rc}; last requests: {[r.short(200) for r in self.last]}",
                tail,
            )
            self.server.restart()
            return
        r = send(self.host, self.port, Req("GET", b"/health", "GET /health", "-"))
        if r.status != 200 or json.loads(r.body or b"null") != {"status": "ok"}:
            fails.add(
                req or Req("GET", b"/health", "GET /health", "-"),
                r,
                "health-failed",
                f"/health -> {r.status} {r.error} {r.text()}; last requests: "
                f"{[x.short(200) for x in self.last]}",
            )


@pytest.fixture(scope="module")
def ctx(server, session_api):
    if HYPOTHESIS_MISSING:
        pytest.fail(HYPOTHESIS_MISSING, pytrace=False)
    return Ctx(server, session_api)


def _kinds(req, resp):
    return {(k, resp.status) for k, _ in check(req, resp, None)}


def minimise(ctx, req: Req, kind: str, status) -> Req:
    """Greedy delta debugging: drop headers and the query string while the
    same (kind, status) failure persists. A few dozen requests at most."""
    if kind in ("no-response", "process-died", "health-failed", "accepted-invalid", "rejected-valid",
                "success-shape", "x-request-id-echo-unsafe", "path-traversal"):
        return req  # these depend on the whole request, or cannot be re-sent safely
    budget = 40
    changed = True
    while changed and budget > 0:
        changed = False
        cands = []
        for i, (n, v) in enumerate(req.headers):
            if n.lower() == b"x-request-id" and v.startswith(b"prop-"):
                continue
            cands.append(Req(req.method, req.target, req.route, req.fuzzed, req.headers[:i] + req.headers[i + 1 :],
                             req.body, req.expect_error, req.allowed))
        if b"?" in req.target:
            cands.append(Req(req.method, req.target.split(b"?")[0], req.route, req.fuzzed, list(req.headers),
                             req.body, req.expect_error, req.allowed))
        for c in cands:
            if budget <= 0:
                break
            budget -= 1
            ctx.n += 1
            c.headers = [(n, f"prop-{ctx.n}".encode() if n == b"X-Request-ID" and v.startswith(b"prop-") else v)
                         for n, v in c.headers]
            r = send(ctx.host, ctx.port, c)
            if (kind, status) in _kinds(c, r):
                req = c
                changed = True
                break
    return req


def label_of(ctx):
    return lambda req, fuzzed, kind: "any" if kind == "no-x-request-id" else fuzzed


def finish(ctx, fails):
    ctx.health(fails)
    if fails:
        for key, v in list(fails.by_key.items())[:60]:
            v[0] = minimise(ctx, v[0], key[2], key[3])
        fails.regroup(label_of(ctx))
    assert not fails, fails.report()


# ---------------------------------------------------------------- building blocks

ASCII_JUNK = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24)
ANY_TEXT = st.text(max_size=24)


def pct(b: bytes) -> bytes:
    return b"".join(b"%%%02X" % c for c in b)


def path_quote(s: str) -> bytes:
    return quote(s, safe="").encode("ascii")


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


NASTY_SEGMENTS = [
    b"", b"%FF", b"%C0%AF", b"%00", b"%ZZ", b"%", b"%2", b"%2F", b"%2e%2e", b"..", b".", b"%0A", b"%0D%0A",
    b"%E2%80%AE", b"%ED%A0%80", b"%F4%90%80%80", b"\xff", b"\xc3\xa9", b"%20", b"+", b"~", b"null",
    b"undefined", b"NaN", b"-0", b"0x10", b"1e3", b"1.0", b"00000000-0000-0000-0000-000000000000",
    b"ffffffff-ffff-ffff-ffff-ffffffffffff", b"99999999999999999999999999999999999999",
    b"-9223372036854775809", b"9223372036854775807", b"9223372036854775808", b"18446744073709551616",
    b"%EF%BC%91", b"%D9%A1", b"'%20OR%201=1--", b"%7B%7D", b"A" * 300, b"1" * 5000,
]


def raw_bytes_segment():
    # raw bytes in the request target (not percent-encoded), minus the ones
    # that end the target or the request line
    return st.binary(min_size=1, max_size=12).map(
        lambda b: bytes(c for c in b if c > 0x20 and c not in b"/?# \x7f") or b"\x80"
    )


@st.composite
def almost_uuid(draw, base=None):
    u = base or str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1))))
    how = draw(st.sampled_from(["sub", "del", "ins", "nohyphen", "upper", "braces", "urn", "trail", "lead",
                                "short", "long", "unicode", "hyphens"]))
    i = draw(st.integers(0, len(u) - 1))
    c = draw(st.sampled_from(list("gGzZ-_ 0fF.%") + ["\u00e9", "\uff10", "\x00"]))
    if how == "sub":
        u = u[:i] + c + u[i + 1 :]
    elif how == "del":
        u = u[:i] + u[i + 1 :]
    elif how == "ins":
        u = u[:i] + c + u[i:]
    elif how == "nohyphen":
        u = u.replace("-", "")
    elif how == "upper":
        u = u.upper()
    elif how == "braces":
        u = "{" + u + "}"
    elif how == "urn":
        u = "urn:uuid:" + u
    elif how == "trail":
        u = u + c
    elif how == "lead":
        u = c + u
    elif how == "short":
        u = u[:i]
    elif how == "long":
        u = u * draw(st.integers(2, 40))
    elif how == "unicode":
        u = u[:8] + "\u2010" + u[9:]
    elif how == "hyphens":
        u = u.replace("-", "--")
    return path_quote(u)


def junk_segment(extra=()):
    return st.one_of(
        st.sampled_from(NASTY_SEGMENTS + list(extra)),
        ANY_TEXT.map(path_quote),
        st.binary(max_size=16).map(pct),
        raw_bytes_segment(),
        st.integers(-(2**80), 2**80).map(lambda n: str(n).encode()),
        st.floats(allow_nan=True, allow_infinity=True).map(lambda f: path_quote(repr(f))),
    )


NASTY_HEADER_VALUES = [
    b"", b" ", b"\xff", b"\x80", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf",
    b"\x00", b"a\x00b", b"\x01\x02", b"\x1b[31m", b"\x7f", b"\t", b"a\tb", b"\xe2\x80\xae",
    b"x" * 300, b"x" * 9000, b"\xff" * 300, b"%FF", b"\\", b'"', b"'", b"{}", b"${jndi:ldap://x}",
]


def header_value():
    return st.one_of(
        st.sampled_from(NASTY_HEADER_VALUES),
        st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"").strip(b" \t")),
        ASCII_JUNK.map(str.encode),
        ANY_TEXT.map(lambda s: s.replace("\r", "").replace("\n", "").encode("utf-8", "surrogatepass")),
        st.integers(100, 20000).map(lambda n: b"k" * n),
    )


# ---------------------------------------------------------------- tokens


def jwt_raw(header_text: str, payload_text: str, key: bytes | None, tamper=False) -> str:
    h = b64u(header_text.encode("utf-8", "surrogatepass"))
    p = b64u(payload_text.encode("utf-8", "surrogatepass"))
    sig = ""
    if key is not None:
        sig = b64u(hmac.new(key, f"{h}.{p}".encode(), hashlib.sha256).digest())
        if tamper:
            sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    return f"{h}.{p}.{sig}"


@st.composite
def auth_header(draw, ctx):
    """(headers, definitely_invalid, desc): an Authorization header (or none)."""
    now = int(time.time())
    kind = draw(st.sampled_from(["valid", "valid", "none", "garbage", "scheme", "forged", "forged", "forged"]))
    if kind == "valid":
        return ctx.auth(ctx.alice.token), False, "valid"
    if kind == "none":
        return [], True, "none"
    if kind == "garbage":
        v = draw(header_value())
        return [(b"Authorization", v)], (None if v.lower().startswith(b"bearer ") else True), "garbage"
    if kind == "scheme":
        scheme = draw(st.sampled_from([b"Bearer", b"bearer", b"BEARER", b"Basic", b"Bearer  ", b"Token", b""]))
        tok = draw(st.sampled_from([ctx.alice.token.encode(), b"", b"a.b.c", b"..", b"\xff.\xff.\xff",
                                    ctx.alice.token.encode() + b" x", b" " + ctx.alice.token.encode()]))
        return [(b"Authorization", scheme + b" " + tok)], None, "scheme"
    # forged: signed with the server's key (or not), odd claims
    alg = draw(st.sampled_from(["HS256", "HS256", "HS256", "none", "HS512", "hs256", "RS256", None, 1]))
    header = {"typ": "JWT"}
    if alg is not None:
        header["alg"] = alg
    # (header text, verdict): True = must be refused, None = no opinion
    header_text, bad = draw(st.sampled_from([
        (json.dumps(header), alg != "HS256"), (json.dumps(header) + " ", None if alg == "HS256" else True),
        ('{"alg":"HS256","alg":"none"}', None), ('{"alg":"HS256"', True), ("[]", True), ('"x"', True),
        ('{"alg":"HS256","kid":"../../x"}', False), ('{"alg":"HS256","crit":["exp"]}', None),
    ]))
    sub_choices = [
        (f'"{ctx.alice.id}"', False), (f'"{ctx.bob.id}"', False), ('"0"', True), ('"-1"', True),
        ('"999999999"', True), ('"99999999999999999999999"', None), ('"abc"', True), ('""', True),
        (str(ctx.alice.id), None), ('" 1"', None), ('"1 "', None), ('"+1"', None), ('"01"', None),
        ('"\\u0661"', None), ('"\\u0000"', True), ('"\\ud800"', None), ("null", True), ("[]", True),
        ('"1e3"', None), (None, True),
    ]
    exp_choices = [
        (str(now + 3600), False), (str(now - 10), True), ('"9999999999"', None), ("1e400", None),
        (str(2**63), None), (str(2**64), None), ("-1", True), (f"{now + 3600}.5", None), ("true", None),
        ("null", None), (None, None), ("-1e400", True), (str(-(2**63) - 1), None),
    ]
    sub, sub_bad = draw(st.sampled_from(sub_choices))
    exp, exp_bad = draw(st.sampled_from(exp_choices))
    iat = draw(st.sampled_from([str(now), "1e400", '"x"', None, str(2**70)]))
    parts = []
    if sub is not None:
        parts.append(f'"sub":{sub}')
    if exp is not None:
        parts.append(f'"exp":{exp}')
    if iat is not None:
        parts.append(f'"iat":{iat}')
    jti = draw(st.sampled_from(['"abc"', "1", "null", '"\\u0000"']))
    parts.append(f'"jti":{jti}')
    if draw(st.booleans()):
        parts.append(f'"sub":"{ctx.bob.id}"')  # duplicate key
        sub_bad = None  # which one wins is the server's choice
    payload = "{" + ",".join(parts) + "}"
    if draw(st.integers(0, 9)) == 0:
        payload = draw(st.sampled_from(["{", "[]", "null", '{"sub":"1"', payload + "x"]))
        sub_bad = True
    keykind = draw(st.sampled_from(["right", "right", "right", "wrong", "none", "tamper"]))
    key = {"right": ctx.secret.encode(), "wrong": b"k" * 40, "none": None, "tamper": ctx.secret.encode()}[keykind]
    tok = jwt_raw(header_text, payload, key, tamper=keykind == "tamper")
    if bad is True or keykind != "right" or sub_bad is True or exp_bad is True:
        definitely_bad = True
    elif bad is None or sub_bad is None or exp_bad is None:
        definitely_bad = None
    else:
        definitely_bad = False
    return [(b"Authorization", b"Bearer " + tok.encode())], definitely_bad, f"forged {keykind}"


# ---------------------------------------------------------------- body checks


def check_order(o, ctx=None):
    if not isinstance(o, dict) or set(o) != ORDER_KEYS:
        return f"order has keys {sorted(o) if isinstance(o, dict) else type(o).__name__}: {o!r:.300}"
    if not (isinstance(o["id"], str) and UUID_RE.match(o["id"])):
        return f"order id {o['id']!r}"
    if o["status"] not in STATUSES:
        return f"order status {o['status']!r}"
    if not isinstance(o["items"], list) or not o["items"]:
        return f"order items {o['items']!r:.200}"
    return None


def order_body_check(req, resp, body):
    return check_order(body)


def list_body_check(req, resp, body):
    if not isinstance(body, list):
        return f"list endpoint returned {type(body).__name__}: {resp.text()}"
    for o in body:
        m = check_order(o)
        if m:
            return m
    return None


# ---------------------------------------------------------------- 1. order id paths

ID_ROUTE = frozenset({200, 401, 403, 404, 422})


@st.composite
def order_id_requests(draw, ctx):
    base = draw(st.sampled_from(ctx.alice_orders + [ctx.bob_order]))
    if draw(st.integers(0, 4)) == 0:
        hdrs, bad, desc = draw(auth_header(ctx))
        seg, slash, q, what = base.encode(), b"/", b"", f"header:Authorization({desc})"
    else:
        hdrs, bad, what = ctx.auth(ctx.alice.token), False, "path:order_id"
        seg = draw(st.one_of(junk_segment(), almost_uuid(base), almost_uuid()))
        slash = draw(st.sampled_from([b"/", b"", b"//"]))
        q = draw(st.sampled_from([b"", b"?", b"?x=%FF", b"?limit=-1", b"?%00=%00"]))
    if draw(st.booleans()):
        status = draw(st.sampled_from(STATUSES))
        return Req("PATCH", b"/orders/" + seg + slash + q, "PATCH /orders/{order_id}/", what,
                   hdrs + [(b"Content-Type", b"application/json")],
                   json.dumps({"status": status}).encode(), allowed=ID_ROUTE | {405, 409}, expect_error=bad is True)
    # an empty or '/'-like segment routes elsewhere: 404/405 are fine
    return Req("GET", b"/orders/" + seg + slash + q, "GET /orders/{order_id}/", what, hdrs,
               allowed=ID_ROUTE | {405}, expect_error=bad is True)


def test_order_id_path_parameter(ctx):
    fails = Failures()

    @prop_settings(600)
    @given(order_id_requests(ctx))
    def run(req):
        ctx.run(fails, req, order_body_check)

    run()
    finish(ctx, fails)


# ---------------------------------------------------------------- 2. user id path, limit, cursor

LIST_ROUTE = frozenset({200, 401, 403, 422})


def cursor_value():
    ts = st.builds(
        lambda y, mo, d, h, mi, s, f: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{f:06d}Z",
        st.integers(0, 9999), st.integers(0, 99), st.integers(0, 99), st.integers(0, 99),
        st.integers(0, 99), st.integers(0, 99), st.integers(0, 999999),
    )
    good_ts = st.builds(
        lambda y, mo, d, f: f"{y:04d}-{mo:02d}-{d:02d}T12:00:00.{f:06d}Z",
        st.integers(1, 9999), st.integers(1, 12), st.integers(1, 28), st.integers(0, 999999),
    )
    uid = st.integers(0, 2**128 - 1).map(lambda n: str(uuid.UUID(int=n)))
    content = st.one_of(
        st.builds(lambda t, u: f"{t}|{u}", ts, uid),
        st.builds(lambda t, u: f"{t}|{u}", good_ts, uid),
        st.builds(lambda t, u: f"{t}|{u}", st.sampled_from(
            ["0000-00-00T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z", "2026-02-30T00:00:00.000000Z",
             "2026-12-31T24:00:00.000000Z", "2026-12-31T23:59:60.000000Z", "0000-01-01T00:00:00.000000Z",
             "1969-12-31T23:59:59.999999Z"]), uid),
        st.builds(lambda t, u: f"{t}|{u}", good_ts, st.sampled_from(["", "x", "|", "00000000-0000-0000-0000-00000000000g"])),
        ANY_TEXT,
    )
    return st.one_of(
        content.map(lambda s: b64u(s.encode("utf-8", "surrogatepass")).encode()),
        content.map(lambda s: base64.b64encode(s.encode("utf-8", "surrogatepass")).replace(b"+", b"%2B")),
        st.binary(max_size=100).map(lambda b: b64u(b).encode()),
        st.sampled_from([b"", b"=", b"%FF", b"%00", b"A", b"AA", b"AAA", b"====", b"A" * 129, b"A" * 5000,
                         b"!!!!", b"%2F%2F%2F%2F", b"\xff"]),
        junk_segment(),
    )


def limit_value():
    return st.one_of(
        st.integers(-(2**70), 2**70).map(lambda n: str(n).encode()),
        st.integers(-5, 1005).map(lambda n: str(n).encode()),
        st.sampled_from([b"", b"1e3", b"1.5", b"0x10", b"+5", b"%2B5", b"%205", b"5%20", b"NaN", b"inf", b"-0",
                         b"00000000000000000000001", b"%EF%BC%95", b"%FF", b"true", b"1000", b"1001", b"0"]),
        junk_segment(),
    )


@st.composite
def list_requests(draw, ctx):
    which = draw(st.sampled_from(["user", "limit", "cursor", "query", "all"]))
    uid = str(ctx.alice.id).encode()
    if which in ("user", "all"):
        uid = draw(st.one_of(
            junk_segment([str(ctx.bob.id).encode(), b"0" + str(ctx.alice.id).encode(),
                          b"+" + str(ctx.alice.id).encode(), str(ctx.alice.id).encode() + b"%20"]),
            st.integers(-(2**70), 2**70).map(lambda n: str(n).encode()),
        ))
    params = []
    if which in ("limit", "all") or draw(st.booleans()):
        params.append(b"limit=" + draw(limit_value()))
    if which in ("cursor", "all") or draw(st.booleans()):
        params.append(b"cursor=" + draw(cursor_value()))
    if which in ("query", "all"):
        for _ in range(draw(st.integers(1, 4))):
            k = draw(st.sampled_from([b"limit", b"cursor", b"x", b"", b"%FF", b"limit[]", b"LIMIT", b"\xff"]))
            v = draw(st.one_of(st.sampled_from([b"", b"1", b"%FF"]), junk_segment()))
            params.append(k + draw(st.sampled_from([b"=", b"", b"=="])) + v)
    sep = draw(st.sampled_from([b"&", b"&", b";", b"&&"]))
    q = (b"?" + sep.join(params)) if params else b""
    slash = draw(st.sampled_from([b"/", b""]))
    what, bad, hdrs = ("path:user_id" if which == "user" else f"query:{which}"), False, ctx.auth(ctx.alice.token)
    if draw(st.integers(0, 5)) == 0:
        hdrs, bad, desc = draw(auth_header(ctx))
        uid, q, what = str(ctx.alice.id).encode(), b"?limit=1", f"header:Authorization({desc})"
    return Req("GET", b"/orders/user/" + uid + slash + q, "GET /orders/user/{user_id}/", what,
               hdrs, allowed=LIST_ROUTE | {404, 405}, expect_error=bad is True)


def test_list_path_and_query_parameters(ctx):
    fails = Failures()

    @prop_settings(600)
    @given(list_requests(ctx))
    def run(req):
        ctx.run(fails, req, list_body_check)

    run()
    finish(ctx, fails)


# ---------------------------------------------------------------- 3. POST /orders/ bodies

# (literal, verdict): verdict True = must be refused, False = valid, None = no opinion
PRICE_LITERALS = [
    ("0", True), ("-0", True), ("0.0", True), ("-0.0", True), ("-1", True), ("-0.01", True), ("1e-9", True),
    ("0.001", True), ("1.005", True), ("1000.001", True), ("1000000.01", True), ("1000000.004", True),
    ("1000001", True), ("1e400", True), ("-1e400", True), ("1e7", True), ("1E-400", True), ("0e0", True),
    ("1e-7", True), ("9" * 400, True), ("0." + "0" * 400 + "1", True), ("1." + "0" * 400 + "1", True),
    ("NaN", True), ("Infinity", True), ("-Infinity", True), ("00.1", True), (".5", True), ("5.", True),
    ("+1", True), ("0x10", True), ("1e", True), ("--1", True), ("null", True), ("[]", True), ("{}", True),
    ("true", None), ('"10.00"', None), ('"abc"', True), ('"1e400"', True), ('"NaN"', True), ('""', True),
    ("1E2", None), ("1.5e1", None), ("1e2", None), ("1000000.00", False), ("1000000", False), ("0.01", False),
    ("0.10", False), ("0.1", False), ("1", False), ("999999.99", False), ("12.30", False),
    ("1.100", None), ("1e-2", None), ("1000000.000", None), ("1.0e6", None), ("1000000.0000000001", True),
]
QTY_LITERALS = [
    ("1", False), ("10000", False), ("5", False), ("0", True), ("-1", True), ("10001", True), ("1.5", True),
    ("1e400", True), ("99999999999999999999", True), ("-0", True), ("null", True), ('"x"', True), ("[]", True),
    ("1.0", None), ('"5"', None), ("true", None), ("1e1", None), ("9223372036854775808", True), ("NaN", True),
]
PID_LITERALS = [
    ("1", False), ("42", False), ("2147483647", None), ("9223372036854775807", None), ("9223372036854775808", None),
    ("0", True), ("-1", True), ("-9223372036854775809", True), ("1.5", True), ("1e400", True), ("null", True),
    ('"x"', True), ("{}", True), ("1.0", None), ('"7"', None), ("false", None), ("99999999999999999999999999", None),
]


def literal(choices, valid_gen):
    return st.one_of(st.sampled_from(choices), valid_gen)


VALID_PRICE = st.integers(1, 100_000_000).map(lambda c: (f"{c // 100}.{c % 100:02d}", False))
INVALID_PRICE = st.one_of(
    st.integers(0, 10**9).flatmap(lambda n: st.integers(1, 9).map(lambda d: (f"{n // 1000}.{n % 1000 // 10:02d}{d}", True))),
    st.integers(100_000_001, 10**12).map(lambda c: (f"{c // 100}.{c % 100:02d}", True)),
    st.integers(-(10**9), 0).map(lambda c: (f"{c / 100:.2f}", True)),
)


def why_invalid(field: str, lit: str) -> str:
    """Short reason why a literal the oracle calls invalid is invalid."""
    if lit in ("NaN", "Infinity", "-Infinity"):
        return "not-json"
    try:
        v = json.loads(lit, parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        return "not-json"
    if isinstance(v, str):
        return "string"
    if v is None or isinstance(v, (bool, list, dict)):
        return "type"
    if "e" in lit.lower():
        return "exponent"
    if field == "price":
        if v <= 0:
            return "<=0"
        if v > 1_000_000:
            return ">max"
        return ">2-decimals"
    if v != v.to_integral_value():
        return "fraction"
    return "range"


@st.composite
def order_item(draw):
    """(json text, verdict, reason, values); verdict True = invalid. At most
    one field is mutated, so that a bad value gets past the others."""
    fields = {
        "product_id": (str(draw(st.integers(1, 10**6))), False),
        "quantity": (str(draw(st.integers(1, 10000))), False),
        "price": draw(VALID_PRICE),
    }
    mode = draw(st.sampled_from(["valid", "valid", "price", "price", "price", "price", "price", "quantity",
                                 "quantity", "product_id", "missing", "extra", "dup"]))
    if mode == "price":
        fields["price"] = draw(st.one_of(st.sampled_from(PRICE_LITERALS), INVALID_PRICE, VALID_PRICE))
    elif mode == "quantity":
        fields["quantity"] = draw(st.sampled_from(QTY_LITERALS))
    elif mode == "product_id":
        fields["product_id"] = draw(st.sampled_from(PID_LITERALS))
    reason = None
    unsure = False
    parts = []
    values = {}
    missing = draw(st.sampled_from(list(fields))) if mode == "missing" else None
    for k, (lit, verdict) in fields.items():
        if k == missing:
            reason = f"{k}:missing"
            continue
        parts.append(f'"{k}":{lit}')
        values[k] = lit
        if verdict is True:
            reason = reason or f"{k}:{why_invalid(k, lit)}"
        unsure |= verdict is None
    if mode == "extra":
        extra = draw(st.sampled_from(['"x":1', '"name":"\\u0000"', '"":null', '"x":1e400', '"PRICE":-1', '"x":"' + "é" * 50 + '"']))
        parts.append(extra)
    if mode == "extra" and draw(st.integers(0, 5)) == 0:
        # a lone surrogate escape (valid JSON grammar, not Unicode) or nesting
        # near the depth limit (SPEC §3 allows a limit): either answer is fine
        parts.append(draw(st.sampled_from(['"name":"\\ud800"', '"x":' + "[" * 50 + "]" * 50])))
        unsure = True
    if mode == "dup":
        parts.append('"price":' + draw(st.sampled_from(['1', '0', '"x"', '1e400'])))  # duplicate key
        unsure = True
    draw(st.randoms()).shuffle(parts)
    verdict = True if reason else (None if unsure else False)
    return "{" + ",".join(parts) + "}", verdict, reason, values


@st.composite
def order_bodies(draw):
    """(bytes, verdict, items_values, what): verdict True must be refused,
    False must be accepted, None no opinion."""
    kind = draw(st.sampled_from(["items"] * 6 + ["count", "shape", "bytes", "nest"]))
    if kind in ("items", "count"):
        n = draw(st.integers(1, 3)) if kind == "items" else draw(st.sampled_from([0, 100, 101, 150]))
        its = [draw(order_item()) if i < 3 else ('{"product_id":1,"quantity":1,"price":1}', False, None,
                                                 {"product_id": "1", "quantity": "1", "price": "1"})
               for i in range(n)]
        reasons = [i[2] for i in its if i[2]]
        if n == 0 or n > 100:
            reasons.insert(0, f"items:count={n}" if n else "items:empty")
        if reasons:
            verdict, what = True, "body:" + reasons[0]
        elif any(i[1] is None for i in its):
            verdict, what = None, "body:items-unsure"
        else:
            verdict, what = False, "body:valid"
        arr = "[" + ",".join(i[0] for i in its) + "]"
        top = ['"items":' + arr]
        if draw(st.integers(0, 5)) == 0:
            top.append(draw(st.sampled_from(['"user_id":2', '"status":"PAID"', '"total_price":0', '"id":"x"'])))
        body = ("{" + ",".join(top) + "}").encode("utf-8", "surrogatepass")
        return body, verdict, [i[3] for i in its], what
    if kind == "shape":
        body = draw(st.sampled_from([
            b"", b"{}", b"[]", b"null", b"1", b'"items"', b'{"items":null}', b'{"items":{}}', b'{"items":"[]"}',
            b'{"items":[null]}', b'{"items":[[]]}', b'{"items":[1]}', b'{"items":[{}]}', b'{"ITEMS":[]}',
            b'{"items":[{"product_id":1,"quantity":1,"price":1}]', b'{"items":[{"product_id":1,"quantity":1,"price":1}]}}',
            b'{"items":[{"product_id":1,"quantity":1,"price":1,}]}', b"{'items':[]}", b'{"items":[]}x',
            b'\xef\xbb\xbf{"items":[{"product_id":1,"quantity":1,"price":1}]}',
            b'{"items":[{"product_id":1,"quantity":1,"price":1}]}' + b" " * 1000,
            b'{"items":[{"product_id":1,"quantity":1,"price":1}],"items":[]}',
            b'{"items":[],"items":[{"product_id":1,"quantity":1,"price":1}]}',
            b'{"items":[{"product_id":1,"quantity":1,"price":1}],"x":"\xff"}',
            b'{"items":[{"product_id":1,"quantity":1,"price":1}],"x":"\xc0\xaf"}',
            b'{"items":[{"product_id":1,"quantity":1,"price":1}],"x":"\xed\xa0\x80"}',
            b'{"items":[{"product_id":1,"quantity":1,"price":1}],"\xff":1}',
            b'{"items":[{"product_id":1,"quantity":1,"price":1}],"x":"\x00"}',
            b'{"items":[{"product_id":1,"quantity":1,"price":1}],"x":"\\uDC00\\uD800"}',
            b'{"items":[{"product_id":1,"quantity":1,"price":1}],"x":"\\u"}',
            b'{"items":[{"product_id":1,"quantity":1,"price":1}]}\x00',
        ]))
        return body, None, None, "body:shape"
    if kind == "bytes":
        return draw(st.binary(max_size=200)), None, None, "body:bytes"
    depth = draw(st.sampled_from([10, 33, 64, 65, 100, 1000, 10000, 100000]))
    opener = draw(st.sampled_from([b"[", b'{"a":', b'{"items":[']))
    closer = {b"[": b"]", b'{"a":': b"}", b'{"items":[': b"]}"}[opener]
    return opener * depth + b"1" + closer * depth, True, None, "body:nest"


CONTENT_TYPES = [
    (b"application/json", False), (b"application/json; charset=utf-8", False), (b"Application/JSON", False),
    (b"application/vnd.api+json", False), (b"application/json;charset=UTF-8", False),
    (b"text/plain", True), (b"application/x-www-form-urlencoded", True), (b"multipart/form-data; boundary=x", True),
    (b"application/xml", True), (b"", None), (b"application/jsonx", True), (b"json", True),
    (b"application/json; charset=latin-1", None), (b"\xff", True), (b"application/json\x00", None),
    (None, None),  # FastAPI parses a body without Content-Type as JSON
]
VALID_ORDER = b'{"items":[{"product_id":1,"quantity":2,"price":0.10}]}'


@st.composite
def create_requests(draw, ctx):
    """One dimension fuzzed per request: the body, Content-Type, the token or
    Idempotency-Key; the others are valid."""
    dim = draw(st.sampled_from(["body"] * 6 + ["ctype", "auth", "key", "key"]))
    hdrs = list(ctx.auth(ctx.alice.token))
    ct = b"application/json"
    body, verdict, values, what = VALID_ORDER, False, [{"product_id": "1", "quantity": "2", "price": "0.10"}], ""
    if dim == "body":
        body, verdict, values, what = draw(order_bodies())
    elif dim == "ctype":
        ct, bad = draw(st.sampled_from(CONTENT_TYPES))
        verdict, what = (True if bad else (None if bad is None else False)), "header:Content-Type"
    elif dim == "auth":
        hdrs, bad, desc = draw(auth_header(ctx))
        verdict, what = (True if bad else (None if bad is None else False)), f"header:Authorization({desc})"
    else:
        k = draw(st.one_of(st.just(("prop-" + uuid.UUID(int=draw(st.integers(0, 2**64))).hex).encode()),
                           header_value()))
        hdrs.append((b"Idempotency-Key", k))
        verdict, what = None, "header:Idempotency-Key"
    if ct is not None:
        hdrs.append((b"Content-Type", ct))
    r = Req("POST", b"/orders/", "POST /orders/", what, hdrs, body, expect_error=verdict is True,
            allowed=frozenset({201, 401, 422}))
    r.expect_ok = verdict is False
    r.values = values
    return r


def exact_items_check(req, resp, body):
    m = check_order(body)
    if m:
        return m
    if not resp.header("location"):
        return "201 without Location"
    vals = getattr(req, "values", None)
    if vals is None or getattr(req, "expect_ok", False) is False:
        return None
    try:
        got = json.loads(resp.body, parse_float=Decimal, parse_int=Decimal)
    except ValueError as e:
        return f"bad JSON {e}"
    total = Decimal(0)
    for sent, it in zip(vals, got["items"]):
        p, q = Decimal(sent["price"]), Decimal(sent["quantity"])
        if it["price"] != p or it["quantity"] != q or it["product_id"] != Decimal(sent["product_id"]):
            return f"item sent {sent} came back {it}"
        total += p * q
    if got["total_price"] != total:
        return f"total_price {got['total_price']} != exact {total}"
    return None


def literal_sweep(ctx):
    """Every listed literal once, in an otherwise valid order (a table, so
    that each is sure to be tried whatever hypothesis draws)."""
    base = {"product_id": "7", "quantity": "3", "price": "0.10"}
    for field, table in (("price", PRICE_LITERALS), ("quantity", QTY_LITERALS), ("product_id", PID_LITERALS)):
        for lit, verdict in table:
            vals = dict(base, **{field: lit})
            for lead in ([], [base]):  # alone, and after a valid item (a total > 0 gets past DB checks)
                items = lead + [vals]
                body = ('{"items":[' + ",".join("{" + ",".join(f'"{k}":{v}' for k, v in it.items()) + "}"
                                                 for it in items) + "]}").encode()
                what = f"body:{field}:{why_invalid(field, lit)}" if verdict else "body:valid"
                r = Req("POST", b"/orders/", "POST /orders/", what,
                        ctx.auth(ctx.alice.token) + [(b"Content-Type", b"application/json")], body,
                        expect_error=verdict is True, allowed=frozenset({201, 401, 422}))
                r.expect_ok = verdict is False
                r.values = items
                yield r


def run_create(ctx, fails, req):
    resp = ctx.run(fails, req, exact_items_check)
    if req.expect_ok and resp.status != 201 and resp.status is not None and resp.status < 500:
        fails.add(req, resp, "rejected-valid", f"{resp.status} for a valid order: {resp.text()}")


def test_create_order_bodies_and_headers(ctx):
    fails = Failures()
    for req in literal_sweep(ctx):
        run_create(ctx, fails, req)

    @prop_settings(800)
    @given(create_requests(ctx))
    def run(req):
        run_create(ctx, fails, req)

    run()
    finish(ctx, fails)


# ---------------------------------------------------------------- 4. PATCH bodies

STATUS_LITERALS = [
    '"PAID"', '"PENDING"', '"CANCELED"', '"SHIPPED"', '"paid"', '"Paid"', '" PAID"', '"PAID "', '"PAID\\u0000"',
    '"CANCELLED"', '""', "null", "1", "true", "[]", "{}", '["PAID"]', '"\\ud800"', '"P\\u0041ID"', '"\xff"',
    '"' + "A" * 10000 + '"', "1e400",
]


@st.composite
def patch_requests(draw, ctx):
    oid = draw(st.sampled_from(ctx.alice_orders))
    kind = draw(st.sampled_from(["status", "status", "status", "shape", "bytes"]))
    if kind == "status":
        lit = draw(st.one_of(st.sampled_from(STATUS_LITERALS),
                             ANY_TEXT.map(lambda s: json.dumps(s))))
        extra = draw(st.sampled_from(["", ',"status":"PAID"', ',"x":1', ',"items":[]', ',"status":null']))
        body = ("{" + '"status":' + lit + extra + "}").encode("utf-8", "surrogatepass")
        known = lit.strip('"') in STATUSES and extra in ("", ',"x":1', ',"items":[]')
        verdict = None if known or extra else True
    elif kind == "shape":
        body = draw(st.sampled_from([b"", b"{}", b"[]", b"null", b'{"status"}', b'{"status":"PAID"',
                                     b'{"STATUS":"PAID"}', b'"PAID"', b'\xef\xbb\xbf{"status":"PAID"}',
                                     b'{"status":"PAID"}x', b'{"status":"\xff"}']))
        verdict = True
    else:
        body = draw(st.binary(max_size=100))
        verdict = None
    ct, ct_bad = draw(st.sampled_from(CONTENT_TYPES)) if draw(st.integers(0, 4)) == 0 else (b"application/json", False)
    hdrs = list(ctx.auth(ctx.alice.token))
    if ct is not None:
        hdrs.append((b"Content-Type", ct))
    return Req("PATCH", f"/orders/{oid}/".encode(), "PATCH /orders/{order_id}/", f"body:{kind}", hdrs, body,
               expect_error=verdict is True or ct_bad is True, allowed=ID_ROUTE | {409})


def test_patch_status_bodies(ctx):
    fails = Failures()

    @prop_settings(300)
    @given(patch_requests(ctx))
    def run(req):
        ctx.run(fails, req, order_body_check)

    run()
    finish(ctx, fails)


# ---------------------------------------------------------------- 5. headers on every route

HEADER_NAMES = [b"Idempotency-Key", b"X-Request-ID", b"X-Forwarded-For", b"traceparent", b"tracestate",
                b"Content-Type", b"Accept", b"Origin", b"Cookie", b"User-Agent", b"Accept-Encoding",
                b"X-Real-IP", b"Forwarded", b"If-None-Match", b"Range", b"Expect", b"Connection", b"Host"]
XFF_VALUES = [b"1.2.3.4", b"1.2.3.4, 5.6.7.8", b"::1", b"[::1]:80", b"fe80::1%eth0", b"999.999.999.999",
              b"unknown", b", , ,", b"1.2.3.4:65536", b"\xff", b"127.0.0.1" * 500, b"2001:db8::" + b"1" * 100,
              b"::ffff:1.2.3.4", b"0.0.0.0", b"-1.-1.-1.-1", b"1.2.3", b"01.02.03.04", b"0x7f.1"]
TRACEPARENT = [b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
               b"00-00000000000000000000000000000000-0000000000000000-00", b"ff-" + b"f" * 32 + b"-" + b"f" * 16 + b"-ff",
               b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", b"00-\xff-\xff-01", b"0" * 1000, b"--",
               b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01"]


def route_targets(ctx):
    oid = ctx.alice_orders[0]
    a = ctx.alice.id
    return [
        ("GET", f"/orders/{oid}/".encode(), "GET /orders/{order_id}/", None, ID_ROUTE, order_body_check),
        ("PATCH", f"/orders/{oid}/".encode(), "PATCH /orders/{order_id}/", b'{"status":"PENDING"}',
         ID_ROUTE | {409}, order_body_check),
        ("GET", f"/orders/user/{a}/?limit=2".encode(), "GET /orders/user/{user_id}/", None, LIST_ROUTE,
         list_body_check),
        ("POST", b"/orders/", "POST /orders/", b'{"items":[{"product_id":1,"quantity":1,"price":1.5}]}',
         frozenset({201, 401, 422}), order_body_check),
        ("GET", b"/health", "GET /health", None, frozenset({200}), None),
        ("GET", b"/ready", "GET /ready", None, frozenset({200}), None),
        ("GET", b"/metrics", "GET /metrics", None, frozenset({200}), None),
        ("GET", b"/openapi.json", "GET /openapi.json", None, frozenset({200}), lambda q, r, b: None),
        ("GET", b"/docs", "GET /docs", None, frozenset({200}), None),
        ("POST", b"/register/", "POST /register/", None, frozenset({201, 400, 422}), None),
        ("POST", b"/token/", "POST /token/", None, frozenset({200, 401, 422}), None),
    ]


def value_class(v: bytes) -> str:
    if not v:
        return "empty"
    if len(v) > 8000:
        return "long"
    if any(c < 0x20 and c != 0x09 or c == 0x7F for c in v):
        return "ctl"
    if any(c >= 0x80 for c in v):
        try:
            v.decode("utf-8")
            return "utf8"
        except UnicodeDecodeError:
            return "bad-utf8"
    return "ascii"


@st.composite
def header_requests(draw, ctx):
    """A valid request to one route with exactly one header fuzzed (name and
    value class give the failure's label)."""
    method, target, route, body, allowed, bc = draw(st.sampled_from(route_targets(ctx)))
    authed = route.startswith(("GET /orders", "PATCH", "POST /orders"))
    hdrs = list(ctx.auth(ctx.alice.token)) if authed else []
    ct = b"application/json"
    if route == "POST /register/":
        body = json.dumps({"email": unique_email("prop"), "password": "correct-horse-battery"}).encode()
    if route == "POST /token/":
        body = f"username={quote(ctx.alice.email)}&password=wrong-password".encode()
        ct = b"application/x-www-form-urlencoded"
    bad = False
    if authed and draw(st.integers(0, 3)) == 0:
        hdrs, bad, desc = draw(auth_header(ctx))
        what = f"header:Authorization({desc})"
    else:
        name = draw(st.one_of(st.sampled_from(HEADER_NAMES),
                              st.binary(min_size=1, max_size=12).map(
                                  lambda b: bytes(c for c in b if 0x21 <= c < 0x7F and c != 0x3A) or b"X")))
        if name == b"X-Forwarded-For":
            v = draw(st.one_of(st.sampled_from(XFF_VALUES), header_value()))
        elif name == b"traceparent":
            v = draw(st.one_of(st.sampled_from(TRACEPARENT), header_value()))
        elif name == b"Content-Type":
            v = draw(st.sampled_from([c for c, _ in CONTENT_TYPES if c is not None]))
            ct = None
        elif name in (b"Connection", b"Expect", b"Host"):
            v = draw(st.sampled_from([b"", b"\xff", b"keep-alive, close", b"upgrade", b"a" * 300, b"127.0.0.1:1"]))
        else:
            v = draw(header_value())
        hdrs.append((name, v))
        if draw(st.integers(0, 5)) == 0:
            hdrs.append((name, draw(header_value())))  # the same header twice
        what = f"header:{header_label(name)}={value_class(v)}"
    if ct is not None and body is not None:
        hdrs.append((b"Content-Type", ct))
    return Req(method, target, route, what, hdrs, body, allowed=allowed, expect_error=bad is True)


def test_headers_on_every_route(ctx):
    fails = Failures()

    @prop_settings(800)
    @given(header_requests(ctx))
    def run(req):
        resp = ctx.run(fails, req)
        sent = [v for n, v in req.headers if n.lower() == b"x-request-id"]
        echo = resp.header("x-request-id")
        if resp.status and echo is not None and sent and any(
            c < 0x20 or c == 0x7F for c in echo.encode("latin-1", "replace")
        ):
            fails.add(req, resp, "x-request-id-echo-unsafe", f"echoed X-Request-ID {echo!r}")

    run()
    finish(ctx, fails)


# ---------------------------------------------------------------- 6. POST /register/

EMAILS = ["a@b.c", "A@EXAMPLE.COM", " x@example.com ", "x@example", "@example.com", "x@", "x", "", "x@@example.com",
          "x@example..com", "x@.com", "x@example.com\u0000", "x\n@example.com", "\u00e9@example.com",
          "x@\u00e9xample.com", "x" * 250 + "@e.co", "x" * 65 + "@example.com", "x@" + "e" * 300 + ".com",
          "\ud800@example.com", "x@example.com\ud800", "'; DROP TABLE users;--@example.com"]


def json_value():
    return st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), ANY_TEXT),
        lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(ANY_TEXT, c, max_size=3)),
        max_leaves=6,
    )


@st.composite
def register_requests(draw, ctx):
    kind = draw(st.sampled_from(["fields", "fields", "types", "raw"]))
    if kind == "fields":
        email = draw(st.one_of(st.sampled_from(EMAILS), ANY_TEXT, st.just(unique_email("prop"))))
        pw = draw(st.one_of(st.sampled_from(["", "1234567", "12345678", "x" * 128, "x" * 129, "x" * 100000,
                                             "\u0000" * 8, "\ud800" * 8, "pässwörd-🔑"]), ANY_TEXT))
        body = json.dumps({"email": email, "password": pw}).encode()
        what = "body:fields"
    elif kind == "types":
        d = {"email": draw(json_value()), "password": draw(json_value())}
        if draw(st.booleans()):
            d.pop(draw(st.sampled_from(["email", "password"])))
        body = json.dumps(d).encode()
        what = "body:types"
    else:
        body = draw(st.sampled_from([
            b'{"email":"x\xff@example.com","password":"password-123"}',
            b'{"email":"x@example.com","password":"\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"}',
            b'{"email":"\\ud800@example.com","password":"password-123"}',
            b'{"email":"a@example.com","email":"b@example.com","password":"password-123"}',
            b'{"email":"x@example.com","password":1e400}', b'{"email":["x@example.com"],"password":"password-123"}',
            b"email=x@example.com&password=password-123", b"", b"[", b"\x00",
        ])) if draw(st.booleans()) else draw(st.binary(max_size=100))
        what = "body:raw"
    ct = draw(st.sampled_from(CONTENT_TYPES))[0] if draw(st.integers(0, 4)) == 0 else b"application/json"
    hdrs = [(b"Content-Type", ct)] if ct is not None else []
    return Req("POST", b"/register/", "POST /register/", what, hdrs, body, allowed=frozenset({201, 400, 422}))


def register_check(req, resp, body):
    if not isinstance(body, dict) or set(body) != {"id", "email", "created_at"}:
        return f"register body {resp.text()}"
    return None


def test_register_bodies(ctx):
    fails = Failures()

    @prop_settings(250)
    @given(register_requests(ctx))
    def run(req):
        ctx.run(fails, req, register_check)

    run()
    finish(ctx, fails)


# ---------------------------------------------------------------- 7. POST /token/ forms


@st.composite
def token_requests(draw, ctx):
    def val():
        return draw(st.one_of(
            st.sampled_from([quote(ctx.alice.email).encode(), ctx.alice.email.encode(), b"", b"%FF", b"%ff%fe",
                             b"%C0%AF", b"%ED%A0%80", b"%00", b"%ZZ", b"%", b"%2", b"a b", b"a+b", b"\xff", b"\x00",
                             b"a%20b", b"correct-horse-battery", b"x" * 5000, b"%" * 100, b"=", b"&"]),
            ANY_TEXT.map(lambda s: quote(s).encode()),
            st.binary(max_size=20).map(pct),
            st.binary(max_size=20).map(lambda b: b.replace(b"&", b"")),
        ))

    mode = draw(st.sampled_from(["username", "username", "password", "password", "extra", "free"]))
    if mode != "free":
        user = val() if mode == "username" else quote(ctx.alice.email).encode()
        pw = val() if mode == "password" else b"correct-horse-battery"
        pairs = [b"username=" + user, b"password=" + pw]
        if mode == "extra":
            pairs.append(draw(st.sampled_from([b"grant_type=password", b"scope=", b"grant_type=%FF", b"scope=\xff",
                                               b"username=%FF", b"password=%ED%A0%80", b"client_id=\x00", b"=",
                                               b"&", b"username", b"password"])))
            draw(st.randoms()).shuffle(pairs)
        body = b"&".join(pairs)
        ct = b"application/x-www-form-urlencoded"
        if draw(st.integers(0, 5)) == 0:
            ct = draw(st.sampled_from([b"application/x-www-form-urlencoded; charset=utf-8", b"text/plain",
                                       b"application/json", b"multipart/form-data; boundary=x", b"\xff", b"", None]))
        hdrs = [(b"Content-Type", ct)] if ct is not None else []
        return Req("POST", b"/token/", "POST /token/", f"body:form:{mode}", hdrs, body,
                   allowed=frozenset({200, 401, 422}))
    pairs = []
    for _ in range(draw(st.integers(0, 5))):
        k = draw(st.sampled_from([b"username", b"password", b"grant_type", b"scope", b"client_id", b"USERNAME",
                                  b"user%6Eame", b"", b"%FF", b"username[]"]))
        if draw(st.integers(0, 7)) == 0:
            pairs.append(k)
        else:
            pairs.append(k + b"=" + val())
    body = draw(st.sampled_from([b"&", b"&", b"&&", b";"])).join(pairs)
    if draw(st.integers(0, 9)) == 0:
        body = draw(st.binary(max_size=60))
    ct = draw(st.sampled_from([b"application/x-www-form-urlencoded"] * 6 + [
        b"application/x-www-form-urlencoded; charset=utf-8", b"application/x-www-form-urlencoded; charset=latin-1",
        b"multipart/form-data; boundary=x", b"multipart/form-data", b"application/json", b"text/plain", b"\xff",
        b"", None]))
    hdrs = [(b"Content-Type", ct)] if ct is not None else []
    return Req("POST", b"/token/", "POST /token/", "body:form", hdrs, body, allowed=frozenset({200, 401, 422}))


def token_check(req, resp, body):
    if not isinstance(body, dict) or not {"access_token", "token_type"} <= set(body):
        return f"token body {resp.text()}"
    return None


def test_token_forms(ctx):
    fails = Failures()

    @prop_settings(250)
    @given(token_requests(ctx))
    def run(req):
        ctx.run(fails, req, token_check)

    run()
    finish(ctx, fails)


# ---------------------------------------------------------------- 8. methods and paths

KNOWN_PATHS = [b"/health", b"/ready", b"/metrics", b"/openapi.json", b"/docs", b"/docs/", b"/register/", b"/token/",
               b"/orders/", b"/orders/user/1/", b"/orders/{id}/"]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "get", "FOO", "G\xc9T", "PROPFIND",
           "X" * 200, "M-SEARCH", "CONNECT"]


@st.composite
def method_path_requests(draw, ctx):
    method = draw(st.sampled_from(METHODS))
    kind = draw(st.sampled_from(["known", "docs", "junk", "dots"]))
    if kind == "known":
        p = draw(st.sampled_from(KNOWN_PATHS)).replace(b"{id}", ctx.alice_orders[0].encode())
        p = draw(st.sampled_from([p, p.rstrip(b"/"), p + b"/", b"/" + p, p + b"//", p.upper(), p + b"%2F",
                                  p + b"?" + b"a" * 3000, p + b"#frag", p.replace(b"/", b"%2F", 2)]))
    elif kind == "docs":
        p = b"/docs/" + draw(st.one_of(
            st.sampled_from([b"..%2F..%2F..%2F..%2Fetc%2Fpasswd", b"../../../../etc/passwd", b"%2e%2e/%2e%2e/etc/passwd",
                             b"..%5C..%5Cetc%5Cpasswd", b"swagger-ui.css", b"swagger-ui-bundle.js", b"index.html",
                             b"%00", b"%FF", b".", b"..", b"...", b"a/../../b", b"swagger-ui.css%00.js",
                             b"\xff", b"x" * 5000, b"/etc/passwd", b"%2Fetc%2Fpasswd"]),
            junk_segment()))
    elif kind == "dots":
        p = draw(st.sampled_from([b"/orders/../health", b"/./health", b"/orders/%2e%2e/health", b"//health",
                                  b"/health/..", b"*", b"http://127.0.0.1/health", b"health", b"/%", b"/\xff",
                                  b"/" + b"a/" * 2000, b"/orders/user/", b"/orders/user", b"/orders//",
                                  b"/orders/user//", b"/orders/user/1/x/", b"/orders/x/y/"]))
    else:
        p = b"/" + b"/".join(draw(st.lists(junk_segment(), min_size=1, max_size=4)))
    body = draw(st.sampled_from([None, b"", b"{}", b"x"]))
    hdrs = ctx.auth(ctx.alice.token) if draw(st.booleans()) else []
    return Req(method, p, f"{method[:10]} *", f"path:{kind}", hdrs, body)


def test_methods_and_paths(ctx):
    fails = Failures()

    @prop_settings(400)
    @given(method_path_requests(ctx))
    def run(req):
        resp = ctx.run(fails, req)
        if resp.status == 200 and (b"root:" in resp.body or b"[boot loader]" in resp.body):
            fails.add(req, resp, "path-traversal", f"200 with a system file: {resp.text()}")

    run()
    finish(ctx, fails)


# ---------------------------------------------------------------- 9. the log


def test_log_stays_valid_utf8_json(ctx):
    """Whatever the input, the api's log lines (LOG_FORMAT=json) are valid
    UTF-8 and valid JSON: nothing a client sends can break or forge a line."""
    gen, start = ctx.log_start
    bad: dict = {}
    for g in range(gen, ctx.server.generation + 1):
        f = ctx.server.workdir / f"api-{g}.log"
        if not f.exists():
            continue
        data = f.read_bytes()
        if g == gen:
            data = data[start:]
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                json.loads(line.decode("utf-8"))
                continue
            except UnicodeDecodeError:
                try:
                    obj = json.loads(line.decode("utf-8", "surrogateescape"))
                    fields = sorted(k for k, v in obj.items() if isinstance(v, str) and
                                    any("\udc80" <= ch <= "\udcff" for ch in v))
                    what = "invalid UTF-8 in field(s) " + ",".join(fields)
                except ValueError:
                    what = "invalid UTF-8, and not JSON"
            except ValueError:
                what = "not JSON"
            if what not in bad or len(line) < len(bad[what][0]):
                bad[what] = (line, bad.get(what, (b"", 0))[1] + 1)
            else:
                bad[what] = (bad[what][0], bad[what][1] + 1)
    assert not bad, f"{len(bad)} kind(s) of invalid log line:\n" + "\n".join(
        f"[{k}] {n} line(s), e.g. {line[:400]!r}" for k, (line, n) in sorted(bad.items())
    )


# ---------------------------------------------------------------- 10. coverage

COVERED = {
    ("get", "/health"), ("get", "/ready"), ("get", "/metrics"), ("get", "/openapi.json"), ("get", "/docs"),
    ("get", "/docs/{file}"), ("post", "/register"), ("post", "/token"), ("post", "/orders"),
    ("get", "/orders/user/{user_id}"), ("get", "/orders/{order_id}"), ("patch", "/orders/{order_id}"),
}


def test_every_route_is_fuzzed(ctx):
    """Every operation of /openapi.json is one this file generates requests
    for: a new route fails here until it is added to the generators."""
    r = send(ctx.host, ctx.port, Req("GET", b"/openapi.json", "GET /openapi.json", "-"))
    assert r.status == 200, r.text()
    doc = json.loads(r.body)
    ops = {(m.lower(), p.rstrip("/") or "/") for p, item in doc["paths"].items() for m in item
           if m.lower() in ("get", "post", "put", "patch", "delete")}
    missing = sorted(ops - COVERED)
    assert not missing, f"routes in /openapi.json that test_property.py does not fuzz: {missing}"
