"""Taking a backup: in the process that may open ClickHouse (the command itself, or the
running embedded Trail asked through `trail.backup.channel`).

The backup is consistent at the moment the spool is copied: the spool is flushed first,
then the flush is paused (its lock held, in every process: a thread lock in embedded mode,
the Redis lock in services mode) while the accounts database, the spool's remaining
segments and every ClickHouse table are copied. An event is therefore either in a copied
segment or in ClickHouse, never both (a restored segment is flushed once) and never
neither. Events accepted after the copy of the spool belong to the next backup.

ClickHouse's tables are found in `system.tables` (`trail.move.tables`: every MergeTree table
but the migration ledger), so tables added by later migrations are included. Each leaves in
chunks of whole sites (many small ones together) or of a big site's whole days
(`trail.move.plan`) in ClickHouse's Native format, the same bytes on chDB and on a server:
no row is decoded in Python, every column type (aggregate states too) survives. `BACKUP …
TO File()` was not used: the ClickHouse server Debian ships (18.16) has no BACKUP, and a
server writes it on its own disk, not where the command runs.

The backup is written into a hidden sibling directory and renamed into place once the
manifest is written: a backup directory with a manifest is whole.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from events.clickhouse import ClickHouse, get_client
from events.clickhouse.cluster import refuse_on_cluster
from events.clickhouse.migrate import applied_versions
from events.flush import FlushBusy, flush_paused
from events.flush import flush_spool as _registered_flush
from events.spool import OPEN_SUFFIX, SEGMENT_SUFFIX, segment_lines, spool_dir
from trail import move
from trail.backup.manifest import BackupError, Manifest

# `periodic` types the flush as taking no argument; it takes keywords.
flush_spool: Any = _registered_flush
Log = Callable[[str], None]
SQLITE_FILE = "database/accounts.sqlite3"
PGDUMP_FILE = "database/accounts.pgdump"


def database_engine() -> str:
    vendor = connection.vendor
    if vendor not in ("sqlite", "postgresql"):
        raise BackupError(f"the accounts database is {vendor}: Trail backs up SQLite or PostgreSQL")
    return vendor


def check_output(output: Path) -> None:
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise BackupError(f"--output {output}: exists and is not an empty directory")
    if not output.parent.is_dir():
        raise BackupError(f"--output {output}: its parent directory does not exist")


def versions(client: ClickHouse) -> dict[str, Any]:
    """Trail's version and the migrations applied to both databases."""
    try:
        trail = metadata.version("trail")
    except metadata.PackageNotFoundError:
        trail = "unknown"
    django = sorted(
        f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations()
    )
    return {
        "trail": trail,
        "django_migrations": django,
        "clickhouse_migrations": sorted(applied_versions(client)),
    }


@contextlib.contextmanager
def _paused() -> Iterator[Callable[[], bool]]:
    """The flush paused for the backup; a flush that would not stop is a `BackupError`."""
    try:
        with flush_paused() as extend:
            yield extend
    except FlushBusy as exc:
        raise BackupError(str(exc)) from None


