"""Moving an install: copy this configuration's data into another one (`manage.py move_data`).

What moves:
- the accounts database: every model of Trail's apps (and allauth's e-mail addresses), in
  foreign-key order, primary keys kept, in one transaction of the target database (which
  is migrated first and must hold none of Trail's rows);
- ClickHouse: every Trail table of the source (events, sessions, and whatever later
  migrations add), per table, in chunks of whole sites (many small ones together) or, for
  a site too big for one chunk, of its whole days (`plan`). A chunk leaves
  the source in ClickHouse's own `Native` format (`ClickHouse.stream`) and goes into the
  target as it is, in one request (`ClickHouse.insert_raw`): no row is ever decoded or
  encoded in Python, and the next chunk is read while this one is written. The target's
  tables are made by the project's ClickHouse migrations.

Resuming: each finished step (the accounts database, each chunk) is recorded in the
target's ClickHouse table `trail_move_checkpoints`; a new run skips recorded steps. A chunk
interrupted between its insert and its record is measured in the target: whole, it is
recorded; partly there, its rows are deleted and it is copied again (with a fresh
deduplication token, so ClickHouse's block deduplication cannot drop the new copy).

Measures: a table is compared by `count()`, except a collapsing table (one with a `sign`
column: `sessions`), compared by `sum(sign)` (the visits it holds), which background
merges do not change on either side.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import environ
from django.apps import apps
from django.conf import settings
from django.core.management.color import no_style
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.utils import DatabaseError, load_backend

from events.clickhouse import ClickHouse, ClickHouseError
from events.clickhouse.base import checked_identifier
from events.clickhouse.cluster import refuse_on_cluster
from events.clickhouse.migrate import LEDGER, migrate
from trail.config import redact

TARGET_ALIAS = "move_target"
CHECKPOINTS = "trail_move_checkpoints"
CHUNK_ROWS = 1_000_000  # rows per chunk (whole days: a busy day may make a bigger one)
DJANGO_STEP = "database"
# The accounts database's apps that move: Trail's own, and allauth's e-mail addresses.
APP_LABELS = ("accounts", "trail_sites", "events", "reports", "frontend", "trail", "account")
_CHECKPOINTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {CHECKPOINTS}
(
    step    String,
    rows    Int64,
    done_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY step
"""
_PARTITION_COLUMN = re.compile(r"^\w+\((\w+)\)$")

Log = Callable[[str], None]


class Progress(Protocol):
    def start(self, total_rows: int) -> None: ...
    def advance(self, chunk: Chunk) -> None: ...
    def finish(self) -> None: ...


class MoveError(Exception):
    """The move cannot start or did not verify; the message names the option or table."""


# --- the target -------------------------------------------------------------------------


