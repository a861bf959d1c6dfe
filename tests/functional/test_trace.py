"""One trace from HTTP to worker (issue 11, item 4): the W3C traceparent of POST /orders/
(accepted, or started when missing or malformed) is stored with the outbox row, sent as
an AMQP header, carried in the task, and its trace_id is in the log lines of every hop,
so one grep over all roles' logs shows the order from the request to "Order … processed"."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from helpers import describe, item
from pipeline_helpers import pipeline, roles  # noqa: F401


def lines_with(text: str, trace_id: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("trace_id") == trace_id:
                out.append(rec)
    return out


@pytest.mark.sanitize  # the ASan build runs the traced path too
def test_one_trace_id_from_post_to_worker(pipeline, roles):
    pl = pipeline
    r = roles.start_pipeline()
    pl.wait_consuming()
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    resp = pl.api.create_order(pl.user.token, [item()], headers={"traceparent": traceparent})
    assert resp.status_code == 201, describe(resp)
    assert resp.headers.get("traceparent", "").split("-")[1] == trace_id, describe(resp)
    order_id = resp.json()["id"]
    pl.wait_processed([order_id], 20, roles=roles)
    stored = pl.query("SELECT traceparent FROM outbox_events WHERE aggregate_id = %s", (order_id,))
    assert stored and stored[0][0].split("-")[1] == trace_id, stored

    api_lines = lines_with(pl.api_proc.log_text(), trace_id)
    assert any(l.get("path", "").startswith("/orders") for l in api_lines), api_lines
    assert lines_with(r["relay"].log_text(), trace_id), "relay logged no line of the trace"
    assert any(l["msg"] == "task enqueued for event" for l in lines_with(r["consumer"].log_text(), trace_id))
    assert any(l["msg"] == f"Order {order_id} processed" for l in lines_with(r["worker"].log_text(), trace_id))


def test_malformed_traceparent_starts_a_new_trace(pipeline, roles):
    pl = pipeline
    for bad in ("garbage", "00-" + "0" * 32 + "-" + "1" * 16 + "-01", "ff-" + "a" * 32 + "-" + "b" * 16 + "-01"):
        resp = pl.api.create_order(pl.user.token, [item()], headers={"traceparent": bad})
        assert resp.status_code == 201, describe(resp)
        tp = resp.headers.get("traceparent", "")
        assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", tp), tp
        assert tp.split("-")[1] not in bad
