"""The *Trail* source: Trail's own raw export (docs/exports.md, column set version 1) read
back into `RawEvent`s, ids, visitor and visit ids, source and channel kept exactly.

The format is told by the file's extension (`.ndjson`/`.jsonl`/`.json`, `.csv`,
`.parquet`), else by its first bytes (`PAR1` is Parquet, `{` NDJSON, anything else CSV).
Every column of version 1 must be there (later versions only add columns at the end: extra
columns are ignored); a missing column or a cell of the wrong type is a `BadImportFile`
naming the file, the line (the CSV's header is line 1; Parquet rows count from 1) and the
column.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import uuid
from collections.abc import Collection, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from common.csvsafe import FORMULA_STARTS
from reports.imports.rows import BadImportFile, RawEvent
from reports.raw_export import COLUMNS

NAMES = tuple(column.name for column in COLUMNS)
_NAME_SET = frozenset(NAMES)
TEXT = frozenset(column.name for column in COLUMNS if column.text)
PARQUET_BATCH = 65_536


def detect(path: Path, name: str) -> str:
    """`ndjson`, `csv` or `parquet`: by the upload's name, else by its first bytes."""
    suffix = Path(name).suffix.lower()
    if suffix in (".ndjson", ".jsonl", ".json"):
        return "ndjson"
    if suffix in (".csv",):
        return "csv"
    if suffix in (".parquet",):
        return "parquet"
    with path.open("rb") as file:
        head = file.read(4)
    if head == b"PAR1":
        return "parquet"
    if head.lstrip()[:1] == b"{":
        return "ndjson"
    return "csv"


def parse(path: Path, name: str) -> Iterator[RawEvent]:
    """The events of one export file (`name`: the upload's name, for messages)."""
    fmt = detect(path, name)
    if fmt == "ndjson":
        yield from _ndjson(path, name)
    elif fmt == "csv":
        yield from _csv(path, name)
    else:
        yield from _parquet(path, name)


def check_header(found: Collection[str], name: str, line: int | None) -> None:
    if _NAME_SET.issubset(found):
        return
    missing = [column for column in NAMES if column not in found]
    if missing:
        raise BadImportFile(
            name,
            f"not a Trail export: the column is missing (expected {', '.join(NAMES)})",
            line=line,
            column=missing[0],
        )


def _ndjson(path: Path, name: str) -> Iterator[RawEvent]:
    with path.open("rb") as file:
        for number, raw in enumerate(file, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw, parse_float=Decimal)
            except ValueError as exc:
                raise BadImportFile(name, f"not a JSON object ({exc})", line=number) from None
            if not isinstance(record, dict):
                raise BadImportFile(name, "not a JSON object", line=number)
            check_header(record.keys(), name, number)
            yield _event(record, name, number, text=False)


def _csv(path: Path, name: str) -> Iterator[RawEvent]:
    with path.open("r", encoding="utf-8", newline="") as file:
        try:
            reader = csv.reader(file)
            header = next(reader, None)
            if header is None:
                raise BadImportFile(name, "empty file", line=1)
            check_header(header, name, 1)
            index = {column: header.index(column) for column in NAMES}
            for row in reader:
                number = reader.line_num
                if not row:
                    continue
                if len(row) < len(header):
                    raise BadImportFile(
                        name, f"{len(row)} cells, expected {len(header)}", line=number
                    )
                record = {column: _uncell(column, row[index[column]]) for column in NAMES}
                yield _event(record, name, number, text=True)
        except UnicodeDecodeError:
            raise BadImportFile(name, "not UTF-8 text") from None
        except csv.Error as exc:
            raise BadImportFile(name, f"not CSV ({exc})") from None


def _uncell(column: str, value: str) -> str:
    """A CSV cell as exported: text cells that begin with a formula character had an
    apostrophe put in front (common.csvsafe); it comes off."""
    if column in TEXT and value[:1] == "'" and value[1:2] and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


def _parquet(path: Path, name: str) -> Iterator[RawEvent]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow's errors are of many types
        raise BadImportFile(name, f"not a Parquet file ({exc})") from None
    check_header(parquet.schema_arrow.names, name, None)
    number = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH, columns=list(NAMES)):
        for record in batch.to_pylist():
            number += 1
            if isinstance(record.get("props"), list):  # a Map comes as (key, value) pairs
                record["props"] = dict(record["props"])
            yield _event(record, name, number, text=False)


