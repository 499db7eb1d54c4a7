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

`direct` paths (the browser ingest endpoints, issue 21) keep every rule above but skip the
WSGI layer: no environ is built, the body goes to the path's function as bytes, and its
answer comes back to the loop through `_Results`, which wakes the loop once for all the
answers that finished meanwhile instead of once per request (docs/benchmarks.md, "Ingest
per core").
"""

from __future__ import annotations

import asyncio
import collections
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

from django.conf import settings

from common.asgi import Disconnected, Receive, read_into
from common.clients import client_ip, request_client_ip
from common.metrics import ingest_refused

Scope = dict[str, Any]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Headers = list[tuple[bytes, bytes]]
# A direct path's function: the scope and the whole body in, (status, headers, body) out.
# Runs in the pool; must not raise (an exception is answered 500 by the loop).
DirectApp = Callable[[Scope, bytes], tuple[int, Headers, bytes]]

BATCH_BYTES = 256 * 1024  # a streamed answer is pulled from the pool this much at a time
MIN_UPLOAD_RATE = 256 * 1024  # bytes/s an upload is given time for, beyond body_timeout
SPOOL_IN_MEMORY = 1024 * 1024  # an upload's first bytes stay in memory, the rest on disk
SWEEP_EVERY = 0.1  # seconds between checks of the body deadlines: a 408 comes this much late
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


def _client_and_length(scope: Scope) -> tuple[str, str]:
    """What `_receive` needs of a scope without an environ: the client address (as
    `request_client_ip` resolves it) and the declared `Content-Length` (repeated headers
    joined with commas, as `environ_of` joins them)."""
    forwarded, length = "", ""
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.lower()
        if name == b"content-length":
            value = raw_value.decode("latin-1")
            length = f"{length},{value}" if length else value
        elif name in (b"x-forwarded-for", b"x_forwarded_for"):
            value = raw_value.decode("latin-1")
            forwarded = f"{forwarded},{value}" if forwarded else value
    peer = (scope.get("client") or ("", 0))[0] or ""
    if not forwarded:  # the common case: no proxy header, no settings to read
        return peer, length
    return client_ip(peer, forwarded, settings.TRAIL.ingest.trusted_proxies), length


class _Results:
    """Answers computed in the pool, handed to the loop: the first to finish schedules one
    drain and the others finishing before it runs only queue theirs, so a busy server wakes
    its loop once per batch of answers, not once per request (`run_in_executor` does, plus
    a chained future each). The flag is cleared before the queue is emptied: an answer
    queued after the clear either is taken by this drain or schedules the next one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.done: collections.deque[tuple[asyncio.Future[Any], Any, BaseException | None]]
        self.done = collections.deque()
        self.signalled = False

    def put(self, future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
        self.done.append((future, result, error))
        if not self.signalled:
            self.signalled = True
            self.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self.signalled = False
        done = self.done
        while done:
            future, result, error = done.popleft()
            if future.cancelled():
                continue
            if error is None:
                future.set_result(result)
            else:
                future.set_exception(error)


class _Deadlines:
    """The body deadlines of one loop's requests, checked by one timer every `SWEEP_EVERY`
    seconds while any is pending, instead of a timer (`asyncio.timeout`) per request: a
    request costs a dict entry. An expired request's task is cancelled and `expire`
    tells it so; the sweep runs on the loop, so the task is then awaiting its body."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.due: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self.armed = False

    def add(self, task: asyncio.Task[Any], seconds: float) -> None:
        self.due[task] = self.loop.time() + seconds
        if not self.armed:
            self.armed = True
            self.loop.call_later(SWEEP_EVERY, self._sweep)

    def expire(self, task: asyncio.Task[Any]) -> bool:
        """Forget `task`'s deadline; whether it had passed (and the task was cancelled)."""
        self.due.pop(task, None)
        if task in self.expired:
            self.expired.discard(task)
            return True
        return False

    def _sweep(self) -> None:
        now = self.loop.time()
        for task, at in list(self.due.items()):
            if at <= now:
                del self.due[task]
                self.expired.add(task)
                task.cancel()
        if self.due:
            self.loop.call_later(SWEEP_EVERY, self._sweep)
        else:
            self.armed = False


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
        direct: Mapping[str, DirectApp] | None = None,
    ):
        self.app = app
        self.direct = dict(direct or {})
        self._results: _Results | None = None
        self._deadlines: _Deadlines | None = None
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
        direct = self.direct.get(scope["path"]) if self.direct else None
        if direct is not None:
            await self._serve_direct(direct, scope, receive, send)
            return
        environ = environ_of(scope)
        upload = self._is_upload(scope)
        body = _spool(upload.directory) if upload else io.BytesIO()
        try:
            try:
                client, declared = request_client_ip(environ), environ.get("CONTENT_LENGTH", "")
                size = await self._receive(client, declared, receive, body.write, upload)
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

    async def _serve_direct(
        self, direct: DirectApp, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """A direct path: the same body rules, then `direct` in the pool (module docstring)."""
        chunks: list[bytes] = []
        client, declared = _client_and_length(scope)
        try:
            await self._receive(client, declared, receive, chunks.append, None)
        except _Refused as refused:
            ingest_refused(refused.status)  # a direct path is a browser ingest route
            await _refuse(send, refused.status, refused.message, retry=refused.status == 429)
            return
        except Disconnected:
            return
        loop = asyncio.get_running_loop()
        results = self._results
        if results is None or results.loop is not loop:
            results = self._results = _Results(loop)
        answer: asyncio.Future[tuple[int, Headers, bytes]] = loop.create_future()
        self.pool.submit(_run_direct, results, answer, direct, scope, b"".join(chunks))
        try:
            status, headers, body = await answer
        except Exception:
            status, headers, body = 500, [(b"content-type", b"text/plain")], b"internal error"
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _receive(
        self,
        client: str,
        declared: str,
        receive: Receive,
        write: Callable[[bytes], Any],
        upload: Uploads | None,
    ) -> int:
        """The whole body, handed to `write`; its size. Counted against its client's bound
        while it is awaited."""
        if self.waiting[client] >= self.max_per_client:
            raise _Refused(429, "too many requests from one address are still sending")
        limit, deadline = self.max_body, float(self.body_timeout)
        if upload is not None:
            if not declared.isdigit():
                raise _Refused(411, "an upload must declare its Content-Length")
            limit, deadline = upload.max_bytes, deadline + int(declared) / MIN_UPLOAD_RATE
        if declared.isdigit() and int(declared) > limit:
            raise _Refused(413, f"body too large: at most {limit} bytes")
        task = asyncio.current_task()
        deadlines = self._deadlines
        if deadlines is None or deadlines.loop is not asyncio.get_running_loop():
            deadlines = self._deadlines = _Deadlines(asyncio.get_running_loop())
        assert task is not None  # noqa: S101 (granian runs each request in a task)
        self.waiting[client] += 1
        deadlines.add(task, deadline)
        try:
            size = await read_into(receive, write, limit)
        except asyncio.CancelledError:
            if not deadlines.expire(task):
                raise  # cancelled by someone else: not a timeout
            task.uncancel()
            raise _Refused(408, f"the body did not arrive within {deadline:.3g} s") from None
        finally:
            deadlines.expire(task)
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


def _run_direct(
    results: _Results,
    answer: asyncio.Future[Any],
    direct: DirectApp,
    scope: Scope,
    body: bytes,
) -> None:
    """In the pool: a direct path's answer, handed to the loop."""
    try:
        outcome = direct(scope, body)
    except BaseException as exc:  # the loop answers 500; nothing of it was stored
        results.put(answer, None, exc)
        return
    results.put(answer, outcome, None)


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