def open_database(url: str) -> str:
    """Register the target database under `TARGET_ALIAS` and connect to it."""
    scheme = urlsplit(url).scheme
    if scheme not in ("postgres", "postgresql", "sqlite"):
        raise MoveError(
            f"--to-database: expected a postgresql:// or sqlite:/// URL, got {redact(url)!r}"
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # noqa: BLE001 (any parse failure is the user's URL)
        raise MoveError(f"--to-database: malformed URL {redact(url)!r} ({exc})") from None
    if not config.get("NAME"):
        raise MoveError(f"--to-database: {redact(url)!r} names no database")
    source = connections["default"].settings_dict
    if all(config.get(k) == source.get(k) for k in ("ENGINE", "NAME", "HOST", "PORT")):
        raise MoveError("--to-database: the target is the database Trail runs on")
    if scheme == "sqlite":
        parent = Path(str(config["NAME"])).parent
        if not parent.is_dir():
            raise MoveError(f"--to-database: the directory {parent} does not exist")
    close_database()
    # A connection of this process alone, not a configured database: it exists for the move.
    config = connections.configure_settings(
        {DEFAULT_DB_ALIAS: dict(source), TARGET_ALIAS: dict(config)}
    )[TARGET_ALIAS]
    connections[TARGET_ALIAS] = load_backend(str(config["ENGINE"])).DatabaseWrapper(
        config, TARGET_ALIAS
    )
    try:
        connections[TARGET_ALIAS].ensure_connection()
    except DatabaseError as exc:
        close_database()
        raise MoveError(
            f"--to-database: cannot connect to {redact(url)} ({str(exc).strip()})"
        ) from None
    return TARGET_ALIAS


def close_database() -> None:
    wrapper = getattr(connections._connections, TARGET_ALIAS, None)  # type: ignore[attr-defined]
    if wrapper is not None:
        wrapper.close()
        delattr(connections._connections, TARGET_ALIAS)  # type: ignore[attr-defined]


def open_clickhouse(url: str, source: ClickHouse) -> ClickHouse:
    """The target ClickHouse server, answering."""
    from events.clickhouse.server import ServerClickHouse

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MoveError(
            f"--to-clickhouse: expected an http:// or https:// URL of a ClickHouse server,"
            f" got {redact(url)!r}"
        )
    if getattr(source, "url", None) == url:
        raise MoveError("--to-clickhouse: the target is the ClickHouse Trail runs on")
    target = ServerClickHouse(url)
    try:
        target.ping()
    except ClickHouseError as exc:
        target.close()
        raise MoveError(f"--to-clickhouse: cannot reach {redact(url)} ({exc})") from None
    return target


# --- checkpoints ------------------------------------------------------------------------


def done_steps(target: ClickHouse) -> dict[str, int]:
    target.command(_CHECKPOINTS_DDL)
    rows = target.query(f"SELECT step, any(rows) AS rows FROM {CHECKPOINTS} GROUP BY step")  # noqa: S608
    return {row["step"]: int(row["rows"]) for row in rows}


def record(target: ClickHouse, step: str, rows: int) -> None:
    target.insert(CHECKPOINTS, {"step": [step], "rows": [rows]})


# --- the accounts database --------------------------------------------------------------


def moved_models() -> list[type[models.Model]]:
    """The models that move, each after the models its foreign keys point to."""
    chosen = [
        model
        for label in APP_LABELS
        if label in {c.label for c in apps.get_app_configs()}
        for model in apps.get_app_config(label).get_models()
        if not model._meta.proxy and model._meta.managed
    ]
    through: list[type[models.Model]] = [
        f.remote_field.through  # type: ignore[misc]
        for model in chosen
        for f in model._meta.local_many_to_many
        if f.remote_field.through._meta.auto_created  # type: ignore[union-attr]
        and f.related_model in chosen  # not auth's groups and permissions (ids differ)
    ]
    pending = chosen + through
    ordered: list[type[models.Model]] = []
    while pending:
        for model in pending:
            needs = {
                f.related_model
                for f in model._meta.concrete_fields
                if f.is_relation and f.related_model is not model
            }
            if not needs & set(pending):
                ordered.append(model)
                pending.remove(model)
                break
        else:
            raise MoveError(f"circular foreign keys among {pending}")
    return ordered


def _count(model: type[models.Model], alias: str) -> int:
    return int(model._base_manager.using(alias).count())


def _insert(model: type[models.Model], objs: list[models.Model], alias: str) -> int:
    """Insert the rows as they are: `raw`, so that no field's pre-save hook (the
    `auto_now_add` dates) replaces a stored value."""
    fields = list(model._meta.local_concrete_fields)
    size = max(1, connections[alias].ops.bulk_batch_size(fields, objs) or len(objs))
    manager = model._base_manager.using(alias)
    for start in range(0, len(objs), size):
        manager._insert(objs[start : start + size], fields=fields, raw=True, using=alias)  # type: ignore[attr-defined]
    return len(objs)


def move_database(target_alias: str, target: ClickHouse, log: Log) -> dict[str, int]:
    """Migrate the target database, then copy every moved model into it; rows per model."""
    from django.core.management import call_command
    from django.core.management.commands.migrate import Command as DjangoMigrate

    log("accounts database: migrating the target")
    call_command(DjangoMigrate(), database=target_alias, verbosity=0, interactive=False)
    ordered = moved_models()
    source_counts = {m._meta.label: _count(m, "default") for m in ordered}
    if DJANGO_STEP in done_steps(target):
        log("accounts database: copied by an earlier run")
        return source_counts
    existing = {m._meta.label: _count(m, target_alias) for m in ordered}
    if any(existing.values()):
        if existing == source_counts:  # copied, then interrupted before the record
            record(target, DJANGO_STEP, sum(existing.values()))
            return source_counts
        holding = ", ".join(f"{n} {label}" for label, n in existing.items() if n)
        raise MoveError(
            f"--to-database: the target already holds data ({holding}); use an empty one"
        )
    with transaction.atomic(using=target_alias):
        for model in ordered:
            copied = 0
            batch: list[models.Model] = []
            for obj in model._base_manager.using("default").order_by("pk").iterator(2000):
                batch.append(obj)
                if len(batch) == 2000:
                    copied += _insert(model, batch, target_alias)
                    batch = []
            copied += _insert(model, batch, target_alias)
            log(f"accounts database: {model._meta.label} {copied} rows")
        connection = connections[target_alias]
        statements = connection.ops.sequence_reset_sql(no_style(), ordered)
        if statements:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
    moved = {m._meta.label: _count(m, target_alias) for m in ordered}
    if moved != source_counts:
        raise MoveError(
            f"accounts database: counts differ after the copy: {moved} != {source_counts}"
        )
    record(target, DJANGO_STEP, sum(moved.values()))
    return source_counts


# --- ClickHouse -------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]  # (name, type) of the stored columns
    day_column: str | None  # the column the table is partitioned by (by month or day)
    collapsing: bool  # has `sign`: measured by sum(sign)

    @property
    def per_site(self) -> bool:
        return any(name == "site_id" for name, _ in self.columns)

    @property
    def measure(self) -> str:
        return "sum(sign)" if self.collapsing else "count()"


@dataclass(frozen=True)
class Chunk:
    """Rows of one table: all of them (`site_id` None), some whole days of one site, or
    every row of the sites `site_id` to `last_site` (of `only`, when given)."""

    table: Table
    site_id: int | None
    first: dt.date | None
    last: dt.date | None
    rows: int  # in the source, by `count()`
    last_site: int | None = None  # set: whole sites site_id..last_site, no day bounds
    only: tuple[int, ...] | None = None  # the sites the move is limited to (`plan`'s)

    @property
    def step(self) -> str:
        if self.last_site is not None:
            return f"{self.table.name}/{self.site_id}-{self.last_site}"
        return f"{self.table.name}/{self.site_id}/{self.first}/{self.last}"

    def where(self) -> tuple[str, dict[str, Any]]:
        if self.site_id is None:
            return "1", {}
        if self.last_site is not None:
            sql = "site_id BETWEEN {site:UInt64} AND {last_site:UInt64}"
            params: dict[str, Any] = {"site": self.site_id, "last_site": self.last_site}
            if self.only is not None:
                sql += " AND has({only:Array(UInt64)}, site_id)"
                params["only"] = list(self.only)
            return sql, params
        sql = "site_id = {site:UInt64}"
        params = {"site": self.site_id}
        if self.table.day_column and self.first is not None:
            day = checked_identifier(self.table.day_column)
            sql += f" AND toDate({day}) BETWEEN {{first:Date}} AND {{last:Date}}"
            params |= {"first": self.first, "last": self.last}
        return sql, params


def tables(client: ClickHouse) -> list[Table]:
    """Trail's tables in `client`'s database: its MergeTree tables but the migration and
    move ledgers."""
    found = client.query(
        "SELECT name, partition_key FROM system.tables WHERE database = currentDatabase()"
        " AND engine LIKE '%MergeTree' AND NOT is_temporary AND name NOT IN {skip:Array(String)}"
        " ORDER BY name",
        {"skip": [LEDGER, CHECKPOINTS]},
    )
    result = []
    for row in found:
        columns = client.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase()"
            " AND table = {table:String} AND default_kind IN ('', 'DEFAULT') ORDER BY position",
            {"table": row["name"]},
        )
        names = tuple((c["name"], c["type"]) for c in columns)
        match = _PARTITION_COLUMN.match(str(row["partition_key"]).strip())
        day = match.group(1) if match and match.group(1) in dict(names) else None
        result.append(Table(row["name"], names, day, any(n == "sign" for n, _ in names)))
    return result


