"""The lean route of the browser endpoints: `POST /api/event` (Plausible) and
`POST /api/send` (Umami), answered in front of Django.

Django's request object and middleware stack cost more than the whole ingest work (see
the measurements in DESIGN.md), and these two endpoints need none of it: no session, no
CSRF (no cookies are read), no user. `wrap(django_app)` answers them itself and hands
every other path to Django. Statuses: 202 accepted (with `X-Trail-Dropped: <reason>` when
a step dropped it), 400 malformed, 405 wrong method, 413 too large, 415 unsupported
content type or encoding, 503 + `Retry-After` when the spool cannot take it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from events.ingest.edge import IngestUnavailable, collector
from events.ingest.request import (
    MAX_BODY,
    BadRequest,
    EventInput,
    NotAnEvent,
    from_plausible,
    from_umami,
    parse_json,
    read_body,
)
from events.ingest.steps import Incoming
from trail.clients import request_client_ip

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_CORS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, x-umami-cache"),
    ("Access-Control-Max-Age", "86400"),
]
_ACCEPTED_TYPES = ("", "text/plain", "application/json")


class Route:
    def __init__(self, parse: Callable[[Any], EventInput], body: bytes, content_type: str):
        self.parse = parse
        self.body = body
        self.content_type = content_type


ROUTES = {
    "/api/event": Route(from_plausible, b"ok", "text/plain; charset=utf-8"),
    # Umami's script keeps the body's `cache` and echoes it back; ours carries nothing.
    "/api/send": Route(from_umami, b'{"cache":""}', "application/json"),
}


def _answer(
    start_response: StartResponse,
    status: str,
    body: bytes,
    content_type: str = "application/json",
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *_CORS,
        *(extra or []),
    ]
    start_response(status, headers)
    return [body]


def _error(start_response: StartResponse, status: int, message: str, **extra: str) -> list[bytes]:
    body = json.dumps({"error": message}).encode()
    headers = [(name.replace("_", "-"), value) for name, value in extra.items()]
    return _answer(start_response, f"{status} {HTTPStatus(status).phrase}", body, extra=headers)


def _read(environ: dict[str, Any]) -> bytes:
    length_header = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if length_header:
        if not length_header.isdigit():
            raise BadRequest("Content-Length: not a number")
        length = int(length_header)
        if length > MAX_BODY:
            raise BadRequest(f"body too large: at most {MAX_BODY} bytes", 413)
        return bytes(stream.read(length)) if length else b""
    return bytes(stream.read(MAX_BODY + 1))  # chunked: read one byte past the cap


def handle(route: Route, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    method = environ.get("REQUEST_METHOD", "")
    if method == "OPTIONS":
        return _answer(start_response, "204 No Content", b"", "text/plain")
    if method != "POST":
        return _error(start_response, 405, "use POST", Allow="POST, OPTIONS")
    content_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if content_type not in _ACCEPTED_TYPES:
        return _error(start_response, 415, "send the event as application/json or text/plain")
    try:
        raw = _read(environ)
        body = read_body(raw, environ.get("HTTP_CONTENT_ENCODING", ""), MAX_BODY)
        event = route.parse(parse_json(body))
    except BadRequest as exc:
        return _error(start_response, exc.status, exc.message)
    except NotAnEvent as exc:
        dropped = [("X-Trail-Dropped", exc.reason)]
        return _answer(start_response, "202 Accepted", route.body, route.content_type, dropped)
    incoming = Incoming(
        event=event,
        ip=request_client_ip(environ),
        user_agent=environ.get("HTTP_USER_AGENT", ""),
        received_at=dt.datetime.now(dt.UTC),
        do_not_track=environ.get("HTTP_DNT") == "1" or environ.get("HTTP_SEC_GPC") == "1",
    )
    try:
        outcome = collector().accept([incoming])
    except IngestUnavailable as exc:
        return _error(start_response, 503, exc.message, Retry_After=str(exc.retry_after))
    dropped = [("X-Trail-Dropped", reason) for _, reason in outcome.drops]
    return _answer(start_response, "202 Accepted", route.body, route.content_type, dropped)


def serve(route: Route, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """Answer one ingest request; an unexpected failure is a 500 that says nothing was stored."""
    try:
        return handle(route, environ, start_response)
    except Exception:
        logger.exception("ingest failed on %s", environ.get("PATH_INFO"))
        return _error(start_response, 500, "internal error: the event was not stored")


def wrap(django_app: WSGIApp) -> WSGIApp:
    """Answer the browser ingest paths here; pass everything else to Django."""

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        route = ROUTES.get(environ.get("PATH_INFO", ""))
        if route is None:
            return django_app(environ, start_response)
        return serve(route, environ, start_response)

    return application
