"""The embedded backend: chDB, ClickHouse inside this process, data in a local directory."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from events.clickhouse import lock
from events.clickhouse.backend import ArrowBackend, format_params
from events.clickhouse.base import Params
from events.clickhouse.errors import ClickHouseError, ClickHouseUnavailable


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except (RuntimeError, ValueError) as exc:  # chDB raises ChdbError (a RuntimeError)
        raise ClickHouseError(str(exc).strip()) from exc


class EmbeddedClickHouse(ArrowBackend):
    """One chDB connection per thread (they share the in-process server and run in
    parallel); the data directory is locked for this process on first use."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.data_dir = data_dir
        self._local = threading.local()
        self._connections: list[Any] = []
        self._guard = threading.Lock()

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            lock.acquire(self.data_dir)
            import chdb  # imported on first use: it loads a large library

            try:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                conn = chdb.connect(str(self.data_dir))
            except (RuntimeError, OSError) as exc:
                raise ClickHouseUnavailable(
                    f"cannot open embedded ClickHouse in {self.data_dir}: {exc}"
                ) from exc
            self._local.conn = conn
            with self._guard:
                self._connections.append(conn)
        return conn

    def _query_arrow(self, sql: str, params: Params) -> pa.Table:
        conn = self._connection()
        with _translated():
            return conn.query(sql, "ArrowTable", params=format_params(params) or None)

    def _command(self, sql: str, params: Params) -> None:
        conn = self._connection()
        with _translated():
            conn.query(sql, "Null", params=format_params(params) or None)

    def _insert_arrow(self, table: str, names: list[str], block: bytes, token: str | None) -> None:
        settings = f" SETTINGS insert_deduplication_token = '{token}'" if token else ""
        conn = self._connection()
        with (
            _translated(),
            conn.send_insert(
                f"INSERT INTO {table} ({', '.join(names)}){settings}", "ArrowStream"
            ) as inserter,
        ):
            inserter.append(block)
            inserter.finish()

    def close(self) -> None:
        with self._guard:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()
