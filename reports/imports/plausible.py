"""Plausible's CSV export (its "Export data" zip of `imported_*.csv` files) as daily
aggregates in Trail's `imported_*` ClickHouse tables (migration 0005), tagged with the
import's id. docs/imports-plausible.md.

The zip is checked before a row is read: member names that climb out (`..`) or are absolute
are refused, and so is a zip bomb (uncompressed size over `TRAIL_IMPORT_MAX_BYTES`, or a
member that inflates more than 100 times); a file whose name is not one of Plausible's is
refused too. Every cell is checked against its column's type; the first bad one fails the
import with its file, line and column (`BadImportFile`), and the rows written so far are
removed (`delete`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings

from events.clickhouse import get_client
from events.clickhouse.internal import drop_partition
from reports.imports.rows import BadImportFile
from reports.sql.builder import run as run_select
from reports.sql.selects import first_day_select

SOURCE = "plausible_csv"
# Rows are written as `staging:<import id>` and renamed when the whole zip is in: reports
# never read staged rows (reports/sql/imported.py), so a running import stays invisible.
STAGING = "staging:"
MAX_RATIO = 100  # a member inflating more than this is a zip bomb
DEFAULT_MAX_BYTES = 20 * 2**30  # when TRAIL_IMPORT_MAX_BYTES is not set
CHUNK_ROWS = 50_000  # rows per INSERT
MAX_CELL = 2_000  # characters: a longer dimension value is refused

Progress = Callable[..., None]


@dataclass(frozen=True)
class Column:
    name: str  # Plausible's header and Trail's column
    kind: str  # "date", "count" (a non-negative integer), "text", "number" (≥ 0, rounded)
    required: bool = True


def _c(name: str, kind: str = "count", required: bool = True) -> Column:
    return Column(name, kind, required)


_VISIT_COUNTS = (_c("visitors"), _c("visits"), _c("visit_duration", "number"), _c("bounces"))
_PAGEVIEWS = _c("pageviews")

# Plausible's file → its columns (Plausible's CSV import guidelines). Columns Plausible added
# in later versions are optional; a column not listed here is a wrong header.
FILES: dict[str, tuple[Column, ...]] = {
    "imported_visitors": (
        _c("date", "date"),
        _c("visitors"),
        _PAGEVIEWS,
        _c("bounces"),
        _c("visits"),
        _c("visit_duration", "number"),
    ),
    "imported_sources": (
        _c("date", "date"),
        _c("source", "text"),
        _c("referrer", "text", False),
        _c("utm_source", "text", False),
        _c("utm_medium", "text", False),
        _c("utm_campaign", "text", False),
        _c("utm_content", "text", False),
        _c("utm_term", "text", False),
        _PAGEVIEWS,
        *_VISIT_COUNTS,
    ),
    "imported_pages": (
        _c("date", "date"),
        _c("hostname", "text", False),
        _c("page", "text"),
        _c("visits", "count", False),
        _c("visitors"),
        _PAGEVIEWS,
        _c("exits", "count", False),
        _c("time_on_page", "number", False),
        # newer exports' engagement columns: accepted, not (yet) used
        _c("total_time_on_page", "number", False),
        _c("total_time_on_page_visits", "number", False),
        _c("total_scroll_depth", "number", False),
        _c("total_scroll_depth_visits", "number", False),
        _c("active_visitors", "number", False),
    ),
    "imported_entry_pages": (
        _c("date", "date"),
        _c("entry_page", "text"),
        _c("visitors"),
        _c("entrances"),
        _c("visit_duration", "number"),
        _c("bounces"),
        _c("pageviews", "count", False),
    ),
    "imported_exit_pages": (
        _c("date", "date"),
        _c("exit_page", "text"),
        _c("visitors"),
        _c("visit_duration", "number", False),
        _c("exits"),
        _c("bounces", "count", False),
        _c("pageviews", "count", False),
    ),
    "imported_locations": (
        _c("date", "date"),
        _c("country", "text"),
        _c("region", "text", False),
        _c("city", "count", False),
        _PAGEVIEWS,
        *_VISIT_COUNTS,
    ),
    "imported_devices": (_c("date", "date"), _c("device", "text"), _PAGEVIEWS, *_VISIT_COUNTS),
    "imported_browsers": (
        _c("date", "date"),
        _c("browser", "text"),
        _c("browser_version", "text", False),
        _PAGEVIEWS,
        *_VISIT_COUNTS,
    ),
    "imported_operating_systems": (
        _c("date", "date"),
        _c("operating_system", "text"),
        _c("operating_system_version", "text", False),
        _PAGEVIEWS,
        *_VISIT_COUNTS,
    ),
    "imported_custom_events": (
        _c("date", "date"),
        _c("name", "text"),
        _c("link_url", "text", False),
        _c("path", "text", False),
        _c("visitors"),
        _c("events"),
    ),
}
# What the tables keep of each file (migration 0005); a column a file lacks is stored as 0 / "".
_UNUSED = {"total_time_on_page", "total_time_on_page_visits", "total_scroll_depth"}
_UNUSED |= {"total_scroll_depth_visits", "active_visitors"}
STORED = {
    table: tuple(c.name for c in columns if c.name not in _UNUSED)
    for table, columns in FILES.items()
}
# `imported_visitors_20230101_20231231.csv` (Plausible names files with their range), or plain.
_NAME = re.compile(r"^(imported_[a-z_]+?)(?:_\d{8}_\d{8})?\.csv$")


def max_bytes() -> int:
    """`TRAIL_IMPORT_MAX_BYTES` (settings.TRAIL.import_max_bytes) once the configuration has it."""
    return int(getattr(settings.TRAIL, "import_max_bytes", 0) or DEFAULT_MAX_BYTES)


def _table_of(name: str) -> str:
    base = PurePosixPath(name).name
    match = _NAME.match(base)
    if not match or match.group(1) not in FILES:
        raise BadImportFile(name, f"not a file of Plausible's export (known: {', '.join(FILES)})")
    return match.group(1)


def _unsafe_name(name: str) -> bool:
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return True
    return any(part == ".." for part in re.split(r"[\\/]", name))


def checked_members(archive: zipfile.ZipFile, file: str, limit: int) -> list[zipfile.ZipInfo]:
    """The zip's CSV members, after the name and zip-bomb checks (`BadImportFile` else)."""
    members, total = [], 0
    for info in archive.infolist():
        if _unsafe_name(info.filename):
            raise BadImportFile(file, f"member name {info.filename[:200]!r} leaves the archive")
        if info.is_dir():
            continue
        total += info.file_size
        if total > limit:
            raise BadImportFile(file, f"uncompressed size over the limit of {limit} bytes")
        if info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise BadImportFile(
                file, f"{info.filename[:200]} inflates more than {MAX_RATIO} times (a zip bomb)"
            )
        _table_of(info.filename)
        members.append(info)
    if not members:
        raise BadImportFile(file, "no imported_*.csv file in the zip")
    return members


