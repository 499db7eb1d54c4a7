"""Request ids and JSON logs (trail/request_id.py, common/observability.py), the new
settings' checks (trail/config.py) and Sentry's optional start."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from common.observability import JsonFormatter, RequestIdFilter, logging_config
from tests.helpers import PYTHON, child, child_env
from trail.config import ConfigError, load

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the root logger writes while the test runs, as LOG_FORMAT=json writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.django_db
def test_a_sane_incoming_id_is_kept_and_answered(client: Client) -> None:
    for given in ("abc-123", "0f8fad5b-d9cb-469f-a165-70867728950e", "Root=1-5759e988-bd86:x/y+=="):
        response = client.get("/healthz", HTTP_X_REQUEST_ID=given)
        assert response["X-Request-ID"] == given


@pytest.mark.django_db
def test_an_insane_or_missing_id_is_replaced(client: Client) -> None:
    hostile = [
        "",
        "x" * 129,
        "two words",
        'quote"d',
        "new\nline",
        "tab\tid",
        "é-unicode",
        "<script>",
        "a,b",
    ]
    seen = set()
    for given in hostile:
        answer = client.get("/healthz", HTTP_X_REQUEST_ID=given)["X-Request-ID"]
        assert HEX_ID.fullmatch(answer), (given, answer)
        seen.add(answer)
    generated = client.get("/healthz")["X-Request-ID"]
    assert HEX_ID.fullmatch(generated)
    seen.add(generated)
    assert len(seen) == len(hostile) + 1  # a new one each time


@pytest.mark.django_db
def test_every_line_of_a_request_carries_its_id(client: Client, json_log: io.StringIO) -> None:
    logging.getLogger("tests.before").warning("outside any request")
    response = client.get("/no-such-page-here", HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 404
    logging.getLogger("tests.after").warning("after the request")
    found = lines(json_log)
    # Django logs "Not Found" after the middleware chain returned: still the request's line.
    [not_found] = [line for line in found if "Not Found" in str(line["message"])]
    assert not_found["request_id"] == "req-42"
    assert not_found["level"] == "WARNING" and not_found["logger"] == "django.request"
    assert str(not_found["time"]).endswith("Z")
    outside = {line["logger"]: line["request_id"] for line in found}
    assert outside["tests.before"] == "-" and outside["tests.after"] == "-"


def test_an_exception_and_extra_fields_are_json(json_log: io.StringIO) -> None:
    try:
        raise ValueError('broken "quote" and\nnewline')
    except ValueError:
        logging.getLogger("tests.logs").exception("it failed", extra={"segment": "a.seg", "n": 3})
    [line] = lines(json_log)
    assert line["message"] == "it failed"
    assert "ValueError" in str(line["exception"]) and "newline" in str(line["exception"])
    assert (line["segment"], line["n"]) == ("a.seg", 3)


def test_log_format_json_in_a_real_process(tmp_path: Path) -> None:
    """LOG_FORMAT=json through the settings: every line on stderr parses, and the request's
    carry its id."""
    code = (
        "import django, logging; django.setup();"
        "from django.test import Client;"
        "Client(HTTP_HOST='127.0.0.1').get('/no-such-page', HTTP_X_REQUEST_ID='sub-7');"
        "logging.getLogger('tests.child').error('done')"
    )
    result = child([PYTHON, "-c", code], child_env(tmp_path, LOG_FORMAT="json"), timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    found = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert any(line["request_id"] == "sub-7" and "Not Found" in line["message"] for line in found)
    assert found[-1]["message"] == "done" and found[-1]["request_id"] == "-"


def test_plain_format_names_the_id() -> None:
    config = logging_config(level="INFO", fmt="plain")
    assert "%(request_id)s" in config["formatters"]["plain"]["format"]
    assert config["handlers"]["console"]["filters"] == ["request_id"]


# Settings.


def test_the_new_settings_default_and_parse(tmp_path: Path) -> None:
    env = {"TRAIL_VAR_DIR": str(tmp_path)}
    default = load(env)
    assert (default.metrics_token, default.log_format, default.sentry_dsn) == (None, "plain", None)
    token = "A" * 16 + "-._~!"
    full = load(
        {
            **env,
            "TRAIL_METRICS_TOKEN": f" {token} ",
            "LOG_FORMAT": "JSON",
            "SENTRY_DSN": "https://pub@o1.ingest.sentry.io/42",
        }
    )
    assert (full.metrics_token, full.log_format) == (token, "json")
    assert full.sentry_dsn == "https://pub@o1.ingest.sentry.io/42"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("TRAIL_METRICS_TOKEN", "short", "TRAIL_METRICS_TOKEN: expected at least 16"),
        ("TRAIL_METRICS_TOKEN", "sixteen chars with spaces", "no spaces"),
        ("TRAIL_METRICS_TOKEN", "ünïcödé-token-0123456789", "printable ASCII"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT: expected plain or json, got 'xml'"),
        ("SENTRY_DSN", "not a url", "SENTRY_DSN: expected a http:// or https:// URL"),
        ("SENTRY_DSN", "ftp://key@sentry.example/1", "SENTRY_DSN: expected"),
        ("SENTRY_DSN", "https:///1", "SENTRY_DSN: the URL"),
    ],
)
def test_a_bad_value_is_a_clear_config_error(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load({"TRAIL_VAR_DIR": str(tmp_path), name: value})
    assert says in str(raised.value)
    assert "\n" not in str(raised.value)


# Sentry: optional, started only with a DSN, no network (a closed local port).


def test_sentry_starts_only_with_a_dsn(tmp_path: Path) -> None:
    pytest.importorskip("sentry_sdk")
    code = (
        "import sentry_sdk; from common.observability import init_sentry;"
        "print(init_sentry(None), sentry_sdk.get_client().is_active());"
        "print(init_sentry('http://public@127.0.0.1:9/1'), sentry_sdk.get_client().is_active())"
    )
    result = child([PYTHON, "-c", code], child_env(tmp_path), timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False", "False", "True", "True"]


def test_without_sentry_sdk_a_dsn_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['sentry_sdk'] = None;"  # as if the extra were not installed
        "import logging; logging.basicConfig();"
        "from common.observability import init_sentry;"
        "print(init_sentry('http://public@127.0.0.1:9/1'))"
    )
    result = child([PYTHON, "-c", code], child_env(tmp_path), timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"
    assert "sentry-sdk is not installed" in result.stderr


def test_an_error_report_keeps_no_address_cookie_or_body() -> None:
    from common.observability import scrub

    event = {
        "user": {"ip_address": "198.51.100.7"},
        "request": {
            "url": "https://trail.example/api/v1/events",
            "data": '{"ip": "198.51.100.7"}',
            "cookies": {"sessionid": "s"},
            "env": {"REMOTE_ADDR": "198.51.100.7"},
            "headers": {
                "X-Forwarded-For": "198.51.100.7",
                "Authorization": "Bearer k",
                "Accept": "*/*",
            },
        },
    }
    kept = scrub(event)
    assert "198.51.100.7" not in json.dumps(kept) and "Bearer" not in json.dumps(kept)
    assert kept["request"]["headers"] == {"Accept": "*/*"}
    assert kept["request"]["url"] == "https://trail.example/api/v1/events"