def take(
    output: Path, *, log: Log, progress: Any = None, client: ClickHouse | None = None
) -> Manifest:
    """Write a backup of this install into `output` (absent or empty); its manifest. Not
    on a sharded cluster yet: the tables found would be the local ones of one shard."""
    refuse_on_cluster("Taking a backup", settings.CLICKHOUSE.cluster)
    output = output.resolve()
    check_output(output)
    engine = database_engine()
    work = output.with_name(f".{output.name}.partial-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(mode=0o700)
    try:
        client = client or get_client()
        log("spool: flushing what was accepted")
        flushed = flush_spool(client=client)
        log(f"spool: {flushed.events:,} events flushed; pausing the flush")
        manifest = Manifest(
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            mode="services" if settings.TRAIL.services_mode else "embedded",
            database={"engine": engine},
            versions={},
        )
        with _paused() as extend:
            manifest.versions = versions(client)
            _database(work, manifest, engine, log)
            _spool(work, manifest, log)
            _clickhouse(work, manifest, client, log, progress, extend)
        manifest.write(work)
        if output.exists():
            output.rmdir()  # empty (checked): the finished backup takes its name
        work.rename(output)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    size = sum(int(f["bytes"]) for f in manifest.files.values())
    log(f"backup written to {output}: {manifest.rows:,} ClickHouse rows, {size / 1e6:,.1f} MB")
    return manifest


def _database(work: Path, manifest: Manifest, engine: str, log: Log) -> None:
    name = SQLITE_FILE if engine == "sqlite" else PGDUMP_FILE
    path = work / name
    path.parent.mkdir(mode=0o700)
    log(f"accounts database: {engine} -> {name}")
    if engine == "sqlite":
        if connection.in_atomic_block:  # SQLite's backup would wait for it forever
            raise BackupError("a backup cannot be taken inside a database transaction")
        connection.ensure_connection()
        target = sqlite3.connect(path)
        try:
            connection.connection.backup(target)  # SQLite's online backup: a consistent copy
        finally:
            target.close()
    else:
        _pg_dump(path)
    manifest.database["file"] = name
    manifest.add_file(work, path)


def pg_command(tool: str) -> tuple[list[str], dict[str, str]]:
    """`pg_dump`/`pg_restore` with the connection of the accounts database."""
    found = shutil.which(tool)
    if found is None:
        raise BackupError(
            f"{tool} is not installed: install PostgreSQL's client tools (Debian:"
            " postgresql-client) of the server's major version or newer"
        )
    db = connection.settings_dict
    args = [found, "--no-owner", "--no-privileges", f"--dbname={db['NAME']}"]
    if db.get("HOST"):
        args.append(f"--host={db['HOST']}")
    if db.get("PORT"):
        args.append(f"--port={db['PORT']}")
    if db.get("USER"):
        args.append(f"--username={db['USER']}")
    env = {**os.environ, "PGPASSWORD": str(db.get("PASSWORD") or "")}
    return args, env


def run_pg(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode:
        tool = Path(args[0]).name
        raise BackupError(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")


def _pg_dump(path: Path) -> None:
    args, env = pg_command("pg_dump")
    run_pg([*args, "--format=custom", f"--file={path}"], env)


def _spool(work: Path, manifest: Manifest, log: Log) -> None:
    """The segments the flush has not taken: closed ones whole, open ones up to their last
    complete line (what a writer has acknowledged), each as a closed segment."""
    source = spool_dir()
    target = work / "spool"
    target.mkdir(mode=0o700)
    if source.is_dir():
        for path in sorted(source.iterdir()):
            if path.name.endswith(SEGMENT_SUFFIX):
                name = path.name
            elif path.name.endswith(OPEN_SUFFIX):
                name = path.name[: -len(OPEN_SUFFIX)] + SEGMENT_SUFFIX
            else:
                continue
            try:
                lines = b"".join(segment_lines(path))
            except FileNotFoundError:
                continue  # closed and renamed meanwhile (its .seg is listed too)
            if not lines:
                continue
            copy = target / name
            copy.write_bytes(lines)
            manifest.spool.append(f"spool/{name}")
            manifest.add_file(work, copy, hashlib.sha256(lines).hexdigest())
    log(f"spool: {len(manifest.spool)} segment(s) not yet flushed copied")


class _Steps:
    """Chunks of every table, planned before the first is read (the total for progress)."""

    def __init__(self, client: ClickHouse) -> None:
        self.tables = [
            (table, move.plan(client, table, move.CHUNK_ROWS)) for table in move.tables(client)
        ]
        self.total = sum(chunk.rows for _, chunks in self.tables for chunk in chunks)


def _clickhouse(
    work: Path,
    manifest: Manifest,
    client: ClickHouse,
    log: Log,
    progress: Any,
    extend: Callable[[], bool],
) -> None:
    steps = _Steps(client)
    log(f"ClickHouse: {len(steps.tables)} tables, {steps.total:,} rows")
    if progress is not None:
        progress.start(steps.total)
    for table, chunks in steps.tables:
        directory = work / "clickhouse" / table.name
        directory.mkdir(mode=0o700, parents=True)
        entry: dict[str, Any] = {
            "name": table.name,
            "columns": [list(column) for column in table.columns],
            "rows": 0,
            "files": [],
        }
        for number, chunk in enumerate(chunks):
            data = move.read_chunk(client, chunk)
            path = directory / f"{number:05d}.native"
            path.write_bytes(data)
            manifest.add_file(work, path, hashlib.sha256(data).hexdigest())
            entry["files"].append(path.relative_to(work).as_posix())
            entry["rows"] += chunk.rows
            if progress is not None:
                progress.advance(chunk)
            if not extend():
                raise BackupError("lost the flush's lock during the backup: run it again")
        manifest.tables.append(entry)
    if progress is not None:
        progress.finish()
