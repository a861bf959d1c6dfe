"""Secrets from files (*_FILE, as Docker and Kubernetes hand them over): read at startup,
one trailing newline stripped; a variable set twice, or a file that cannot be read, is a
startup error (exit 2) that names the variables and the path and never shows the secret."""

import secrets

import pytest
import requests

from helpers import free_port
from test_config import run_api


def write(path, text):
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def test_secret_key_and_postgres_password_from_files_serve_requests(api_factory, service_env, tmp_path):
    key = secrets.token_hex(20)
    env = service_env()
    key_file = write(tmp_path / "secret_key", key + "\n")
    pg_file = write(tmp_path / "pg_password", env["POSTGRES_PASSWORD"] + "\n")
    p = api_factory(SECRET_KEY=None, SECRET_KEY_FILE=key_file, POSTGRES_PASSWORD=None,
                    POSTGRES_PASSWORD_FILE=pg_file,
                    # the password must come from the file, not from the URL
                    DATABASE_URL=None)
    assert p.alive()
    r = requests.get(p.url + "/ready", timeout=5)
    assert r.status_code == 200 and r.json()["checks"]["postgres"] == "ok", r.text


@pytest.mark.parametrize("name", ["SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "RABBITMQ_PASSWORD"])
def test_variable_and_its_file_together_exit_2_naming_both(service_env, tmp_path, name):
    secret = "do-not-print-" + secrets.token_hex(16)
    env = service_env(API_PORT=free_port(), SECRET_KEY=secrets.token_hex(20))
    env[name] = secret
    env[name + "_FILE"] = write(tmp_path / "s", secret + "\n")
    r = run_api(env, tmp_path)
    assert r.returncode == 2, f"rc={r.returncode}\n{r.stderr}"
    assert f"{name}_FILE" in r.stderr and f"{name};" in r.stderr, r.stderr
    assert secret not in r.stderr + r.stdout


@pytest.mark.parametrize("name", ["SECRET_KEY", "POSTGRES_PASSWORD", "REDIS_PASSWORD", "RABBITMQ_PASSWORD"])
def test_unreadable_file_exits_2_naming_variable_and_path(service_env, tmp_path, name):
    env = service_env(API_PORT=free_port(), SECRET_KEY=secrets.token_hex(20))
    env.pop(name, None)
    missing = str(tmp_path / "no-such-secret")
    env[name + "_FILE"] = missing
    r = run_api(env, tmp_path)
    assert r.returncode == 2, f"rc={r.returncode}\n{r.stderr}"
    assert f"{name}_FILE" in r.stderr and missing in r.stderr, r.stderr


def test_weak_secret_key_from_file_is_refused_without_showing_it(service_env, tmp_path):
    env = service_env(API_PORT=free_port(), SECRET_KEY=None)
    weak = "short-secret-in-a-file"
    env["SECRET_KEY_FILE"] = write(tmp_path / "key", weak + "\n")
    r = run_api(env, tmp_path)
    assert r.returncode == 2, f"rc={r.returncode}\n{r.stderr}"
    assert "SECRET_KEY" in r.stderr and weak not in r.stderr, r.stderr
