"""The Docker deployment files (deploy/Dockerfile, deploy/compose.yaml).

No Docker engine is needed: the compose file is checked with `docker-compose config`
(Debian's docker-compose) and the Dockerfile is read as text. Nothing is built or run
here; scripts/test-containers (the `containers` suite of scripts/test) builds and runs
them for real with Podman.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, REPO

DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"

APP_SERVICES = ("migrate", "api", "relay", "consumer", "worker", "reconcile")
INFRA_SERVICES = ("postgres", "redis", "rabbitmq")
# Libraries every Debian image has (debian:bookworm-slim): need no explicit install.
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


# ---------------------------------------------------------------- compose


def compose_command() -> list[str]:
    exe = shutil.which("docker-compose")
    if exe:
        return [exe]
    docker = shutil.which("docker")
    if docker:
        r = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
        if r.returncode == 0:
            return [docker, "compose"]
    pytest.fail(
        "neither docker-compose nor the docker compose plugin is installed "
        "(scripts/setup installs Debian's docker-compose)",
        pytrace=False,
    )


@pytest.fixture(scope="module")
def compose_dir(tmp_path_factory) -> Path:
    """A copy of the deploy files with a .env made from .env.example beside them, as
    `cp .env.example .env` does, so that the real .env is neither needed nor touched."""
    root = tmp_path_factory.mktemp("deploy-check")
    (root / "deploy").mkdir()
    for f in DEPLOY.iterdir():
        if f.is_file():
            shutil.copy2(f, root / "deploy" / f.name)
    shutil.copy2(REPO / ".env.example", root / ".env")
    return root


def compose_config(compose_dir: Path, *args: str, **env: str) -> str:
    """stdout of `docker-compose -f deploy/compose.yaml config [args]` in compose_dir."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POSTGRES_", "RABBITMQ_", "COMPOSE_")) and k != "API_HOST_PORT"
    }
    full_env.update(env)
    r = subprocess.run(
        [*compose_command(), "-f", str(compose_dir / "deploy" / "compose.yaml"), "config", *args],
        cwd=compose_dir,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, f"compose config failed ({r.returncode}):\n{r.stderr}\n{r.stdout}"
    return r.stdout


@pytest.fixture(scope="module")
def config(compose_dir) -> dict:
    yaml = pytest.importorskip("yaml", reason="python3-yaml is needed to read the compose config")
    return yaml.safe_load(compose_config(compose_dir))


def test_compose_config_is_valid_and_has_every_service(compose_dir):
    compose_config(compose_dir, "--quiet")
    services = set(compose_config(compose_dir, "--services").split())
    for name in (*INFRA_SERVICES, *APP_SERVICES):
        assert name in services, f"service {name} missing from deploy/compose.yaml: {sorted(services)}"


def env_of(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def command_of(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def published(service: dict, with_ip: bool = False) -> set[tuple]:
    """{(host port, container port)}, or {(host ip, host port, container port)}."""
    out = set()
    for p in service.get("ports") or []:
        if isinstance(p, dict):
            ip, host, target = p.get("host_ip", ""), int(p["published"]), int(p["target"])
        else:
            rest, _, target = str(p).rpartition(":")
            ip, _, host = rest.rpartition(":")
            host, target = int(host), int(target.split("/")[0])
        out.add((ip, host, target) if with_ip else (host, target))
    return out


def test_compose_services_roles_and_ports(config):
    services = config["services"]
    for name in (*INFRA_SERVICES, *APP_SERVICES):
        assert name in services, f"service {name} missing"
    for role in APP_SERVICES:
        assert command_of(services[role])[:1] == [role], f"{role}: command {services[role].get('command')}"
        assert "build" in services[role] or "image" in services[role]
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3-management")
    # the original's host ports
    assert (8001, 8000) in published(services["api"])
    assert (15673, 15672) in published(services["rabbitmq"])


@pytest.mark.parametrize("override", [False, True], ids=["defaults", "overridden"])
def test_compose_publishes_on_loopback_only(compose_dir, override):
    """Only the api and the RabbitMQ UI are published, on 127.0.0.1; API_HOST_PORT and
    RABBITMQ_UI_HOST_PORT choose the host ports (scripts/test-containers uses them)."""
    yaml = pytest.importorskip("yaml")
    env = {"API_HOST_PORT": "29001", "RABBITMQ_UI_HOST_PORT": "29673"} if override else {}
    services = yaml.safe_load(compose_config(compose_dir, **env))["services"]
    api, ui = (29001, 29673) if override else (8001, 15673)
    assert published(services["api"], with_ip=True) == {("127.0.0.1", api, 8000)}
    assert published(services["rabbitmq"], with_ip=True) == {("127.0.0.1", ui, 15672)}
    for name, svc in services.items():
        if name not in ("api", "rabbitmq"):
            assert not svc.get("ports"), f"{name} publishes {svc['ports']}"


def test_compose_start_order_and_healthchecks(config):
    services = config["services"]
    for name in ("postgres", "redis", "rabbitmq", "api"):
        hc = services[name].get("healthcheck")
        assert hc and hc.get("test") and not hc.get("disable"), f"{name}: no healthcheck"
    tools = {"postgres": "pg_isready", "redis": "redis-cli", "rabbitmq": "rabbitmq-diagnostics"}
    for name, tool in tools.items():
        assert tool in " ".join(map(str, services[name]["healthcheck"]["test"])), name
    assert "/health" in " ".join(map(str, services["api"]["healthcheck"]["test"]))

    for role in ("api", "relay", "consumer", "worker", "reconcile"):
        deps = services[role].get("depends_on") or {}
        assert isinstance(deps, dict), f"{role}: depends_on needs conditions: {deps}"
        assert deps.get("migrate", {}).get("condition") == "service_completed_successfully", (
            f"{role} must wait for migrate to complete: {deps}"
        )
        for infra in INFRA_SERVICES:
            assert deps.get(infra, {}).get("condition") == "service_healthy", f"{role} -> {infra}: {deps}"
    assert services["migrate"].get("restart", "no") in ("no", None, "on-failure"), (
        "migrate is one-shot: it must not be restarted after it succeeded"
    )


def test_compose_app_environment(config):
    services = config["services"]
    dockerfile_env = dict(re.findall(r"\b(SWAGGER_UI_DIR)=(\S+)", DOCKERFILE.read_text()))
    for role in APP_SERVICES:
        env = env_of(services[role])
        assert env.get("SECRET_KEY"), f"{role}: SECRET_KEY must come from ../.env"
        assert env.get("POSTGRES_HOST") == "postgres", role
        assert env.get("REDIS_HOST") == "redis", role
        assert env.get("RABBITMQ_HOST") == "rabbitmq", role
        for url in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
            assert not env.get(url), f"{role}: {url} would override the container host names"
        if role == "api":
            assert env.get("API_HOST") == "0.0.0.0", "the api must listen on every interface"
            assert env.get("SWAGGER_UI_DIR") == dockerfile_env.get("SWAGGER_UI_DIR"), (
                "SWAGGER_UI_DIR must point at the folder the image ships Swagger UI in"
            )


@pytest.mark.parametrize("override", [False, True], ids=["defaults", "overridden"])
def test_compose_credentials_agree(compose_dir, override):
    """The servers and the application get the same database and broker credentials."""
    yaml = pytest.importorskip("yaml")
    env = {}
    if override:
        env = {"POSTGRES_PASSWORD": "pg-s3cret", "POSTGRES_USER": "shop", "POSTGRES_DB": "shopdb",
               "RABBITMQ_USER": "bunny", "RABBITMQ_PASSWORD": "mq-s3cret"}
    services = yaml.safe_load(compose_config(compose_dir, **env))["services"]
    pg = env_of(services["postgres"])
    mq = env_of(services["rabbitmq"])
    for role in APP_SERVICES:
        app = env_of(services[role])
        for k in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"):
            assert app.get(k) == pg.get(k), f"{role}.{k}={app.get(k)!r} but postgres has {pg.get(k)!r}"
        assert app.get("RABBITMQ_USER") == mq.get("RABBITMQ_DEFAULT_USER", "guest"), role
        assert app.get("RABBITMQ_PASSWORD") == mq.get("RABBITMQ_DEFAULT_PASS", "guest"), role
        if override:
            assert app["POSTGRES_PASSWORD"] == "pg-s3cret" and app["RABBITMQ_PASSWORD"] == "mq-s3cret"


# ---------------------------------------------------------------- Dockerfile


def stages() -> list[dict]:
    """[{'from': 'debian:bookworm', 'name': 'build', 'lines': [instruction, ...]}, ...]"""
    text = DOCKERFILE.read_text()
    text = re.sub(r"\\\n", " ", text)  # join continuation lines
    out: list[dict] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"(?i)FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line)
        if m:
            out.append({"from": m.group(1), "name": m.group(2), "lines": []})
        elif out:
            out[-1]["lines"].append(line)
    return out


def instructions(stage, keyword) -> list[str]:
    return [l[len(keyword):].strip() for l in stage["lines"] if l.upper().startswith(keyword + " ")]


def test_dockerfile_build_stage_uses_the_project_scripts():
    st = stages()
    assert len(st) >= 2, "the Dockerfile must be multi-stage (build, runtime)"
    build = st[0]
    assert build["from"].startswith("debian:bookworm"), build["from"]
    runs = " && ".join(instructions(build, "RUN"))
    for script in ("scripts/setup", "scripts/build"):
        assert script in runs, f"the build stage does not run {script}"
        # ... which are the very scripts the test runner uses
        assert script in (REPO / "scripts" / "test").read_text(), f"scripts/test no longer uses {script}"
        assert (REPO / script).is_file()
    assert runs.index("scripts/setup") < runs.index("scripts/build")


def test_dockerfile_runtime_stage():
    runtime = stages()[-1]
    assert runtime["from"].startswith("debian:bookworm-slim"), runtime["from"]
    users = instructions(runtime, "USER")
    assert users, "the runtime stage must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"runtime USER is {users[-1]}"
    assert any("order-service" in e for e in instructions(runtime, "ENTRYPOINT"))
    assert any(re.search(r"\bapi\b", c) for c in instructions(runtime, "CMD")), "default CMD must be api"
    copies = " ".join(instructions(runtime, "COPY"))
    assert "--from=" in copies and "order-service" in copies
    env = " ".join(instructions(runtime, "ENV"))
    m = re.search(r"SWAGGER_UI_DIR=(\S+)", env)
    assert m, "the runtime stage must set SWAGGER_UI_DIR"
    assert m.group(1).rstrip("/") in copies.replace("/ ", " ").rstrip("/") or m.group(1) in copies, (
        f"nothing is copied into SWAGGER_UI_DIR={m.group(1)}"
    )
    # the compose healthchecks run curl inside the image
    assert re.search(r"\bcurl\b", " ".join(instructions(runtime, "RUN"))), "curl is not installed"


def runtime_packages() -> set[str]:
    runs = " ".join(instructions(stages()[-1], "RUN"))
    pkgs = set()
    for m in re.finditer(r"apt-get install ([^&;|]*)", runs):
        pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


def package_of(lib_path: str) -> str | None:
    real = os.path.realpath(lib_path)
    candidates = {lib_path, real}
    for p in list(candidates):
        if p.startswith("/usr/lib/"):
            candidates.add(p[len("/usr"):])
        elif p.startswith("/lib/"):
            candidates.add("/usr" + p)
    for p in candidates:
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0].strip()
    return None


def test_runtime_stage_installs_every_library_the_binary_needs():
    """Each shared library the binary links directly comes from a package that the
    runtime stage installs (or that every Debian image has)."""
    if not BIN.is_file():
        pytest.skip(f"{BIN} not built")
    if not shutil.which("readelf") or not shutil.which("dpkg"):
        pytest.skip("readelf/dpkg not available")
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                        subprocess.run(["readelf", "-d", str(BIN)], capture_output=True, text=True).stdout)
    ldd = subprocess.run(["ldd", str(BIN)], capture_output=True, text=True).stdout
    where = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    installed = runtime_packages() | BASE_IMAGE_PACKAGES
    missing = []
    for lib in needed:
        if lib.startswith("ld-linux"):
            continue
        path = where.get(lib)
        assert path and path != "not", f"{lib} does not resolve here: {ldd}"
        pkg = package_of(path)
        assert pkg, f"no Debian package owns {path}"
        pkg = pkg.split(":")[0]
        if pkg not in installed:
            missing.append(f"{lib} ({pkg})")
    assert not missing, (
        f"deploy/Dockerfile's runtime stage does not install: {', '.join(missing)} "
        f"(it installs {sorted(runtime_packages())})"
    )


def test_dockerignore_keeps_the_context_small():
    ignore = (REPO / ".dockerignore").read_text().split()
    for entry in ("node_modules", ".git", ".devstack", "build"):
        assert entry in ignore or "/" + entry in ignore, f".dockerignore lacks {entry}"
