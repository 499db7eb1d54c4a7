"""The fast way in for Trail's own export: ClickHouse reads the file into the staging table.

Trail's raw export (docs/exports.md, column set version 1) names every column an event has:
ids, visitor and visit ids, source and channel as attributed. Nothing needs the collector's
enrichment, so no row has to pass through Python: one `INSERT … SELECT` per file has
ClickHouse parse the file (its own NDJSON, CSV and Parquet readers, in parallel) and convert
each column to the import's staging table's (`events`' own), checking what the Python
parser (`reports.imports.trail`) checks — a UUID, an ISO time, a name of 1 to 120
characters, whole numbers in range, a JSON object of props — by raising. The statement is
`ClickHouse.insert_select_file`: the embedded engine reads the file from disk, a server
reads it from the request's body.

ClickHouse names a bad row less precisely than the Python parser (its messages speak of
rows and buffers), and stops at the first; so when ClickHouse refuses a file, the caller
reads it again with the Python parser, which names the file, the line and the column (and
takes it, if ClickHouse's refusal was one of its stricter readings).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from common.csvsafe import FORMULA_STARTS
from events.clickhouse import get_client
from events.clickhouse.base import quoted
from reports.imports import trail
from reports.imports.raw import prepare
from reports.imports.rows import BadImportFile
from reports.raw_export import COLUMNS

# Export column -> staging column, for the text columns (the export selects them by name).
_TEXT = {column.name: column.sql for column in COLUMNS if column.text}
_FORMATS = {
    "ndjson": "JSONEachRow",
    "csv": "CSVWithNames",
    "parquet": "Parquet",
}
# How each format's reader types the columns that are not text (text is String in all).
_TYPED: dict[str, dict[str, str]] = {
    "ndjson": {
        "event_id": "String",
        "timestamp": "String",
        "props": "Map(String, String)",
        "revenue_amount": "Nullable(Decimal(18, 3))",
        "interactive": "Bool",
        "visitor_id": "String",  # 64-bit integers are quoted in Trail's NDJSON
        "visit_id": "String",
        "scroll_depth": "Nullable(Int64)",
        "engaged_ms": "Nullable(Int64)",
    },
    "csv": {
        name: "String"
        for name in (
            "event_id",
            "timestamp",
            "props",
            "revenue_amount",
            "interactive",
            "visitor_id",
            "visit_id",
            "scroll_depth",
            "engaged_ms",
        )
    },
    "parquet": {
        "event_id": "String",
        "timestamp": "DateTime64(3, 'UTC')",
        "props": "Map(String, String)",
        "revenue_amount": "Nullable(Decimal(18, 3))",
        "interactive": "Bool",
        "visitor_id": "UInt64",
        "visit_id": "UInt64",
        "scroll_depth": "Nullable(Int64)",
        "engaged_ms": "Nullable(Int64)",
    },
}


def _checked(value: str, failing: str, message: str) -> str:
    """`value`, or an error naming the column when `failing` holds for a row."""
    return f"if(throwIf({failing}, {quoted(message)}) = 0, {value}, {value})"


def _uncell(name: str) -> str:
    """A CSV text cell as exported: an apostrophe before a formula character comes off."""
    starts = ", ".join(quoted(start) for start in FORMULA_STARTS)
    return (
        f"if(startsWith({name}, '''') AND substring({name}, 2, 1) IN ({starts}),"
        f" substring({name}, 2), {name})"
    )


def _structure(fmt: str) -> str:
    typed = _TYPED[fmt]
    return ", ".join(f"{column.name} {typed.get(column.name, 'String')}" for column in COLUMNS)


def _expressions(fmt: str, *, site_id: int, import_id: str) -> dict[str, str]:
    """Staging column -> its value from the file's columns."""
    text = {target: (_uncell(name) if fmt == "csv" else name) for name, target in _TEXT.items()}
    name = text["name"]
    text["name"] = _checked(
        name, f"{name} = '' OR lengthUTF8({name}) > 120", "name: expected 1 to 120 characters"
    )
    if fmt == "csv":
        timestamp = "parseDateTime64BestEffort(timestamp, 3, 'UTC')"
        props = _checked(
            "if(props = '', map(), JSONExtract(props, 'Map(String, String)'))",
            "props != '' AND NOT (isValidJSON(props) AND JSONType(props) = 'Object')",
            "props: expected a JSON object",
        )
        revenue = "CAST(nullIf(revenue_amount, '') AS Nullable(Decimal(18, 3)))"
        flag = "lower(trim(BOTH ' ' FROM interactive))"
        interactive = _checked(
            f"{flag} IN ('true', '1')",
            f"{flag} NOT IN ('true', 'false', '1', '0')",
            "interactive: expected true or false",
        )
        scroll = "accurateCast(if(scroll_depth = '', '0', scroll_depth), 'UInt8')"
        engaged = "accurateCast(if(engaged_ms = '', '0', engaged_ms), 'UInt32')"
    else:
        timestamp = (
            "timestamp" if fmt == "parquet" else "parseDateTime64BestEffort(timestamp, 3, 'UTC')"
        )
        props, revenue, interactive = "props", "revenue_amount", "interactive"
        scroll = "accurateCast(ifNull(scroll_depth, 0), 'UInt8')"
        engaged = "accurateCast(ifNull(engaged_ms, 0), 'UInt32')"
    return {
        "import_id": quoted(import_id),
        "site_id": str(int(site_id)),
        "event_id": "toUUID(event_id)",
        "timestamp": timestamp,
        "visitor_id": "accurateCast(visitor_id, 'UInt64')",
        "session_id": "accurateCast(visit_id, 'UInt64')",
        **text,
        "props": props,
        "revenue_amount": revenue,
        "interactive": interactive,
        "scroll_depth": scroll,
        "engagement_ms": engaged,
    }


def header_check(path: Path, name: str, fmt: str) -> None:
    """Every column of version 1 is there (the Python parser's first check, made on the
    first row only: ClickHouse would take a missing column as empty)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except Exception as exc:  # pyarrow's errors are of many types
            raise BadImportFile(name, f"not a Parquet file ({exc})") from None
        trail.check_header(names, name, None)
        return
    with path.open("rb") as file:
        first = next(((n, line) for n, line in enumerate(file, start=1) if line.strip()), None)
    if first is None:
        raise BadImportFile(name, "empty file", line=1)
    number, line = first
    if fmt == "csv":
        try:
            found = next(csv.reader([line.decode("utf-8")]), [])
        except (UnicodeDecodeError, csv.Error):
            raise BadImportFile(name, "not CSV UTF-8 text", line=1) from None
    else:
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise BadImportFile(name, f"not a JSON object ({exc})", line=number) from None
        if not isinstance(record, dict):
            raise BadImportFile(name, "not a JSON object", line=number)
        found = list(record)
    trail.check_header(found, name, number)


def load(path: Path, name: str, *, site_id: int, import_id: str) -> None:
    """Stage the events of one export file. `BadImportFile` for a file without the column
    set; `ClickHouseError` when ClickHouse refuses a row (read it with the Python parser
    then, to learn where)."""
    fmt = trail.detect(path, name)
    header_check(path, name, fmt)
    values = _expressions(fmt, site_id=site_id, import_id=import_id)
    get_client().insert_select_file(
        prepare(import_id),
        list(values),
        list(values.values()),
        path=path,
        fmt=_FORMATS[fmt],
        structure=_structure(fmt),
    )