class _Capped(io.RawIOBase):
    """A member's bytes, stopped at its declared size: a zip that lies about it is refused."""

    def __init__(self, raw: Any, name: str, cap: int) -> None:
        self.raw, self.name, self.cap, self.read_bytes = raw, name, cap, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        self.read_bytes += len(data)
        if self.read_bytes > self.cap:
            raise BadImportFile(self.name, "more bytes than the zip declares (a zip bomb)")
        buffer[: len(data)] = data
        return len(data)


def _cell(file: str, line: int, column: Column, text: str) -> Any:
    def bad(message: str) -> BadImportFile:
        return BadImportFile(file, message, line=line, column=column.name)

    if column.kind == "date":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise bad(f"expected a date YYYY-MM-DD, not {text[:40]!r}") from None
    if column.kind == "text":
        if len(text) > MAX_CELL:
            raise bad(f"longer than {MAX_CELL} characters")
        return text
    if text == "":
        return 0
    if column.kind == "count":
        if not text.isascii() or not text.isdigit() or len(text) > 19:
            raise bad(f"expected a whole number ≥ 0, not {text[:40]!r}")
        return int(text)
    try:
        value = float(text)
    except ValueError:
        raise bad(f"expected a number ≥ 0, not {text[:40]!r}") from None
    if not 0 <= value < 2**63:
        raise bad(f"expected a number ≥ 0, not {text[:40]!r}")
    return int(round(value))


