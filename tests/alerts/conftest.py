"""Alerts' tests: traffic seeded through the real collector (tests/reports/conftest.py's
`hit`, the `seed` fixture), notify's real receivers (a local HTTP server, aiosmtpd), and
the API called as a program would."""

from __future__ import annotations

import datetime as dt
import email
import json
from collections.abc import Callable
from email.message import Message as MailMessage
from typing import Any

import pytest

from sites.models import Site
from tests import factories
from tests.notify.conftest import (  # noqa: F401 (fixtures)
    Inbox,
    Receiver,
    private_allowed,
    receiver,
    smtp,
    start_smtp,
)
from tests.reports.conftest import hit

Seed = Callable[[Site, list[dict[str, Any]]], None]
MakeSite = Callable[..., Site]
MIN = dt.timedelta(minutes=1)
SECRET = "alert-webhook-secret"
# Yesterday at 12:00:30 UTC: `now` for the evaluator, in the past so that the minutes after
# it can be seeded and evaluated too.
NOW = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).replace(
    hour=12, minute=0, second=30, microsecond=0
)


def ip(n: int) -> str:
    return f"198.51.100.{n}"


def visitors(
    site: Site, at: dt.datetime, count: int, *, first: int = 1, **extra: Any
) -> list[dict[str, Any]]:
    """`count` different visitors' pageviews at `at`."""
    return [hit(site, at, ip=ip(first + n), **extra) for n in range(count)]


def api_path(site: Site, *rest: object) -> str:
    return "/".join([f"/api/v1/sites/{site.domain}/alerts", *(str(part) for part in rest)])


def call(client: Any, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    data = body if isinstance(body, bytes | str) else json.dumps(body) if body is not None else ""
    send = getattr(client, method.lower())
    if method == "GET":
        return send(path, **headers)
    return send(path, data=data, content_type="application/json", **headers)


def manage_key(site: Site) -> str:
    return factories.api_key(site.organization, scopes=("sites:manage",))[1]


def mail_of(raw: bytes) -> MailMessage:
    return email.message_from_bytes(raw)


def mail_text(raw: bytes) -> str:
    found = mail_of(raw)
    for part in found.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


@pytest.fixture
def shop(make_site: MakeSite) -> Site:
    return make_site("shop.alerts.example")
