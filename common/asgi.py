"""Reading a request body over ASGI, up to a cap: one reader for the server's gate
(`trail.gate`) and the ASGI route of the browser endpoints (`events.ingest.asgi`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

Receive = Callable[[], Awaitable[Mapping[str, Any]]]


class Disconnected(Exception):
    """The client went away before its body arrived: nobody to answer."""


async def read_into(receive: Receive, write: Callable[[bytes], Any], limit: int) -> int | None:
    """Hand each piece of the body to `write` as it arrives; its size, or None as soon as it
    is over `limit` bytes (the rest is left unread). Raises `Disconnected` when the client
    leaves first."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        write(chunk)
        if not message.get("more_body", False):
            return size


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body in memory, or None as soon as it is over `limit` bytes."""
    chunks: list[bytes] = []
    size = await read_into(receive, chunks.append, limit)
    return None if size is None else b"".join(chunks)
