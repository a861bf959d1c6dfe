"""APP_NAME (SPEC §6) names the service: it is the OpenAPI document's info.title (and so
the Swagger UI's heading) and the `service` field of every log line."""

import json

import requests

from conftest import ApiProcess
from helpers import free_port


def test_app_name_titles_the_api_and_the_logs(stack, test_db, tmp_path):
    name = 'Shop "Nord" 100%'
    env = stack.service_env(test_db, API_PORT=str(free_port()), APP_NAME=name)
    p = ApiProcess(env, tmp_path, name="api-named")
    try:
        p.wait_healthy(15)
        doc = requests.get(p.url + "/openapi.json", timeout=5).json()
        assert doc["info"]["title"] == name, doc["info"]
        assert doc["paths"], "the rest of the document is still there"
    finally:
        p.stop(10)
    lines = [json.loads(line) for line in p.log_text().splitlines() if line.startswith("{")]
    assert lines, p.log_text()
    assert all(line.get("service") == name for line in lines), lines[:3]


def test_default_app_name_is_order_service(server):

    assert requests.get(server.url + "/openapi.json", timeout=5).json()["info"]["title"] == \
        "order-service"
