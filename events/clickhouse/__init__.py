"""The only module that talks to ClickHouse.

`get_client()` returns this process's client: chDB in embedded mode, a ClickHouse server
when `CLICKHOUSE_URL` is set. Nothing outside this package knows which one runs.
"""

from __future__ import annotations

import threading

from django.conf import settings

from events.clickhouse.base import ClickHouse
from events.clickhouse.errors import ClickHouseError, ClickHouseLocked, ClickHouseUnavailable

__all__ = [
    "ClickHouse",
    "ClickHouseError",
    "ClickHouseLocked",
    "ClickHouseUnavailable",
    "get_client",
    "reset_client",
]

_client: ClickHouse | None = None
_guard = threading.Lock()


def _create() -> ClickHouse:
    config = settings.CLICKHOUSE
    if config.url is None:
        from events.clickhouse.embedded import EmbeddedClickHouse

        return EmbeddedClickHouse(config.data_dir)
    from events.clickhouse.server import ServerClickHouse

    return ServerClickHouse(config.url)


def get_client() -> ClickHouse:
    global _client
    if _client is None:
        with _guard:
            if _client is None:
                _client = _create()
    return _client


def reset_client() -> None:
    """Close this process's client; the next `get_client()` makes a new one."""
    global _client
    with _guard:
        client, _client = _client, None
    if client is not None:
        client.close()
