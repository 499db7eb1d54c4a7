"""Start-up warns when mail would print reset links to the log of a public (https) server."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import child_env, manage
from trail import preflight

WARNING = "EMAIL_URL: the console mail backend prints mail"


def _mail_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "trail.preflight" and r.levelno == logging.WARNING
    ]


@pytest.mark.parametrize(
    ("base_url", "backend", "warned"),
    [
        ("https://analytics.example.com", preflight.CONSOLE_MAIL, True),
        ("http://127.0.0.1:8000", preflight.CONSOLE_MAIL, False),  # a developer's machine
        ("https://analytics.example.com", "django.core.mail.backends.smtp.EmailBackend", False),
    ],
)
def test_console_mail_behind_https_is_one_warning(
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    base_url: str,
    backend: str,
    warned: bool,
) -> None:
    settings.TRAIL = replace(settings.TRAIL, base_url=base_url)
    settings.EMAIL_BACKEND = backend
    with caplog.at_level(logging.WARNING, logger="trail.preflight"):
        preflight.check_email()
    messages = _mail_warnings(caplog)
    if warned:
        assert len(messages) == 1
        assert messages[0].startswith(WARNING)
        assert "https://analytics.example.com" in messages[0]
    else:
        assert messages == []


def test_start_up_logs_the_warning_once(isolated_var: Path) -> None:
    env = child_env(isolated_var, TRAIL_BASE_URL="https://analytics.example.com")
    env.pop("EMAIL_URL", None)
    started = manage("migrate", "--noinput", env=env)
    assert started.returncode == 0, started.stderr
    lines = [line for line in started.stderr.splitlines() if WARNING in line]
    assert len(lines) == 1, started.stderr
    assert "WARNING trail.preflight" in lines[0]
