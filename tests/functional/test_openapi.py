"""The OpenAPI document (src/api/openapi.json), /openapi.json and the Swagger UI at /docs.

- the document is valid OpenAPI (tests/openapi/validate.mjs, swagger-parser);
- the server serves exactly that file at /openapi.json;
- the document and the server's routes (`order-service routes`) match both ways;
- real responses match the documented status codes, schemas and headers;
- /docs is an HTML page whose Swagger UI assets are all served.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from conftest import REPO, run_service
from helpers import TIMEOUT, bearer, describe, item, raw_http

DOC_PATH = REPO / "src" / "api" / "openapi.json"
VALIDATOR = REPO / "tests" / "openapi" / "validate.mjs"
SWAGGER_DIST = REPO / "node_modules" / "swagger-ui-dist"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def is_docs_route(path: str) -> bool:
    p = path.rstrip("/") or "/"
    return p in ("/docs", "/openapi.json") or p.startswith("/docs/")


def normalize(path: str) -> str:
    return path.rstrip("/") or "/"


@pytest.fixture(scope="module")
def doc() -> dict:
    assert DOC_PATH.is_file(), f"{DOC_PATH} is missing"
    return json.loads(DOC_PATH.read_text(encoding="utf-8"))


def doc_operations(doc) -> set[tuple[str, str]]:
    """{(METHOD, /normalized/path)} of the document, docs routes excluded."""
    ops = set()
    for path, item_ in doc["paths"].items():
        for m in HTTP_METHODS:
            if m in item_ and not is_docs_route(path):
                ops.add((m.upper(), normalize(path)))
    return ops


def operation(doc, method: str, path: str) -> dict:
    return doc["paths"][path][method.lower()]


# ---------------------------------------------------------------- a small JSON Schema
# checker for the subset the document uses ($ref, type, nullable, properties, required,
# items, enum, anyOf/oneOf, min/max, exclusiveMinimum, minItems/maxItems, min/maxLength,
# format uuid/date-time/email). Enough to hold real responses to the document.


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local $refs are expected, got {ref}"
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_schema(doc, schema, value, where="$") -> list[str]:
    schema = resolve(doc, schema)
    errors: list[str] = []
    if value is None:
        if schema.get("nullable") or schema.get("type") == "null":
            return []
        if "type" in schema or "properties" in schema:
            return [f"{where}: null is not allowed"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            results = [check_schema(doc, s, value, where) for s in schema[key]]
            if all(results):
                errors.append(f"{where}: matches none of {key}: {results}")
    t = schema.get("type")
    type_ok = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }
    if t is not None and not type_ok[t](value):
        return errors + [f"{where}: expected {t}, got {type(value).__name__} {value!r}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema:
            lo = schema["minimum"]
            if value < lo or (schema.get("exclusiveMinimum") is True and value == lo):
                errors.append(f"{where}: {value} below minimum {lo}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} above maximum {schema['maximum']}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{where}: shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']}")
        fmt = schema.get("format")
        if fmt == "uuid" and not UUID_RE.match(value):
            errors.append(f"{where}: {value!r} is not a uuid")
        if fmt == "email" and not EMAIL_RE.match(value):
            errors.append(f"{where}: {value!r} is not an email")
        if fmt == "date-time":
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                errors.append(f"{where}: {value!r} is not an RFC 3339 date-time")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, v in enumerate(value):
                errors += check_schema(doc, schema["items"], v, f"{where}[{i}]")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{where}: required property {name!r} missing")
        props = schema.get("properties", {})
        for name, v in value.items():
            if name in props:
                errors += check_schema(doc, props[name], v, f"{where}.{name}")
            elif isinstance(schema.get("additionalProperties"), dict):
                errors += check_schema(doc, schema["additionalProperties"], v, f"{where}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{where}: unexpected property {name!r}")
    return errors


def assert_documented(doc, method: str, path: str, resp: requests.Response):
    """resp's status is documented for the operation, its JSON body matches the
    documented schema, and the documented headers that must be there are."""
    op = operation(doc, method, path)
    status = str(resp.status_code)
    assert status in op["responses"], (
        f"{method} {path}: status {status} is not documented "
        f"(documented: {sorted(op['responses'])}); {describe(resp)}"
    )
    r = resolve(doc, op["responses"][status])
    content = r.get("content", {})
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
    if content:
        assert ctype in content, (
            f"{method} {path} {status}: Content-Type {ctype!r} not documented ({sorted(content)})"
        )
        if ctype == "application/json":
            errors = check_schema(doc, content[ctype]["schema"], resp.json())
            assert not errors, f"{method} {path} {status}: body does not match the document: {errors}; {describe(resp)}"
    # Headers documented for this response that are always sent (Link only when more
    # pages remain, RateLimit-* only when rate limiting is on: not checked here).
    documented = {k.lower() for k in r.get("headers", {})}
    sent = {k.lower() for k in resp.headers}
    for must in ("www-authenticate", "location", "x-cache", "retry-after", "x-request-id"):
        if must in documented:
            assert must in sent, (
                f"{method} {path} {status}: documented header {must} missing; {describe(resp)}"
            )


# ---------------------------------------------------------------- the document itself


def test_document_is_valid_openapi():
    node = shutil.which("node")
    assert node, "node is not installed (scripts/setup installs it)"
    assert (REPO / "node_modules" / "@apidevtools" / "swagger-parser").is_dir(), (
        "node_modules/@apidevtools/swagger-parser is missing: run scripts/setup (npm ci)"
    )
    r = subprocess.run(
        [node, str(VALIDATOR)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, f"validate.mjs failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"


def test_document_basics(doc):
    assert doc["openapi"].startswith("3.")
    assert doc["servers"] == [{"url": "/"}]
    flows = doc["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]
    assert flows["password"]["tokenUrl"] == "/token/"
    for path in doc["paths"]:
        if path in ("/health", "/ready", "/metrics"):
            continue
        assert path.endswith("/"), f"API path {path} should use the trailing-slash form"
    for method, path in doc_operations(doc):
        p = path if path in ("/health", "/ready", "/metrics") else path + "/"
        secured = bool(operation(doc, method, p).get("security"))
        assert secured == path.startswith("/orders"), f"{method} {p}: security={secured}"
    status = doc["components"]["schemas"]["OrderStatus"]["enum"]
    assert status == ["PENDING", "PAID", "SHIPPED", "CANCELED"]


def test_openapi_json_is_served_verbatim(api, doc):
    r = api.get("/openapi.json")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").startswith("application/json"), describe(r)
    assert r.json() == doc, "GET /openapi.json differs from src/api/openapi.json (rebuild?)"


# ---------------------------------------------------------------- routes vs document


def server_routes(service_env) -> set[tuple[str, str]]:
    r = run_service(["routes"], service_env(), timeout=30)
    assert r.returncode == 0, f"`order-service routes` failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    routes = set()
    for line in r.stdout.splitlines():
        line = line.strip()
        if not line:
            continue
        parts = line.split()
        assert len(parts) == 2, f"unexpected line from `order-service routes`: {line!r}"
        method, path = parts
        if not is_docs_route(path):
            routes.add((method.upper(), normalize(path)))
    assert routes, f"`order-service routes` printed no route:\n{r.stdout}"
    return routes


def test_document_matches_server_routes(doc, service_env):
    routes = server_routes(service_env)
    documented = doc_operations(doc)

    def show(s):
        return "\n  ".join(f"{m} {p}" for m, p in sorted(s, key=lambda x: (x[1], x[0])))

    missing = routes - documented
    extra = documented - routes
    assert not missing, f"routes the server has but the document lacks:\n  {show(missing)}"
    assert not extra, f"operations the document has but the server lacks:\n  {show(extra)}"


def concrete(path: str) -> str:
    return path.replace("{order_id}", str(uuid.uuid4())).replace("{user_id}", "1")


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "noslash"])
def test_every_documented_operation_is_routed(api, doc, slash):
    """Each documented operation answers (no 404 Not Found / 405) with and without the
    trailing slash, and only the secured ones ask for a token."""
    for path, item_ in doc["paths"].items():
        for m in HTTP_METHODS:
            if m not in item_:
                continue
            p = concrete(path)
            if p != "/":
                p = p.rstrip("/") + ("/" if slash else "")
            r = api.request(m.upper(), p)
            assert r.status_code != 405, f"{m.upper()} {p}: {describe(r)}"
            assert not (r.status_code == 404 and r.text.find("Order not found") < 0), (
                f"{m.upper()} {p}: {describe(r)}"
            )
            secured = bool(item_[m].get("security"))
            assert (r.status_code == 401) == secured, (
                f"{m.upper()} {p} without a token: expected {'401' if secured else 'no 401'}; "
                f"{describe(r)}"
            )
            if secured:
                assert_documented(doc, m.upper(), path, r)


# ---------------------------------------------------------------- responses vs document


def test_responses_match_document(api, doc, make_user):
    # system
    for path in ("/health", "/ready"):
        assert_documented(doc, "GET", path, api.get(path))
    r = api.get("/metrics")
    assert_documented(doc, "GET", "/metrics", r)

    # auth
    email = f"oa-{uuid.uuid4().hex[:12]}@example.com"
    r = api.register(email, "correct-horse-battery")
    assert r.status_code == 201, describe(r)
    assert_documented(doc, "POST", "/register/", r)
    assert_documented(doc, "POST", "/register/", api.register(email, "correct-horse-battery"))
    assert_documented(doc, "POST", "/register/", api.register("not-an-email", "x"))
    r = api.token_response(email, "correct-horse-battery", grant_type="password", scope="")
    assert r.status_code == 200, describe(r)
    assert_documented(doc, "POST", "/token/", r)
    token = r.json()["access_token"]
    assert_documented(doc, "POST", "/token/", api.token_response(email, "wrong-password!"))
    assert_documented(doc, "POST", "/token/", api.post("/token/", data={"username": email}))

    # orders
    r = api.create_order(token, [item(1, 3, 0.10), item(2, 1, 999.99)], headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 201, describe(r)
    assert_documented(doc, "POST", "/orders/", r)
    order = r.json()
    assert "Location" in r.headers, describe(r)
    assert_documented(doc, "POST", "/orders/", api.create_order(token, []))

    oid = order["id"]
    path = "/orders/{order_id}/"
    for _ in range(2):  # MISS then HIT (or HIT twice): both documented
        r = api.get_order(token, oid)
        assert r.status_code == 200, describe(r)
        assert_documented(doc, "GET", path, r)
        assert r.headers["X-Cache"] in ("HIT", "MISS"), describe(r)
    assert_documented(doc, "GET", path, api.get_order(token, uuid.uuid4()))
    assert_documented(doc, "GET", path, api.get_order(token, "not-a-uuid"))
    other = make_user()
    assert_documented(doc, "GET", path, api.get_order(other.token, oid))

    r = api.patch_order(token, oid, "PAID")
    assert r.status_code == 200, describe(r)
    assert_documented(doc, "PATCH", path, r)
    assert_documented(doc, "PATCH", path, api.patch_order(token, oid, "PENDING"))  # 409
    assert_documented(doc, "PATCH", path, api.patch_order(token, oid, "LOST"))  # 422
    assert_documented(doc, "PATCH", path, api.patch_order(other.token, oid, "SHIPPED"))  # 403
    assert_documented(doc, "PATCH", path, api.patch_order(token, uuid.uuid4(), "PAID"))  # 404

    user_id = api.get_order(token, oid).json()["user_id"]
    lpath = "/orders/user/{user_id}/"
    api.create_order_ok(token)
    r = api.list_orders(token, user_id, params={"limit": 1})
    assert r.status_code == 200, describe(r)
    assert_documented(doc, "GET", lpath, r)
    assert "Link" in r.headers, describe(r)
    assert_documented(doc, "GET", lpath, api.list_orders(token, user_id, params={"limit": 0}))
    assert_documented(doc, "GET", lpath, api.list_orders(other.token, user_id))
    assert_documented(doc, "GET", lpath, api.get("/orders/user/abc/", headers=bearer(token)))


# ---------------------------------------------------------------- Swagger UI


class _AssetRefs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            if a.get("src"):
                self.refs.append(a["src"])
            else:
                self._in_script = True
        elif tag == "link" and a.get("href") and "stylesheet" in (a.get("rel") or ""):
            self.refs.append(a["href"])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.inline_scripts.append(data)


def test_docs_page_and_assets(api):
    r = api.get("/docs")
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Content-Type", "").startswith("text/html"), describe(r)
    parser = _AssetRefs()
    parser.feed(r.text)
    refs = parser.refs
    names = [urlsplit(x).path.rsplit("/", 1)[-1] for x in refs]
    assert "swagger-ui-bundle.js" in names, f"/docs does not load swagger-ui-bundle.js: {refs}"
    assert any(n.endswith(".css") for n in names), f"/docs loads no stylesheet: {refs}"

    texts = [r.text]
    for ref in refs:
        url = urljoin(r.url, ref)
        assert urlsplit(url).netloc == urlsplit(api.base).netloc, (
            f"/docs loads {ref} from another host: Swagger UI must be self-hosted"
        )
        a = requests.get(url, timeout=TIMEOUT)
        assert a.status_code == 200, f"asset {ref}: {describe(a)}"
        assert len(a.content) > 0, f"asset {ref} is empty"
        ctype = a.headers.get("Content-Type", "")
        if ref.endswith(".js"):
            assert "javascript" in ctype, f"asset {ref}: Content-Type {ctype!r}"
        if ref.endswith(".css"):
            assert ctype.startswith("text/css"), f"asset {ref}: Content-Type {ctype!r}"
        name = urlsplit(url).path.rsplit("/", 1)[-1]
        local = SWAGGER_DIST / name
        if local.is_file():
            assert a.content == local.read_bytes(), f"asset {ref} differs from {local}"
        if name != "swagger-ui-bundle.js":
            texts.append(a.text)
    texts += parser.inline_scripts
    assert any("openapi.json" in t for t in texts), "the /docs page never points Swagger UI at /openapi.json"


@pytest.mark.parametrize(
    "path",
    [
        "/docs/../../../etc/passwd",
        "/docs/..%2f..%2f..%2fetc%2fpasswd",
        "/docs/%2e%2e/%2e%2e/CMakeLists.txt",
        "/docs/..%2fpackage.json",
        "/docs/no-such-file.js",
    ],
)
def test_docs_assets_do_not_escape_the_folder(server, path):
    status, _headers, body = raw_http(
        "127.0.0.1",
        server.port,
        f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode(),
    )
    assert status in (400, 404), f"GET {path}: {status} {body[:200]!r}"
    assert b"root:" not in body and b"cmake_minimum_required" not in body.lower() and b'"devDependencies"' not in body


# ---------------------------------------------------------------- the browser test

BROWSER_TEST = REPO / "tests" / "browser" / "swagger_ui.test.mjs"


def test_swagger_ui_in_a_browser(server, tmp_path):
    """Runs tests/browser/swagger_ui.test.mjs (headless Chromium through Swagger UI:
    authorize, create an order) against the session's api. The screenshot goes to a
    temporary folder so that test runs leave docs/images/swagger-ui.png alone (run
    `npm run test:browser` against a server to refresh it)."""
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not Path(chromium).exists():
        pytest.skip(f"{chromium} not found (scripts/setup --browser installs chromium)")
    node = shutil.which("node")
    assert node, "node is not installed (scripts/setup installs it)"
    assert (REPO / "node_modules" / "playwright-core").is_dir(), (
        "node_modules/playwright-core is missing: run scripts/setup (npm ci)"
    )
    shot = tmp_path / "swagger-ui.png"
    env = dict(os.environ, ORDER_SERVICE_URL=server.url, SCREENSHOT_PATH=str(shot))
    r = subprocess.run(
        [node, str(BROWSER_TEST)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, f"browser test failed ({r.returncode}):\n{r.stdout[-6000:]}\n{r.stderr[-3000:]}"
    assert "# fail 0" in r.stdout and "# pass " in r.stdout, r.stdout[-3000:]
    assert shot.is_file() and shot.stat().st_size > 10_000, f"no screenshot at {shot}:\n{r.stdout[-3000:]}"
