"""deploy/compose.tls.yaml (deploy/README.md, "TLS between the containers"), checked like
compose.yaml in test_deploy.py: statically, with `docker-compose config` of both files,
no Docker engine. Every connection of every role is TLS with verification, the servers
listen on TLS only, and the secrets come from files."""

from __future__ import annotations

import subprocess

import pytest

from test_deploy import APP_SERVICES, DEPLOY, compose_command, compose_dir  # noqa: F401


@pytest.fixture(scope="module")
def config(compose_dir):  # noqa: F811
    yaml = pytest.importorskip("yaml", reason="python3-yaml is needed to read the compose config")
    r = subprocess.run(
        [*compose_command(), "-f", str(compose_dir / "deploy" / "compose.yaml"),
         "-f", str(compose_dir / "deploy" / "compose.tls.yaml"), "config"],
        cwd=compose_dir, capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 0, f"compose config failed ({r.returncode}):\n{r.stderr}\n{r.stdout}"
    return yaml.safe_load(r.stdout)


def secrets_of(service):
    return {s["source"] if isinstance(s, dict) else s for s in service.get("secrets", [])}


def test_every_role_uses_tls_with_verification_and_secret_files(config):
    for name in APP_SERVICES:
        s = config["services"][name]
        env = s["environment"]
        assert env["PGSSLMODE"] == "verify-full" and env["PGSSLROOTCERT"] == "/run/secrets/tls_ca", name
        assert env["DATABASE_URL"] == "", name  # a URL would replace POSTGRES_HOST + PGSSL*
        assert env["REDIS_URL"].startswith("rediss://redis:"), (name, env["REDIS_URL"])
        assert env["CELERY_BROKER_URL"] == "", name  # the task queue follows REDIS_URL
        assert env["REDIS_TLS_CA_FILE"] == "/run/secrets/tls_ca", name
        assert env["RABBITMQ_TLS"] == "true" and env["RABBITMQ_PORT"] == "5671", name
        assert env["RABBITMQ_TLS_CA_FILE"] == "/run/secrets/tls_ca", name
        for var in ("SECRET_KEY", "POSTGRES_PASSWORD"):
            assert env[var] == "" and env[f"{var}_FILE"].startswith("/run/secrets/"), (name, var)
        assert {"tls_ca", "secret_key", "postgres_password"} <= secrets_of(s), name


def test_servers_listen_on_tls_only(config):
    pg = config["services"]["postgres"]
    assert "ssl=on" in pg["command"] and "hba_file=/etc/postgresql/pg_hba.conf" in pg["command"]
    assert pg["environment"]["POSTGRES_PASSWORD"] == ""
    assert pg["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    hba = [line.split() for line in (DEPLOY / "postgres" / "pg_hba-tls.conf").read_text().splitlines()
           if line.strip() and not line.startswith("#")]
    assert {row[0] for row in hba} == {"local", "hostssl"}, hba  # no plaintext `host` line

    redis = config["services"]["redis"]["command"]
    assert redis[redis.index("--port") + 1] == "0" and redis[redis.index("--tls-port") + 1] == "6379"
    assert "--tls" in config["services"]["redis"]["healthcheck"]["test"]

    rabbit = config["services"]["rabbitmq"]
    assert any(v.endswith(":/etc/rabbitmq/conf.d/20-tls.conf:ro") for v in rabbit["volumes"]), rabbit["volumes"]
    conf = (DEPLOY / "rabbitmq" / "20-tls.conf").read_text()
    assert "listeners.tcp = none" in conf and "listeners.ssl.default = 5671" in conf
    for name in ("postgres", "redis", "rabbitmq"):
        assert {"tls_ca", "tls_server_cert", "tls_server_key"} <= secrets_of(config["services"][name]), name