def plan(
    client: ClickHouse, table: Table, chunk_rows: int, sites: frozenset[int] | None = None
) -> list[Chunk]:
    """The table's chunks of up to `chunk_rows` rows (of `sites` only, when given): sites
    that fit whole, consecutive ones together (one request for many small sites, not one
    each: an install with thousands of small sites made as many requests, and as many
    parts in a restored table); a bigger site in consecutive whole days (a single day over
    `chunk_rows` stays one chunk)."""
    name = checked_identifier(table.name)
    only = "has({sites:Array(UInt64)}, site_id)" if sites is not None else "1"
    params = {"sites": sorted(sites)} if sites is not None else {}
    if not table.per_site:
        total = client.query(f"SELECT count() AS n FROM {name}")[0]["n"]  # noqa: S608
        return [Chunk(table, None, None, None, int(total))] if total else []
    day = f"toDate({checked_identifier(table.day_column)})" if table.day_column else "NULL"
    rows = client.query(
        f"SELECT site_id, {day} AS day, count() AS n FROM {name} WHERE {only}"  # noqa: S608
        " GROUP BY site_id, day ORDER BY site_id, day",
        params,
    )
    per_site: dict[int, list[tuple[Any, int]]] = {}
    for r in rows:
        per_site.setdefault(int(r["site_id"]), []).append((r["day"], int(r["n"])))
    limited = tuple(sorted(sites)) if sites is not None else None
    chunks: list[Chunk] = []
    group: list[tuple[int, list[tuple[Any, int]]]] = []  # whole sites, consecutive
    group_rows = 0

    def close() -> None:
        nonlocal group_rows
        if len(group) == 1:
            site, days = group[0]
            chunks.append(Chunk(table, site, days[0][0], days[-1][0], group_rows))
        elif group:
            chunks.append(Chunk(table, group[0][0], None, None, group_rows, group[-1][0], limited))
        group.clear()
        group_rows = 0

    for site, days in per_site.items():
        total = sum(n for _, n in days)
        if total > chunk_rows and table.day_column is not None:
            close()
            chunks.extend(_days(table, site, days, chunk_rows))
            continue
        if group and group_rows + total > chunk_rows:
            close()
        group.append((site, days))
        group_rows += total
    close()
    return chunks


