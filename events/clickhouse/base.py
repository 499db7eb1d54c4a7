"""The one small interface Trail uses to talk to ClickHouse.

Two backends implement it: `EmbeddedClickHouse` (chDB, in-process) and `ServerClickHouse`
(clickhouse-connect over HTTP). Both take the same SQL with server-side bound parameters
(`{name:Type}`), both return rows decoded from ClickHouse's Arrow output, and both insert
columns encoded as one Arrow IPC stream, so what one backend accepts the other does too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Params = Mapping[str, Any]
Columns = Mapping[str, Sequence[Any]]

_TOKEN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


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


class ClickHouse(Protocol):
    def query(self, sql: str, params: Params | None = None) -> list[dict[str, Any]]:
        """Run a SELECT with bound parameters; rows as dicts."""
        ...

    def command(self, sql: str, params: Params | None = None) -> None:
        """Run a statement that returns nothing (DDL, ALTER, SYSTEM)."""
        ...

    def insert(self, table: str, columns: Columns, *, dedup_token: str | None = None) -> int:
        """Insert columns (name -> equal-length values) in one block; rows written.

        With `dedup_token`, ClickHouse stores the block once however often it is sent.
        """
        ...

    def ping(self) -> None:
        """Raise `ClickHouseUnavailable` unless a trivial query succeeds."""
        ...

    def close(self) -> None: ...
