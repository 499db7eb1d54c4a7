"""The browser endpoints under ASGI (`trail/asgi.py`, for ASGI-only hosts).

`wrap(django_app)` answers `/api/event` and `/api/send` in front of Django's ASGI
application with the transport-neutral handler (`events/ingest/handler.py`) and hands every
other path (and every non-HTTP scope) to Django. The adapter reads a POST's body on the
event loop, once, up to `MAX_BODY` (one byte past it answers 413 without reading the rest),
then runs the handler in a worker thread, since it waits for the spool's fsync.

`direct(scope, body)` is the same route for Trail's own server: its gate (`trail/gate.py`)
has read the body on the loop under its rules and calls this in its pool, for each path of
`ROUTES`, instead of building a WSGI environ for `events/ingest/wsgi.py` (issue 21: the
same answers, less work per request).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from asgiref.sync import sync_to_async

from common.asgi import Disconnected, Receive, read_body
from events.ingest.handler import HEADERS, ROUTES, IngestRequest, respond
from events.ingest.request import MAX_BODY, BadRequest, too_large

Scope = dict[str, Any]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _body(receive: Receive) -> bytes | BadRequest:
    """The request body, or a 413 when it is over `MAX_BODY` (the rest is left unread)."""
    body = await read_body(receive, MAX_BODY)
    return too_large(MAX_BODY) if body is None else body


def _headers(scope: Scope) -> dict[str, str]:
    """The headers by lower-case name; a repeated header's values joined with commas."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


# The headers the handler reads, by their raw lower-case names; `_` spelled like `-`, as a
# WSGI environ (which the gate's other paths get) cannot tell them apart.
_WANTED = {
    spelling.encode("latin-1"): name
    for name in HEADERS
    for spelling in (name, name.replace("-", "_"))
}


def direct(scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A browser endpoint's answer to a request whose body the server's gate has read (at
    most its own cap: over `MAX_BODY` it is the handler's 413, as under WSGI)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = _WANTED.get(raw_name.lower())
        if name is not None:
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    method = scope["method"]
    request = IngestRequest(
        method=method,
        path=scope["path"],
        peer=(scope.get("client") or ("", 0))[0] or "",
        headers=headers,
        body=(body if len(body) <= MAX_BODY else too_large(MAX_BODY)) if method == "POST" else b"",
    )
    response = respond(ROUTES[scope["path"]], request)
    encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    return response.status, encoded, response.body


def wrap(django_app: ASGIApp) -> ASGIApp:
    """Answer the browser ingest paths here; pass everything else to Django."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        route = ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if route is None:
            await django_app(scope, receive, send)
            return
        try:
            body = await _body(receive) if scope["method"] == "POST" else b""
        except Disconnected:
            return
        client = scope.get("client") or ("", 0)
        request = IngestRequest(
            method=scope["method"],
            path=scope["path"],
            peer=client[0],
            headers=_headers(scope),
            body=body,
        )
        response = await sync_to_async(respond, thread_sensitive=False)(route, request)
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    return application
