"""The gate's direct paths (`Gate(direct=...)`, the browser ingest endpoints as
`manage.py serve` wires them): every answer equals the one the same gate gives through the
WSGI route (`events/ingest/wsgi.py`), a 202 is in the spool, the gate's body rules (408,
413, 429) still apply, and answers finishing together in the pool all reach their clients.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import pytest
from django.test import Client

from events.clickhouse import ClickHouse
from events.flush import FlushReport
from events.ingest import asgi as ingest
from events.ingest.handler import ROUTES
from events.ingest.request import MAX_BODY
from events.spool import spool
from sites.models import Site
from tests.events.conftest import rows
from tests.helpers import run_in_own_loop
from tests.metrics_scrape import moved, scrape
from tests.wsgi_client import CHROME
from trail.gate import Gate

pytestmark = pytest.mark.django_db(transaction=True)  # the handler runs in the gate's pool

Sent = tuple[int, list[tuple[bytes, bytes]], bytes]


@cache
def _wsgi_app() -> Any:
    from django.core.wsgi import get_wsgi_application

    from events.ingest.wsgi import wrap

    return wrap(get_wsgi_application())  # without trail.wsgi's runtime (no job thread)


def gate(direct: bool, **overrides: Any) -> Gate:
    options: dict[str, Any] = {
        "threads": 4,
        "body_timeout": 1,
        "max_per_client": 2,
        "max_body": 2 * MAX_BODY,  # over the handler's cap: its own 413 is compared too
    } | overrides
    paths = dict.fromkeys(ROUTES, ingest.direct) if direct else None
    return Gate(_wsgi_app(), direct=paths, **options)


def scope(
    path: str = "/api/event",
    method: str = "POST",
    headers: list[tuple[bytes, bytes]] | None = None,
    client: str = "198.51.100.40",
) -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "headers": headers
        if headers is not None
        else [(b"content-type", b"text/plain"), (b"user-agent", CHROME.encode())],
        "client": (client, 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _one(
    app: Gate, request: Mapping[str, Any], chunks: list[bytes], pause: float = 0
) -> Sent:
    sent: list[Mapping[str, Any]] = []
    pieces = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks or [b""])
    ]

    async def receive() -> Mapping[str, Any]:
        if pause and len(pieces) == 1:
            await asyncio.sleep(pause)
        if pieces:
            return pieces.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(dict(request), receive, send), 30)
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], list(sent[0]["headers"]), body


def call(app: Gate, request: Mapping[str, Any], chunks: list[bytes], pause: float = 0) -> Sent:
    sent: Sent = run_in_own_loop(_one(app, request, chunks, pause))
    return sent


def event(domain: str, **extra: Any) -> bytes:
    return json.dumps({"n": "pageview", "u": f"https://{domain}/p", "d": domain, **extra}).encode()


def _cases(domain: str) -> list[tuple[str, dict[str, Any], list[bytes]]]:
    ua = (b"user-agent", CHROME.encode())
    text = (b"content-type", b"text/plain")
    return [
        ("accepted", scope(), [event(domain)]),
        ("in pieces", scope(), [event(domain)[:7], event(domain)[7:]]),
        ("unknown site", scope(), [event("nobody-direct.example")]),
        ("bot", scope(headers=[text, (b"user-agent", b"curl/8.0")]), [event(domain)]),
        ("no user agent", scope(headers=[text]), [event(domain)]),
        ("underscore header", scope(headers=[text, (b"user_agent", CHROME.encode())]), [event(domain)]),
        ("repeated header", scope(headers=[text, ua, ua]), [event(domain)]),
        ("dnt", scope(headers=[text, ua, (b"dnt", b"1")]), [event(domain)]),
        ("gzip", scope(headers=[text, ua, (b"content-encoding", b"gzip")]), [gzip.compress(event(domain))]),
        ("bad encoding", scope(headers=[text, ua, (b"content-encoding", b"br")]), [event(domain)]),
        ("malformed", scope(), [b"{not json"]),
        ("empty", scope(), [b""]),
        ("wrong type", scope(headers=[(b"content-type", b"application/xml"), ua]), [b"{}"]),
        ("over the handler's cap", scope(), [b"x" * (MAX_BODY + 1)]),
        ("GET", scope(method="GET"), [b""]),
        ("OPTIONS", scope(method="OPTIONS"), [b""]),
        ("umami", scope("/api/send", headers=[(b"content-type", b"application/json"), ua]),
         [b'{"type":"identify","payload":{}}']),
        ("forwarded", scope(headers=[text, ua, (b"x-forwarded-for", b"203.0.113.5")]), [event(domain)]),
    ]  # fmt: skip


def test_every_answer_is_the_wsgi_routes(make_site: Callable[..., Site]) -> None:
    site = make_site("direct-same.example")
    direct, through_wsgi = gate(direct=True), gate(direct=False)
    for name, request, chunks in _cases(site.domain):
        before = spool().appended
        got = call(direct, request, chunks)
        stored_direct = spool().appended - before
        want = call(through_wsgi, request, chunks)
        assert got == want, name
        assert stored_direct == spool().appended - before - stored_direct, name


def test_an_accepted_event_is_in_the_spool_and_stored(
    make_site: Callable[..., Site], flush: Callable[..., FlushReport], clickhouse: ClickHouse
) -> None:
    site = make_site("direct-stored.example")
    flush()  # what earlier tests left in this process's spool
    before = spool().appended
    status, headers, body = call(gate(direct=True), scope(), [event(site.domain)])
    assert (status, body) == (202, b"ok")
    assert b"x-trail-dropped" not in dict(headers)
    assert spool().appended == before + 1  # answered once on disk (Spool.append returned)
    assert flush().events == 1
    [row] = rows(clickhouse, "SELECT * FROM events WHERE site_id = {s:UInt64}", s=site.id)
    assert (row["hostname"], row["pathname"], row["browser"]) == (
        "direct-stored.example",
        "/p",
        "Chrome",
    )


def test_the_gates_rules_hold_on_direct_paths(
    make_site: Callable[..., Site], client: Client
) -> None:
    site = make_site("direct-rules.example")
    app = gate(direct=True)
    before = scrape(client)
    declared = scope(headers=[(b"content-length", str(4 * MAX_BODY).encode())])
    assert call(app, declared, [b""])[0] == 413  # the gate's own cap, nothing read
    status, _, body = call(app, scope(), [event(site.domain)[:5], event(site.domain)[5:]], 1.5)
    assert status == 408
    assert b"within 1 s" in body

    async def three_slow_then_one() -> list[int]:
        slow = [asyncio.create_task(_one(app, scope(), [b"{", b"}"], pause=0.5)) for _ in range(2)]
        await asyncio.sleep(0.1)
        refused = await _one(app, scope(), [event(site.domain)])
        done = await asyncio.gather(*slow)
        return [refused[0], *(s[0] for s in done)]

    assert run_in_own_loop(three_slow_then_one()) == [429, 400, 400]
    # each refusal is counted by its status, the gate's and the handler's alike
    after = scrape(client)
    refused = "trail_ingest_requests_refused_total"
    assert [moved(before, after, refused, status=s) for s in ("413", "408", "429", "400")] == [
        1,
        1,
        1,
        2,
    ]


def test_answers_finishing_together_all_reach_their_clients(
    make_site: Callable[..., Site],
) -> None:
    site = make_site("direct-many.example")
    app = gate(direct=True, threads=4, max_per_client=1000)
    before = spool().appended

    async def many() -> list[Sent]:
        return list(
            await asyncio.gather(
                *(_one(app, scope(), [event(site.domain, p={"i": i})]) for i in range(200))
            )
        )

    answers = run_in_own_loop(many())
    assert [a[0] for a in answers] == [202] * 200
    assert spool().appended == before + 200


def test_each_request_keeps_its_own_body_deadline(make_site: Callable[..., Site]) -> None:
    """One sweeping timer for every request's deadline (`trail.gate._Deadlines`): a body
    within the deadline is served beside one past it (408), on both kinds of path, and a
    request cancelled by someone else (the server going away) is not a 408."""
    site = make_site("direct-deadlines.example")
    app = gate(direct=True, max_per_client=10)
    other = dict(scope(path="/api/other"), method="GET")

    async def together() -> list[int]:
        pieces = [event(site.domain)[:5], event(site.domain)[5:]]
        answers = await asyncio.gather(
            _one(app, scope(), pieces, pause=0.3),
            _one(app, scope(), pieces, pause=1.5),
            _one(app, other, [b"", b""], pause=1.5),
            _one(app, scope(), pieces),
        )
        return [a[0] for a in answers]

    assert run_in_own_loop(together()) == [202, 408, 408, 202]

    async def cancelled_from_outside() -> str:
        task = asyncio.create_task(_one(app, scope(), [b"{", b"}"], pause=5))
        await asyncio.sleep(0.2)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return "cancelled"
        return "answered"

    assert run_in_own_loop(cancelled_from_outside()) == "cancelled"
    assert not app.waiting  # nobody left counted against the per-address bound
