"""Alert rules (deploy/prometheus): checked and unit-tested with promtool, and run, unchanged,
by a real Prometheus that scrapes running roles configured from deploy/prometheus/prometheus.yml.
The real-Prometheus test stops the relay with orders waiting and sees the outbox alert fire
(and the role-down alert), then resolve once a relay is back and the orders are processed."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from conftest import REPO
from pipeline_helpers import metric, pipeline, poll, roles, scrape_metrics  # noqa: F401 - fixtures

RULES_DIR = REPO / "deploy" / "prometheus"
ALERTS = RULES_DIR / "alerts.yml"
CONFIG = RULES_DIR / "prometheus.yml"


def promtool(*args) -> subprocess.CompletedProcess:
    exe = shutil.which("promtool")
    assert exe, "promtool not found (Debian package prometheus; scripts/setup installs it)"
    return subprocess.run([exe, *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=60)


def test_alert_rules_and_config_are_valid():
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"]):
        r = promtool(*args)
        assert r.returncode == 0, f"promtool {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
    text = ALERTS.read_text()
    for name in ("OutboxEventsUnpublished", "OrdersNotProcessed", "EventDeadLetters",
                 "TaskDeadLetters", "RedisCircuitBreakerOpen", "HighServerErrorRate",
                 "TaskQueueGrowing", "RoleDown"):
        assert f"alert: {name}\n" in text, name


def test_alert_rules_unit_tests_pass():
    r = promtool("test", "rules", "alerts_test.yml")
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    assert "SUCCESS" in r.stdout


def test_prometheus_config_scrapes_every_role():
    jobs = {c["job_name"] for c in yaml.safe_load(CONFIG.read_text())["scrape_configs"]}
    assert jobs == {f"order-service-{r}" for r in ("api", "relay", "consumer", "worker", "reconciler")}


# ---------------------------------------------------------------- a real Prometheus


def low_free_port() -> int:
    """A free port below Linux's ephemeral range (the relay is restarted on its port)."""
    for _ in range(200):
        port = random.randint(21000, 23999)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port in 21000-23999")


