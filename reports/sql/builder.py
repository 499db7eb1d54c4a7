"""The SQL builder: every report (the Stats API, the dashboard, funnels, realtime, the
installation check, the raw export) reads ClickHouse through it; `run`, `stream` (a
format's bytes, chunked) and `estimate_rows` run those reads.

Every table a query reads gets `site_id = {site_id:UInt64}` as the first condition of its
WHERE clause, subqueries included; callers cannot leave it out. Values are bound as
`{name:Type}` parameters, never interpolated. Expressions and table names come from
Trail's code, never from a request; a request's values reach SQL only as parameters.

Outside the reports, ClickHouse is read or deleted from only by the events write path's
internal queries (events/clickhouse/internal.py): the flush's and the purge job's
statements across sites, which answer no request. Besides those, the write path inserts
rows, and the migrations and health checks run statements of their own.

Conditions are plain strings (expressions with `{name:Type}` placeholders whose values are
in `Select.params`) or `Expr`s, which carry their own parameters and may hold guarded
subqueries (`in_subquery`), combined with `all_of`, `any_of` and `negate`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from rest_framework.exceptions import APIException

from accounts.errors import ServiceError
from events.clickhouse import get_client
from events.clickhouse.errors import ClickHouseError, ClickHouseUnavailable

_PARAM_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
TABLES = frozenset(
    {
        "events",
        "sessions",
        # daily aggregates imported from Plausible (reports/sql/imported.py, migration 0005)
        "imported_visitors",
        "imported_sources",
        "imported_pages",
        "imported_entry_pages",
        "imported_exit_pages",
        "imported_locations",
        "imported_devices",
        "imported_browsers",
        "imported_operating_systems",
        "imported_custom_events",
        # hourly aggregates of events and visits (reports/sql/rollups.py, migration 0008)
        "rollup_events",
        "rollup_sessions",
        "rollup_pending",
        # the daily tier of the rollups (migration 0009, docs/rollups.md "The daily tier")
        "rollup_events_daily",
        "rollup_sessions_daily",
        "rollup_mixed",
    }
)
# A query may not take more memory than this (ClickHouse stops it with an error instead).
MAX_MEMORY_BYTES = 2 * 2**30
# A filter on the other table is `session_id IN (subquery)`. session_id is last in the
# sessions' sort key and absent from the events', so the key cannot use the set; building
# the index's copy of it cost 1.3 s of the 3.9 s of a 10.5 M-session filter at 100 M events,
# with no gain for small sets (docs/reports.md).
QUERY_SETTINGS = f"max_memory_usage = {MAX_MEMORY_BYTES}, use_index_for_in_with_subqueries = 0"
# ClickHouse's error 427 (CANNOT_COMPILE_REGEXP), from chDB and every server version alike:
# "Code: 427… cannot compile re2: <pattern>, error: <reason>[. Look at …]". Patterns are
# judged there and only there, so that all RE2 accepts (`\pL`, `\z`) is accepted.
_BAD_REGEXP = re.compile(
    r"Code: 427\b.*?cannot compile re2: (?P<pattern>.*), error: (?P<reason>.*?)(?:\. Look at|$)",
    re.S,
)


def _merge(into: dict[str, Any], params: Mapping[str, Any]) -> None:
    for name, value in params.items():
        if not _PARAM_NAME.match(name):
            raise ValueError(f"bad parameter name {name!r}")
        if name in into and into[name] != value:
            raise ValueError(f"parameter {name!r} bound twice with different values")
        into[name] = value


@dataclass(frozen=True)
class Expr:
    """A boolean SQL expression with the parameters it binds."""

    sql: str
    params: Mapping[str, Any] = field(default_factory=dict)


TRUE = Expr("1")


def _expr(condition: str | Expr) -> Expr:
    return condition if isinstance(condition, Expr) else Expr(condition)


def _joined(conditions: Iterable[str | Expr], operator: str, empty: str) -> Expr:
    parts = [_expr(c) for c in conditions]
    if not parts:
        return Expr(empty)
    if len(parts) == 1:
        return parts[0]
    params: dict[str, Any] = {}
    for part in parts:
        _merge(params, part.params)
    return Expr(f" {operator} ".join(f"({p.sql})" for p in parts), params)


def all_of(conditions: Iterable[str | Expr]) -> Expr:
    return _joined(conditions, "AND", TRUE.sql)


def any_of(conditions: Iterable[str | Expr]) -> Expr:
    return _joined(conditions, "OR", "0")


def negate(condition: str | Expr) -> Expr:
    inner = _expr(condition)
    return Expr(f"NOT ({inner.sql})", inner.params)


def in_subquery(columns: str, select: Select) -> Expr:
    """`columns IN (select)`: the subquery is rendered by the builder, so it is guarded."""
    sql, params = select.render()
    return Expr(f"{columns} IN ({sql})", params)


@dataclass(frozen=True)
class UnionAll:
    """`UNION ALL` of subqueries of one site (each guarded itself), as a `Select`'s table."""

    site_id: int
    parts: tuple[Select, ...]

    def render(self) -> tuple[str, dict[str, Any]]:
        if not self.parts:
            raise ValueError("a union of nothing")
        params: dict[str, Any] = {}
        rendered = []
        for part in self.parts:
            if part.site_id != self.site_id:
                raise ValueError("a subquery reads another site")
            sql, part_params = part.render()
            _merge(params, part_params)
            rendered.append(sql)
        return " UNION ALL ".join(rendered), params