def _days(table: Table, site: int, days: list[tuple[Any, int]], chunk_rows: int) -> list[Chunk]:
    """One site's consecutive whole days, up to `chunk_rows` rows a chunk."""
    chunks: list[Chunk] = []
    open_: list[Any] = []  # [first, last, rows]
    for d, n in days:
        if open_ and open_[2] + n <= chunk_rows:
            open_[1], open_[2] = d, open_[2] + n
            continue
        if open_:
            chunks.append(Chunk(table, site, *open_))
        open_ = [d, d, n]
    if open_:
        chunks.append(Chunk(table, site, *open_))
    return chunks


def read_chunk(source: ClickHouse, chunk: Chunk) -> bytes:
    """The chunk's rows from the source in ClickHouse's `Native` format: its own column
    blocks, which the target parses as they are; no row is decoded on the way."""
    where, params = chunk.where()
    names = ", ".join(checked_identifier(name) for name, _ in chunk.table.columns)
    sql = f"SELECT {names} FROM {checked_identifier(chunk.table.name)} WHERE {where}"  # noqa: S608
    return b"".join(source.stream(sql, params, fmt="Native"))


def write_chunk(target: ClickHouse, chunk: Chunk, data: bytes) -> int:
    """Insert the chunk's `Native` blocks in one request (the target converts each column
    to its table's type, as any `INSERT … FORMAT Native`); rows written."""
    if not data:
        return 0
    token = f"move-{uuid.uuid4().hex}"  # fresh: a copy made again after a delete must land
    names = [name for name, _ in chunk.table.columns]
    target.insert_raw(chunk.table.name, names, data, fmt="Native", dedup_token=token)
    return chunk.rows


def measure(client: ClickHouse, chunk: Chunk) -> int:
    where, params = chunk.where()
    name = checked_identifier(chunk.table.name)
    sql = f"SELECT {chunk.table.measure} AS n FROM {name} WHERE {where}"  # noqa: S608
    return int(client.query(sql, params)[0]["n"] or 0)


def _clear(target: ClickHouse, chunk: Chunk) -> None:
    where, params = chunk.where()
    target.command(f"DELETE FROM {checked_identifier(chunk.table.name)} WHERE {where}", params)  # noqa: S608


def copy_chunk(
    source: ClickHouse, target: ClickHouse, chunk: Chunk, rows: Callable[[], bytes]
) -> int:
    """Copy one chunk, its `rows` read from the source, after checking what an interrupted
    run left of it in the target; rows written."""
    expected = measure(source, chunk) if chunk.table.collapsing else chunk.rows
    there = measure(target, chunk)
    if there == expected and expected != 0:
        return 0  # whole: inserted just before an interruption
    if there:
        _clear(target, chunk)
    return write_chunk(target, chunk, rows())


