"""Serve a WSGI application so that no worker thread waits on a client's network.

`manage.py serve` runs granian's ASGI interface with a `Gate` around Trail's WSGI
application (docs/deploy.md). On the event loop, where a waiting client costs no thread, the
gate:

- counts the requests whose body each client address is still sending (the address
  `common.clients` resolves, so a trusted proxy is not one client); over `max_per_client`
  it answers `429` at once, without reading the body (requests whose body has arrived are
  not counted: they wait for the server, not for the client);
- reads the whole body within `body_timeout` seconds of the request's headers (else `408`),
  up to `max_body` bytes (else `413`); an upload (`Uploads`: an import's files, up to
  gigabytes) is spooled to a temporary file instead of memory, up to its own cap, and must
  declare its length (else `411`), which buys it time at `MIN_UPLOAD_RATE`;
- only then runs the WSGI application in a pool of `threads` threads, with the body in
  memory, and sends the answer from the loop: a streamed answer is pulled from the
  application in batches, in the pool, and written by the loop, so a slow reader holds no
  thread either.

Headers have their own deadline in granian (`http1_settings.header_read_timeout`), before a
request reaches Python at all.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from common.asgi import Disconnected, Receive, read_into
from common.clients import request_client_ip

Scope = dict[str, Any]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Headers = list[tuple[bytes, bytes]]

BATCH_BYTES = 256 * 1024  # a streamed answer is pulled from the pool this much at a time
MIN_UPLOAD_RATE = 256 * 1024  # bytes/s an upload is given time for, beyond body_timeout
SPOOL_IN_MEMORY = 1024 * 1024  # an upload's first bytes stay in memory, the rest on disk
_UNPREFIXED = {"CONTENT_TYPE", "CONTENT_LENGTH"}


@dataclass(frozen=True)
class Uploads:
    """The requests whose body may be large: `POST` to a path `path` matches, spooled under
    `directory`, at most `max_bytes`."""

    path: re.Pattern[str]
    max_bytes: int
    directory: Path


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message


def environ_of(scope: Scope) -> dict[str, Any]:
    """The WSGI environ of an ASGI HTTP scope, without its body (PEP 3333's encodings)."""
    client = scope.get("client") or ("", 0)
    server = scope.get("server") or ("", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": scope["path"].encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        key = name if name in _UNPREFIXED else f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def _spool(directory: Path) -> IO[bytes]:
    """An upload's body: in memory up to SPOOL_IN_MEMORY, then a file in `directory`
    (deleted when closed)."""
    directory.mkdir(parents=True, exist_ok=True)
    return tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY, mode="w+b", dir=str(directory))


def _pull(chunks: Iterator[bytes]) -> tuple[list[bytes], bool]:
    """Up to BATCH_BYTES of an answer; whether more follows."""
    batch, size = [], 0
    for chunk in chunks:
        batch.append(chunk)
        size += len(chunk)
        if size >= BATCH_BYTES:
            return batch, True
    return batch, False


class Gate:
    """An ASGI application around a WSGI one (see the module's docstring)."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        threads: int,
        body_timeout: float,
        max_per_client: int,
        max_body: int,
        uploads: Uploads | None = None,
    ):
        self.app = app
        self.uploads = uploads
        self.body_timeout = body_timeout
        self.max_per_client = max_per_client
        self.max_body = max_body
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="trail-web")
        # requests whose body is awaited, per client address; touched on the loop only
        self.waiting: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no websockets, no lifespan (granian runs the `asginl` interface)
        environ = environ_of(scope)
        upload = self._is_upload(scope)
        body = _spool(upload.directory) if upload else io.BytesIO()
        try:
            try:
                size = await self._receive(environ, receive, body, upload)
            except _Refused as refused:
                await _refuse(send, refused.status, refused.message, retry=refused.status == 429)
                return
            except Disconnected:
                return
            body.seek(0)
            environ["wsgi.input"] = body
            if size or "CONTENT_LENGTH" in environ:  # a chunked body gets its real length
                environ["CONTENT_LENGTH"] = str(size)
            loop = asyncio.get_running_loop()
            status, headers, batch, rest = await loop.run_in_executor(self.pool, self._run, environ)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            more = rest is not None
            await send({"type": "http.response.body", "body": b"".join(batch), "more_body": more})
            if rest is not None:
                await self._stream(loop, rest, send)
        finally:
            body.close()  # an upload's spool file goes with it

    def _is_upload(self, scope: Scope) -> Uploads | None:
        uploads = self.uploads
        if uploads is None or scope["method"] != "POST":
            return None
        return uploads if uploads.path.fullmatch(scope["path"]) else None

    async def _receive(
        self, environ: dict[str, Any], receive: Receive, sink: IO[bytes], upload: Uploads | None
    ) -> int:
        """The whole body into `sink`, its size; counted against its client's bound while it
        is awaited."""
        client = request_client_ip(environ)
        if self.waiting[client] >= self.max_per_client:
            raise _Refused(429, "too many requests from one address are still sending")
        declared = environ.get("CONTENT_LENGTH", "")
        limit, deadline = self.max_body, float(self.body_timeout)
        if upload is not None:
            if not declared.isdigit():
                raise _Refused(411, "an upload must declare its Content-Length")
            limit, deadline = upload.max_bytes, deadline + int(declared) / MIN_UPLOAD_RATE
        if declared.isdigit() and int(declared) > limit:
            raise _Refused(413, f"body too large: at most {limit} bytes")
        self.waiting[client] += 1
        try:
            async with asyncio.timeout(deadline):
                size = await read_into(receive, sink.write, limit)
        except TimeoutError:
            raise _Refused(408, f"the body did not arrive within {deadline:.3g} s") from None
        finally:
            self.waiting[client] -= 1
            if not self.waiting[client]:
                del self.waiting[client]
        if size is None:
            raise _Refused(413, f"body too large: at most {limit} bytes")
        return size

    def _run(self, environ: dict[str, Any]) -> tuple[int, Headers, list[bytes], Any]:
        """In the pool: the application's status, headers, first batch, and the rest if any."""
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            started[:] = [status, headers]

        result = self.app(environ, start_response)
        if isinstance(result, list):
            batch, rest = result, None
        else:
            chunks = iter(result)
            batch, more = _pull(chunks)  # start_response may wait for the first chunk
            rest = (result, chunks) if more else None
            if rest is None:
                _close(result)
        status, headers = started
        encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        return int(status.split(" ", 1)[0]), encoded, batch, rest

    async def _stream(
        self, loop: asyncio.AbstractEventLoop, rest: tuple[Any, Iterator[bytes]], send: Send
    ) -> None:
        result, chunks = rest
        try:
            more = True
            while more:
                batch, more = await loop.run_in_executor(self.pool, _pull, chunks)
                await send(
                    {"type": "http.response.body", "body": b"".join(batch), "more_body": more}
                )
        finally:
            await loop.run_in_executor(self.pool, _close, result)


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


async def _refuse(send: Send, status: int, message: str, *, retry: bool = False) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    if retry:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
