"""The embedded backend: chDB, ClickHouse inside this process, data in a local directory."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pyarrow as pa

from events.clickhouse import lock, parquet_stream
from events.clickhouse.backend import ArrowBackend, format_params
from events.clickhouse.base import (
    SMALL_INSERT_BLOCKS,
    Params,
    checked_format,
    quoted,
    settings_clause,
)
from events.clickhouse.errors import ClickHouseError, ClickHouseUnavailable


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except (RuntimeError, ValueError) as exc:  # chDB raises ChdbError (a RuntimeError)
        raise ClickHouseError(str(exc).strip()) from exc


def _drain(conn: Any) -> None:
    """chDB 4.4: a query that fails while it streams Arrow (a pattern RE2 refuses, `throwIf`,
    the memory limit) leaves part of its output behind, and the connection's next query
    reads it ("Invalid flatbuffers message"). A throwaway query takes it instead."""
    with suppress(RuntimeError, ValueError, OSError):
        conn.query("SELECT 1", "Null")


def insert_arrow(
    conn: Any,
    table: str,
    types: dict[str, str],
    rows: pa.Table,
    token: str | None,
) -> None:
    """`INSERT … SELECT CAST(…)` from the Arrow table through chDB's `Python()` table function.

    Not `send_insert`: in chDB 4.4 its `finish()` returns without an error when the table
    refuses the block (a CHECK constraint, too many parts) and the rows are silently lost.
    Each column is cast to the table's type explicitly: an implicit conversion from the
    Python() source turns an invalid UUID into zeros and garbles FixedString values, where
    CAST raises as a server parsing `FORMAT ArrowStream` does. `table`, the column names
    and `token` were checked by the caller; `types` come from `system.columns`.
    """
    settings = settings_clause({"insert_deduplication_token": token}) if token else ""
    names = rows.column_names
    casts = ", ".join(f"CAST({name} AS {types[name]})" for name in names)
    trail_rows = rows  # noqa: F841 (read by name by the Python() table function)
    conn.query(
        f"INSERT INTO {table} ({', '.join(names)}){settings}"  # noqa: S608 (checked names)
        f" SELECT {casts} FROM Python(trail_rows)",
        "Null",
    )


def insert_file(conn: Any, statement: str, fmt: str, data: bytes, settings: str = "") -> int:
    """`statement FROM INFILE … FORMAT fmt` of a temporary file holding `data`: ClickHouse
    parses it as a server parses a request's body (types converted to the table's, a
    refused block raising); rows written. Not `send_insert`, which in chDB 4.4 loses a
    refused block without an error (`insert_arrow`). `statement` (`INSERT INTO t (cols)`),
    `fmt` and `settings` were checked by the caller."""
    with tempfile.NamedTemporaryFile(prefix="trail-insert-", suffix=".bin") as file:
        file.write(data)
        file.flush()
        infile = quoted(file.name)
        result = conn.query(f"{statement} FROM INFILE {infile}{settings} FORMAT {fmt}", "Null")
        return int(result.rows_written())


# `file()` reads with pread, not mmap (clickhouse-local's default): a mapped file of several
# GB counts in the process's resident memory as it is read.
_FILE_SETTINGS = settings_clause({**SMALL_INSERT_BLOCKS, "storage_file_read_method": "pread"})


def _fetched(result: Any) -> Iterator[bytes]:
    """The non-empty chunks of a chDB streaming result."""
    while True:
        with _translated():
            chunk = result.fetch()
        if chunk is None:
            return
        data = chunk.bytes()
        if data:
            yield data


def _one_header(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """CSVWithNames as one file: chDB 4.4 writes the header line again at the top of every
    chunk of a streamed result; all but the first are dropped."""
    header = b""
    for chunk in chunks:
        if not header:
            header = chunk[: chunk.index(b"\n") + 1]
            yield chunk
        elif chunk.startswith(header):
            if len(chunk) > len(header):
                yield chunk[len(header) :]
        else:
            raise ClickHouseError("a streamed CSV chunk does not start with the header")


def _prepended(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


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
        try:
            with _translated():
                return conn.query(sql, "ArrowTable", params=format_params(params) or None)
        except ClickHouseError:
            _drain(conn)
            raise

    def stream(self, sql: str, params: Params | None = None, *, fmt: str) -> Iterator[bytes]:
        return self._stream(sql, format_params(params or {}) or None, checked_format(fmt))

    def _stream(self, sql: str, params: dict[str, str] | None, fmt: str) -> Iterator[bytes]:
        """On a connection of its own, which the stream holds until it is closed (a
        thread's connection would serve its other queries the stream's leftovers)."""
        self._connection()  # the data directory is locked and the engine opened
        import chdb

        conn = chdb.connect(str(self.data_dir))
        result: Any = None
        try:
            source = "ArrowStream" if fmt == "Parquet" else fmt
            with _translated():
                if fmt == "Parquet":
                    for name, value in parquet_stream.ARROW_SETTINGS.items():
                        conn.query(f"SET {name} = {int(value)}", "Null")
                result = conn.send_query(sql, source, params=params)
            chunks = _fetched(result)
            first = next(chunks, None)
            if first is None:  # chDB streams nothing for no rows: not even a header
                with _translated():
                    first = conn.query(sql, source, params=params).bytes()
            chunks = _prepended(first, chunks)
            if fmt == "Parquet":
                yield from parquet_stream.parquet(chunks)
            elif fmt == "CSVWithNames":
                yield from _one_header(chunks)
            else:
                yield from chunks
        finally:
            if result is not None:
                with suppress(RuntimeError, ValueError):
                    result.close()  # stops the query if it has not ended
            conn.close()

    def _command(self, sql: str, params: Params) -> None:
        conn = self._connection()
        with _translated():
            conn.query(sql, "Null", params=format_params(params) or None)

    def _insert_arrow(self, table: str, names: list[str], block: bytes, token: str | None) -> None:
        rows = pa.ipc.open_stream(block).read_all()
        types = self._column_types(table)
        with _translated():
            insert_arrow(self._connection(), table, types, rows, token)

    def _insert_raw(
        self, table: str, names: list[str], data: bytes, fmt: str, token: str | None
    ) -> None:
        settings = settings_clause({"insert_deduplication_token": token}) if token else ""
        with _translated():
            insert_file(
                self._connection(), f"INSERT INTO {table} ({', '.join(names)})", fmt, data, settings
            )

    def _insert_select_file(self, statement: str, path: Path, fmt: str, structure: str) -> None:
        source = f"file({quoted(str(path.resolve()))}, {quoted(fmt)}, {quoted(structure)})"
        with _translated():
            self._connection().query(f"{statement} {source}{_FILE_SETTINGS}", "Null")

    def close(self) -> None:
        with self._guard:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()