@dataclass
class Verified:
    table: str
    site_id: int | None
    measure: str
    source: int
    target: int

    @property
    def ok(self) -> bool:
        return self.source == self.target


def verify(
    source: ClickHouse, target: ClickHouse, table: Table, sites: frozenset[int] | None = None
) -> list[Verified]:
    """The table's measure per site (of `sites` only, when given) on both sides."""
    name = checked_identifier(table.name)
    params: dict[str, Any] = {}
    if table.per_site:
        only = "has({sites:Array(UInt64)}, site_id)" if sites is not None else "1"
        params = {"sites": sorted(sites)} if sites is not None else {}
        sql = (
            f"SELECT site_id AS site, {table.measure} AS n FROM {name} WHERE {only}"  # noqa: S608
            " GROUP BY site_id"
        )
    else:
        sql = f"SELECT NULL AS site, {table.measure} AS n FROM {name}"  # noqa: S608
    ours = {r["site"]: int(r["n"] or 0) for r in source.query(sql, params)}
    theirs = {r["site"]: int(r["n"] or 0) for r in target.query(sql, params)}
    return [
        Verified(table.name, site, table.measure, ours.get(site, 0), theirs.get(site, 0))
        for site in sorted(set(ours) | set(theirs), key=lambda s: (s is None, s or 0))
    ]


# --- the whole move ---------------------------------------------------------------------


@dataclass
class Result:
    database: dict[str, int] = field(default_factory=dict)
    copied_rows: int = 0
    skipped_chunks: int = 0
    checks: list[Verified] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def move(
    source: ClickHouse,
    target: ClickHouse,
    target_alias: str,
    *,
    chunk_rows: int = CHUNK_ROWS,
    log: Log = lambda _: None,
    progress: Progress | None = None,
    sites: frozenset[int] | None = None,
) -> Result:
    """Copy the accounts database and every ClickHouse table; verify. `sites` limits the
    ClickHouse rows to those sites (the tests' shared engine holds other tests' sites).
    Not from a sharded cluster yet: its local and Distributed tables would both be copied."""
    refuse_on_cluster("Moving data", settings.CLICKHOUSE.cluster)
    result = Result()
    log("ClickHouse: migrating the target")
    migrate(target, log=log)
    present = {t.name: t for t in tables(target)}  # what Trail's migrations made there
    wanted = []
    for table in tables(source):
        if table.name not in present:  # not one of Trail's tables (an operator's own)
            log(f"ClickHouse: {table.name} is not one of Trail's tables: left where it is")
            continue
        missing = set(dict(table.columns)) - set(dict(present[table.name].columns))
        if missing:
            raise MoveError(
                f"--to-clickhouse: the target's table {table.name} lacks"
                f" {', '.join(sorted(missing))} (its migrations are not Trail's)"
            )
        wanted.append(table)
    result.database = move_database(target_alias, target, log)
    done = done_steps(target)
    chunks = [chunk for table in wanted for chunk in plan(source, table, chunk_rows, sites)]
    todo = [chunk for chunk in chunks if chunk.step not in done]
    result.skipped_chunks = len(chunks) - len(todo)
    total = sum(chunk.rows for chunk in todo)
    log(
        f"ClickHouse: {len(todo)} chunks to copy ({total:,} rows)"
        + (f", {result.skipped_chunks} copied by an earlier run" if result.skipped_chunks else "")
    )
    if progress is not None:
        progress.start(total)
    # The next chunk is read from the source while this one goes into the target.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="move-read") as reader:
        ahead = [reader.submit(read_chunk, source, todo[0])] if todo else []
        for n, chunk in enumerate(todo):
            current = ahead.pop()
            if n + 1 < len(todo):
                ahead.append(reader.submit(read_chunk, source, todo[n + 1]))
            result.copied_rows += copy_chunk(source, target, chunk, current.result)
            current.cancel()
            record(target, chunk.step, chunk.rows)
            if progress is not None:
                progress.advance(chunk)
    if progress is not None:
        progress.finish()
    for table in wanted:
        result.checks.extend(verify(source, target, table, sites))
    return result
