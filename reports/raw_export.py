"""Raw events out: every stored event of a site's date range, with the Stats API's filters,
in one versioned column set (docs/exports.md, "Raw events"), as ClickHouse writes it.

    req = parse_request(site, date_range="30d", format="parquet", filters=None)
    count_rows(req)   # how many rows stream(req) yields (for progress)
    stream(req)       # the file's bytes, chunk by chunk; closing it stops the query

The read goes through the SQL builder (the site guard), the range is the site's local
days, and filters are the Stats API's (`visit:*` ones through the guarded sessions
subquery, as every report applies them). The bytes are ClickHouse's own `JSONEachRow`,
`CSVWithNames` or `Parquet` output; no Python code touches a row.

The column set is `COLUMNS` at version `COLUMNS_VERSION`: a column is never renamed,
retyped or removed without raising the version; new columns may be added at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from accounts.errors import ServiceError
from common.csvsafe import FORMULA_STARTS
from reports import dates
from reports.context import site_goals, site_range
from reports.parse import parse_filters
from reports.query import Filter, GoalDefinition, ReportQuery
from reports.sql import builder
from reports.sql.builder import Expr, Select
from reports.sql.catalog import EVENTS, Binder, date_condition
from reports.sql.filters import FilterCompiler
from sites.models import Site

COLUMNS_VERSION = 1


class Format(NamedTuple):
    clickhouse: str  # ClickHouse's output format
    content_type: str
    extension: str


FORMATS = {
    "ndjson": Format("JSONEachRow", "application/x-ndjson", "ndjson"),
    "csv": Format("CSVWithNames", "text/csv; charset=utf-8", "csv"),
    "parquet": Format("Parquet", "application/vnd.apache.parquet", "parquet"),
}


class Column(NamedTuple):
    name: str
    sql: str  # its expression on `events`
    text: bool  # free text (CSV: formula-leading cells made inert)


# The column set, version 1, in order (docs/exports.md lists each with its type and meaning).
COLUMNS = (
    Column("event_id", "toString(event_id)", False),
    Column("timestamp", "timestamp", False),
    Column("name", "name", True),
    Column("page", "pathname", True),
    Column("hostname", "hostname", True),
    Column("referrer", "referrer", True),
    Column("source", "referrer_source", True),
    Column("channel", "channel", True),
    Column("utm_medium", "utm_medium", True),
    Column("utm_source", "utm_source", True),
    Column("utm_campaign", "utm_campaign", True),
    Column("utm_content", "utm_content", True),
    Column("utm_term", "utm_term", True),
    Column("click_id_param", "click_id_param", True),
    Column("country", "country_code", True),
    Column("region", "region", True),
    Column("city", "city", True),
    Column("device", "device", True),
    Column("browser", "browser", True),
    Column("browser_version", "browser_version", True),
    Column("os", "os", True),
    Column("os_version", "os_version", True),
    Column("screen", "screen_size", True),
    Column("props", "props", False),
    Column("revenue_amount", "revenue_amount", False),
    Column("revenue_currency", "revenue_currency", True),
    Column("interactive", "interactive", False),
    Column("visitor_id", "visitor_id", False),
    Column("visit_id", "session_id", False),
    Column("scroll_depth", "if(name = 'engagement', scroll_depth, NULL)", False),
    Column("engaged_ms", "if(name = 'engagement', engagement_ms, NULL)", False),
)

# Output settings, explicit so that every ClickHouse version writes the same: ISO-8601 UTC
# times in the text formats; in NDJSON 64-bit integers as strings (JavaScript's numbers lose
# digits above 2**53), decimals as numbers; NULL as an empty CSV cell. Text is formatted
# in the query's own thread: parallel formatting held the first bytes back (250 ms against
# 40-50 ms for a week of 2.2 M events) and was no faster on two shared cores.
_SETTINGS: dict[str, dict[str, str | int]] = {
    "ndjson": {
        "date_time_output_format": "iso",
        "output_format_json_quote_64bit_integers": 1,
        "output_format_json_quote_decimals": 0,
        "output_format_parallel_formatting": 0,
    },
    "csv": {
        "date_time_output_format": "iso",
        "format_csv_null_representation": "",
        "output_format_parallel_formatting": 0,
    },
    "parquet": {},
}


@dataclass(frozen=True)
class RawExportRequest:
    site: Site
    span: dates.DateRange
    filters: tuple[Filter, ...]
    format: str  # a key of FORMATS
    goals: tuple[GoalDefinition, ...] = ()  # the site's, for `event:goal` filters


def _date_range(value: Any) -> Any:
    """A query string's `date_range`: a name, `[first, last]` as JSON, or `first,last`."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                raise ServiceError(
                    "expected a JSON array [first, last]", field="date_range"
                ) from None
        if "," in text:
            return [part.strip() for part in text.split(",")]
    return value


