"""The browser endpoints under WSGI (`trail/wsgi.py`, what `manage.py serve` runs).

`wrap(django_app)` answers `/api/event` and `/api/send` in front of Django with the
transport-neutral handler (`events/ingest/handler.py`) and hands every other path to Django.
The adapter reads a POST's body once, up to `MAX_BODY`: a `Content-Length` over the cap is
not read at all, a chunked body is read one byte past it to tell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from events.ingest.handler import ROUTES, IngestRequest, respond
from events.ingest.request import MAX_BODY, BadRequest, too_large

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_UNPREFIXED = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


class _Headers(Mapping[str, str]):
    """A WSGI environ's headers by lower-case name, read from the environ when asked."""

    __slots__ = ("_environ",)

    def __init__(self, environ: dict[str, Any]) -> None:
        self._environ = environ

    def __getitem__(self, name: str) -> str:
        key = _UNPREFIXED.get(name) or "HTTP_" + name.upper().replace("-", "_")
        return str(self._environ[key])

    def __iter__(self) -> Iterator[str]:
        for key in self._environ:
            if key.startswith("HTTP_"):
                yield key[5:].lower().replace("_", "-")
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                yield key.lower().replace("_", "-")

    def __len__(self) -> int:
        return sum(1 for _ in self)


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
            headers=_Headers(environ),
            body=_body(environ) if method == "POST" else b"",
        )
        response = respond(route, request)
        start_response(response.status_line, response.headers)
        return [response.body]

    return application
