"""`order-service dlq list|replay` (SPEC §5.7): the two dead-letter places
(the new_order DLQ and the task dead-letter stream) can be seen and replayed,
without duplicating effects.

Only messages that can never succeed are dead-lettered, each with its reason:
a malformed new_order message (AMQP header x-dead-letter-reason), a task for an
order that does not exist or with an unknown task name (field `reason` in
`<stream>:dead`).
"""

import json
import re
import uuid

from helpers import free_port
from pipeline_helpers import (  # noqa: F401 - fixtures
    holds,
    make_message,
    pipeline,
    poll,
    roles,
)

ENTRY_KEYS = {"source", "id", "order_id", "reason", "attempts", "dead_lettered_at"}


def order_without_event(pl):
    """A real order whose outbox row is marked published by hand (no relay
    delivers it; the test publishes its event itself)."""
    o = pl.create_order()
    rows = pl.outbox(o["id"])
    assert len(rows) == 1, rows
    pl.query("UPDATE outbox_events SET published_at = now() WHERE id = %s", (rows[0]["id"],))
    return o, rows[0]


def cli_ok(res, what):
    assert res.returncode == 0, (
        f"`order-service dlq {what}` exited {res.returncode}\nstdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    )
    return res


def list_json(pl, *extra):
    res = cli_ok(pl.dlq_cli("list", "--json", *extra), "list --json")
    entries = []
    for line in res.stdout.splitlines():
        if not line.strip():
            continue
        try:
            e = json.loads(line)
        except ValueError:
            raise AssertionError(f"`dlq list --json` printed a line that is not JSON: {line!r}\n"
                                 f"stdout:\n{res.stdout}") from None
        assert isinstance(e, dict), line
        assert ENTRY_KEYS <= set(e), f"entry lacks {ENTRY_KEYS - set(e)}: {e}"
        assert e["source"] in ("event", "task"), e
        assert isinstance(e["attempts"], int) and not isinstance(e["attempts"], bool) \
            and e["attempts"] >= 0, e
        entries.append(e)
    return entries


def replayed(res, expected) -> bool:
    """`dlq replay` says how many it replayed: one total, or counts per place
    ("replayed 1 event(s) and 2 task(s)")."""
    nums = [int(n) for n in re.findall(r"\b\d+\b", res.stdout)]
    return bool(nums) and (nums[0] == expected or sum(nums) == expected)


def test_dlq_list_and_replay_round_trip(pipeline, roles):
    pl = pipeline
    roles.start_pipeline(relay=False)
    pl.wait_topology()
    pl.wait_consuming()
    assert list_json(pl) == [], "nothing dead-lettered yet"

    # a malformed message, a task for an order that does not exist, an unknown task
    bad_id = str(uuid.uuid4())
    bad_body = b"this is {not json"
    pl.rabbit.publish(pl.queue, bad_body, message_id=bad_id, headers={"x-retry-count": 0})
    ghost = str(uuid.uuid4())
    pl.add_task(ghost)
    real = pl.create_order()
    pl.query("UPDATE outbox_events SET published_at = now() WHERE aggregate_id = %s", (real["id"],))
    pl.add_task(real["id"], task="no_such_task")

    poll(lambda: pl.dead_letters() == {"dlq": 1, "dead_stream": 2}, 20,
         desc=f"1 message in {pl.dlq} and 2 tasks in {pl.dead_stream} (now {pl.dead_letters()})")
    dead = pl.dead_tasks()
    by_order = {d.get("order_id"): d for d in dead}
    assert set(by_order) == {ghost, real["id"]}, dead
    for d in dead:
        assert d.get("reason", "").strip(), f"dead task without a reason: {d}"
    assert pl.processed_ids([real["id"]]) == set(), "an unknown task must not process the order"

    # list --json: both places, with their reasons
    entries = list_json(pl)
    events = [e for e in entries if e["source"] == "event"]
    tasks = [e for e in entries if e["source"] == "task"]
    assert len(events) == 1 and len(tasks) == 2, entries
    ev = events[0]
    assert ev["id"] == bad_id, ev
    assert isinstance(ev["reason"], str) and ev["reason"].strip(), ev
    assert ev["dead_lettered_at"], ev
    assert {t["id"] for t in tasks} == {d["_id"] for d in dead}, (tasks, dead)
    assert {t["order_id"] for t in tasks} == {ghost, real["id"]}, tasks
    for t in tasks:
        assert isinstance(t["reason"], str) and t["reason"].strip(), t
        assert t["dead_lettered_at"], t
    # listing is not destructive
    assert pl.dead_letters() == {"dlq": 1, "dead_stream": 2}
    assert list_json(pl) == entries

    # --limit bounds the output; the plain (text) listing shows ids and reasons
    limited = list_json(pl, "--limit", "1")
    assert 1 <= len(limited) <= 2 and len(limited) < len(entries), limited
    text = cli_ok(pl.dlq_cli("list"), "list").stdout
    for e in entries:
        assert e["id"] in text, f"{e['id']} missing from `dlq list`:\n{text}"
    assert ghost in text, text
    assert pl.dead_letters() == {"dlq": 1, "dead_stream": 2}

    # replay everything: they still cannot succeed, so each comes back, once
    res = cli_ok(pl.dlq_cli("replay", "--all"), "replay --all")
    assert replayed(res, 3), f"replay should say it replayed 3: {res.stdout!r}"
    poll(lambda: pl.dead_letters() == {"dlq": 1, "dead_stream": 2}, 20,
         desc=f"the malformed message and the bad tasks dead-lettered again (now {pl.dead_letters()})")
    holds(lambda: pl.dead_letters() == {"dlq": 1, "dead_stream": 2}, 2.0, interval=0.2,
          desc="each dead letter present once (replay removed the old copies)")
    dead2 = pl.dead_tasks()
    assert {d["order_id"] for d in dead2} == {ghost, real["id"]}, dead2
    assert not ({d["_id"] for d in dead2} & {d["_id"] for d in dead}), (
        "the replayed tasks' old dead-letter entries were not removed", dead, dead2)
    entries2 = list_json(pl)
    ev2 = [e for e in entries2 if e["source"] == "event"]
    assert [e["id"] for e in ev2] == [bad_id], entries2
    # it went through the consumer again (and was judged malformed again)
    props, body = pl.rabbit.get_all(pl.dlq)[0]
    assert props.message_id == bad_id and body == bad_body, (props, body)
    assert pl.processed_ids([real["id"]]) == set()
    assert not [r for r in pl.runs([ghost, real["id"]]).values() if r[1]], "no effective run"
    roles.check_alive()


def test_replayed_valid_event_is_processed_once(pipeline, roles):
    """A valid event that ended up in the DLQ (put there by hand here) is
    processed once after `dlq replay ID`; replaying it again does not run a
    second task (the inbox deduplicates)."""
    pl = pipeline
    roles.start_pipeline(relay=False)
    pl.wait_topology()
    pl.wait_consuming()
    o, ev = order_without_event(pl)
    body = make_message(o, ev["id"])
    pl.rabbit.publish(pl.dlq, body, message_id=ev["id"], headers={"x-retry-count": 0})
    poll(lambda: pl.rabbit.count(pl.dlq) == 1, 10, desc="the event in the DLQ")

    entries = list_json(pl)
    assert [(e["source"], e["id"], e["order_id"]) for e in entries] == [("event", ev["id"], o["id"])], entries
    holds(lambda: pl.processed_ids([o["id"]]) == set(), 1.0, desc="a dead letter is not processed")

    res = cli_ok(pl.dlq_cli("replay", ev["id"]), f"replay {ev['id']}")
    assert replayed(res, 1), f"replay should say it replayed 1: {res.stdout!r}"
    pl.wait_processed([o["id"]], 20, roles=roles, desc="replayed event processed")
    pl.wait_idle()
    assert pl.dead_letters() == {"dlq": 0, "dead_stream": 0}
    assert list_json(pl) == []
    holds(lambda: pl.runs([o["id"]]) == {o["id"]: (1, 1)}, 1.0, desc="one task run")

    # the same event dead-lettered and replayed again: no second effect
    pl.rabbit.publish(pl.dlq, body, message_id=ev["id"], headers={"x-retry-count": 0})
    poll(lambda: pl.rabbit.count(pl.dlq) == 1, 10, desc="the event in the DLQ again")
    cli_ok(pl.dlq_cli("replay", "--all"), "replay --all")
    poll(lambda: pl.rabbit.count(pl.dlq) == 0, 10, desc="DLQ emptied by the replay")
    pl.wait_idle()
    holds(lambda: pl.runs([o["id"]]) == {o["id"]: (1, 1)}, 2.0, desc="still one task run")
    assert pl.dead_letters() == {"dlq": 0, "dead_stream": 0}


def test_dlq_bad_arguments_exit_2_and_help(pipeline):
    pl = pipeline
    pl.fresh_names()
    for args in (["dlq"], ["dlq", "replay"], ["dlq", "list", "--bogus"], ["dlq", "replay", "--bogus"],
                 ["dlq", "list", "--limit", "many"], ["dlq", "frobnicate"]):
        res = pl.dlq_cli(*args[1:])
        assert res.returncode == 2, (
            f"`order-service {' '.join(args)}` should exit 2 (bad arguments), got {res.returncode}\n"
            f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}"
        )
        assert (res.stderr + res.stdout).strip(), f"`{' '.join(args)}`: exit 2 without a message"
    for sub, word in (("list", "--limit"), ("replay", "--all")):
        res = pl.dlq_cli(sub, "--help")
        assert res.returncode == 0, f"dlq {sub} --help -> {res.returncode}\n{res.stdout}\n{res.stderr}"
        assert word in res.stdout, f"`dlq {sub} --help` should document {word}:\n{res.stdout}"


def test_dlq_unreachable_servers_exit_1(pipeline, roles):
    pl = pipeline
    roles.start("consumer")
    pl.wait_topology()
    # control: with the servers reachable the same commands succeed
    cli_ok(pl.dlq_cli("list"), "list")
    cli_ok(pl.dlq_cli("replay", "--all"), "replay --all")
    dead_port = free_port()  # nothing listens there
    for args in (("list",), ("list", "--json"), ("replay", "--all")):
        res = pl.dlq_cli(*args, RABBITMQ_PORT=str(dead_port))
        assert res.returncode == 1, (
            f"`dlq {' '.join(args)}` with RabbitMQ unreachable should exit 1, got {res.returncode}\n"
            f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}"
        )
        assert res.stderr.strip(), f"`dlq {' '.join(args)}` exited 1 without saying why"
    res = pl.dlq_cli("list", REDIS_PORT=str(dead_port))
    assert res.returncode == 1, (
        f"`dlq list` with Redis unreachable should exit 1, got {res.returncode}\n"
        f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}"
    )