def _filters(value: Any) -> Any:
    """`filters` as the Stats API's list, or that list as JSON text (a query string's)."""
    if isinstance(value, str):
        if not value.strip():
            return []
        try:
            return json.loads(value)
        except ValueError:
            raise ServiceError("expected a JSON array of filters", field="filters") from None
    return value or []


def parse_request(site: Site, *, date_range: Any, format: str, filters: Any) -> RawExportRequest:  # noqa: A002
    """A raw export of `site` (resolved by the caller, tenancy checked); `ServiceError`
    naming the field on bad input."""
    if not isinstance(format, str) or format not in FORMATS:
        raise ServiceError(f"expected one of {', '.join(FORMATS)}", field="format")
    if date_range is None or date_range == "":
        raise ServiceError("required", field="date_range")
    span = site_range(site, _date_range(date_range), timezone=site.timezone)
    goals = site_goals(site)
    parsed = parse_filters(_filters(filters), goals)
    return RawExportRequest(site=site, span=span, filters=parsed, format=format, goals=goals)


def where_conditions(req: RawExportRequest, binder: Binder) -> list[str | Expr]:
    """The conditions on `events` that pick a request's rows (its span, its filters): what
    a raw export reads and what a deletion on request (reports/deletions_api.py) deletes."""
    span = req.span
    where: list[str | Expr] = [date_condition(EVENTS, binder, span.start, span.end)]
    if req.filters:
        query = ReportQuery(
            site_id=req.site.pk,
            date_range=span,
            metrics=("events",),
            filters=req.filters,
            goals=req.goals,
        )
        where.append(FilterCompiler(query, binder).compile(req.filters, EVENTS))
    return where


def _csv_cell(column: Column) -> str:
    """A text column as a CSV cell by Trail's spreadsheet rule (common.csvsafe): one that
    begins with a formula character gets a leading apostrophe."""
    return (
        f"if(has({{formula_starts:Array(String)}}, substring({column.sql}, 1, 1)),"
        f" concat('''', {column.sql}), {column.sql})"
    )


def select(req: RawExportRequest) -> Select:
    """The export's read: the column set over the range and filters."""
    binder = Binder()
    where = where_conditions(req, binder)
    params = dict(binder.params)
    columns = []
    for column in COLUMNS:
        sql = column.sql
        if req.format == "csv":
            if column.text:
                sql = _csv_cell(column)
            elif column.name == "props":
                sql = "toJSONString(props)"
        columns.append(f"{sql} AS {column.name}")
    if req.format == "csv":
        params["formula_starts"] = list(FORMULA_STARTS)
    return Select(
        site_id=req.site.pk, table=EVENTS, columns=tuple(columns), where=tuple(where), params=params
    )


def count_rows(req: RawExportRequest) -> int:
    """The number of rows `stream(req)` yields (for a progress bar)."""
    binder = Binder()
    where = where_conditions(req, binder)
    found = builder.run(
        Select(
            site_id=req.site.pk,
            table=EVENTS,
            columns=("count() AS rows",),
            where=tuple(where),
            params=binder.params,
        )
    )
    return int(found[0]["rows"])


def stream(req: RawExportRequest) -> Iterator[bytes]:
    """The export's file, chunk by chunk, as ClickHouse writes the format. The query runs
    at once (a bad filter pattern raises `ServiceError` here); closing the iterator before
    its end stops it."""
    return builder.stream(
        select(req), fmt=FORMATS[req.format].clickhouse, settings=_SETTINGS[req.format]
    )


def filename(req: RawExportRequest) -> str:
    """`<domain>-events-<first>-<last>.<ext>`, for a download's Content-Disposition."""
    span = req.span
    return (
        f"{req.site.domain}-events-{span.first.isoformat()}-{span.last.isoformat()}"
        f".{FORMATS[req.format].extension}"
    )
