"""The browser endpoints under ASGI (`trail/asgi.py`): the same lean handler as under WSGI,
in front of Django's ASGI application, driven as an ASGI server would drive it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest

from events.clickhouse import ClickHouse
from events.flush import FlushReport
from events.ingest.request import MAX_BODY
from events.spool import spool
from sites.models import Site
from tests.events.conftest import rows
from tests.helpers import run_in_own_loop
from tests.wsgi_client import CHROME, Answer

pytestmark = pytest.mark.django_db(transaction=True)  # the handler runs in another thread


@cache
def _application() -> Any:
    from django.core.asgi import get_asgi_application

    from events.ingest.asgi import wrap

    return wrap(get_asgi_application())  # without trail.asgi's runtime (no job thread)


def call(
    path: str,
    chunks: list[bytes],
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    client: tuple[str, int] = ("198.51.100.23", 50000),
) -> Answer:
    sent: list[dict[str, Any]] = []
    received = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks or [b""])
    ]
    wanted = {"user-agent": CHROME, "content-type": "text/plain", **(headers or {})}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in wanted.items()],
        "client": client,
        "server": ("testserver", 80),
    }

    async def receive() -> dict[str, Any]:
        if received:
            return received.pop(0)
        await asyncio.sleep(3600)  # a real server waits for the client
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    served = asyncio.wait_for(_application()(scope, receive, send), 30)
    run_in_own_loop(served)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    names = {k.decode().title(): v.decode() for k, v in start["headers"]}  # as WSGI names them
    return Answer(start["status"], names, body)


@pytest.fixture
def nothing_spooled() -> Iterator[None]:
    before = spool().appended
    yield
    assert spool().appended == before, "a bad request reached the spool"


def test_a_pageview_is_accepted_and_stored(
    make_site: Callable[..., Site], flush: Callable[..., FlushReport], clickhouse: ClickHouse
) -> None:
    site = make_site("asgi-trail.com")
    body = json.dumps({"n": "pageview", "u": "https://asgi-trail.com/docs", "d": site.domain})
    # the body in two pieces, as a server passes a request that arrived in two packets
    answer = call("/api/event", [body[:10].encode(), body[10:].encode()])
    assert (answer.status, answer.body) == (202, b"ok")
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.dropped is None
    flush()
    [row] = rows(clickhouse, "SELECT * FROM events WHERE site_id = {s:UInt64}", s=site.id)
    assert (row["hostname"], row["pathname"], row["browser"]) == (
        "asgi-trail.com",
        "/docs",
        "Chrome",
    )


def test_umami_payload(make_site: Callable[..., Site], flush: Callable[..., FlushReport]) -> None:
    site = make_site("asgi-umami-trail.com")
    payload = {"type": "event", "payload": {"website": str(site.public_id), "url": "/a"}}
    answer = call(
        "/api/send", [json.dumps(payload).encode()], headers={"content-type": "application/json"}
    )
    assert (answer.status, json.loads(answer.body)) == (
        200,
        {"cache": "", "sessionId": "", "visitId": ""},
    )
    assert flush().events == 1


def test_a_body_over_the_cap_is_413_unread(nothing_spooled: None) -> None:
    piece = b"x" * 16_384
    answer = call("/api/event", [piece] * (MAX_BODY // len(piece) + 2))
    assert answer.status == 413
    assert "too large" in json.loads(answer.body)["error"]


@pytest.mark.parametrize(
    ("method", "chunks", "headers", "status"),
    [
        ("POST", [b"{not json"], {}, 400),
        ("POST", [b""], {}, 400),
        ("POST", [b"{}"], {"content-type": "application/xml"}, 415),
        ("GET", [b""], {}, 405),
    ],
)
def test_bad_requests(
    method: str, chunks: list[bytes], headers: dict[str, str], status: int, nothing_spooled: None
) -> None:
    answer = call("/api/event", chunks, method=method, headers=headers)
    assert answer.status == status
    assert json.loads(answer.body)["error"]


def test_preflight(nothing_spooled: None) -> None:
    answer = call("/api/event", [b""], method="OPTIONS")
    assert answer.status == 204
    assert answer.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"


def test_other_paths_go_to_django() -> None:
    answer = call("/healthz", [b""], method="GET", headers={"host": "localhost"})
    assert answer.status == 200
    assert json.loads(answer.body)["status"] in ("ok", "degraded")
