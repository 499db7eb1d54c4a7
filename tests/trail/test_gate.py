"""`trail.gate` driven as granian drives it (ASGI messages), around real WSGI applications:
the environ Django reads, a chunked body's length, a streamed answer sent in batches and
closed, refusals (408 after the deadline, 413, 429 over the per-address bound), and a
client that leaves before its body arrives. The real server is in
tests/security/test_slow_clients.py."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.helpers import run_in_own_loop
from trail.gate import BATCH_BYTES, MIN_UPLOAD_RATE, SPOOL_IN_MEMORY, Gate, Uploads, environ_of

SCOPE: dict[str, Any] = {
    "type": "http",
    "http_version": "1.1",
    "method": "POST",
    "scheme": "https",
    "path": "/api/caf\u00e9",
    "query_string": b"a=1&b=%C3%A9",
    "headers": [
        (b"host", b"trail.test"),
        (b"content-type", b"text/plain"),
        (b"x-forwarded-for", b"198.51.100.7"),
        (b"accept", b"a"),
        (b"accept", b"b"),
    ],
    "client": ("203.0.113.9", 50000),
    "server": ("127.0.0.1", 8000),
}


def echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("X-Length", environ.get("CONTENT_LENGTH", "-"))]
    )
    return [body]


class Streamed:
    """A WSGI answer of many chunks that records its close()."""

    closed = False

    def __init__(self, chunks: int):
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return (b"x" * 64 * 1024 for _ in range(self.chunks))

    def close(self) -> None:
        Streamed.closed = True


def gate(app: Any = echo, **overrides: Any) -> Gate:
    options = {"threads": 2, "body_timeout": 1, "max_per_client": 2, "max_body": 100} | overrides
    return Gate(app, **options)


def call(
    app: Gate, messages: list[Mapping[str, Any]], *, pause: float = 0, scope: dict[str, Any] = SCOPE
) -> tuple[int, dict[bytes, bytes], list[bytes]]:
    """Run one request; messages after the first come `pause` seconds apart."""
    sent: list[Mapping[str, Any]] = []

    async def receive() -> Mapping[str, Any]:
        if messages and pause and receive.count:  # type: ignore[attr-defined]
            await asyncio.sleep(pause)
        receive.count += 1  # type: ignore[attr-defined]
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    receive.count = 0  # type: ignore[attr-defined]

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    run_in_own_loop(app(scope, receive, send))
    if not sent:
        return 0, {}, []
    return sent[0]["status"], dict(sent[0]["headers"]), [m["body"] for m in sent[1:]]


def body(data: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.request", "body": data, "more_body": more}


def test_environ_is_what_pep_3333_says() -> None:
    environ = environ_of(SCOPE)
    assert environ["PATH_INFO"] == "/api/caf\u00e9".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "a=1&b=%C3%A9"
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["HTTP_ACCEPT"] == "a,b"
    assert environ["HTTP_X_FORWARDED_FOR"] == "198.51.100.7"
    assert (environ["REMOTE_ADDR"], environ["SERVER_PORT"]) == ("203.0.113.9", "8000")
    assert (environ["wsgi.url_scheme"], environ["SERVER_PROTOCOL"]) == ("https", "HTTP/1.1")


def test_a_chunked_body_is_whole_with_its_length() -> None:
    status, headers, sent = call(gate(), [body(b"ab", more=True), body(b"cd")])
    assert (status, headers[b"x-length"], b"".join(sent)) == (200, b"4", b"abcd")


def test_a_body_past_the_deadline_is_408() -> None:
    status, _, sent = call(gate(), [body(b"a", more=True), body(b"b")], pause=1.5)
    assert status == 408
    assert b"within 1 s" in sent[0]


def test_an_oversized_body_is_413_declared_or_not() -> None:
    declared = dict(SCOPE, headers=[*SCOPE["headers"], (b"content-length", b"101")])
    assert call(gate(), [body(b"")], scope=declared)[0] == 413
    assert call(gate(), [body(b"x" * 60, more=True), body(b"x" * 60)])[0] == 413


def test_one_address_over_the_bound_is_429_until_a_body_arrives() -> None:
    app = gate()
    app.waiting["203.0.113.9"] = 2  # two requests of this address still sending
    status, headers, _ = call(app, [body(b"x")])
    assert (status, headers[b"retry-after"]) == (429, b"1")
    proxied = dict(SCOPE, client=("203.0.113.9", 1))  # untrusted peer: XFF is not believed
    assert call(app, [body(b"x")], scope=proxied)[0] == 429
    app.waiting["203.0.113.9"] = 1
    assert call(app, [body(b"x")])[0] == 200
    assert app.waiting["203.0.113.9"] == 1  # its own count came and went


def test_a_client_that_leaves_gets_nothing_and_is_not_counted() -> None:
    app = gate()
    assert call(app, [body(b"a", more=True)]) == (0, {}, [])
    assert not app.waiting


def test_a_streamed_answer_goes_out_in_batches_and_is_closed() -> None:
    chunks = 10  # 640 KiB

    def streamed(environ: dict[str, Any], start_response: Any) -> Streamed:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return Streamed(chunks)

    status, _, sent = call(gate(streamed), [body(b"")])
    assert status == 200
    assert sum(map(len, sent)) == chunks * 64 * 1024
    assert max(map(len, sent)) <= BATCH_BYTES
    assert len(sent) >= 3 and Streamed.closed


# Uploads (an import's files): spooled to disk past SPOOL_IN_MEMORY, their own cap and time


def _upload_gate(tmp_path: Path, app: Any = echo, max_bytes: int = 5 * SPOOL_IN_MEMORY) -> Gate:
    uploads = Uploads(path=re.compile(r"/up/[^/]+"), max_bytes=max_bytes, directory=tmp_path)
    return gate(app, uploads=uploads)


def _upload_scope(length: int | None, path: str = "/up/x") -> dict[str, Any]:
    headers = [h for h in SCOPE["headers"] if h[0] != b"content-length"]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return dict(SCOPE, path=path, headers=headers)


def test_an_upload_past_the_body_cap_is_spooled_to_disk_and_read_whole(tmp_path: Path) -> None:
    piece = b"u" * (SPOOL_IN_MEMORY // 2)
    pieces = 5  # 2.5 MiB: over SPOOL_IN_MEMORY and far over max_body (100)
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen["on_disk"] = environ["wsgi.input"]._rolled  # SpooledTemporaryFile's own flag
        seen["length"] = environ["CONTENT_LENGTH"]
        data = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(len(data)).encode(), b":", data[:1]]

    messages = [body(piece, more=True) for _ in range(pieces - 1)] + [body(piece)]
    status, _, sent = call(_upload_gate(tmp_path, app), messages, scope=_upload_scope(pieces * len(piece)))  # fmt: skip
    assert (status, b"".join(sent)) == (200, f"{pieces * len(piece)}:u".encode())
    assert seen["length"] == str(pieces * len(piece))
    assert seen["on_disk"]  # past SPOOL_IN_MEMORY: an (unnamed) file in tmp_path
    assert list(tmp_path.iterdir()) == []


def test_an_upload_must_declare_its_length(tmp_path: Path) -> None:
    status, _, sent = call(_upload_gate(tmp_path), [body(b"x")], scope=_upload_scope(None))
    assert status == 411 and b"Content-Length" in sent[0]


def test_an_upload_over_its_cap_is_413_declared_or_not(tmp_path: Path) -> None:
    app = _upload_gate(tmp_path, max_bytes=1000)
    assert call(app, [body(b"")], scope=_upload_scope(1001))[0] == 413
    lying = [body(b"x" * 600, more=True), body(b"x" * 600)]
    assert call(app, lying, scope=_upload_scope(10))[0] == 413
    assert list(tmp_path.iterdir()) == []


def test_other_paths_and_methods_keep_the_body_cap(tmp_path: Path) -> None:
    app = _upload_gate(tmp_path)
    assert call(app, [body(b"x" * 101)], scope=_upload_scope(101, path="/up/x/more"))[0] == 413
    get = dict(_upload_scope(101), method="GET")
    assert call(app, [body(b"x" * 101)], scope=get)[0] == 413


def test_an_upload_gets_time_for_its_declared_size(tmp_path: Path) -> None:
    # body_timeout 1 s; 512 KiB declared buys 2 s more at MIN_UPLOAD_RATE: a 1.5 s pause passes
    size = 2 * MIN_UPLOAD_RATE
    messages = [body(b"a" * (size - 1), more=True), body(b"b")]
    assert call(_upload_gate(tmp_path), messages, pause=1.5, scope=_upload_scope(size))[0] == 200
    slow = [body(b"a", more=True), body(b"b")]
    status, _, sent = call(_upload_gate(tmp_path), slow, pause=1.5, scope=_upload_scope(2))
    assert status == 408 and b"within 1 s" in sent[0]  # 2 bytes buy no time
