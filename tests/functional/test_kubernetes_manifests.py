"""The Kubernetes manifests (deploy/kubernetes/), checked statically (issue 26, part 4).

No cluster is needed: the YAML is parsed (python3-yaml) and the rules a rolling restart
and a node drain rely on are asserted. No schema validator is packaged for Debian
(kubeconform, kubeval and kubectl are not), so the fields are checked here by name.
scripts/test-containers plays them for real with `podman kube play`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO

KUBE = REPO / "deploy" / "kubernetes"
ROLES = ("api", "relay", "consumer", "worker", "reconcile")
SECRET_NAMES = ("SECRET_KEY", "SECRET_KEY_FALLBACKS", "POSTGRES_PASSWORD", "REDIS_PASSWORD",
                "RABBITMQ_PASSWORD")


def load(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    kustomization = load(KUBE / "kustomization.yaml")[0]
    out = []
    for name in kustomization["resources"]:
        assert (KUBE / name).is_file(), f"kustomization.yaml lists {name}, which does not exist"
        out += load(KUBE / name)
    return out


def of_kind(docs, kind) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.fixture(scope="module")
def config(docs) -> dict[str, str]:
    maps = of_kind(docs, "ConfigMap")
    assert list(maps) == ["order-service-config"], list(maps)
    data = maps["order-service-config"]["data"]
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"
    return data


def deployment(docs, role) -> dict:
    name = f"order-service-{role}"
    deps = of_kind(docs, "Deployment")
    assert name in deps, f"no Deployment {name} (have {sorted(deps)})"
    return deps[name]


def container(workload: dict) -> dict:
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(workload: dict, config: dict[str, str]) -> dict[str, str]:
    """The container's environment: the ConfigMap (envFrom), then its own env."""
    c = container(workload)
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        assert source["configMapRef"]["name"] == "order-service-config"
        env.update(config)
    for e in c.get("env", []):
        assert "value" in e or "valueFrom" in e
        env[e["name"]] = e.get("value", "<from elsewhere>")
    return env


def port_number(c: dict, port) -> int:
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    assert port in named, f"probe port {port!r} is not a port of {c['name']}"
    return named[port]


def prestop_seconds(c: dict) -> float:
    hook = c.get("lifecycle", {}).get("preStop")
    if not hook:
        return 0.0
    if "sleep" in hook:
        return float(hook["sleep"]["seconds"])
    command = hook["exec"]["command"]
    assert command[0] == "sleep", f"preStop {command}: a sleep is expected"
    return float(command[1])


def test_a_deployment_per_role_running_that_role(docs):
    for role in ROLES:
        d = deployment(docs, role)
        assert container(d)["args"][0] == role
        spec = d["spec"]
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items(), f"{role}: selector"
        assert labels.get("app.kubernetes.io/component") == role


def test_probes(docs, config):
    for role in ROLES:
        d = deployment(docs, role)
        c = container(d)
        env = env_of(d, config)
        ready, live = c.get("readinessProbe"), c.get("livenessProbe")
        assert ready and live, f"{role}: readiness and liveness probes"
        assert live["httpGet"]["path"] == "/health", role
        if role == "api":
            assert ready["httpGet"]["path"] == "/ready"
            want = int(env["API_PORT"])
        else:  # background roles serve /health and /metrics on METRICS_PORT
            assert ready["httpGet"]["path"] == "/health", role
            want = int(env["METRICS_PORT"])
            assert want > 0, f"{role}: METRICS_PORT must be set for its probes"
        for probe in (ready, live):
            assert port_number(c, probe["httpGet"]["port"]) == want, role
            assert probe.get("timeoutSeconds", 1) < probe.get("periodSeconds", 10)


