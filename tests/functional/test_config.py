"""Configuration errors are clear startup errors (SPEC §3, §6)."""

import secrets
import subprocess

import pytest

from conftest import BIN
from helpers import free_port


def run_api(env, cwd, timeout=15):
    try:
        return subprocess.run(
            [str(BIN), "api"], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as e:
        raise AssertionError(
            f"api with a bad config did not exit within {timeout}s; stderr so far: {e.stderr!r}"
        ) from None


CASES = [
    ("SECRET_KEY", None),
    ("SECRET_KEY", ""),
    ("SECRET_KEY", "0123456789"),
    ("SECRET_KEY", "a" * 31),
    # no insecure defaults: the .env.example placeholder and low-entropy keys
    ("SECRET_KEY", "change-me-to-a-random-string-of-32-chars-or-more"),
    ("SECRET_KEY", "s" * 32),
    ("SECRET_KEY", "ab" * 20),
    ("API_PORT", "abc"),
    ("API_PORT", "70000"),
    ("API_PORT", "-1"),
    ("API_PORT", "80a"),
    ("REDIS_PORT", "abc"),
    ("REDIS_DB", "x"),
    ("REDIS_ORDERS_TTL_SECONDS", "abc"),
    ("REDIS_ORDERS_TTL_SECONDS", "-5"),
    ("RUN_MIGRATIONS_ON_STARTUP", "maybe"),
    ("LOG_FORMAT", "xml"),
    ("LOG_LEVEL", "loud"),
    ("ACCESS_TOKEN_EXPIRE_MINUTES", "abc"),
    ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
    ("RATE_LIMIT_ENABLED", "perhaps"),
    ("API_THREADS", "abc"),
    ("DATABASE_URL", "not-a-url"),
    ("ALGORITHM", "none"),
]


@pytest.mark.parametrize("var,value", CASES, ids=[f"{v}={x!r}" for v, x in CASES])
def test_bad_config_exits_2_naming_the_variable(service_env, tmp_path, var, value):
    env = service_env(API_PORT=free_port(), SECRET_KEY=secrets.token_hex(20))
    if value is None:
        env.pop(var, None)
    else:
        env[var] = value
    r = run_api(env, tmp_path)
    assert r.returncode == 2, f"rc={r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert var in r.stderr, f"stderr does not name {var}:\n{r.stderr}"


def test_random_secret_key_of_32_chars_is_enough(api_factory):
    p = api_factory(SECRET_KEY=secrets.token_urlsafe(24))  # 32 characters
    assert p.alive()


def test_unknown_subcommand_fails(tmp_path, service_env):
    r = subprocess.run(
        [str(BIN), "no-such-role"], env=service_env(), cwd=tmp_path, capture_output=True, text=True, timeout=15
    )
    assert r.returncode != 0
    assert r.stderr.strip()


def test_help(tmp_path, service_env):
    r = subprocess.run([str(BIN), "--help"], env=service_env(), cwd=tmp_path, capture_output=True, text=True, timeout=15)
    assert r.returncode == 0
    for role in ("api", "migrate"):
        assert role in r.stdout
