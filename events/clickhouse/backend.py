"""What both backends share: parameter formatting, insert encoding, column types.

A backend supplies four primitives (run a query to an Arrow table, run a command,
send an Arrow IPC block, send a block already in an input format); everything else is
written once, here.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from clickhouse_connect.driver.binding import format_bind_value

from common import metrics
from events.clickhouse import arrow
from events.clickhouse.base import (
    Columns,
    Params,
    checked_file_format,
    checked_identifier,
    checked_insert_format,
    checked_token,
)
from events.clickhouse.errors import ClickHouseError


def format_params(params: Params) -> dict[str, str]:
    """Values in ClickHouse's query-parameter text format, exactly as clickhouse-connect
    sends them to a server, so chDB binds every value the way a server does."""
    return {name: format_bind_value(value) for name, value in params.items()}


class ArrowBackend(ABC):
    def __init__(self) -> None:
        self._types: dict[str, dict[str, str]] = {}
        self._types_guard = threading.Lock()

    @abstractmethod
    def _query_arrow(self, sql: str, params: Params) -> pa.Table: ...

    @abstractmethod
    def _command(self, sql: str, params: Params) -> None: ...

    @abstractmethod
    def _insert_arrow(
        self, table: str, names: list[str], block: bytes, token: str | None
    ) -> None: ...

    @abstractmethod
    def _insert_raw(
        self, table: str, names: list[str], data: bytes, fmt: str, token: str | None
    ) -> None: ...

    @abstractmethod
    def _insert_select_file(self, statement: str, path: Path, fmt: str, structure: str) -> None:
        """Run `statement` (`INSERT INTO t (…) SELECT … FROM`) over the file as the table
        function the backend reads it with."""

    def query(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        with metrics.clickhouse_query():  # latency histogram (docs/metrics.md)
            return arrow.decode(self._query_arrow(sql, params or {}))

    def command(self, sql: str, params: Params | None = None) -> None:
        self._command(sql, params or {})
        with self._types_guard:
            self._types.clear()  # DDL may have changed a table

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> int:
        checked_identifier(table)
        names = [checked_identifier(name) for name in columns]
        if not names:
            raise ValueError("insert needs at least one column")
        block = arrow.encode(columns, self._column_types(table))
        token = checked_token(dedup_token) if dedup_token else None
        with metrics.clickhouse_insert(table):  # latency histogram (docs/metrics.md)
            self._insert_arrow(table, names, block, token)
        return len(next(iter(columns.values())))

    def insert_raw(
        self,
        table: str,
        names: Sequence[str],
        data: bytes,
        *,
        fmt: str,
        dedup_token: str | None = None,
    ) -> None:
        checked_identifier(table)
        checked = [checked_identifier(name) for name in names]
        if not checked:
            raise ValueError("insert needs at least one column")
        token = checked_token(dedup_token) if dedup_token else None
        fmt = checked_insert_format(fmt)
        if not data:  # no rows (a stream of none may be empty): as a server, nothing to do
            return
        self._insert_raw(table, checked, data, fmt, token)

    def insert_select_file(
        self,
        table: str,
        names: Sequence[str],
        values: Sequence[str],
        *,
        path: Path,
        fmt: str,
        structure: str,
    ) -> None:
        checked = [checked_identifier(name) for name in names]
        if not checked or len(checked) != len(values):
            raise ValueError("insert_select_file needs one value per column")
        statement = (
            f"INSERT INTO {checked_identifier(table)} ({', '.join(checked)})"
            f" SELECT {', '.join(values)} FROM"
        )
        self._insert_select_file(statement, path, checked_file_format(fmt), structure)

    def ping(self) -> None:
        self._query_arrow("SELECT 1 AS ok", {})

    def _column_types(self, table: str) -> dict[str, str]:
        with self._types_guard:
            cached = self._types.get(table)
        if cached is None:
            database, _, name = table.rpartition(".")
            rows = self.query(
                "SELECT name, type FROM system.columns"
                " WHERE database = if({db:String} = '', currentDatabase(), {db:String})"
                " AND table = {table:String}",
                {"db": database, "table": name},
            )
            cached = {row["name"]: row["type"] for row in rows}
            if not cached:
                raise ClickHouseError(f"table {table} does not exist")
            with self._types_guard:
                self._types[table] = cached
        return cached
