"""The browser endpoints, `POST /api/event` (Plausible) and `POST /api/send` (Umami): one
handler, whatever the transport.

`respond(route, request)` takes what any server gives — the method, the path, the peer's
address, the headers and the body, already read up to `MAX_BODY` by the adapter — and
returns the status, headers and body to send. The adapters in front of Django are thin:
`events/ingest/wsgi.py` (Trail's own server) and `events/ingest/asgi.py` (ASGI-only hosts)
each read the body once, up to the cap, and call this. No session, cookie, CSRF check or
user is involved (docs/ingest.md, "The lean route").

Statuses: 202 accepted (200 on Umami's `/api/send`, as Umami answers; with
`X-Trail-Dropped: <reason>` when a step dropped it), 204 a
preflight, 400 malformed, 405 wrong method, 413 too large, 415 unsupported content type or
encoding, 503 + `Retry-After` when the spool cannot take it, 500 (nothing was stored) on a
failure nobody foresaw. Every answer carries the CORS headers and `Cache-Control: no-store`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any, NamedTuple

from django.conf import settings

from common.clients import client_ip
from common.metrics import ingest_outcome, ingest_refused
from common.observability import REQUEST_ID_HEADER, accepted_id, request_id
from events.ingest.edge import IngestUnavailable, collector
from events.ingest.request import (
    MAX_BODY,
    BadRequest,
    EventInput,
    NotAnEvent,
    decompress,
    from_plausible,
    from_umami,
    parse_json,
)
from events.ingest.steps import Incoming

logger = logging.getLogger(__name__)

MAX_DOMAINS = 10  # distinct sites one browser event may name (`d`, comma-separated)

_CORS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, x-umami-cache"),
    ("Access-Control-Max-Age", "86400"),
]
_ACCEPTED_TYPES = ("", "text/plain", "application/json")
# The request headers the handler reads: an adapter passes at least these.
HEADERS = (
    "content-type",
    "content-encoding",
    "user-agent",
    "x-forwarded-for",
    "dnt",
    "sec-gpc",
    "x-request-id",  # read only when answering a 500 (`respond`)
)


@dataclass(frozen=True, slots=True)
class Route:
    parse: Callable[[Any], EventInput]
    body: bytes  # the answer to an accepted (or dropped) event
    content_type: str
    status: int  # the answer's status for an accepted (or dropped) event


# Umami's collector answers 200 `{cache, sessionId, visitId}` (its OpenAPI contract); its
# script keeps `cache` and echoes it back. Trail's carry nothing: no session token, no ids
# (a visit is never named outside Trail).
UMAMI_ACCEPTED = b'{"cache":"","sessionId":"","visitId":""}'

ROUTES = {
    "/api/event": Route(from_plausible, b"ok", "text/plain; charset=utf-8", 202),
    "/api/send": Route(from_umami, UMAMI_ACCEPTED, "application/json", 200),
}


class IngestRequest(NamedTuple):  # a tuple: built per request, 2x cheaper than a dataclass
    method: str
    path: str
    peer: str  # the connecting address (a proxy's, behind one: see common.clients)
    headers: Mapping[str, str]  # by lower-case name: at least those of HEADERS
    # The body as the adapter read it (a POST's only), or what reading it met: the 413 of a
    # body over MAX_BODY (the rest left unread), the 400 of a malformed Content-Length.
    body: bytes | BadRequest


class IngestResponse(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def status_line(self) -> str:
        """The status as WSGI's `start_response` wants it: "202 Accepted"."""
        return _STATUS_LINES[self.status]


_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


def _answer(
    status: int,
    body: bytes,
    content_type: str = "application/json",
    extra: list[tuple[str, str]] | None = None,
) -> IngestResponse:
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *_CORS,
        *(extra or []),
    ]
    return IngestResponse(status, headers, body)


def _error(status: int, message: str, extra: list[tuple[str, str]] | None = None) -> IngestResponse:
    return _answer(status, json.dumps({"error": message}).encode(), extra=extra)


def per_domain(event: EventInput) -> list[EventInput]:
    """Plausible's rule for a comma-separated domain (`"d": "a.com,b.com"`, a page that
    reports to several sites): the event counts once on each named site, at most
    `MAX_DOMAINS` distinct ones; a name that is no site is dropped as an unknown site."""
    if event.website or len(event.domains) < 2:
        return [event]
    names = list(dict.fromkeys(event.domains))[:MAX_DOMAINS]
    return [replace(event, domains=(name,)) for name in names]


def _handle(route: Route, request: IngestRequest) -> IngestResponse:
    if request.method == "OPTIONS":
        return _answer(204, b"", "text/plain")
    if request.method != "POST":
        return _error(405, "use POST", [("Allow", "POST, OPTIONS")])
    headers = request.headers
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in _ACCEPTED_TYPES:
        return _error(415, "send the event as application/json or text/plain")
    try:
        if isinstance(request.body, BadRequest):
            raise request.body
        body = decompress(request.body, headers.get("content-encoding", ""), MAX_BODY)
        event = route.parse(parse_json(body))
    except BadRequest as exc:
        return _error(exc.status, exc.message)
    except NotAnEvent as exc:
        ingest_outcome(0, [(0, exc.reason)])
        return _answer(
            route.status, route.body, route.content_type, [("X-Trail-Dropped", exc.reason)]
        )
    ip = client_ip(
        request.peer, headers.get("x-forwarded-for", ""), settings.TRAIL.ingest.trusted_proxies
    )
    received_at = dt.datetime.now(dt.UTC)
    incomings = [
        Incoming(
            event=one,
            ip=ip,
            user_agent=headers.get("user-agent", ""),
            received_at=received_at,
            do_not_track=headers.get("dnt") == "1" or headers.get("sec-gpc") == "1",
        )
        for one in per_domain(event)
    ]
    try:
        outcome = collector().accept(incomings)
    except IngestUnavailable as exc:
        return _error(503, exc.message, [("Retry-After", str(exc.retry_after))])
    dropped = [("X-Trail-Dropped", reason) for _, reason in outcome.drops]
    return _answer(route.status, route.body, route.content_type, dropped)


def respond(route: Route, request: IngestRequest) -> IngestResponse:
    """Answer one ingest request; an unexpected failure is a 500 that says nothing was stored.

    Blocks until accepted events are on disk (the spool's fsync): ASGI runs it in a thread.
    """
    try:
        answer = _handle(route, request)
    except Exception:
        rid = accepted_id(request.headers.get("x-request-id"))
        token = request_id.set(rid)  # on the log line, and answered: one id to look for
        try:
            logger.exception("ingest failed on %s", request.path)
        finally:
            request_id.reset(token)
        answer = _error(500, "internal error: the event was not stored", [(REQUEST_ID_HEADER, rid)])
    if answer.status >= 400:
        ingest_refused(answer.status)
    return answer
