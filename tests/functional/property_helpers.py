"""Raw HTTP client, response oracle and failure collector for test_property.py.

Requests are written byte for byte onto a socket (no `requests`, no
http.client) so that header values with bytes 0x80-0xFF or control
characters, request targets with raw non-ASCII bytes, duplicate headers and
bodies that disagree with their Content-Type all reach the server exactly as
generated.
"""

from __future__ import annotations

import json
import re
import socket
import time
from dataclasses import dataclass, field

TIMEOUT = 10.0


@dataclass
class Req:
    method: str
    target: bytes  # request-target as sent (path + query), raw bytes
    route: str  # route template, for grouping ("POST /orders/")
    fuzzed: str  # what was mutated ("header:Idempotency-Key", "body:price", ...)
    headers: list = field(default_factory=list)  # [(bytes, bytes)], sent in order
    body: bytes | None = None
    # what the oracle knows about this request
    expect_error: bool = False  # the spec says this input must be refused (4xx)
    allowed: frozenset = frozenset()  # statuses the spec documents for this route

    def wire(self) -> bytes:
        lines = [self.method.encode("latin-1") + b" " + self.target + b" HTTP/1.1"]
        names = {n.lower() for n, _ in self.headers}
        if b"host" not in names:
            lines.append(b"Host: 127.0.0.1")
        for n, v in self.headers:
            lines.append(n + b": " + v)
        if self.body is not None and b"content-length" not in names:
            lines.append(b"Content-Length: " + str(len(self.body)).encode())
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + (self.body or b"")

    def short(self, limit=700) -> str:
        """Reproducer text: the request as it goes on the wire (long runs cut)."""
        w = self.wire()
        w = re.sub(rb"Host: 127\.0\.0\.1\r\n", b"", w)
        w = w.replace(b"\r\nConnection: close", b"")
        w = re.sub(rb"X-Request-ID: prop-\d+\r\n", b"", w)
        w = re.sub(rb"Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+(?=\r)", b"Bearer <valid token>", w)
        w = re.sub(rb"(.)\1{63,}", lambda m: m.group(1) + b"{x%d}" % len(m.group(0)), w, flags=re.S)
        r = repr(w)
        return r if len(r) <= limit else r[:limit] + "...(%d bytes)" % len(w)

    def size(self) -> int:
        return len(self.wire())


@dataclass
class Resp:
    status: int | None
    headers: dict  # lower-case name -> list of values (str, latin-1)
    body: bytes
    error: str = ""

    def header(self, name):
        v = self.headers.get(name.lower())
        return v[0] if v else None

    def text(self, limit=300) -> str:
        t = self.body[:limit].decode("utf-8", "replace")
        return t + ("..." if len(self.body) > limit else "")


def send(host: str, port: int, req: Req, timeout=TIMEOUT) -> Resp:
    data = req.wire()
    try:
        s = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        return Resp(None, {}, b"", f"connect failed: {e!r}")
    buf = b""
    err = ""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer (413, 400) before reading everything
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                err = "timed out"
                break
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                err = "timed out"
                break
            except ConnectionResetError:
                err = "connection reset"
                break
            if not chunk:
                break
            buf += chunk
            if b"\r\n\r\n" in buf:
                head, _, rest = buf.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
                if m and len(rest) >= int(m.group(1)):
                    break
                if re.search(rb"(?im)^transfer-encoding:\s*chunked", head) and rest.endswith(b"0\r\n\r\n"):
                    break
    finally:
        s.close()
    if not buf.startswith(b"HTTP/"):
        return Resp(None, {}, buf, err or ("no response" if not buf else "not HTTP"))
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError):
        return Resp(None, {}, buf, "bad status line")
    headers: dict = {}
    for ln in lines[1:]:
        n, _, v = ln.partition(b":")
        headers.setdefault(n.strip().lower().decode("latin-1"), []).append(v.strip().decode("latin-1"))
    if "chunked" in (headers.get("transfer-encoding") or [""])[0].lower():
        body = _dechunk(body)
    return Resp(status, headers, body, err)


def _dechunk(b: bytes) -> bytes:
    out = b""
    while b:
        size_line, _, rest = b.partition(b"\r\n")
        try:
            n = int(size_line.split(b";")[0], 16)
        except ValueError:
            return out
        if n == 0:
            return out
        out += rest[:n]
        b = rest[n + 2 :]
    return out


# ---------------------------------------------------------------- oracle

# Statuses any route may answer for input problems outside its own fields:
# 400 bad header / bad request line, 413 body too large, 431 headers too large,
# 415 unsupported media type (SPEC §2 "422 (or 415)").
GENERIC = frozenset({400, 413, 415, 431})


def _json(resp: Resp):
    try:
        return json.loads(resp.body.decode("utf-8")), None
    except (UnicodeDecodeError, ValueError) as e:
        return None, str(e)


