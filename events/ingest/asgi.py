"""The lean route of the browser endpoints for ASGI hosts (`trail/asgi.py`).

The same handler as the WSGI route (`events.ingest.wsgi.serve`, its statuses and limits),
in front of Django's ASGI application: the body is read here up to the endpoint's cap
(one byte past it answers 413 without reading the rest), the request becomes the small
WSGI environ the handler reads, and the handler runs in a worker thread, since it waits
for the spool's fsync. Every other path goes to Django.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from asgiref.sync import sync_to_async

from events.ingest.request import MAX_BODY
from events.ingest.wsgi import ROUTES, Route, serve

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_UNPREFIXED = {"CONTENT_TYPE", "CONTENT_LENGTH"}


class _Disconnected(Exception):
    """The client went away before its body was read: nothing to answer."""


async def _body(receive: Receive) -> bytes | None:
    """The request body, or None when it is over `MAX_BODY` (the rest is left unread)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _environ(scope: Scope, body: bytes | None) -> dict[str, Any]:
    client = scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "PATH_INFO": scope["path"],
        "REMOTE_ADDR": client[0],
        "wsgi.input": io.BytesIO(body or b""),
    }
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        key = name if name in _UNPREFIXED else f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    # what the handler reads: the real length, or one past the cap so that it answers 413
    environ["CONTENT_LENGTH"] = str(MAX_BODY + 1 if body is None else len(body))
    return environ


def _answer(route: Route, environ: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        started[:] = [status, headers]

    body = b"".join(serve(route, environ, start_response))
    status, headers = started
    encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    return int(status.split(" ", 1)[0]), encoded, body


def wrap(django_app: ASGIApp) -> ASGIApp:
    """Answer the browser ingest paths here; pass everything else to Django."""

    async def application(scope: Scope, receive: Receive, send: Send) -> None:
        route = ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
        if route is None:
            await django_app(scope, receive, send)
            return
        try:
            body = await _body(receive) if scope["method"] == "POST" else b""
        except _Disconnected:
            return
        answer = sync_to_async(_answer, thread_sensitive=False)
        status, headers, content = await answer(route, _environ(scope, body))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    return application
