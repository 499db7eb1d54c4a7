"""The one small interface Trail uses to talk to ClickHouse.

Two backends implement it: `EmbeddedClickHouse` (chDB, in-process) and `ServerClickHouse`
(clickhouse-connect over HTTP). Both take the same SQL with server-side bound parameters
(`{name:Type}`), both return rows decoded from ClickHouse's Arrow output, and both insert
columns encoded as one Arrow IPC stream, so what one backend accepts the other does too.
Both also stream a SELECT's output in one of `STREAM_FORMATS`, chunk by chunk (`stream`),
and insert a block already in one of `INSERT_FORMATS` as it is (`insert_raw`): ClickHouse's
own `Native` passes from one ClickHouse to another without a row decoded in Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

Params = Mapping[str, Any]
Columns = Mapping[str, Sequence[Any]]

_TOKEN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# The output formats `stream` writes: a whole result as one file of that format.
STREAM_FORMATS = frozenset({"JSONEachRow", "CSVWithNames", "Parquet", "Native"})
# The input formats `insert_raw` takes: ClickHouse's own, whose blocks carry their types.
INSERT_FORMATS = frozenset({"Native"})
# The file formats `insert_select_file` reads.
FILE_FORMATS = frozenset({"JSONEachRow", "CSVWithNames", "Parquet"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


# Big INSERT … SELECTs (an import's file, its publishing) write blocks of 64 K rows (or 64 MiB)
# instead of a million, which held ~1 GB more for a 2.5 GB file of wide rows.
SMALL_INSERT_BLOCKS = {
    "max_insert_block_size": 65_536,
    "min_insert_block_size_rows": 65_536,
    "min_insert_block_size_bytes": 64 << 20,
}


def settings_clause(settings: Mapping[str, int | str]) -> str:
    """` SETTINGS a = 1, b = 'x'` for a statement (Trail's own settings, never a request's)."""
    pairs = ", ".join(
        f"{checked_identifier(name)} = {value if isinstance(value, int) else quoted(value)}"
        for name, value in settings.items()
    )
    return f" SETTINGS {pairs}"


def checked_token(token: str) -> str:
    """An insert deduplication token, restricted so it can stand in a SETTINGS clause."""
    if not _TOKEN.match(token):
        raise ValueError(f"invalid insert deduplication token {token!r}")
    return token


def checked_identifier(name: str) -> str:
    """A table or column name; identifiers cannot be bound, so they must be plain."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"invalid ClickHouse identifier {name!r}")
    return name


def _one_of(fmt: str, formats: frozenset[str], use: str) -> str:
    if fmt not in formats:
        raise ValueError(f"unsupported {use} format {fmt!r}")
    return fmt


def checked_format(fmt: str) -> str:
    """An output format `stream` supports (the name goes into the query, never a request's)."""
    return _one_of(fmt, STREAM_FORMATS, "stream")


def checked_insert_format(fmt: str) -> str:
    """An input format `insert_raw` supports (the name goes into the statement)."""
    return _one_of(fmt, INSERT_FORMATS, "insert")


def checked_file_format(fmt: str) -> str:
    """A file format `insert_select_file` reads (the name goes into the statement)."""
    return _one_of(fmt, FILE_FORMATS, "file")


def quoted(text: str) -> str:
    """A ClickHouse string literal (for what cannot be a bound parameter: a table
    function's arguments)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def on_cluster(cluster: str | None) -> str:
    """` ON CLUSTER 'name'` for a DDL statement on the configured cluster, "" without one."""
    return f" ON CLUSTER {quoted(cluster)}" if cluster else ""


class ClickHouse(Protocol):
    def query(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        """Run a SELECT with bound parameters; rows as dicts."""
        ...

    def stream(self, sql: str, params: Params | None = None, *, fmt: str) -> Iterator[bytes]:
        """Run a SELECT (no FORMAT clause) and yield its output in the format `fmt` (one of
        `STREAM_FORMATS`) as consecutive chunks of one file, without holding the whole
        result. Closing the generator before its end stops the query."""
        ...

    def command(self, sql: str, params: Params | None = None) -> None:
        """Run a statement that returns nothing (DDL, ALTER, SYSTEM)."""
        ...

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> int:
        """Insert columns (name -> equal-length values) in one block; rows written.

        With `dedup_token`, ClickHouse stores the block once however often it is sent.
        """
        ...

    def insert_raw(
        self,
        table: str,
        names: Sequence[str],
        data: bytes,
        *,
        fmt: str,
        dedup_token: str | None = None,
    ) -> None:
        """Insert `data`, the columns `names` in the format `fmt` (one of `INSERT_FORMATS`,
        e.g. what `stream` wrote in it), as ClickHouse parses it: types converted to the
        table's as an `INSERT … FORMAT` does, an invalid block refused whole. With
        `dedup_token`, as `insert`."""
        ...

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
        """`INSERT INTO table (names) SELECT values FROM` the local file `path`, read as
        ClickHouse reads `fmt` (one of `FILE_FORMATS`) with the columns `structure`
        (`name Type, …`): the file is parsed and converted by ClickHouse, no row passes
        through Python. The embedded engine reads the file from disk; a server reads it from
        the request's body (`input()`), sent as it is read. `values` are SQL expressions
        over the structure's columns, written by Trail (never a request's text)."""
        ...

    def ping(self) -> None:
        """Raise `ClickHouseUnavailable` unless a trivial query succeeds."""
        ...

    def close(self) -> None: ...
