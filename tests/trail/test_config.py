"""Settings come from the environment; a bad value stops start-up with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from events.config import FlushMode
from tests.helpers import child_env, free_port, manage
from trail.config import ConfigError, load, redact


def test_defaults_are_embedded(tmp_path: Path) -> None:
    config = load({"TRAIL_VAR_DIR": str(tmp_path)})
    assert config.database["ENGINE"] == "django.db.backends.sqlite3"
    assert config.database["NAME"] == str(tmp_path / "trail.sqlite3")
    assert config.clickhouse.embedded
    assert config.clickhouse.data_dir == tmp_path / "clickhouse"
    assert config.redis_url is None
    assert config.flush_mode is FlushMode.THREAD
    assert config.base_url == "http://127.0.0.1:8000"
    # The generated secret key is kept, so sessions survive a restart.
    assert load({"TRAIL_VAR_DIR": str(tmp_path)}).secret_key == config.secret_key


def test_services_switch_on_piece_by_piece(tmp_path: Path) -> None:
    env = {"TRAIL_VAR_DIR": str(tmp_path)}
    with_pg = load({**env, "DATABASE_URL": "postgres://u:pw@db.internal:5432/trail"})
    assert with_pg.database["ENGINE"] == "django.db.backends.postgresql"
    assert with_pg.database["HOST"] == "db.internal"
    assert with_pg.clickhouse.embedded and with_pg.flush_mode is FlushMode.THREAD

    with_redis = load({**env, "REDIS_URL": "redis://127.0.0.1:6379/0"})
    # Redis alone cannot move flushing to Celery: a worker could not open chDB.
    assert with_redis.flush_mode is FlushMode.THREAD

    full = load(
        {
            **env,
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "CLICKHOUSE_URL": "https://default:pw@ch.internal:8443/trail",
        }
    )
    assert not full.clickhouse.embedded
    assert full.flush_mode is FlushMode.CELERY


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL: expected a"),
        ("DATABASE_URL", "postgres://u@h:99999/db", "DATABASE_URL: malformed URL"),
        (
            "DATABASE_URL",
            "postgres://u@h:5432/",
            "DATABASE_URL: 'postgres://u@h:5432/' names no database",
        ),
        ("DATABASE_URL", "postgres:///trail", "DATABASE_URL: the URL"),
        ("CLICKHOUSE_URL", "tcp://h:9000", "CLICKHOUSE_URL: expected a http:// or https:// URL"),
        ("CLICKHOUSE_URL", "http://:8123", "CLICKHOUSE_URL: the URL"),
        ("REDIS_URL", "http://h:6379", "REDIS_URL: expected a redis:// or rediss:// URL"),
        ("TRAIL_FLUSH_MODE", "sometimes", "TRAIL_FLUSH_MODE: expected auto, thread or celery"),
        ("TRAIL_FLUSH_MODE", "celery", "TRAIL_FLUSH_MODE: celery needs REDIS_URL"),
        ("CLICKHOUSE_CLUSTER", "main", "CLICKHOUSE_CLUSTER: needs CLICKHOUSE_URL"),
        ("SECRET_KEY", "short", "SECRET_KEY: must be at least 32 characters"),
        ("DEBUG", "maybe", "DEBUG: expected true or false"),
        ("PORT", "http", "PORT: expected a TCP port number"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: expected"),
        ("EMAIL_URL", "sendgrid://key@api", "EMAIL_URL: expected smtp://"),
        ("EMAIL_URL", "smtp+tls://u:pw@:587", "EMAIL_URL: the URL"),
        ("TRAIL_FLUSH_NICE", "20", "TRAIL_FLUSH_NICE: expected a niceness from 0 to 19"),
        ("TRAIL_FLUSH_NICE", "-5", "TRAIL_FLUSH_NICE: expected a niceness from 0 to 19"),
        ("TRAIL_FLUSH_NICE", "low", "TRAIL_FLUSH_NICE: expected a niceness from 0 to 19"),
        ("TRAIL_HSTS_SECONDS", "-1", "TRAIL_HSTS_SECONDS: expected a whole number of seconds"),
        ("TRAIL_HSTS_SECONDS", "1y", "TRAIL_HSTS_SECONDS: expected a whole number of seconds"),
    ],
)
def test_bad_values_name_the_variable(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load({"TRAIL_VAR_DIR": str(tmp_path), variable: value})
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_hsts_is_a_year_behind_https_and_none_over_http(tmp_path: Path) -> None:
    env = {"TRAIL_VAR_DIR": str(tmp_path)}
    assert load(env).hsts_seconds == 0
    assert not load(env).https
    https = {**env, "TRAIL_BASE_URL": "https://analytics.example.com"}
    assert load(https).https
    assert load(https).hsts_seconds == 31_536_000
    assert load({**https, "TRAIL_HSTS_SECONDS": "0"}).hsts_seconds == 0
    assert load({**https, "TRAIL_HSTS_SECONDS": "3_600"}).hsts_seconds == 3600


def test_slow_client_limits(tmp_path: Path) -> None:
    env = {"TRAIL_VAR_DIR": str(tmp_path)}
    defaults = load(env)
    assert (defaults.body_timeout, defaults.max_connections_per_ip) == (10, 128)
    chosen = load({**env, "TRAIL_BODY_TIMEOUT": "3", "TRAIL_MAX_CONNECTIONS_PER_IP": "8"})
    assert (chosen.body_timeout, chosen.max_connections_per_ip) == (3, 8)
    for name, value in (("TRAIL_BODY_TIMEOUT", "0"), ("TRAIL_MAX_CONNECTIONS_PER_IP", "many")):
        with pytest.raises(ConfigError, match=f"{name}: expected a whole number above 0"):
            load({**env, name: value})


def test_cluster_name_must_be_plain(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CLICKHOUSE_CLUSTER: .* is not a plain cluster name"):
        load(
            {
                "TRAIL_VAR_DIR": str(tmp_path),
                "CLICKHOUSE_URL": "http://h:8123",
                "CLICKHOUSE_CLUSTER": "main' ; DROP",
            }
        )


def test_passwords_are_redacted_in_messages(tmp_path: Path) -> None:
    assert redact("postgres://trail:s3cret@db:5432/trail") == "postgres://trail:***@db:5432/trail"
    with pytest.raises(ConfigError) as caught:
        load({"TRAIL_VAR_DIR": str(tmp_path), "DATABASE_URL": "mysql://trail:s3cret@db/trail"})
    assert "s3cret" not in str(caught.value)


def _assert_one_clear_line(result: object, starts: str) -> None:
    stderr = result.stderr.strip()  # type: ignore[attr-defined]
    assert result.returncode != 0  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1].startswith(starts), stderr


def test_malformed_url_stops_manage_py_with_one_line(isolated_var: Path) -> None:
    result = manage("check", env=child_env(isolated_var, DATABASE_URL="mysql://root@localhost/x"))
    _assert_one_clear_line(result, "trail: DATABASE_URL: expected a")


@pytest.mark.parametrize(
    ("variable", "url"),
    [
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:{port}/trail"),
        ("CLICKHOUSE_URL", "http://default:pw@127.0.0.1:{port}/trail"),
        ("REDIS_URL", "redis://127.0.0.1:{port}/0"),
    ],
)
def test_unreachable_service_stops_start_up_with_one_line(
    isolated_var: Path, variable: str, url: str
) -> None:
    """Nothing listens on the chosen port: migrate (the first step of `make run`) and
    serve stop with one line naming the variable, and never print the password."""
    env = child_env(isolated_var, **{variable: url.format(port=free_port())})
    for command in (["migrate", "--noinput"], ["serve", "--port", str(free_port())]):
        result = manage(*command, env=env)
        _assert_one_clear_line(result, f"trail: {variable}: cannot")
        assert "pw" not in result.stderr
