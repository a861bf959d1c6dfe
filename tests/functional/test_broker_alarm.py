"""RabbitMQ under a memory alarm (issue "Backlog, gray failures and time", point 2).

A resource alarm makes RabbitMQ stop reading from every publishing connection: a client
that goes on writing fills the socket buffers and, with rabbitmq-c's writes that have no
deadline, freezes its thread (and SIGTERM with it). Here the alarm is raised
(`set_vm_memory_high_watermark 0`) while a few thousand orders wait in the outbox with
OUTBOX_BATCH_SIZE=1000, and:

- each relay logs "RabbitMQ blocked publishing" once, keeps its connection (no reconnect
  churn) and does not spin (its CPU time stays low while blocked);
- SIGTERM ends every role (api, relay, consumer, worker, reconcile, all) within its grace;
- a relay that lived through the alarm logs "RabbitMQ unblocked publishing" once and, with
  the watermark restored, every order is processed exactly once, with no dead letter.

The watermark is always restored (finally). Marked `outage`: it changes the shared broker.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from helpers import free_port
from pipeline_helpers import (  # noqa: F401 - fixtures
    metric,
    pipeline,
    poll,
    rabbitmqctl,
    roles,
    scrape_metrics,
)

pytestmark = pytest.mark.outage

ORDERS = 3000
GRACE_SECONDS = 5
# Beyond the grace: process start-up/exit and a loaded 2-core machine.
MARGIN_SECONDS = 2.0
SETTINGS = {
    "OUTBOX_BATCH_SIZE": "1000",
    "SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
    "RECONCILE_AFTER_SECONDS": "600",  # the test is about the relay: no re-enqueues
    # the alarm outlasts several heartbeat timeouts (2 x 2 s): the blocked connections live on
    "RABBITMQ_HEARTBEAT_SECONDS": "2",
}
BLOCKED = "RabbitMQ blocked publishing"
UNBLOCKED = "RabbitMQ unblocked publishing"
CONNECTED = "relay connected to RabbitMQ"


def current_watermark() -> str:
    """The broker's watermark as set_vm_memory_high_watermark takes it back."""
    out = rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").strip()
    m = re.fullmatch(r"\{absolute,\s*(\d+)\}", out)
    if m:
        return f"absolute {m.group(1)}"
    float(out)  # a fraction, e.g. 0.4
    return out


def set_watermark(value: str):
    rabbitmqctl("set_vm_memory_high_watermark", *value.split())


def memory_alarm_on() -> bool:
    return "memory" in rabbitmqctl("eval", "rabbit_alarm:get_alarms().")


def cpu_seconds(pid) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def lines(proc, msg_prefix):
    return [r for r in proc.records() if str(r.get("msg", "")).startswith(msg_prefix)]