@dataclass(frozen=True)
class Select:
    site_id: int
    table: str | Select | UnionAll  # a table, or a subquery (guarded itself)
    columns: tuple[str, ...]
    where: tuple[str | Expr, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    group_by: tuple[str, ...] = ()
    having: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    limit: int | None = None
    offset: int = 0
    sample: float | None = None  # SAMPLE fraction of visitors (tables only)
    alias: str = ""

    def render(self) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {}
        if "site_id" in self.params:
            raise ValueError("site_id is bound by the builder")
        _merge(params, self.params)
        if isinstance(self.table, (Select, UnionAll)):
            if self.table.site_id != self.site_id:
                raise ValueError("a subquery reads another site")
            inner_sql, inner_params = self.table.render()
            _merge(params, inner_params)
            source = f"({inner_sql})"
            guard = []
        else:
            if self.table not in TABLES:
                raise ValueError(f"unknown table {self.table!r}")
            source = self.table
            if self.sample is not None:
                if not 0 < self.sample <= 1:
                    raise ValueError(f"bad sample fraction {self.sample!r}")
                source += f" SAMPLE {float(self.sample)!r}"
            guard = ["site_id = {site_id:UInt64}"]
        conditions = [_expr(w) for w in self.where]
        for condition in conditions:
            _merge(params, condition.params)
        if self.alias:
            if not _PARAM_NAME.match(self.alias):
                raise ValueError(f"bad alias {self.alias!r}")
            source += f" AS {self.alias}"
        # Expressions and the table come from Trail's code (checked above); values are bound.
        sql = f"SELECT {', '.join(self.columns)} FROM {source}"  # noqa: S608
        where = [*guard, *(f"({c.sql})" for c in conditions)]
        if where:
            sql += f" WHERE {' AND '.join(where)}"
        if self.group_by:
            sql += f" GROUP BY {', '.join(self.group_by)}"
        if self.having:
            sql += f" HAVING {' AND '.join(f'({h})' for h in self.having)}"
        if self.order_by:
            sql += f" ORDER BY {', '.join(self.order_by)}"
        if self.limit is not None:
            sql += f" LIMIT {int(self.limit)}"
            if self.offset:
                sql += f" OFFSET {int(self.offset)}"
        params["site_id"] = self.site_id
        return sql, params


def _bad_pattern(exc: ClickHouseError) -> ServiceError | None:
    """A `matches` filter's pattern that RE2 cannot compile is the request's fault:
    `ServiceError` naming `filters`, with RE2's reason."""
    refused = _BAD_REGEXP.search(str(exc))
    if refused is None:
        return None
    pattern, reason = refused["pattern"][:200], refused["reason"][:200]
    return ServiceError(
        f"not a valid RE2 regular expression: {pattern!r} ({reason})", field="filters"
    )


class ReportsUnavailable(APIException):
    """ClickHouse, or a shard of it with no replica up, cannot answer now: the API answers
    503 with `Retry-After` (DRF sets it from `wait`), never the other shards' numbers."""

    status_code = 503
    default_detail = "the statistics are unavailable for a moment (a database is unreachable)"
    default_code = "unavailable"
    wait = 30


def run(select: Select) -> list[dict[str, Any]]:
    """The rows of `select` (a bad `matches` pattern: `ServiceError` naming `filters`;
    ClickHouse out of reach: `ReportsUnavailable`)."""
    sql, params = select.render()
    try:
        return get_client().query(f"{sql} SETTINGS {QUERY_SETTINGS}", params)
    except ClickHouseUnavailable as exc:
        raise ReportsUnavailable() from exc
    except ClickHouseError as exc:
        refused = _bad_pattern(exc)
        if refused is None:
            raise
        raise refused from None


def stream(
    select: Select, *, fmt: str, settings: Mapping[str, str | int] | None = None
) -> Iterator[bytes]:
    """The output of `select` in ClickHouse's format `fmt`, chunk by chunk (the adapter's
    `stream`: closing the iterator stops the query). `settings` (names and values from
    Trail's code) shape the format; a bad `matches` pattern raises `ServiceError` before
    the first chunk."""
    sql, params = select.render()
    extra = "".join(f", {_setting(name, value)}" for name, value in (settings or {}).items())
    chunks = get_client().stream(f"{sql} SETTINGS {QUERY_SETTINGS}{extra}", params, fmt=fmt)
    try:
        first = next(chunks, None)
    except ClickHouseUnavailable as exc:
        raise ReportsUnavailable() from exc
    except ClickHouseError as exc:
        refused = _bad_pattern(exc)
        if refused is None:
            raise
        raise refused from None
    return _resumed(first, chunks)


def _setting(name: str, value: str | int) -> str:
    if not _PARAM_NAME.match(name):
        raise ValueError(f"bad setting name {name!r}")
    if isinstance(value, int):
        return f"{name} = {int(value)}"
    return f"{name} = '" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _resumed(first: bytes | None, rest: Iterator[bytes]) -> Iterator[bytes]:
    try:
        if first is not None:
            yield first
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:
            close()


def estimate_rows(select: Select) -> int:
    """How many rows the query would read, from the primary index alone (no data read)."""
    sql, params = select.render()
    try:
        found = get_client().query(f"EXPLAIN ESTIMATE {sql}", params)
    except ClickHouseUnavailable as exc:
        raise ReportsUnavailable() from exc
    return sum(int(row["rows"]) for row in found)
