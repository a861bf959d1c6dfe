"""Cluster settings on the single-node stack (SPEC §6, issue "beyond one machine"):
queues are quorum queues by default (RABBITMQ_QUEUE_TYPE=classic keeps classic
ones, and the retry path works with either); RABBITMQ_HOSTS and a multi-host
DATABASE_URL skip a node that is down; REDIS_SENTINELS + REDIS_MASTER_NAME find
the Redis primary through a real Sentinel. The failover drills on real clusters
are in test_ha_drills.py."""

import subprocess
import time
import uuid

import pytest

from helpers import free_port, item
from pipeline_helpers import pipeline, poll, rabbitmqctl, roles  # noqa: F401 - fixtures


def queue_types() -> dict:
    out = rabbitmqctl("list_queues", "-q", "--no-table-headers", "name", "type")
    types = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            types[parts[0]] = parts[1]
    return types


def test_queues_are_quorum_by_default_and_retries_work(pipeline, roles):
    pl = pipeline
    roles.start_pipeline(relay=False, worker=False)
    pl.wait_topology()
    types = queue_types()
    for q in (pl.queue, pl.retry_queue, pl.dlq):
        assert types.get(q) == "quorum", (q, types)
    # A message the consumer cannot handle yet goes through the retry queue (per-message
    # TTL, dead-lettered back) and ends in the DLQ after the retries: both need the
    # quorum queue's TTL and dead-lettering.
    pl.rabbit.publish(pl.queue, '{"order_id": "not-a-uuid"}', message_id=uuid.uuid4().hex)
    poll(lambda: pl.rabbit.count(pl.dlq) == 1, 20, desc="malformed message dead-lettered")


def test_classic_queue_type_is_kept_when_asked(pipeline, roles):
    pl = pipeline
    roles.start_pipeline(relay=False, worker=False, RABBITMQ_QUEUE_TYPE="classic")
    pl.wait_topology()
    types = queue_types()
    for q in (pl.queue, pl.retry_queue, pl.dlq):
        assert types.get(q) == "classic", (q, types)


def test_a_queue_of_the_other_type_is_a_clear_error(pipeline, roles):
    pl = pipeline
    first = roles.start_pipeline(relay=False, worker=False, RABBITMQ_QUEUE_TYPE="classic")
    pl.wait_topology()
    first["consumer"].stop_ok()
    second = roles.start("consumer")  # quorum, the default
    second.wait_log(r"RABBITMQ_QUEUE_TYPE", 20, desc="queue-type mismatch naming the setting")


def test_dead_nodes_first_in_the_lists_are_skipped(pipeline, roles, stack):
    """The first RabbitMQ node and the first PostgreSQL host refuse connections: every
    role connects to the next one and the order is processed."""
    pl = pipeline
    dead_rabbit, dead_pg = free_port(), free_port()
    url = (f"postgresql://{stack.pg_user}:{stack.pg_password}@127.0.0.1:{dead_pg},"
           f"{stack.pg_host}:{stack.pg_port}/{pl.dbname}")
    overrides = {
        "RABBITMQ_HOSTS": f"127.0.0.1:{dead_rabbit},127.0.0.1:{pl.env()['RABBITMQ_PORT']}",
        "RABBITMQ_HOST": None,
        "DATABASE_URL": url,
        "POSTGRES_HOST": None,
        "POSTGRES_PORT": None,
    }
    r = roles.start_pipeline(**overrides)
    pl.wait_topology()
    pl.wait_consuming()
    o = pl.create_order([item(1, 2, 3.0)])
    pl.wait_processed([o["id"]], 20, roles=roles)
    for role in ("relay", "consumer"):
        r[role].wait_log(rf"connected to RabbitMQ.*127\.0\.0\.1:{pl.env()['RABBITMQ_PORT']}", 5,
                         desc=f"{role} names the node it connected to")


@pytest.fixture
def sentinel(tmp_path, stack):
    """A real redis-sentinel watching the stack's Redis as master `orders-test`."""
    port = free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor orders-test {stack.redis_host} {stack.redis_port} 1\n"
        "sentinel down-after-milliseconds orders-test 5000\n"
    )
    proc = subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)

    def knows_master():
        r = subprocess.run(["redis-cli", "-p", str(port), "SENTINEL", "get-master-addr-by-name",
                            "orders-test"], capture_output=True, text=True, timeout=5)
        return str(stack.redis_port) in r.stdout

    try:
        poll(knows_master, 20, desc="sentinel up and monitoring the stack's Redis")
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_redis_primary_found_through_sentinel(pipeline, roles, sentinel):
    pl = pipeline
    overrides = {"REDIS_SENTINELS": f"127.0.0.1:{free_port()},127.0.0.1:{sentinel}",
                 "REDIS_MASTER_NAME": "orders-test", "REDIS_HOST": "192.0.2.1", "REDIS_PORT": "1"}
    roles.start_pipeline(**overrides)
    pl.wait_topology()
    pl.wait_consuming()
    o = pl.create_order([item(1, 1, 1.0)])
    pl.wait_processed([o["id"]], 20, roles=roles)  # the task went through the Sentinel's Redis


def test_unknown_master_name_is_a_dependency_outage_not_a_crash(pipeline, roles, sentinel):
    pl = pipeline
    roles.start("relay")
    c = roles.start("consumer", REDIS_SENTINELS=f"127.0.0.1:{sentinel}",
                    REDIS_MASTER_NAME="no-such-master")
    pl.wait_consuming()
    pl.create_order([item(1, 1, 1.0)])
    c.wait_log(r"no-such-master", 20, desc="consumer reports that no Sentinel names the primary")
    time.sleep(1)
    assert c.alive(), c.tail()
