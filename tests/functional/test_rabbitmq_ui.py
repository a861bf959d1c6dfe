"""The RabbitMQ management UI that `make run` serves beside the Swagger UI (on 15673,
guest/guest, as the original's quick start). scripts/devstack enables it the same way on
the functional test stack, at DEVSTACK_RABBITMQ_MGMT_PORT (scripts/lib.sh, use_stack)."""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

from helpers import TIMEOUT
from pipeline_helpers import pipeline, poll, roles  # noqa: F401 - fixtures

MGMT_PORT = os.environ.get("DEVSTACK_RABBITMQ_MGMT_PORT", "off")

pytestmark = pytest.mark.skipif(
    MGMT_PORT == "off", reason="this stack runs RabbitMQ without its management UI"
)


def ui(path: str, auth=("guest", "guest")) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{MGMT_PORT}{path}", auth=auth, timeout=TIMEOUT)


def test_management_ui_page_is_served():
    r = ui("/", auth=None)
    assert r.status_code == 200, r.text[:300]
    assert "text/html" in r.headers["content-type"]
    assert "RabbitMQ Management" in r.text


def test_management_api_takes_guest_from_loopback_and_refuses_no_credentials():
    assert ui("/api/overview", auth=None).status_code == 401
    assert ui("/api/overview", auth=("guest", "wrong")).status_code == 401
    r = ui("/api/overview")
    assert r.status_code == 200, r.text[:300]
    protocols = {l["port"]: l["protocol"] for l in r.json()["listeners"]}
    assert protocols[int(MGMT_PORT)] == "http"
    assert protocols[int(os.environ["RABBITMQ_PORT"])] == "amqp"


def test_management_ui_listens_on_loopback_only():
    # The API reports the http listener as "::" even when bound to one address, so
    # look at the socket itself.
    out = subprocess.run(["ss", "-Hltn", f"sport = :{MGMT_PORT}"], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    local = [line.split()[3] for line in out if line.strip()]
    assert local == [f"127.0.0.1:{MGMT_PORT}"], out


def test_management_api_shows_the_service_topology(pipeline, roles):
    """What an operator opens the UI for: the event bus's exchange and queues, as the
    consumer declared them."""
    roles.start("consumer")

    def declared():
        names = {q["name"] for q in ui("/api/queues/%2F").json()}
        return {pipeline.queue, pipeline.retry_queue, pipeline.dlq} <= names

    poll(declared, TIMEOUT, interval=0.2, desc="queues visible in the management API")
    exchange = ui(f"/api/exchanges/%2F/{pipeline.exchange}")
    assert exchange.status_code == 200, exchange.text[:300]
    assert exchange.json()["type"] == "topic"