class Prometheus:
    def __init__(self, workdir: Path, targets: dict[str, int]):
        cfg = yaml.safe_load(CONFIG.read_text())
        # Faster than production so that the test takes minutes, not more; the rules
        # themselves (thresholds, `for`) are the repository's, unchanged.
        cfg["global"] = {"scrape_interval": "2s", "scrape_timeout": "1s",
                         "evaluation_interval": "2s"}
        cfg["rule_files"] = [str(ALERTS)]
        for sc in cfg["scrape_configs"]:
            role = sc["job_name"].removeprefix("order-service-")
            sc["static_configs"] = [{"targets": [f"127.0.0.1:{targets[role]}"]}]
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(cfg))
        self.port = low_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(workdir / "prometheus.log", "wb")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={workdir / 'prometheus.yml'}",
             f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        poll(self.ready, 30, interval=0.3, desc="prometheus ready")

    def ready(self) -> bool:
        assert self.proc.poll() is None, "prometheus exited"
        try:
            return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def api(self, path: str):
        r = requests.get(f"{self.url}/api/v1/{path}", timeout=5)
        assert r.status_code == 200, r.text[:500]
        return r.json()["data"]

    def targets_health(self) -> dict[str, str]:
        return {t["labels"]["job"]: t["health"] for t in self.api("targets")["activeTargets"]}

    def alerts(self, state="firing") -> dict[str, dict]:
        return {a["labels"]["alertname"]: a for a in self.api("alerts")["alerts"]
                if a["state"] == state}

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.mark.long
def test_outbox_alert_fires_in_prometheus_when_the_relay_is_stopped(pipeline, roles, tmp_path):
    pl = pipeline
    ports = {r: low_free_port() for r in ("relay", "consumer", "worker", "reconciler")}
    ports["api"] = pl.api_proc.port
    cfg = {"RECONCILE_INTERVAL_SECONDS": "2"}
    relay = roles.start("relay", METRICS_PORT=str(ports["relay"]), **cfg)
    roles.start("consumer", METRICS_PORT=str(ports["consumer"]), **cfg)
    roles.start("worker", METRICS_PORT=str(ports["worker"]), **cfg)
    roles.start("reconcile", METRICS_PORT=str(ports["reconciler"]), **cfg)
    pl.wait_consuming()
    prom = Prometheus(tmp_path, ports)
    try:
        poll(lambda: set(prom.targets_health().values()) == {"up"}, 30, interval=0.5,
             desc="every role scraped")
        first = [pl.create_order()["id"] for _ in range(3)]
        pl.wait_processed(first, 30, roles=roles)
        time.sleep(4)  # a few evaluations of the healthy system
        assert prom.alerts(state="firing") == {}, prom.alerts()
        assert prom.alerts(state="pending") == {}, prom.alerts(state="pending")

        # The relay stops; orders keep coming in and wait in the outbox.
        assert relay.stop() == 0, relay.tail()
        stopped = time.monotonic()
        waiting = [pl.create_order()["id"] for _ in range(5)]
        # Age above 30 s from ~30 s on, then `for: 1m`: firing after about 90 s.
        firing = poll(lambda: "OutboxEventsUnpublished" in prom.alerts() and prom.alerts(), 180,
                      interval=2, desc="OutboxEventsUnpublished firing")
        fired_after = time.monotonic() - stopped
        print(f"OutboxEventsUnpublished fired {fired_after:.0f} s after the relay stopped")
        assert fired_after >= 85, "fired before age > 30 s had lasted a minute"
        assert firing["OutboxEventsUnpublished"]["labels"]["severity"] == "critical"
        assert "RoleDown" in firing and firing["RoleDown"]["labels"]["job"] == "order-service-relay"
        assert pl.processed_ids(waiting) == set(), "processed without a relay?"

        # A relay comes back: the orders flow and the alerts resolve.
        roles.start("relay", METRICS_PORT=str(ports["relay"]), **cfg)
        pl.wait_processed(waiting, 30, roles=roles)
        poll(lambda: not ({"OutboxEventsUnpublished", "RoleDown"} & set(prom.alerts())), 30,
             interval=1, desc="alerts resolved")
    finally:
        prom.stop()


def test_dead_letter_gauges_cover_both_places(pipeline, roles):
    """The gauges behind EventDeadLetters and TaskDeadLetters: a malformed event lands
    in RabbitMQ's dead-letter queue, a task for an order that does not exist in the
    task dead stream, and /metrics shows each (the consumer reads the queue every 10 s)."""
    pl = pipeline
    consumer_port, worker_port = low_free_port(), low_free_port()
    roles.start("consumer", METRICS_PORT=str(consumer_port))
    roles.start("worker", METRICS_PORT=str(worker_port))
    pl.wait_consuming()
    pl.rabbit.publish(pl.queue, b"{not json", message_id=str(uuid.uuid4()))
    pl.rabbit.publish(pl.queue, {"event_id": str(uuid.uuid4()), "order_id": str(uuid.uuid4())},
                      message_id=str(uuid.uuid4()))
    poll(lambda: metric(scrape_metrics(consumer_port), "events_dead_letter_queue_depth") == 1, 25,
         interval=0.5, desc="events_dead_letter_queue_depth = 1")
    poll(lambda: metric(scrape_metrics(worker_port), "task_queue_dead_letters") == 1, 25,
         interval=0.5, desc="task_queue_dead_letters = 1")
    assert pl.rabbit.count(pl.dlq) == 1
    pl.rabbit.purge(pl.dlq)
    poll(lambda: metric(scrape_metrics(consumer_port), "events_dead_letter_queue_depth") == 0, 25,
         interval=0.5, desc="events_dead_letter_queue_depth back to 0 after a purge")