def test_termination_grace_covers_prestop_drain_and_grace(docs, config):
    for role in ROLES:
        d = deployment(docs, role)
        env = env_of(d, config)
        drain = float(env["SHUTDOWN_DRAIN_SECONDS"])
        grace = float(env["SHUTDOWN_GRACE_SECONDS"])
        pod = d["spec"]["template"]["spec"]
        pre = prestop_seconds(container(d))
        total = pod["terminationGracePeriodSeconds"]
        assert total > pre + drain + grace, (
            f"{role}: terminationGracePeriodSeconds {total} must be above preStop {pre} + "
            f"SHUTDOWN_DRAIN_SECONDS {drain} + SHUTDOWN_GRACE_SECONDS {grace}"
        )
    api = deployment(docs, "api")
    env = env_of(api, config)
    assert float(env["SHUTDOWN_DRAIN_SECONDS"]) > 0, "the api must drain on SIGTERM"
    assert prestop_seconds(container(api)) > 0, "api: a preStop sleep lets endpoints update"
    rolling = api["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0 and rolling["maxSurge"] >= 1, rolling
    assert api["spec"]["replicas"] >= 2


def test_api_sets_tcp_migrate_req(docs):
    pod = deployment(docs, "api")["spec"]["template"]["spec"]
    sysctls = {s["name"]: s["value"] for s in pod["securityContext"].get("sysctls", [])}
    assert sysctls.get("net.ipv4.tcp_migrate_req") == "1"
    service = of_kind(docs, "Service")["order-service-api"]
    labels = pod_labels = deployment(docs, "api")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items(), labels


def test_resources(docs):
    workloads = list(of_kind(docs, "Deployment").values()) + list(of_kind(docs, "Job").values())
    for w in workloads:
        res = container(w).get("resources", {})
        name = w["metadata"]["name"]
        assert {"cpu", "memory"} <= set(res.get("requests", {})), f"{name}: requests"
        assert "memory" in res.get("limits", {}), f"{name}: a memory limit"


def test_read_only_root_with_a_writable_workdir(docs):
    """The image's WORKDIR is mounted writable: under a read-only root filesystem a
    runtime cannot create it when the image lacks it (buildah's WORKDIR does not make it;
    podman then refuses to start the container)."""
    workdir = re.findall(r"^WORKDIR\s+(\S+)", (REPO / "deploy" / "Dockerfile").read_text(), re.M)[-1]
    workloads = list(of_kind(docs, "Deployment").values()) + list(of_kind(docs, "Job").values())
    for w in workloads:
        c = container(w)
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, w["metadata"]["name"]
        volumes = {v["name"]: v for v in w["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in c["volumeMounts"]}
        assert "emptyDir" in mounts.get(workdir, {}), f"{w['metadata']['name']}: {workdir} not mounted"


def test_a_disruption_budget_per_role(docs):
    budgets = list(of_kind(docs, "PodDisruptionBudget").values())
    for role in ROLES:
        d = deployment(docs, role)
        labels = d["spec"]["template"]["metadata"]["labels"]
        mine = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(mine) == 1, f"{role}: {len(mine)} PodDisruptionBudgets select its pods"
        spec = mine[0]["spec"]
        replicas = d["spec"]["replicas"]
        if "minAvailable" in spec:
            assert 0 < spec["minAvailable"] < replicas, f"{role}: {spec} with {replicas} replicas"
        else:
            assert spec["maxUnavailable"] >= 1, f"{role}: {spec}"


def test_migrate_job(docs):
    jobs = of_kind(docs, "Job")
    assert "order-service-migrate" in jobs, sorted(jobs)
    pod = jobs["order-service-migrate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("OnFailure", "Never")
    assert container(jobs["order-service-migrate"])["args"][0] == "migrate"


def test_no_secret_in_config_maps_and_secrets_as_files(docs, config):
    example = load(KUBE / "secret.example.yaml")[0]
    assert example["kind"] == "Secret"
    secret_values = {v for v in example["stringData"].values() if v}
    for key, value in config.items():
        assert key not in SECRET_NAMES, f"ConfigMap holds the secret {key}"
        assert not re.search(r"PASSWORD|SECRET", key) or key.endswith("_FILE"), key
        assert value not in secret_values, f"ConfigMap {key} has a value of the Secret"
        assert not re.search(r"://[^/\s:]+:[^@\s]+@", value), f"{key}: credentials in a URL"
    assert not of_kind(docs, "Secret"), "Secrets are made by the operator, never applied from git"
    files = {k[: -len("_FILE")]: v for k, v in config.items() if k.endswith("_FILE")}
    assert {"SECRET_KEY", "POSTGRES_PASSWORD", "RABBITMQ_PASSWORD"} <= set(files)
    for name, path in files.items():
        assert name in SECRET_NAMES, f"{name}_FILE: not a secret order-service reads from a file"
        assert name in example["stringData"], f"secret.example.yaml lacks {name}"
    workloads = list(of_kind(docs, "Deployment").values()) + list(of_kind(docs, "Job").values())
    for w in workloads:
        pod = w["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container(w).get("volumeMounts", [])}
        for name, path in files.items():
            folder, key = path.rsplit("/", 1)
            assert folder in mounts, f"{w['metadata']['name']}: {path} is not mounted"
            assert mounts[folder]["secret"]["secretName"] == example["metadata"]["name"]
            assert key == name


def test_config_map_holds_only_known_settings(config):
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (REPO / ".env.example").read_text(),
                                re.M))
    unknown = [k for k in config if k not in documented
               and not (k.endswith("_FILE") and k[: -len("_FILE")] in SECRET_NAMES)]
    assert not unknown, f"ConfigMap keys that .env.example does not document: {unknown}"


def test_compose_api_sets_tcp_migrate_req():
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    sysctls = compose["services"]["api"].get("sysctls", {})
    if isinstance(sysctls, list):
        sysctls = dict(s.split("=", 1) for s in sysctls)
    assert str(sysctls.get("net.ipv4.tcp_migrate_req")) == "1", sysctls
