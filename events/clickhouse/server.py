"""The server backend: a ClickHouse server over HTTP(S) through clickhouse-connect."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from urllib3.exceptions import HTTPError

from events.clickhouse.backend import ArrowBackend
from events.clickhouse.base import SMALL_INSERT_BLOCKS, Params, checked_format, quoted
from events.clickhouse.errors import ClickHouseError, ClickHouseUnavailable, unavailable


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except (OperationalError, HTTPError) as exc:  # HTTPError: a streamed response broke off
        raise ClickHouseUnavailable(str(exc).strip()) from exc
    except DatabaseError as exc:
        message = str(exc).strip()
        if unavailable(message):  # a shard or Keeper out of reach: retry later
            raise ClickHouseUnavailable(message) from exc
        raise ClickHouseError(message) from exc


_CHUNK = 1 << 20  # bytes read from a streamed response at a time


class ServerClickHouse(ArrowBackend):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._client: Any = None
        self._guard = threading.Lock()

    def _connection(self) -> Any:
        if self._client is None:
            import clickhouse_connect

            with self._guard, _translated():
                if self._client is None:
                    # No session id: one client serves concurrent threads.
                    self._client = clickhouse_connect.get_client(
                        dsn=self.url,
                        autogenerate_session_id=False,
                        connect_timeout=5,
                        send_receive_timeout=120,
                    )
        return self._client

    def _query_arrow(self, sql: str, params: Params) -> pa.Table:
        client = self._connection()
        with _translated():
            return client.query_arrow(sql, parameters=dict(params), use_strings=True)

    def stream(self, sql: str, params: Params | None = None, *, fmt: str) -> Iterator[bytes]:
        return self._stream(sql, dict(params or {}), checked_format(fmt))

    def _stream(self, sql: str, params: dict[str, Any], fmt: str) -> Iterator[bytes]:
        """The server's own output, read off the HTTP response as it arrives; closing the
        response (the generator closed early) drops the connection, which stops the query."""
        client = self._connection()
        with _translated():
            response = client.raw_stream(sql, parameters=params, fmt=fmt)
        try:
            while True:
                with _translated():
                    chunk = response.read(_CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            response.close()

    def _command(self, sql: str, params: Params) -> None:
        client = self._connection()
        with _translated():
            client.command(sql, parameters=dict(params))

    def _insert_arrow(self, table: str, names: list[str], block: bytes, token: str | None) -> None:
        self._insert_raw(table, names, block, "ArrowStream", token)

    def _insert_raw(
        self, table: str, names: list[str], data: bytes, fmt: str, token: str | None
    ) -> None:
        """`INSERT INTO table (names) FORMAT fmt` with the data as the request's body. Given
        as a buffer (not bytes), clickhouse-connect sends the statement in the URL and the
        data as it is, where it would copy bytes behind the statement first."""
        settings = {"insert_deduplication_token": token} if token else {}
        client = self._connection()
        with _translated():
            client.raw_insert(table, names, memoryview(data), settings=settings, fmt=fmt)

    def _insert_select_file(self, statement: str, path: Path, fmt: str, structure: str) -> None:
        """The statement and then the file, as one request's body (ClickHouse reads the
        data of an `INSERT` after its query), streamed as it is read."""
        head = f"{statement} input({quoted(structure)}) FORMAT {fmt}\n".encode()

        def body() -> Iterator[bytes]:
            yield head
            with path.open("rb") as file:
                while chunk := file.read(_CHUNK):
                    yield chunk

        client = self._connection()
        with _translated():
            client.raw_insert(None, None, body(), settings=dict(SMALL_INSERT_BLOCKS))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