def read_rows(name: str, table: str, lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The rows of one CSV (its header checked against `FILES[table]`), values typed."""
    columns = {c.name: c for c in FILES[table]}
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise BadImportFile(name, "empty file: expected a header line", line=1)
    header = [h.strip() for h in header]
    for h in header:
        if h not in columns:
            raise BadImportFile(name, f"unknown column {h[:60]!r}", line=1, column=h[:60])
    if len(set(header)) != len(header):
        raise BadImportFile(name, "a column is named twice", line=1)
    missing = [c.name for c in FILES[table] if c.required and c.name not in header]
    if missing:
        raise BadImportFile(name, "missing column", line=1, column=missing[0])
    wanted = [(i, columns[h]) for i, h in enumerate(header) if h in STORED[table]]
    for row in reader:
        line = reader.line_num
        if not row:
            continue
        if len(row) != len(header):
            raise BadImportFile(name, f"{len(row)} cells, the header has {len(header)}", line=line)
        yield {column.name: _cell(name, line, column, row[i]) for i, column in wanted}


def _columns_of(
    table: str, rows: list[dict[str, Any]], site_id: int, import_id: str
) -> dict[str, list[Any]]:
    names = STORED[table]
    kinds = {c.name: c.kind for c in FILES[table]}
    out: dict[str, list[Any]] = {
        "site_id": [site_id] * len(rows),
        "import_id": [import_id] * len(rows),
    }
    for name in names:
        empty: Any = "" if kinds[name] == "text" else 0
        out[name] = [row.get(name, empty) for row in rows]
    return out


def run(
    *, site: Any, import_id: str | int, path: str | Path, progress: Progress, name: str = ""
) -> dict[str, Any]:
    """Import Plausible's export zip at `path` (uploaded as `name`) into `site`'s imported
    tables as `import_id`; `{"files": {table: rows}, "rows", "skipped_rows", "first_day",
    "last_day"}`. Rows on or after the day of the site's first own event are skipped (that
    day is Trail's). Any bad file raises `BadImportFile` after removing what this import
    had written. `progress(fraction, rows=…)` as a data job's context takes it."""
    try:
        found = _run(
            site.id, STAGING + str(import_id), Path(path), progress, name or Path(path).name
        )
        _publish(site.id, str(import_id))
        return found
    except BaseException:
        delete(site.id, import_id)
        raise


def _run(site_id: int, import_id: str, path: Path, progress: Progress, file: str) -> dict[str, Any]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise BadImportFile(file, "not a zip file") from None
    client = get_client()
    native = run_select(first_day_select(site_id))
    # Days Trail has events of are Trail's: imported rows stop the day before the first.
    cut = native[0]["first"] if native else None
    counts: dict[str, int] = {}
    skipped = 0
    first: dt.date | None = None
    last: dt.date | None = None
    with archive:
        members = checked_members(archive, file, max_bytes())
        total = sum(m.file_size for m in members) or 1
        done, rows_done = 0, 0
        for info in members:
            table = _table_of(info.filename)
            capped = _Capped(archive.open(info), info.filename, info.file_size)
            text = io.TextIOWrapper(io.BufferedReader(capped), encoding="utf-8-sig", newline="")
            chunk: list[dict[str, Any]] = []
            member_rows = 0
            try:
                for row in read_rows(info.filename, table, text):
                    day = row["date"]
                    if cut is not None and day >= cut:
                        skipped += 1
                        continue
                    first = day if first is None or day < first else first
                    last = day if last is None or day > last else last
                    chunk.append(row)
                    member_rows += 1
                    if len(chunk) >= CHUNK_ROWS:
                        client.insert(table, _columns_of(table, chunk, site_id, import_id))
                        rows_done += len(chunk)
                        chunk = []
                        progress((done + capped.read_bytes) / total, rows=rows_done)
            except UnicodeDecodeError:
                raise BadImportFile(info.filename, "not UTF-8 text") from None
            except csv.Error as exc:
                raise BadImportFile(info.filename, f"not CSV: {exc}") from None
            if chunk:
                client.insert(table, _columns_of(table, chunk, site_id, import_id))
                rows_done += len(chunk)
            counts[table] = counts.get(table, 0) + member_rows
            done += info.file_size
            progress(done / total, rows=rows_done)
    return {
        "files": counts,
        "rows": rows_done,
        "skipped_rows": skipped,  # on or after the first day of Trail's own events
        "first_day": first.isoformat() if first else None,
        "last_day": last.isoformat() if last else None,
    }


def _publish(site_id: int, import_id: str) -> None:
    """The staged rows under the import's own id, then the staged ones removed: reports
    (which skip staged rows) see the whole import at once, never a part of it."""
    client = get_client()
    params = {"site": site_id, "final": import_id, "staged": STAGING + import_id}
    for table in FILES:
        columns = ", ".join(STORED[table])
        client.command(
            f"INSERT INTO {table} (site_id, import_id, {columns})"  # noqa: S608 (our names)
            f" SELECT site_id, {{final:String}}, {columns} FROM {table}"
            " WHERE site_id = {site:UInt64} AND import_id = {staged:String}",
            params,
        )
    _delete(site_id, STAGING + import_id)


def delete(site_id: int, import_id: str | int) -> None:
    """Remove every row `import_id` wrote (all imported tables, staged ones too): deleting
    an import, or cleaning up after a failed or cancelled one."""
    _delete(site_id, str(import_id))
    _delete(site_id, STAGING + str(import_id))


def _delete(site_id: int, import_id: str) -> None:
    """Drop the import's partition (`PARTITION BY (site_id, import_id)`, migration 0005)."""
    for table in FILES:
        drop_partition(get_client(), table, (int(site_id), import_id))


def handle(job_run: Any) -> None:
    """The `plausible_csv` import job (reports.imports.services.ImportRun): each uploaded zip
    in turn, progress by bytes; the job's rows and first/last day recorded as raw imports
    record theirs."""
    from events.models import DataJob

    ctx, files = job_run.ctx, job_run.files
    sizes = [max(path.stat().st_size, 1) for _, path in files]
    total, done = sum(sizes) or 1, 0
    rows, first, last = 0, None, None
    per_file: dict[str, int] = {}
    for (name, path), size in zip(files, sizes, strict=True):

        def progress(
            fraction: float, *, rows: int = 0, _at: tuple[int, int, int] = (done, size, rows)
        ) -> None:
            before, size_, rows_before = _at
            ctx.progress((before + fraction * size_) / total * 0.99, rows=rows_before + rows)

        found = run(
            site=job_run.site, import_id=job_run.import_id, path=path, progress=progress, name=name
        )
        rows += found["rows"]
        for table, n in found["files"].items():
            per_file[table] = per_file.get(table, 0) + n
        if found["first_day"]:
            first = min(first or found["first_day"], found["first_day"])
            last = max(last or found["last_day"], found["last_day"])
        done += size
    job = ctx.job
    parameters = {**job.parameters, "first_day": first, "last_day": last, "tables": per_file}
    DataJob.objects.filter(pk=job.pk).update(parameters=parameters, rows=rows)
    job.parameters, job.rows = parameters, rows
