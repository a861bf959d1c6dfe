"""The production surface of the api (SPEC §2 /ready and /metrics, §3 CORS and
rate limiting, §7 observability), beyond what test_cors_ratelimit.py and
test_http_basics.py already check.

Every test that needs a special configuration starts its own api process
(`api_factory`). Rate-limit tests use a Redis database of their own
(`RL_DB`) whose `ratelimit:*` keys are deleted before each test, since all
tests come from 127.0.0.1 and buckets are per client address. Tests that stop
or freeze a server are marked `outage` (conftest runs them last) and always
bring the server back in a `finally`.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis as redis_lib
import requests

from conftest import BIN, REPO
from helpers import TIMEOUT, Api, describe, free_port, item, wait_until

ALLOWED = "http://allowed.example"
OTHER_ALLOWED = "https://app.allowed.example:8443"
EVIL = "http://evil.example"
RL_DB = 9  # Redis database for the rate-limit buckets of this file's api processes
LIMITED_PATH = "/orders/user/1/"  # a rate-limited route; 401 without a token
SOME_ORDER = "7d3c1a52-2b9e-4b8f-9a51-0c6f3d2e8a10"  # stable test ids: no uuid4() at collection


# ---------------------------------------------------------------- small helpers


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return r, time.perf_counter() - t


def get(url, **kw):
    kw.setdefault("timeout", TIMEOUT)
    kw.setdefault("allow_redirects", False)
    return requests.get(url, **kw)


def header_values(resp: requests.Response, name: str) -> list[str]:
    """Every occurrence of a header as sent on the wire (requests joins
    repeated headers with ', ', which would hide duplicates)."""
    return resp.raw.headers.getlist(name)


def csv_set(value: str | None, upper=False) -> set[str]:
    out = {v.strip() for v in (value or "").split(",") if v.strip()}
    return {v.upper() for v in out} if upper else {v.lower() for v in out}


# ---------------------------------------------------------------- Prometheus text format

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SAMPLE_RE = re.compile(rf"^({_NAME})(?:\{{(.*)\}})?[ \t]+(\S+)(?:[ \t]+-?\d+)?[ \t]*$")
_LABEL_RE = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\\n]|\\.)*)"[ \t]*(,|$)')
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def _parse_labels(text: str, line: str) -> dict:
    labels, pos = {}, 0
    text = text.strip()
    while pos < len(text):
        m = _LABEL_RE.match(text, pos)
        assert m and m.end() > pos, f"malformed labels in metrics line {line!r}"
        assert m.group(1) not in labels, f"repeated label {m.group(1)!r} in {line!r}"
        labels[m.group(1)] = _unescape(m.group(2))
        pos = m.end()
        if m.group(3) != ",":
            break
    assert pos >= len(text), f"malformed labels in metrics line {line!r}"
    return labels


class Metrics:
    """A parsed Prometheus text exposition (format 0.0.4), checked while
    parsing: every sample belongs to a family with one valid # TYPE line that
    comes before its samples, no series is repeated, values are numbers."""

    def __init__(self, text: str):
        self.text = text
        self.types: dict[str, str] = {}
        self.helps: dict[str, str] = {}
        self.samples: dict[tuple, float] = {}
        seen_families: set[str] = set()
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 3 and parts[1] == "TYPE":
                    fam, typ = parts[2], (parts[3] if len(parts) > 3 else "").strip()
                    assert typ in _TYPES, f"bad metric type in {line!r}"
                    assert fam not in self.types, f"second # TYPE line for {fam}"
                    assert fam not in seen_families, f"# TYPE {fam} after its samples"
                    self.types[fam] = typ
                elif len(parts) >= 3 and parts[1] == "HELP":
                    assert parts[2] not in self.helps, f"second # HELP line for {parts[2]}"
                    self.helps[parts[2]] = parts[3] if len(parts) > 3 else ""
                continue
            m = _SAMPLE_RE.match(line)
            assert m, f"malformed metrics line {line!r}"
            name, label_text, raw = m.group(1), m.group(2) or "", m.group(3)
            try:
                value = float(raw)
            except ValueError:
                raise AssertionError(f"value is not a number in metrics line {line!r}") from None
            fam = self.family_of(name)
            assert fam is not None, f"sample {name} has no # TYPE line:\n{line}"
            seen_families.add(fam)
            key = (name, tuple(sorted(_parse_labels(label_text, line).items())))
            assert key not in self.samples, f"repeated series in metrics: {line!r}"
            self.samples[key] = value

    def family_of(self, name):
        if name in self.types:
            return name
        for suffix in ("_bucket", "_sum", "_count", "_total", "_created"):
            base = name[: -len(suffix)]
            if name.endswith(suffix) and base in self.types:
                return base
        return None

    def series(self, name) -> list[tuple[dict, float]]:
        return [(dict(lbl), v) for (n, lbl), v in self.samples.items() if n == name]

    def value(self, name, **labels) -> float:
        """Value of the series with exactly these labels; 0 if absent."""
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def has(self, name, **labels) -> bool:
        return (name, tuple(sorted(labels.items()))) in self.samples

    def total(self, name) -> float:
        return sum(v for _, v in self.series(name))

    def label_values(self) -> set[str]:
        return {v for (_, lbl) in self.samples for _, v in lbl}

    def check_histogram(self, fam, **labels):
        """Buckets cumulative, sorted by le, ending with +Inf == _count; _sum
        present. Returns (count, sum)."""
        buckets = []
        for lbl, v in self.series(fam + "_bucket"):
            le = lbl.pop("le", None)
            assert le is not None, f"{fam}_bucket without le: {lbl}"
            if lbl == labels:
                buckets.append((float(le), v))
        assert buckets, f"no {fam}_bucket series with labels {labels}:\n{self.text[:3000]}"
        buckets.sort()
        assert buckets[-1][0] == math.inf, f"{fam}{labels}: no le=\"+Inf\" bucket: {buckets}"
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), f"{fam}{labels}: buckets not cumulative: {buckets}"
        assert self.has(fam + "_count", **labels), f"{fam}_count{labels} missing"
        assert self.has(fam + "_sum", **labels), f"{fam}_sum{labels} missing"
        count = self.value(fam + "_count", **labels)
        assert counts[-1] == count, f"{fam}{labels}: +Inf bucket {counts[-1]} != _count {count}"
        return count, self.value(fam + "_sum", **labels)


def scrape(base_url) -> Metrics:
    r = get(base_url + "/metrics")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").startswith("text/plain"), describe(r)
    return Metrics(r.text)


def test_metrics_parser_self_check():
    """The parser above accepts valid text and refuses what Prometheus refuses."""
    m = Metrics(
        '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1",y="q\\"z"} 3\n'
        "# TYPE h histogram\n"
        'h_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.3\nh_count 2\n'
    )
    assert m.value("a_total", x="1", y='q"z') == 3
    assert m.check_histogram("h") == (2, 0.3)
    for bad in ("a 1\n", "# TYPE a counter\na{x=1} 1\n", "# TYPE a counter\na 1\na 2\n",
                "# TYPE a counter\na one\n", "# TYPE a counter\n# TYPE a gauge\na 1\n"):
        with pytest.raises(AssertionError):
            Metrics(bad)


# ---------------------------------------------------------------- process helpers


@pytest.fixture
def rl_redis(stack):
    """Client for RL_DB, with the rate-limit buckets of earlier tests removed."""
    r = redis_lib.Redis(host=stack.redis_host, port=stack.redis_port, db=RL_DB,
                        socket_timeout=5, socket_connect_timeout=5)
    keys = list(r.scan_iter("ratelimit:*"))
    if keys:
        r.delete(*keys)
    yield r
    r.close()


@pytest.fixture
def limited_api(api_factory, rl_redis):
    """limited_api(capacity, refill, **env) -> an api process with rate limiting
    on, its buckets in RL_DB (emptied before the test)."""

    def start(capacity=5, refill=0.01, **env):
        env.setdefault("REDIS_DB", str(RL_DB))
        # These tests count tokens in Redis: a Redis call slower than the default 100 ms
        # on a loaded machine would open the breaker and hand the counting to a fresh
        # local bucket (the fallback, tested elsewhere).
        env.setdefault("REDIS_TIMEOUT_MS", "2000")
        return api_factory(
            RATE_LIMIT_ENABLED="true",
            RATE_LIMIT_CAPACITY=str(capacity),
            RATE_LIMIT_REFILL_RATE=str(refill),
            **env,
        )

    return start


def start_or_refuse(env, cwd, timeout=10):
    """Start `order-service api`; return its CompletedProcess-like result if it
    exits, or None (after stopping it) as soon as it answers /health."""
    url = f"http://127.0.0.1:{env['API_PORT']}/health"
    proc = subprocess.Popen([str(BIN), "api"], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                out, err = proc.communicate(timeout=5)
                return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
            try:
                if requests.get(url, timeout=0.5).status_code == 200:
                    return None
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise AssertionError(f"api neither exited nor answered /health within {timeout}s")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate(timeout=5)


def redis_pid() -> int:
    """pid of the stack's Redis, from scripts/devstack's pid file."""
    d = Path(os.environ.get("DEVSTACK_DIR") or REPO / ".devstack")
    if not d.is_absolute():
        d = Path.cwd() / d
    f = d / "redis" / "redis.pid"
    try:
        pid = int(f.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError) as e:
        pytest.fail(f"cannot find the devstack Redis pid in {f}: {e}", pytrace=False)
    return pid


def ready(url, timeout=TIMEOUT):
    r, dt = timed(lambda: get(url + "/ready", timeout=timeout))
    body = r.json()
    assert isinstance(body, dict) and isinstance(body.get("checks"), dict), describe(r)
    assert set(body["checks"]) >= {"postgres", "redis", "rabbitmq"}, describe(r)
    return r, body, dt


def wait_ready(url, timeout=20):
    return wait_until(lambda: ready(url)[1]["status"] == "ready", timeout, interval=0.2,
                      desc=f"{url}/ready to say ready")


# ================================================================ CORS


CORS_ENV = dict(
    CORS_ALLOW_ORIGINS=f"{ALLOWED}, {OTHER_ALLOWED}",
    CORS_ALLOW_METHODS="GET,POST,PATCH",
    CORS_ALLOW_HEADERS="Authorization,Content-Type,Idempotency-Key,X-Request-ID",
    CORS_ALLOW_CREDENTIALS="true",
)
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Allow-Credentials",
)


@pytest.fixture
def cors_api(api_factory):
    return api_factory(**CORS_ENV)


def preflight(url, origin, method="POST", headers="authorization,content-type"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return requests.options(url, headers=h, timeout=TIMEOUT, allow_redirects=False)


@pytest.mark.parametrize(
    "path,method",
    [("/orders/", "POST"), ("/orders", "POST"),
     (f"/orders/{SOME_ORDER}/", "PATCH"), ("/orders/user/1/", "GET")],
)
def test_cors_preflight_headers_each_exactly_once(cors_api, path, method):
    """A preflight for an allowed origin is answered without authentication,
    with every CORS header exactly once and matching the configuration."""
    r = preflight(cors_api.url + path, ALLOWED, method=method,
                  headers="authorization,content-type,idempotency-key")
    assert r.status_code in (200, 204), describe(r)
    for name in CORS_HEADERS:
        assert len(header_values(r, name)) == 1, f"{name} not exactly once: {describe(r)}"
    assert r.headers["Access-Control-Allow-Origin"] == ALLOWED, describe(r)
    assert r.headers["Access-Control-Allow-Credentials"] == "true", describe(r)
    methods = csv_set(r.headers["Access-Control-Allow-Methods"], upper=True)
    assert method in methods, describe(r)
    assert methods <= {"GET", "POST", "PATCH", "HEAD", "OPTIONS"}, (
        f"preflight allows methods that are not configured: {describe(r)}"
    )
    allowed_headers = csv_set(r.headers["Access-Control-Allow-Headers"])
    assert {"authorization", "content-type", "idempotency-key"} <= allowed_headers, describe(r)
    # the answer depends on the Origin: caches must know
    assert "origin" in csv_set(r.headers.get("Vary")), describe(r)
    assert "WWW-Authenticate" not in r.headers, describe(r)


def test_cors_every_listed_origin_is_echoed_alone(cors_api):
    for origin in (ALLOWED, OTHER_ALLOWED):
        r = preflight(cors_api.url + "/orders/", origin)
        assert r.status_code in (200, 204), describe(r)
        assert header_values(r, "Access-Control-Allow-Origin") == [origin], describe(r)
        r = get(cors_api.url + "/health", headers={"Origin": origin})
        assert header_values(r, "Access-Control-Allow-Origin") == [origin], describe(r)


def test_cors_origins_as_json_list(api_factory):
    """.env.example: CORS lists are comma-separated or a JSON list."""
    p = api_factory(CORS_ALLOW_ORIGINS=json.dumps([ALLOWED, OTHER_ALLOWED]),
                    CORS_ALLOW_METHODS='["GET", "POST"]', CORS_ALLOW_HEADERS='["Authorization"]')
    for origin in (ALLOWED, OTHER_ALLOWED):
        r = preflight(p.url + "/orders/", origin, headers="authorization")
        assert r.status_code in (200, 204), describe(r)
        assert r.headers.get("Access-Control-Allow-Origin") == origin, describe(r)
    r = preflight(p.url + "/orders/", EVIL, headers="authorization")
    assert "Access-Control-Allow-Origin" not in r.headers, describe(r)


@pytest.mark.parametrize(
    "origin",
    [
        EVIL,
        "http://allowed.example.evil.example",  # suffix/prefix tricks
        "http://evil.example/http://allowed.example",
        "https://allowed.example",  # other scheme
        "http://allowed.example:8080",  # other port
        "HTTP://ALLOWED.EXAMPLE.EVIL",
        "null",
        "*",
    ],
)
def test_cors_disallowed_origin_gets_no_allow_origin(cors_api, origin):
    r = preflight(cors_api.url + "/orders/", origin)
    assert r.status_code < 500, describe(r)
    for name in ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"):
        assert name not in r.headers, describe(r)
    # simple requests, successful or not
    for path in ("/health", "/orders/user/1/", "/nope"):
        r = get(cors_api.url + path, headers={"Origin": origin})
        assert r.status_code < 500, describe(r)
        for name in ("Access-Control-Allow-Origin", "Access-Control-Allow-Credentials"):
            assert name not in r.headers, describe(r)


def test_cors_preflight_for_a_method_or_header_not_configured(cors_api):
    """CORS_ALLOW_METHODS=GET,POST,PATCH: a preflight asking for DELETE/PUT is
    not granted; nor is a request header that is not configured."""
    for method in ("DELETE", "PUT"):
        r = preflight(cors_api.url + f"/orders/{uuid.uuid4()}/", ALLOWED, method=method)
        assert r.status_code < 500, describe(r)
        granted = csv_set(r.headers.get("Access-Control-Allow-Methods"), upper=True)
        assert "Access-Control-Allow-Origin" not in r.headers or method not in granted, describe(r)
    r = preflight(cors_api.url + "/orders/", ALLOWED, headers="authorization,x-not-configured")
    assert r.status_code < 500, describe(r)
    granted = csv_set(r.headers.get("Access-Control-Allow-Headers"))
    assert "Access-Control-Allow-Origin" not in r.headers or (
        "x-not-configured" not in granted and "*" not in granted
    ), describe(r)


def test_cors_wildcards_with_credentials_are_made_explicit(api_factory):
    """With credentials, browsers take '*' in Allow-Methods/Allow-Headers
    literally: the answer must name the requested method and headers."""
    p = api_factory(CORS_ALLOW_ORIGINS=ALLOWED, CORS_ALLOW_METHODS="*", CORS_ALLOW_HEADERS="*",
                    CORS_ALLOW_CREDENTIALS="true")
    r = preflight(p.url + f"/orders/{uuid.uuid4()}/", ALLOWED, method="PATCH",
                  headers="authorization,content-type,x-custom-thing")
    assert r.status_code in (200, 204), describe(r)
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED, describe(r)
    assert r.headers.get("Access-Control-Allow-Credentials") == "true", describe(r)
    assert "PATCH" in csv_set(r.headers.get("Access-Control-Allow-Methods"), upper=True), describe(r)
    assert {"authorization", "content-type", "x-custom-thing"} <= csv_set(
        r.headers.get("Access-Control-Allow-Headers")), describe(r)


def test_cors_simple_requests_from_allowed_origin(cors_api):
    """Simple requests from an allowed origin carry ACAO (once), credentials,
    Vary: Origin and expose the headers a browser client needs to read -
    on errors too, so that the client can read the error."""
    a = Api(cors_api.url)
    user = a.new_user()
    origin = {"Origin": ALLOWED}
    responses = {
        "health": a.get("/health", headers=origin),
        "201": a.create_order(user.token, [item()], headers=origin),
        "401": a.get("/orders/user/1/", headers=origin),
        "404": a.get("/nope", headers=origin),
        "422": a.post("/orders/", data="{", headers=dict(origin, **user.headers,
                                                        **{"Content-Type": "application/json"})),
    }
    assert responses["201"].status_code == 201, describe(responses["201"])
    for name, r in responses.items():
        assert header_values(r, "Access-Control-Allow-Origin") == [ALLOWED], f"{name}: {describe(r)}"
        assert header_values(r, "Access-Control-Allow-Credentials") == ["true"], f"{name}: {describe(r)}"
        assert "origin" in csv_set(r.headers.get("Vary")), f"{name}: {describe(r)}"
        assert len(header_values(r, "Access-Control-Expose-Headers")) == 1, f"{name}: {describe(r)}"
        exposed = csv_set(r.headers["Access-Control-Expose-Headers"])
        assert {"location", "link", "x-request-id", "retry-after"} <= exposed, f"{name}: {describe(r)}"
    # and the simple GET of an order (with the Authorization header)
    oid = responses["201"].json()["id"]
    r = a.get(f"/orders/{oid}/", headers=dict(origin, **user.headers))
    assert r.status_code == 200, describe(r)
    assert header_values(r, "Access-Control-Allow-Origin") == [ALLOWED], describe(r)


def test_cors_wildcard_origin_without_credentials(api_factory):
    p = api_factory(CORS_ALLOW_ORIGINS="*", CORS_ALLOW_CREDENTIALS="false")
    r = preflight(p.url + "/orders/", "http://anything.example")
    assert r.status_code in (200, 204), describe(r)
    assert header_values(r, "Access-Control-Allow-Origin") in (["*"], ["http://anything.example"]), describe(r)
    assert "Access-Control-Allow-Credentials" not in r.headers, describe(r)
    r = get(p.url + "/health", headers={"Origin": "http://anything.example"})
    assert header_values(r, "Access-Control-Allow-Origin") in (["*"], ["http://anything.example"]), describe(r)
    assert r.headers.get("Access-Control-Allow-Credentials", "false") != "true", describe(r)


@pytest.mark.parametrize("origins", ["*", f"{ALLOWED},*", json.dumps(["*"])])
def test_cors_wildcard_with_credentials_refused_at_startup(service_env, tmp_path, origins):
    env = service_env(API_PORT=free_port(), CORS_ALLOW_ORIGINS=origins, CORS_ALLOW_CREDENTIALS="true")
    r = start_or_refuse(env, tmp_path)
    assert r is not None, f"api started with CORS_ALLOW_ORIGINS={origins!r} and credentials true"
    assert r.returncode == 2, f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "CORS_ALLOW_CREDENTIALS" in r.stderr, r.stderr


BAD_SURFACE_CONFIG = [
    ("CORS_ALLOW_CREDENTIALS", "maybe"),
    ("CORS_ALLOW_ORIGINS", '["http://a.example"'),
    ("CORS_ALLOW_METHODS", '["GET", 1]'),
    ("RATE_LIMIT_CAPACITY", "abc"),
    ("RATE_LIMIT_CAPACITY", "0"),
    ("RATE_LIMIT_CAPACITY", "-5"),
    ("RATE_LIMIT_REFILL_RATE", "abc"),
    ("RATE_LIMIT_REFILL_RATE", "-1"),
    ("RATE_LIMIT_REFILL_RATE", "0"),
    ("RATE_LIMIT_BACKEND", "memcached"),
    ("TRUSTED_PROXIES", "not-an-ip"),
    ("TRUSTED_PROXIES", "127.0.0.1, proxy.internal:8080"),
    ("METRICS_PORT", "abc"),
]


@pytest.mark.parametrize("var,value", BAD_SURFACE_CONFIG, ids=[f"{v}={x!r}" for v, x in BAD_SURFACE_CONFIG])
def test_bad_surface_config_exits_2_naming_the_variable(service_env, tmp_path, var, value):
    """SPEC §6: a bad value is a clear startup error naming the variable,
    never a silent default (a TRUSTED_PROXIES entry that can never match a
    peer address silently disables the proxy support)."""
    env = service_env(API_PORT=free_port(), RATE_LIMIT_ENABLED="true", **{var: value})
    r = start_or_refuse(env, tmp_path)
    assert r is not None, f"api started with {var}={value!r} instead of refusing the value"
    assert r.returncode == 2, f"{var}={value!r}: rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert var in r.stderr, f"stderr does not name {var}:\n{r.stderr}"


# ================================================================ rate limiting


def hit(url, n, headers=None, path=LIMITED_PATH):
    """n GETs of a rate-limited route; returns the responses."""
    s = requests.Session()
    return [s.get(url + path, headers=headers or {}, timeout=TIMEOUT, allow_redirects=False)
            for _ in range(n)]


def codes(rs):
    return [r.status_code for r in rs]


def test_rate_limit_shared_by_all_instances(limited_api):
    """Two api processes on the same Redis share one bucket per client."""
    a = limited_api(capacity=5, refill=0.01)
    b = limited_api(capacity=5, refill=0.01)
    s = requests.Session()
    rs = [s.get((a if i % 2 == 0 else b).url + LIMITED_PATH, timeout=TIMEOUT) for i in range(10)]
    assert codes(rs) == [401] * 5 + [429] * 5, (
        f"requests alternating between two instances: {codes(rs)} "
        "(5 allowed in all is expected; 10 means per-instance buckets)"
    )
    # RateLimit-Remaining, where given on allowed answers, counts down across both
    remaining = [r.headers.get("RateLimit-Remaining") for r in rs[:5]]
    if all(v is not None for v in remaining):
        assert [int(v) for v in remaining] == [4, 3, 2, 1, 0], remaining
    # both instances now refuse
    for p in (a, b):
        r = get(p.url + LIMITED_PATH)
        assert r.status_code == 429, describe(r)


def test_rate_limit_429_response(limited_api):
    p = limited_api(capacity=5, refill=0.01, CORS_ALLOW_ORIGINS=ALLOWED)
    before = scrape(p.url)
    rs = hit(p.url, 7, headers={"Origin": ALLOWED, "X-Request-ID": "rl-429"})
    assert codes(rs) == [401] * 5 + [429] * 2, codes(rs)
    r = rs[-1]
    assert r.json() == {"detail": "rate limit exceeded"}, describe(r)
    assert r.headers.get("Content-Type", "").startswith("application/json"), describe(r)
    ra = r.headers.get("Retry-After", "")
    assert ra.isdigit(), describe(r)
    # one token takes 1 / 0.01 = 100 s
    assert 1 <= int(ra) <= 101, f"Retry-After {ra} with refill 0.01/s: {describe(r)}"
    assert r.headers.get("RateLimit-Limit") == "5", describe(r)
    assert r.headers.get("RateLimit-Remaining") == "0", describe(r)
    reset = r.headers.get("RateLimit-Reset", "")
    assert reset.isdigit() and 1 <= int(reset) <= 501, describe(r)
    # a browser client must be able to read it
    assert r.headers.get("Access-Control-Allow-Origin") == ALLOWED, describe(r)
    assert r.headers.get("X-Request-ID") == "rl-429", describe(r)
    # counted
    after = scrape(p.url)
    assert after.types.get("http_rate_limited_total") == "counter", after.text[:2000]
    assert after.total("http_rate_limited_total") - before.total("http_rate_limited_total") == 2
    assert after.value("http_requests_total", method="GET", route="/orders/user/{user_id}",
                       status="429") == 2, after.text[:4000]


def test_rate_limit_retry_after_is_honest(limited_api):
    """Waiting Retry-After seconds is enough to get through again."""
    p = limited_api(capacity=2, refill=1)
    rs = hit(p.url, 3)
    assert codes(rs) == [401, 401, 429], codes(rs)
    ra = int(rs[-1].headers["Retry-After"])
    assert 1 <= ra <= 2, describe(rs[-1])
    time.sleep(ra + 0.05)
    r = get(p.url + LIMITED_PATH)
    assert r.status_code == 401, f"still limited after Retry-After={ra}s: {describe(r)}"


def test_rate_limit_exempt_paths_neither_limited_nor_counted(limited_api):
    p = limited_api(capacity=3, refill=0.01)
    exempt = ["/health", "/health/", "/ready", "/ready/", "/metrics", "/metrics/", "/docs", "/openapi.json"]
    s = requests.Session()
    for path in exempt:
        for _ in range(4):
            r = s.get(p.url + path, timeout=TIMEOUT, allow_redirects=False)
            assert r.status_code == 200, describe(r)
    # ~30 exempt requests took no token from the bucket
    assert codes(hit(p.url, 4)) == [401, 401, 401, 429]
    # and with the bucket empty they still answer
    for path in exempt:
        r = s.get(p.url + path, timeout=TIMEOUT, allow_redirects=False)
        assert r.status_code == 200, describe(r)


def test_rate_limit_applies_to_every_api_route(limited_api):
    """Not only one route: the bucket is per client, across routes."""
    p = limited_api(capacity=4, refill=0.01)
    a = Api(p.url)
    rs = [
        a.post("/register/", json={"email": "not-an-email", "password": "x"}),
        a.post("/token/", data={"username": "nobody@example.com", "password": "password-123"}),
        a.get(f"/orders/{uuid.uuid4()}/"),
        a.post("/orders/", json={"items": []}),
    ]
    assert 429 not in codes(rs), codes(rs)
    for r in (a.get(f"/orders/{uuid.uuid4()}/"), a.patch(f"/orders/{uuid.uuid4()}/", json={}),
              a.post("/token/", data={}), a.post("/register/", json={})):
        assert r.status_code == 429, describe(r)


def test_rate_limit_disabled(api_factory, rl_redis):
    p = api_factory(RATE_LIMIT_ENABLED="false", RATE_LIMIT_CAPACITY="1", RATE_LIMIT_REFILL_RATE="0.001",
                    REDIS_DB=str(RL_DB))
    rs = hit(p.url, 15)
    assert set(codes(rs)) == {401}, codes(rs)
    assert scrape(p.url).total("http_rate_limited_total") == 0


def test_rate_limit_trusted_proxy_buckets_per_forwarded_client(limited_api):
    p = limited_api(capacity=3, refill=0.01, TRUSTED_PROXIES="127.0.0.1")
    n = uuid.uuid4().int
    ip_a = f"10.{n % 250}.{(n >> 8) % 250}.1"
    ip_b = f"10.{n % 250}.{(n >> 8) % 250}.2"
    assert codes(hit(p.url, 4, {"X-Forwarded-For": ip_a})) == [401, 401, 401, 429]
    # another client behind the proxy has its own bucket
    assert codes(hit(p.url, 1, {"X-Forwarded-For": ip_b})) == [401]
    # the proxy itself (no header) too
    assert codes(hit(p.url, 1)) == [401]
    # client A cannot escape by sending its own X-Forwarded-For through the
    # proxy (which appends the real address): the rightmost untrusted entry counts
    for xff in (ip_a, f"203.0.113.77, {ip_a}", f"{ip_b}, {ip_a}", f"{ip_a}, 127.0.0.1"):
        r = hit(p.url, 1, {"X-Forwarded-For": xff})[0]
        assert r.status_code == 429, f"X-Forwarded-For: {xff}: {describe(r)}"
    assert codes(hit(p.url, 1, {"X-Forwarded-For": ip_b})) == [401]


@pytest.mark.parametrize("trusted", [None, "10.99.99.99"], ids=["no-trusted-proxies", "other-proxy"])
def test_rate_limit_forwarded_for_ignored_from_untrusted_peer(limited_api, trusted):
    p = limited_api(capacity=3, refill=0.01, TRUSTED_PROXIES=trusted)
    assert codes(hit(p.url, 3, {"X-Forwarded-For": "10.1.1.1"})) == [401] * 3
    # spoofing another address does not reset the bucket
    for xff in ("10.1.1.2", "198.51.100.7", "10.1.1.3, 10.1.1.4", None):
        r = hit(p.url, 1, {"X-Forwarded-For": xff} if xff else None)[0]
        assert r.status_code == 429, f"X-Forwarded-For: {xff}: {describe(r)}"


def test_rate_limit_atomic_under_concurrency(limited_api):
    """30 concurrent requests over two instances, capacity 5: exactly 5 pass
    (the bucket update is atomic, no lost updates)."""
    from concurrent.futures import ThreadPoolExecutor

    a = limited_api(capacity=5, refill=0.01, API_THREADS="4")
    b = limited_api(capacity=5, refill=0.01, API_THREADS="4")

    def one(i):
        return get((a if i % 2 else b).url + LIMITED_PATH).status_code

    with ThreadPoolExecutor(30) as ex:
        c = list(ex.map(one, range(30)))
    assert sorted(c) == [401] * 5 + [429] * 25, f"{c.count(401)} passed: {c}"


def test_rate_limit_buckets_expire_in_redis(limited_api, rl_redis):
    """Buckets are per client address: every bucket key gets a TTL, or Redis
    grows by one key per client address forever."""
    p = limited_api(capacity=5, refill=1, TRUSTED_PROXIES="127.0.0.1")
    for i in range(5):
        hit(p.url, 1, {"X-Forwarded-For": f"192.0.2.{i + 1}"})
    keys = list(rl_redis.scan_iter("ratelimit:*"))
    assert len(keys) >= 5, f"expected a bucket per client in Redis db {RL_DB}, got {keys}"
    for k in keys:
        ttl = rl_redis.ttl(k)
        # a full bucket is refilled after capacity/refill = 5 s: no need to keep it longer than that, roughly
        assert 0 < ttl <= 60, f"{k!r} has TTL {ttl}"


def test_rate_limit_memory_backend_is_per_instance(limited_api, rl_redis):
    a = limited_api(capacity=3, refill=0.01, RATE_LIMIT_BACKEND="memory")
    b = limited_api(capacity=3, refill=0.01, RATE_LIMIT_BACKEND="memory")
    assert codes(hit(a.url, 4)) == [401, 401, 401, 429]
    assert codes(hit(b.url, 4)) == [401, 401, 401, 429]
    assert list(rl_redis.scan_iter("ratelimit:*")) == []


def test_rate_limit_trusted_proxy_cidr_or_refused(service_env, api_factory, rl_redis, tmp_path):
    """TRUSTED_PROXIES=127.0.0.0/8: either CIDR ranges work, or the value is
    refused at startup; never accepted and silently ignored."""
    r = start_or_refuse(service_env(API_PORT=free_port(), TRUSTED_PROXIES="127.0.0.0/8"), tmp_path)
    if r is not None:
        assert r.returncode == 2 and "TRUSTED_PROXIES" in r.stderr, (r.returncode, r.stderr)
        return
    # it started: then the range must be honoured
    p = api_factory(RATE_LIMIT_ENABLED="true", RATE_LIMIT_CAPACITY="2", RATE_LIMIT_REFILL_RATE="0.01",
                    REDIS_DB=str(RL_DB), TRUSTED_PROXIES="127.0.0.0/8")
    assert codes(hit(p.url, 3, {"X-Forwarded-For": "192.0.2.10"})) == [401, 401, 429]
    r = hit(p.url, 1, {"X-Forwarded-For": "192.0.2.11"})[0]
    assert r.status_code == 401, (
        "TRUSTED_PROXIES=127.0.0.0/8 was accepted but X-Forwarded-For from 127.0.0.1 is "
        f"ignored (all clients share one bucket): {describe(r)}"
    )


@pytest.mark.parametrize("xff", ["", ", ,", "garbage", "999.1.1.1", "x" * 2000])
def test_rate_limit_odd_forwarded_for_from_trusted_proxy(limited_api, xff):
    p = limited_api(capacity=50, refill=1, TRUSTED_PROXIES="127.0.0.1")
    r = hit(p.url, 1, {"X-Forwarded-For": xff})[0]
    assert r.status_code in (400, 401), describe(r)


@pytest.mark.outage
def test_rate_limit_while_redis_hangs(limited_api):
    """A frozen Redis (accepts, never answers) does not slow limited routes
    down, and they stay limited."""
    p = limited_api(capacity=5, refill=0.01, REDIS_TIMEOUT_MS="100")  # the default
    assert codes(hit(p.url, 1)) == [401]
    pid = redis_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        s = requests.Session()
        rs, times = [], []
        for _ in range(12):
            r, dt = timed(lambda: s.get(p.url + LIMITED_PATH, timeout=TIMEOUT))
            rs.append(r)
            times.append(dt)
    finally:
        os.kill(pid, signal.SIGCONT)
    c = codes(rs)
    assert set(c) <= {401, 429} and c[-1] == 429 and c.count(401) <= 5, c
    slow = [round(t, 3) for t in times if t > 0.3]
    assert len(slow) <= 1 and max(times) < 1.5, f"request times with a frozen Redis: {times}"


@pytest.mark.outage
def test_rate_limit_local_bucket_while_redis_down(limited_api, devstack):
    p = limited_api(capacity=5, refill=0.01)
    assert codes(hit(p.url, 1)) == [401]  # connected to Redis before the outage
    devstack("stop", "redis")
    try:
        rs, times = [], []
        s = requests.Session()
        for _ in range(12):
            r, dt = timed(lambda: s.get(p.url + LIMITED_PATH, timeout=TIMEOUT))
            rs.append(r)
            times.append(dt)
        c = codes(rs)
        assert all(x < 500 for x in c), f"5xx while Redis is down: {c}"
        assert set(c) <= {401, 429}, c
        assert c[0] == 401, f"a Redis outage must not lock every client out: {c}"
        assert c.count(401) <= 5 and c[-1] == 429, f"not limited while Redis is down: {c}"
        limited = rs[-1]
        assert limited.json() == {"detail": "rate limit exceeded"}, describe(limited)
        assert limited.headers.get("Retry-After", "").isdigit(), describe(limited)
        assert max(times) < 1.0, f"requests slow while Redis is down: {[round(t, 3) for t in times]}"
        # exempt paths are fine too
        r = get(p.url + "/health")
        assert r.status_code == 200, describe(r)
    finally:
        devstack("start", "redis")


# ================================================================ /ready and /health


def test_ready_all_up(api):
    for path in ("/ready", "/ready/"):
        wait_until(lambda: api.get(path).json().get("status") == "ready", 15, desc=f"{path} ready")
        r = api.get(path)
        assert r.status_code == 200, describe(r)
        assert r.headers.get("Content-Type", "").startswith("application/json"), describe(r)
        assert r.json() == {"status": "ready",
                            "checks": {"postgres": "ok", "redis": "ok", "rabbitmq": "ok"}}, describe(r)


@pytest.mark.outage
def test_ready_redis_stopped_is_degraded(api_factory, devstack):
    p = api_factory(REDIS_BREAKER_OPEN_MS="1000")
    wait_ready(p.url)
    devstack("stop", "redis")
    try:
        for _ in range(2):  # first probe and with the breaker open
            r, body, dt = ready(p.url)
            assert r.status_code == 200, describe(r)
            assert body["status"] == "degraded", describe(r)
            assert body["checks"]["redis"] != "ok", describe(r)
            assert body["checks"]["postgres"] == "ok" and body["checks"]["rabbitmq"] == "ok", describe(r)
            assert dt < 1.5, f"/ready took {dt:.2f}s"
        h = get(p.url + "/health")
        assert h.status_code == 200 and h.json() == {"status": "ok"}, describe(h)
    finally:
        devstack("start", "redis")
    wait_ready(p.url, 20)


@pytest.mark.outage
def test_ready_rabbitmq_stopped_is_degraded(api_factory, devstack):
    p = api_factory()
    wait_ready(p.url)
    devstack("stop", "rabbitmq")
    try:
        r, body, dt = ready(p.url)
        assert r.status_code == 200, describe(r)
        assert body["status"] == "degraded", describe(r)
        assert body["checks"]["rabbitmq"] != "ok", describe(r)
        assert body["checks"]["postgres"] == "ok" and body["checks"]["redis"] == "ok", describe(r)
        assert dt < 1.5, f"/ready took {dt:.2f}s"
        h = get(p.url + "/health")
        assert h.status_code == 200 and h.json() == {"status": "ok"}, describe(h)
    finally:
        devstack("start", "rabbitmq")
    wait_ready(p.url, 20)


@pytest.mark.outage
def test_ready_postgres_stopped_is_503(api_factory, devstack):
    p = api_factory()
    wait_ready(p.url)
    devstack("stop", "postgres")
    try:
        r, body, dt = ready(p.url)
        assert r.status_code == 503, describe(r)
        assert body["status"] not in ("ready", "degraded"), describe(r)
        assert body["checks"]["postgres"] != "ok", describe(r)
        assert body["checks"]["redis"] == "ok" and body["checks"]["rabbitmq"] == "ok", describe(r)
        assert dt < 1.5, f"/ready took {dt:.2f}s"
        h, dt = timed(lambda: get(p.url + "/health"))
        assert h.status_code == 200 and h.json() == {"status": "ok"}, describe(h)
        assert dt < 0.5, f"/health took {dt:.2f}s with PostgreSQL down"
    finally:
        devstack("start", "postgres")
    wait_ready(p.url, 20)


@pytest.mark.outage
def test_ready_answers_within_a_second_when_redis_hangs(api_factory):
    p = api_factory(REDIS_BREAKER_OPEN_MS="1000")
    wait_ready(p.url)
    pid = redis_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        r, body, dt = ready(p.url)
        assert dt < 1.5, f"/ready took {dt:.2f}s with a frozen Redis: {describe(r)}"
        assert r.status_code == 200, describe(r)
        assert body["status"] == "degraded", describe(r)
        assert body["checks"]["postgres"] == "ok", describe(r)
        assert body["checks"]["redis"] == "timeout", describe(r)
        r, body, dt = ready(p.url)  # and again (breaker open or a second timeout)
        assert dt < 1.5 and r.status_code == 200 and body["checks"]["redis"] != "ok", describe(r)
        h, dt = timed(lambda: get(p.url + "/health"))
        assert h.status_code == 200 and dt < 0.5, f"/health {h.status_code} in {dt:.2f}s"
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_ready(p.url, 15)


# ================================================================ /metrics


API_FAMILIES = {
    "http_requests_total": "counter",
    "http_request_duration_seconds": "histogram",
    "http_rate_limited_total": "counter",
    "order_cache_hits_total": "counter",
    "order_cache_misses_total": "counter",
    "redis_circuit_breaker_state": "gauge",
}


def test_metrics_exposition_is_valid_and_describes_api_families(api):
    api.get("/health")
    api.get("/orders/user/1/")
    m = scrape(api.base)
    for fam, typ in API_FAMILIES.items():
        t = m.types.get(fam) or m.types.get(fam.removesuffix("_total"))
        assert t == typ, f"# TYPE {fam} {typ} missing (got {t}):\n{m.text[:3000]}"
    assert m.has("redis_circuit_breaker_state"), m.text[:3000]
    assert m.value("redis_circuit_breaker_state") in (0, 1, 2)


def test_metrics_requests_by_route_template_and_status(api_factory):
    p = api_factory()
    a = Api(p.url)
    user = a.new_user()
    oid = a.create_order_ok(user.token)["id"]
    unknown = str(uuid.uuid4())
    raw_path = f"nope-{uuid.uuid4().hex}"
    labels_200 = dict(method="GET", route="/orders/{order_id}", status="200")
    labels_404 = dict(method="GET", route="/orders/{order_id}", status="404")
    before = scrape(p.url)
    for path in (f"/orders/{oid}/", f"/orders/{oid}", f"/orders/{oid}/"):
        assert a.get(path, headers=user.headers).status_code == 200
    assert a.get(f"/orders/{unknown}/", headers=user.headers).status_code == 404
    assert a.get(f"/orders/user/{user.id}/").status_code == 401
    assert a.get("/" + raw_path).status_code == 404
    after = scrape(p.url)

    def delta(name, **lbl):
        return after.value(name, **lbl) - before.value(name, **lbl)

    assert delta("http_requests_total", **labels_200) == 3, (
        f"http_requests_total{labels_200} did not grow by 3:\n"
        + "\n".join(l for l in after.text.splitlines() if l.startswith("http_requests_total"))
    )
    assert delta("http_requests_total", **labels_404) == 1
    assert delta("http_requests_total", method="GET", route="/orders/user/{user_id}", status="401") == 1
    # raw paths (ids, junk) never become label values: bounded cardinality
    values = after.label_values()
    for raw in (oid, unknown, raw_path, str(user.id) + "/"):
        assert not any(raw in v for v in values), f"{raw!r} leaked into metric labels"
    # latency histogram for the same series
    c0, s0 = before.check_histogram("http_request_duration_seconds", **labels_200) \
        if before.has("http_request_duration_seconds_count", **labels_200) else (0, 0)
    c1, s1 = after.check_histogram("http_request_duration_seconds", **labels_200)
    assert c1 - c0 == 3, (c0, c1)
    assert s1 > s0 >= 0 and s1 - s0 < 30, (s0, s1)
    # every histogram series in the exposition is consistent
    for lbl, _ in after.series("http_request_duration_seconds_count"):
        after.check_histogram("http_request_duration_seconds", **lbl)


def test_metrics_cache_hits_and_misses(api_factory, redis):
    p = api_factory()
    a = Api(p.url)
    user = a.new_user()
    oid = a.create_order_ok(user.token)["id"]

    def counts():
        m = scrape(p.url)
        return m.total("order_cache_hits_total"), m.total("order_cache_misses_total")

    wait_until(lambda: redis.exists(f"orders:{oid}"), 5, desc="order cached on create")
    h0, m0 = counts()
    assert a.get_order(user.token, oid).status_code == 200  # cached by the create: hit
    h1, m1 = counts()
    assert (h1 - h0, m1 - m0) == (1, 0), f"after a cached GET: hits {h0}->{h1}, misses {m0}->{m1}"
    redis.delete(f"orders:{oid}")
    assert a.get_order(user.token, oid).status_code == 200  # miss, fills the cache
    h2, m2 = counts()
    assert (h2 - h1, m2 - m1) == (0, 1), f"after an uncached GET: hits {h1}->{h2}, misses {m1}->{m2}"
    assert a.get_order(user.token, oid).status_code == 200  # hit again
    h3, m3 = counts()
    assert (h3 - h2, m3 - m2) == (1, 0), f"after a refilled GET: hits {h2}->{h3}, misses {m2}->{m3}"


@pytest.mark.outage
def test_metrics_circuit_breaker_state(api_factory, devstack):
    p = api_factory(REDIS_BREAKER_OPEN_MS="1000")
    a = Api(p.url)
    user = a.new_user()
    oid = a.create_order_ok(user.token)["id"]
    assert a.get_order(user.token, oid).status_code == 200
    assert scrape(p.url).value("redis_circuit_breaker_state") == 0
    devstack("stop", "redis")
    try:
        r = a.get_order(user.token, oid)
        assert r.status_code == 200, describe(r)
        state = scrape(p.url).value("redis_circuit_breaker_state")
        assert state == 1, f"breaker state {state} right after a failed Redis read (1 = open)"
    finally:
        devstack("start", "redis")

    def closed():
        a.get_order(user.token, oid)
        return scrape(p.url).value("redis_circuit_breaker_state") == 0

    wait_until(closed, 15, interval=0.3, desc="breaker closed again after Redis came back")


def test_worker_metrics_endpoint(service_env, tmp_path, redis):
    port = free_port()
    stream = f"tasks:surface:{uuid.uuid4().hex[:8]}:process_order"
    env = service_env(TASK_STREAM=stream, WORKER_CONCURRENCY="4", METRICS_PORT="0",
                      PROCESS_ORDER_DELAY_SECONDS="0.2")
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(BIN), "worker", "--metrics-port", str(port)], env=env,
                                cwd=str(tmp_path), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def tail():
        return log_path.read_text(errors="replace")[-3000:]

    try:
        def up():
            assert proc.poll() is None, f"worker exited ({proc.returncode}):\n{tail()}"
            return get(url + "/health", timeout=1).status_code == 200

        wait_until(up, 15, interval=0.1, desc=f"worker /health on {url}")
        h = get(url + "/health")
        assert h.status_code == 200, describe(h)
        m = scrape(url)
        assert m.types.get("task_queue_depth") == "gauge", m.text[:3000]
        assert m.types.get("tasks_total") == "counter" or m.types.get("tasks") == "counter", m.text[:3000]
        assert "# TYPE task_queue_depth gauge" in m.text
        # the gauge gets a value (an empty, fresh stream: 0)
        def depth_sample():
            m = scrape(url)
            return m if m.has("task_queue_depth") else None

        depth = wait_until(depth_sample, 10, desc="a task_queue_depth sample")
        assert depth.value("task_queue_depth") == 0, depth.text[:3000]
        # the worker exposes no api
        r = get(url + "/orders/user/1/")
        assert r.status_code == 404, describe(r)
    finally:
        was_alive = proc.poll() is None
        if was_alive:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
            rc = None
        try:
            redis.delete(stream, stream + ":dead")
        except redis_lib.RedisError:
            pass
    assert was_alive, f"worker had exited ({rc}):\n{tail()}"
    assert rc == 0, f"worker did not exit 0 on SIGTERM (rc={rc}):\n{tail()}"


def raw_get_status(url, header_lines):
    """GET with header lines sent exactly as given (repeated names allowed)."""
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)
    try:
        c.putrequest("GET", LIMITED_PATH)
        for name, value in header_lines:
            c.putheader(name, value)
        c.endheaders()
        return c.getresponse().status
    finally:
        c.close()


def test_rate_limit_reads_every_forwarded_for_line(limited_api):
    """Behind a trusted proxy that appends its own X-Forwarded-For line, the client's
    forged first line does not win: the bucket is the proxy-reported address."""
    p = limited_api(capacity=3, refill=0.01, TRUSTED_PROXIES="127.0.0.1")
    n = uuid.uuid4().int
    real = f"10.{n % 250}.{(n >> 8) % 250}.9"
    statuses = [
        raw_get_status(p.url, [("X-Forwarded-For", f"198.51.100.{i}"), ("X-Forwarded-For", real)])
        for i in range(4)
    ]
    assert statuses == [401, 401, 401, 429], statuses


def test_rate_limit_junk_forwarded_for_is_not_a_bucket(limited_api):
    """Items that are not IP addresses never become rate-limit keys."""
    p = limited_api(capacity=3, refill=0.01, TRUSTED_PROXIES="127.0.0.1")
    statuses = [raw_get_status(p.url, [("X-Forwarded-For", f"junk-{uuid.uuid4()}")]) for _ in range(4)]
    assert statuses == [401, 401, 401, 429], statuses


def test_rate_limit_ipv6_clients_share_their_64(limited_api):
    p = limited_api(capacity=3, refill=0.01, TRUSTED_PROXIES="127.0.0.1")
    n = uuid.uuid4().int
    prefix = f"2001:db8:{n % 65535:x}:{(n >> 16) % 65535:x}"
    statuses = [raw_get_status(p.url, [("X-Forwarded-For", f"{prefix}::{i + 1:x}")]) for i in range(4)]
    assert statuses == [401, 401, 401, 429], statuses