def check(req: Req, resp: Resp, body_check=None) -> list[tuple[str, str]]:
    """Violations of the spec by this response: [(kind, detail)]. `kind` is
    short and stable (used to group failures); `detail` explains."""
    out = []
    if resp.status is None:
        return [("no-response", resp.error or "connection closed without a response")]
    st = resp.status
    if st >= 500:
        out.append((f"{st}", f"{st} {resp.text()}"))
        return out
    allowed = req.allowed | GENERIC
    if req.allowed and st not in allowed:
        out.append((f"status-{st}", f"status {st} is not documented for {req.route}: {resp.text()}"))
    if 400 <= st < 500:
        ct = resp.header("content-type") or ""
        if not ct.lower().startswith("application/json"):
            out.append(("error-not-json-ctype", f"{st} with Content-Type {ct!r}: {resp.text()}"))
        body, err = _json(resp)
        if err is not None:
            out.append(("error-not-json", f"{st} body is not JSON ({err}): {resp.text()}"))
        elif not isinstance(body, dict) or set(body) != {"detail"}:
            out.append(("error-shape", f"{st} body is not {{'detail': ...}}: {resp.text()}"))
        elif st == 422:
            d = body["detail"]
            ok = isinstance(d, list) and d and all(
                isinstance(e, dict)
                and isinstance(e.get("loc"), list)
                and e["loc"]
                and all(isinstance(x, (str, int)) and not isinstance(x, bool) for x in e["loc"])
                and isinstance(e.get("msg"), str)
                and e["msg"]
                and isinstance(e.get("type"), str)
                and e["type"]
                for e in d
            )
            if not ok:
                out.append(("422-shape", f"422 detail is not [{{loc,msg,type}}, ...]: {resp.text()}"))
        elif not isinstance(body["detail"], str) or not body["detail"]:
            out.append(("error-shape", f"{st} detail is not a non-empty string: {resp.text()}"))
        if st == 401 and not (resp.header("www-authenticate") or "").lower().startswith("bearer"):
            out.append(("401-no-www-authenticate", "401 without WWW-Authenticate: Bearer"))
        if st == 405 and not resp.header("allow"):
            out.append(("405-no-allow", "405 without Allow"))
        if st == 429 and not resp.header("retry-after"):
            out.append(("429-no-retry-after", "429 without Retry-After"))
    if 200 <= st < 300:
        if req.expect_error:
            out.append(("accepted-invalid", f"{st} for input the spec says must be refused: {resp.text()}"))
        if body_check is not None:
            body, err = _json(resp)
            if err is not None:
                out.append(("success-not-json", f"{st} body is not JSON ({err}): {resp.text()}"))
            else:
                msg = body_check(req, resp, body)
                if msg:
                    out.append(("success-shape", msg))
    if not resp.header("x-request-id"):
        out.append(("no-x-request-id", f"{st} response without X-Request-ID"))
    return out


# ---------------------------------------------------------------- collector

KNOWN_HEADERS = {
    "authorization", "idempotency-key", "x-request-id", "x-forwarded-for", "traceparent", "tracestate",
    "content-type", "accept", "origin", "cookie", "user-agent", "accept-encoding", "x-real-ip", "forwarded",
    "if-none-match", "range", "expect", "connection", "host",
}


def header_label(name: bytes) -> str:
    n = name.decode("latin-1")
    return n if n.lower() in KNOWN_HEADERS else "<other>"


def error_signature(log: str) -> str | None:
    """The server's error message for a failed request, with values removed,
    so that one root cause reached through several fields is one failure."""
    m = re.search(r'"error":"((?:[^"\\]|\\.)*)"', log or "")
    if not m:
        return None
    msg = m.group(1).split("\\n")[0]
    msg = re.sub(r'\\"[^"\\]*\\"', "<v>", msg)
    msg = re.sub(r"0x[0-9a-f]+(\s+0x[0-9a-f]+)*", "<bytes>", msg)
    msg = re.sub(r"\d+", "<n>", msg)
    return msg[:160]


class Failures:
    """Distinct failures, keyed by (route, fuzzed target, kind, status); keeps
    the smallest request seen for each key. `regroup` (after minimising)
    merges keys that turned out to be the same failure on several routes."""

    def __init__(self):
        self.by_key: dict = {}
        self.sent = 0

    def add(self, req: Req, resp: Resp, kind: str, detail: str, log: str = ""):
        key = (req.route, req.fuzzed, kind, resp.status)
        cur = self.by_key.get(key)
        if cur is None or req.size() < cur[0].size():
            self.by_key[key] = [req, resp, detail, log, (cur[4] + 1) if cur else 1, {req.route}]
        else:
            cur[4] += 1

    def regroup(self, label_of):
        """Merge entries whose minimised request has the same label_of(req)
        and kind/status; keep the smallest request; remember all routes."""
        merged: dict = {}
        for (route, fuzzed, kind, status), v in self.by_key.items():
            label = label_of(v[0], fuzzed, kind)
            cause = error_signature(v[3]) if kind[0] == "5" else None
            if cause:
                label = f"cause: {cause}"  # one 5xx root cause, whatever field showed it
            key = ("*", label, kind, status)
            cur = merged.get(key)
            if cur is None:
                merged[key] = list(v)
            else:
                cur[4] += v[4]
                cur[5] |= v[5]
                if v[0].size() < cur[0].size():
                    cur[:4] = v[:4]
        self.by_key = merged

    def report(self) -> str:
        lines = [f"{len(self.by_key)} distinct failure(s) in {self.sent} requests:"]
        for (_, fuzzed, kind, status), (req, resp, detail, log, n, routes) in sorted(
            self.by_key.items(), key=lambda kv: (kv[0][2], str(kv[0][1]), kv[0][3] or 0)
        ):
            lines.append(f"\n[{kind}] fuzzed={fuzzed}  ({n} request(s); routes: {', '.join(sorted(routes))})")
            lines.append(f"  request:  {req.short()}")
            lines.append(f"  response: {detail}")
            if log:
                lines.append(f"  log:      {log}")
        return "\n".join(lines)

    def __bool__(self):
        return bool(self.by_key)
