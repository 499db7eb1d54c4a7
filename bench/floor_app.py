"""The floor for the ingest benchmark: a bare WSGI application that reads the body and
answers 202, nothing else (no parsing, no disk). `bench/ingest_load.py --floor` serves it
with granian's WSGI interface and the same number of workers as Trail, and drives it with
the same load: what this machine's server and Python can do at most, so Trail's figure can
be given as a ratio of it measured in the same run (issue 21).

`bench/floor_interfaces.py` serves the same answer through granian's other interfaces:
`asgi_app` (ASGI: what Trail's gate runs on), `rsgi_app` (RSGI) and `rsgi_pool_app` (RSGI,
with one hop to a thread pool and back per request, as the gate makes for the handler).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "2")]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = environ.get("CONTENT_LENGTH") or "0"
    environ["wsgi.input"].read(int(length) if length.isdigit() else -1)
    start_response("202 Accepted", _HEADERS)
    return [b"ok"]


async def asgi_app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[Mapping[str, Any]], Awaitable[None]],
) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = bool(message.get("more_body"))
    await send({"type": "http.response.start", "status": 202, "headers": _RAW_HEADERS})
    await send({"type": "http.response.body", "body": b"ok"})


_RAW_HEADERS = [(k.lower().encode(), v.encode()) for k, v in _HEADERS]
_RSGI_HEADERS = [(k.lower(), v) for k, v in _HEADERS]
_POOL = ThreadPoolExecutor(max_workers=16)


class _Rsgi:
    def __init__(self, *, pool: bool) -> None:
        self.pool = pool

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        body = await protocol()
        if self.pool:
            await asyncio.get_running_loop().run_in_executor(_POOL, len, body)
        protocol.response_bytes(202, _RSGI_HEADERS, b"ok")


rsgi_app = _Rsgi(pool=False)
rsgi_pool_app = _Rsgi(pool=True)
