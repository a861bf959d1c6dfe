"""AMQP connections stay alive while idle (SPEC §5.9): every connection of
every role services heartbeats also when nothing is published or consumed
(relay waiting on LISTEN, the consumer, its retry publisher). With
RABBITMQ_HEARTBEAT_SECONDS=5 and 150 s without traffic, the broker closes
none of them, no role logs a reconnect or publish failure, and the next
order's first publish succeeds.
"""

import time

import pytest

from pipeline_helpers import (  # noqa: F401 - fixtures
    broker_connections,
    pipeline,
    poll,
    roles,
)

pytestmark = pytest.mark.long

HEARTBEAT = 5
IDLE = 150


def problems(procs, marks):
    """Warning/error lines logged by the roles after their marks."""
    out = []
    for p in procs:
        for rec in p.records(marks[p.name]):
            if rec.get("level") in ("warning", "warn", "error", "critical"):
                out.append(f"{p.name}: {rec}")
    return out


def test_idle_150s_no_connection_lost(pipeline, roles):
    pl = pipeline
    env = {"RABBITMQ_HEARTBEAT_SECONDS": str(HEARTBEAT)}
    r = roles.start_pipeline(**env)
    pl.wait_consuming()
    procs = list(r.values())

    warm = pl.create_order()
    t = time.monotonic()
    pl.wait_processed([warm["id"]], 10, roles=roles)
    warm_s = time.monotonic() - t
    pl.wait_idle()
    time.sleep(2.0)  # the test's own short-lived pika connections are gone
    before = broker_connections()
    assert before, "no client connection listed by the broker"
    marks = {p.name: p.mark() for p in procs}

    deadline = time.monotonic() + IDLE
    while time.monotonic() < deadline:  # no traffic at all, only liveness checks
        roles.check_alive()
        time.sleep(min(10.0, max(0.0, deadline - time.monotonic())))

    after = broker_connections()
    assert after == before, (
        f"broker connections changed during {IDLE}s idle (heartbeat {HEARTBEAT}s): "
        f"closed {sorted(set(before) - set(after))}, opened {sorted(set(after) - set(before))}\n"
        + "\n".join(problems(procs, marks)) + "\n" + roles.logs()
    )
    assert not problems(procs, marks), "\n".join(problems(procs, marks))

    o = pl.create_order()
    t = time.monotonic()
    pl.wait_processed([o["id"]], 10, roles=roles)
    idle_s = time.monotonic() - t
    row = pl.query("SELECT attempts, last_error FROM outbox_events WHERE aggregate_id = %s", (o["id"],))[0]
    assert row[0] <= 1 and row[1] is None, f"the first publish after {IDLE}s idle failed (attempts, last_error): {row}"
    assert not problems(procs, marks), "\n".join(problems(procs, marks))
    assert broker_connections() == before, "a role reconnected to publish or consume the order"
    pl.assert_exactly_once([o["id"]], strict_total=True)
    print(f"commit -> processed: warm {warm_s:.2f}s, after {IDLE}s idle {idle_s:.2f}s")
