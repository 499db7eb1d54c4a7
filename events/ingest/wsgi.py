"""The browser endpoints under WSGI (`trail/wsgi.py`, what `manage.py serve` runs).

`wrap(django_app)` answers `/api/event` and `/api/send` in front of Django with the
transport-neutral handler (`events/ingest/handler.py`) and hands every other path to Django.
The adapter reads a POST's body once, up to `MAX_BODY` (a `Content-Length` over the cap is
not read at all, a chunked body is read one byte past it to tell), and passes the headers
the handler reads (`HEADERS`) as a small dict rather than a view of the environ (cheaper
for six lookups).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from events.ingest.handler import HEADERS, ROUTES, IngestRequest, respond
from events.ingest.request import MAX_BODY, BadRequest, too_large

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# The headers the handler reads, and where a WSGI environ keeps them.
_ENVIRON_KEYS = tuple(
    (name, "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_"))
    for name in HEADERS
)


def _body(environ: dict[str, Any]) -> bytes | BadRequest:
    length = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if length:
        if not length.isdigit():
            return BadRequest("Content-Length: not a number")
        size = int(length)
        if size > MAX_BODY:
            return too_large(MAX_BODY)
        return bytes(stream.read(size)) if size else b""
    body = bytes(stream.read(MAX_BODY + 1))  # chunked: read one byte past the cap
    return too_large(MAX_BODY) if len(body) > MAX_BODY else body


def wrap(django_app: WSGIApp) -> WSGIApp:
    """Answer the browser ingest paths here; pass everything else to Django."""

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        route = ROUTES.get(path)
        if route is None:
            return django_app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "")
        request = IngestRequest(
            method=method,
            path=path,
            peer=environ.get("REMOTE_ADDR", "") or "",
            headers={name: environ[key] for name, key in _ENVIRON_KEYS if key in environ},
            body=_body(environ) if method == "POST" else b"",
        )
        response = respond(route, request)
        start_response(response.status_line, response.headers)
        return [response.body]

    return application