def _event(record: dict[str, Any], name: str, line: int, *, text: bool) -> RawEvent:
    def bad(column: str, message: str) -> BadImportFile:
        return BadImportFile(name, message, line=line, column=column)

    def string(column: str) -> str:
        value = record.get(column)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise bad(column, f"expected text, got {value!r:.40}")
        return value

    def integer(column: str, *, nullable: bool = False) -> int | None:
        value = record.get(column)
        if value is None or value == "":
            if nullable:
                return None
            raise bad(column, "expected a whole number, got nothing")
        if isinstance(value, bool):
            raise bad(column, f"expected a whole number, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        raise bad(column, f"expected a whole number, got {value!r:.40}")

    raw_id = record.get("event_id")
    try:
        event_id = str(uuid.UUID(str(raw_id)))
    except ValueError:
        raise bad("event_id", f"expected a UUID, got {raw_id!r:.40}") from None
    timestamp = _timestamp(record.get("timestamp"), bad)
    props = record.get("props")
    if isinstance(props, str):
        try:
            props = json.loads(props) if props else {}
        except ValueError:
            raise bad("props", "expected a JSON object") from None
    if props is None:
        props = {}
    if not isinstance(props, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in props.items()
    ):
        raise bad("props", "expected an object of text values")
    amount = record.get("revenue_amount")
    revenue: Decimal | None = None
    if amount is not None and amount != "":
        try:
            revenue = Decimal(str(amount))
        except InvalidOperation:
            raise bad("revenue_amount", f"expected a number, got {amount!r:.40}") from None
        if not revenue.is_finite():
            raise bad("revenue_amount", "expected a finite number")
    interactive = record.get("interactive")
    if isinstance(interactive, str):
        lowered = interactive.strip().lower()
        if lowered not in ("true", "false", "1", "0"):
            raise bad("interactive", f"expected true or false, got {interactive!r:.40}")
        interactive = lowered in ("true", "1")
    elif isinstance(interactive, int):
        interactive = bool(interactive)
    else:
        raise bad("interactive", f"expected true or false, got {interactive!r:.40}")
    visitor_id = integer("visitor_id")
    visit_id = integer("visit_id")
    if visitor_id is not None and visitor_id >= 2**64 or (visit_id or 0) >= 2**64:
        raise bad("visitor_id" if (visitor_id or 0) >= 2**64 else "visit_id", "too large")
    scroll = integer("scroll_depth", nullable=True)
    if scroll is not None and scroll > 255:
        raise bad("scroll_depth", "expected at most 255")
    engaged = integer("engaged_ms", nullable=True)
    if engaged is not None and engaged >= 2**32:
        raise bad("engaged_ms", "too large")
    page = string("page")
    hostname = string("hostname")
    return RawEvent(
        timestamp=timestamp,
        name=string("name"),
        url=f"https://{hostname}{page}" if hostname else page,
        line=line,
        referrer=string("referrer"),
        event_id=event_id,
        visitor_id=visitor_id,
        visit_id=visit_id,
        source=string("source"),
        channel=string("channel"),
        utm_medium=string("utm_medium"),
        utm_source=string("utm_source"),
        utm_campaign=string("utm_campaign"),
        utm_content=string("utm_content"),
        utm_term=string("utm_term"),
        click_id_param=string("click_id_param"),
        country=string("country"),
        region=string("region"),
        city=string("city"),
        device=string("device"),
        browser=string("browser"),
        browser_version=string("browser_version"),
        os=string("os"),
        os_version=string("os_version"),
        screen=string("screen"),
        props=props,
        revenue_amount=revenue,
        revenue_currency=string("revenue_currency"),
        interactive=bool(interactive),
        scroll_depth=scroll,
        engaged_ms=engaged,
    )


def _timestamp(value: Any, bad: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, str):
        text = value.strip().replace(" ", "T")
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            raise bad("timestamp", f"expected an ISO 8601 time, got {value!r:.40}") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    raise bad("timestamp", f"expected an ISO 8601 time, got {value!r:.40}")
