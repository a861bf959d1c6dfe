"""Settings and command surface of the reliability features (SPEC §5.7-5.9, §6):
RECONCILE_*, RABBITMQ_HEARTBEAT_SECONDS, TASK_RETRY_MAX_BACKOFF_SECONDS are
validated at startup like every other setting (exit 2 naming the variable);
`order-service reconcile` is a role with --help and --metrics-port; `dlq` is
listed by `order-service --help`.
"""

import signal
import subprocess
import uuid

import pytest
import requests

from conftest import BIN, run_service
from helpers import describe, free_port, wait_until

BAD = [
    ("RECONCILE_AFTER_SECONDS", "abc"),
    ("RECONCILE_AFTER_SECONDS", "0"),
    ("RECONCILE_AFTER_SECONDS", "-5"),
    ("RECONCILE_INTERVAL_SECONDS", "0"),
    ("RECONCILE_INTERVAL_SECONDS", "soon"),
    ("RECONCILE_BATCH_SIZE", "0"),
    ("RECONCILE_BATCH_SIZE", "many"),
    ("RABBITMQ_HEARTBEAT_SECONDS", "-1"),
    ("RABBITMQ_HEARTBEAT_SECONDS", "x"),
    ("TASK_RETRY_MAX_BACKOFF_SECONDS", "0"),
    ("TASK_RETRY_MAX_BACKOFF_SECONDS", "abc"),
]


@pytest.mark.parametrize("var,value", BAD, ids=[f"{v}={x!r}" for v, x in BAD])
@pytest.mark.parametrize("role", ["reconcile", "worker"])
def test_bad_reliability_setting_exits_2_naming_it(service_env, tmp_path, role, var, value):
    env = service_env(TASK_STREAM=f"tasks:cfg:{uuid.uuid4().hex[:8]}:process_order", **{var: value})
    proc = subprocess.Popen([str(BIN), role], env=env, cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
        pytest.fail(f"`order-service {role}` started with {var}={value!r} instead of refusing it")
    assert proc.returncode == 2, f"{var}={value!r}: rc={proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    assert var in err, f"stderr does not name {var}:\n{err}"


def test_help_lists_reconcile_and_dlq(service_env, tmp_path):
    r = run_service(["--help"], service_env(), cwd=str(tmp_path), timeout=20)
    assert r.returncode == 0, r
    for word in ("reconcile", "dlq"):
        assert word in r.stdout, f"`order-service --help` does not list {word}:\n{r.stdout}"
    r = run_service(["reconcile", "--help"], service_env(), cwd=str(tmp_path), timeout=20)
    assert r.returncode == 0, r
    assert "--metrics-port" in r.stdout, r.stdout


def test_reconcile_role_metrics_endpoint_and_sigterm(service_env, tmp_path):
    port = free_port()
    env = service_env(TASK_STREAM=f"tasks:cfg:{uuid.uuid4().hex[:8]}:process_order",
                      RECONCILE_INTERVAL_SECONDS="1")
    log_path = tmp_path / "reconcile.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(BIN), "reconcile", "--metrics-port", str(port)], env=env,
                                cwd=str(tmp_path), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def tail():
        return log_path.read_text(errors="replace")[-3000:]

    try:
        def sampled():
            assert proc.poll() is None, f"reconcile exited ({proc.returncode}):\n{tail()}"
            r = requests.get(url + "/metrics", timeout=2)
            return r if "\norders_unprocessed_oldest_age_seconds" in "\n" + r.text else None

        m = wait_until(sampled, 20, interval=0.2, desc="reconcile /metrics with a sample").text
        assert "# TYPE orders_reconciled_total counter" in m, m[:3000]
        assert "# TYPE orders_unprocessed_oldest_age_seconds gauge" in m, m[:3000]
        h = requests.get(url + "/health", timeout=5)
        assert h.status_code == 200, describe(h)
    finally:
        was_alive = proc.poll() is None
        if was_alive:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
            rc = None
    assert was_alive, f"reconcile had exited ({rc}):\n{tail()}"
    assert rc == 0, f"reconcile did not exit 0 on SIGTERM (rc={rc}):\n{tail()}"