def test_memory_alarm_blocks_publishing_sigterm_in_grace_then_exactly_once(pipeline, roles):
    pl = pipeline
    metrics_port = free_port()
    # Set B lives through the alarm and must resume by itself; set A is stopped during it.
    b_consumer = roles.start("consumer", **SETTINGS)
    b_worker = roles.start("worker", **SETTINGS)
    stopped = {
        "consumer": roles.start("consumer", **SETTINGS),
        "worker": roles.start("worker", **SETTINGS),
        "reconcile": roles.start("reconcile", **SETTINGS),
        "api": roles.start("api", API_PORT=str(free_port()), **SETTINGS),
    }
    pl.wait_consuming(2)
    # A backlog first (no relay runs yet): each relay then claims a full batch at once and
    # writes it into a connection that RabbitMQ stops reading after the first publish.
    ids = pl.create_orders(ORDERS, threads=16)

    restore = current_watermark()
    drain_s = None
    try:
        set_watermark("0")
        poll(memory_alarm_on, 30, interval=0.5, desc="RabbitMQ memory alarm in effect")
        survivor = roles.start("relay", "--metrics-port", str(metrics_port), **SETTINGS)
        stopped["relay"] = roles.start("relay", **SETTINGS)
        stopped["all"] = roles.start("all", API_PORT=str(free_port()), **SETTINGS)
        relays = [survivor, stopped["relay"], stopped["all"]]
        for r in relays:
            r.wait_log(BLOCKED, 60, desc=f"{r.name} logs that RabbitMQ blocks publishing")
        in_flight = {r.name: lines(r, BLOCKED)[0].get("in_flight") for r in relays}
        print(f"events in flight when each relay learned of the block: {in_flight}")
        # ... and orders keep coming during the alarm.
        ids += pl.create_orders(ORDERS // 10, threads=8)
        m = scrape_metrics(metrics_port)
        assert metric(m, "rabbitmq_connection_blocked") == 1, m.get("rabbitmq_connection_blocked")

        # Blocked: no spin. The relay wakes on broker input or every 0.5 s.
        cpu0, t0 = cpu_seconds(survivor.pid), time.monotonic()
        time.sleep(5.0)
        cpu = cpu_seconds(survivor.pid) - cpu0
        elapsed = time.monotonic() - t0
        assert cpu < 0.1 * elapsed, f"blocked relay used {cpu:.2f} s CPU in {elapsed:.1f} s"
        processed = len(pl.processed_ids(ids))
        assert processed < len(ids), "every order went through: the alarm blocked nothing"

        # SIGTERM under the alarm: every role ends within its grace.
        sent = time.monotonic()
        for p in stopped.values():
            os.kill(p.pid, signal.SIGTERM)
        took, failures = {}, []
        for name, p in stopped.items():
            try:
                p.proc.wait(timeout=max(0.1, sent + GRACE_SECONDS + MARGIN_SECONDS + 5 - time.monotonic()))
            except Exception:  # noqa: BLE001 - reported below
                failures.append(f"{name}: still running")
                continue
            took[name] = round(time.monotonic() - sent, 2)
            if p.proc.returncode != 0:
                failures.append(f"{name}: exit status {p.proc.returncode}:\n{p.tail()}")
            elif took[name] > GRACE_SECONDS + MARGIN_SECONDS:
                failures.append(f"{name}: took {took[name]} s:\n{p.tail()}")
            p.stop()  # closes its log
        print(f"SIGTERM under the memory alarm, seconds to exit: {took}")
        assert not failures, (
            f"not stopped with status 0 within {GRACE_SECONDS}+{MARGIN_SECONDS} s of SIGTERM "
            f"under a memory alarm: {failures}"
        )
    finally:
        set_watermark(restore)
    cleared = time.monotonic()
    poll(lambda: not memory_alarm_on(), 30, interval=0.5, desc="memory alarm cleared")

    pl.wait_processed(ids, 120, roles=roles, desc=f"{len(ids)} orders processed after the alarm")
    drain_s = time.monotonic() - cleared
    print(f"{len(ids)} orders processed {drain_s:.1f} s after the watermark was restored")
    survivor.wait_log(UNBLOCKED, 10)
    pl.assert_exactly_once(ids)
    pl.assert_no_dead_letters()

    # Once each, on one connection: no reconnect churn, no repeated log lines.
    assert len(lines(survivor, BLOCKED)) == 1, [r["msg"] for r in lines(survivor, "RabbitMQ")]
    assert len(lines(survivor, UNBLOCKED)) == 1, [r["msg"] for r in lines(survivor, "RabbitMQ")]
    assert len(lines(survivor, CONNECTED)) == 1, survivor.tail()
    assert lines(survivor, BLOCKED)[0].get("reason"), lines(survivor, BLOCKED)[0]
    for name in ("relay", "all"):
        assert len(lines(stopped[name], BLOCKED)) == 1, stopped[name].tail()
    assert metric(scrape_metrics(metrics_port), "rabbitmq_connection_blocked") == 0
    for p in (survivor, b_consumer, b_worker):
        assert p.alive(), f"{p.name} died:\n{p.tail()}"
