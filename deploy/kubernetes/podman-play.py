#!/usr/bin/env python3
"""Makes the manifests of this folder playable by `podman kube play` (Podman 4.3, Debian
12), for scripts/test-containers. Usage:

    podman-play.py OUT_DIR SECRETS_DIR API_HOST_PORT

reads kustomization.yaml's resources and writes to OUT_DIR:

  infra.yaml     Pods `postgres`, `redis`, `rabbitmq` (the images deploy/compose.yaml
                 uses; on a podman network each pod's name is its DNS name, which is what
                 the ConfigMap's POSTGRES_HOST, REDIS_HOST and RABBITMQ_HOST say)
  migrate.yaml   the ConfigMap and the migrate Job's pod template as a Pod
  roles.yaml     the ConfigMap and the Deployments, one replica each; the api's port
                 published on 127.0.0.1:API_HOST_PORT
  probes.tsv     container, probe kind, port, path: what the kubelet would ask

What differs from a cluster, and why (deploy/kubernetes/README.md):
- Secret volumes become hostPath volumes of SECRETS_DIR (same file names, same mount
  path): Podman 4.3 has no Secret kind, and its kube play panics on a secret volume
  that names no podman secret (nil pointer in VolumeFromSecret).
- Podman 4.3 publishes every containerPort on the host (the same port when hostPort is
  not given): only the api's port stays, on 127.0.0.1:API_HOST_PORT; probes name ports
  by number.
- Services, PodDisruptionBudgets and Jobs are not kinds Podman plays: the Job becomes a
  Pod, the others are left out. Podman ignores the pod's sysctls (net.ipv4.tcp_migrate_req
  reads 0 inside) and fsGroup, and has no kubelet acting on readiness: scripts/test-containers
  asks every probe itself.
Passwords come from the environment: POSTGRES_PASSWORD, RABBITMQ_PASSWORD (the servers
are started with them; the roles read them from SECRETS_DIR).
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def load_all() -> list[dict]:
    kustomization = yaml.safe_load((HERE / "kustomization.yaml").read_text())
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((HERE / name).read_text()) if d]
    return docs


def with_host_secrets(pod_spec: dict, secrets_dir: str) -> dict:
    spec = copy.deepcopy(pod_spec)
    for v in spec.get("volumes", []):
        if "secret" in v:
            del v["secret"]
            v["hostPath"] = {"path": secrets_dir, "type": "Directory"}
    return spec


def infra_pods(config: dict) -> list[dict]:
    def pod(name, container, hostname=None):
        spec = {"restartPolicy": "Always", "containers": [container]}
        if hostname:
            spec["hostname"] = hostname
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "order-service-infra"}},
                "spec": spec}

    env = lambda d: [{"name": k, "value": v} for k, v in d.items()]  # noqa: E731
    return [
        pod("postgres", {"name": "postgres", "image": "docker.io/library/postgres:15",
                         "env": env({"POSTGRES_DB": config["POSTGRES_DB"],
                                     "POSTGRES_USER": config["POSTGRES_USER"],
                                     "POSTGRES_PASSWORD": os.environ["POSTGRES_PASSWORD"]})}),
        pod("redis", {"name": "redis", "image": "docker.io/library/redis:7",
                      "args": ["redis-server", "--appendonly", "yes", "--appendfsync", "always",
                               "--maxmemory-policy", "noeviction"]}),
        pod("rabbitmq", {"name": "rabbitmq", "image": "docker.io/library/rabbitmq:3-management",
                         "env": env({"RABBITMQ_DEFAULT_USER": config["RABBITMQ_USER"],
                                     "RABBITMQ_DEFAULT_PASS": os.environ["RABBITMQ_PASSWORD"],
                                     "RABBITMQ_DEFAULT_VHOST": config["RABBITMQ_VHOST"]})},
            hostname="rabbitmq"),
    ]


def main() -> int:
    out, secrets_dir, api_port = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    docs = load_all()
    config_map = next(d for d in docs if d["kind"] == "ConfigMap")
    config = config_map["data"]
    out.mkdir(parents=True, exist_ok=True)

    (out / "infra.yaml").write_text(yaml.safe_dump_all(infra_pods(config), sort_keys=False))

    job = next(d for d in docs if d["kind"] == "Job")
    spec = with_host_secrets(job["spec"]["template"]["spec"], secrets_dir)
    spec["restartPolicy"] = "Never"  # its exit status is the check
    migrate = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": job["metadata"]["name"],
                            "labels": job["spec"]["template"]["metadata"]["labels"]},
               "spec": spec}
    (out / "migrate.yaml").write_text(yaml.safe_dump_all([config_map, migrate], sort_keys=False))

    roles, probes = [config_map], []
    for d in docs:
        if d["kind"] != "Deployment":
            continue
        d = copy.deepcopy(d)
        d["spec"]["replicas"] = 1
        pod = with_host_secrets(d["spec"]["template"]["spec"], secrets_dir)
        d["spec"]["template"]["spec"] = pod
        for c in pod["containers"]:
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            if c["name"] == "api":
                for p in c["ports"]:
                    if p["name"] == "http":
                        p["hostPort"] = api_port
                        p["hostIP"] = "127.0.0.1"
            # podman names a Deployment's pod NAME-pod-0 and its containers POD-CONTAINER
            container = f"{d['metadata']['name']}-pod-0-{c['name']}"
            for kind in ("readinessProbe", "livenessProbe"):
                get = c[kind]["httpGet"]
                port = get["port"] if isinstance(get["port"], int) else ports[get["port"]]
                get["port"] = port  # by number: the port names go below
                probes.append(f"{container}\t{kind}\t{port}\t{get['path']}")
            # Podman 4.3 publishes a containerPort without hostPort on the host's same port
            # (every background role's 9100 would collide): only the api's stays.
            c["ports"] = [p for p in c.get("ports", []) if "hostPort" in p]
            if not c["ports"]:
                del c["ports"]
        roles.append(d)
    (out / "roles.yaml").write_text(yaml.safe_dump_all(roles, sort_keys=False))
    (out / "probes.tsv").write_text("\n".join(probes) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
