"""Restoring a backup into an install (`manage.py restore DIR`).

Order: read the manifest, check every file's checksum, check the versions (a backup from a
newer Trail is refused), the kind of accounts database and that the install is empty (or
`force`) — all before anything is written. Then: the accounts database (SQLite's backup API
onto the configured file, or `pg_restore` after dropping the existing tables), Django's
migrations (a backup from an older Trail catches up), ClickHouse's migrations, every
table's rows, and the spool's segments, flushed at once.

Tables filled by a materialized view from another table (a rollup written as events
arrive) are restored last: the view fills them again while their source is restored, so
they are emptied and then given their own backed-up rows, which may cover days whose raw
events retention already dropped.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from events.clickhouse import ClickHouse, ClickHouseLocked, get_client
from events.clickhouse.base import checked_identifier, on_cluster
from events.clickhouse.cluster import refuse_on_cluster
from events.clickhouse.migrate import discover, migrate
from events.flush import flush_spool as _registered_flush
from events.spool import spool_dir
from trail import move
from trail.backup import manifest as layout
from trail.backup.manifest import BackupError, Manifest
from trail.backup.take import Log, database_engine, pg_command, run_pg

flush_spool: Any = _registered_flush  # typed by `periodic` as taking no argument
_VIEW_TARGET = re.compile(r"\bTO\s+(?:`?\w+`?\.)?`?(\w+)`?", re.IGNORECASE)


@dataclass(frozen=True)
class Piece:
    """One restored file of a table, for the progress bar (which counts `rows`)."""

    rows: int


def check(root: Path, log: Log) -> Manifest:
    """The backup's manifest once every file and version is checked; writes nothing."""
    manifest = layout.read(root)
    log(f"checking {len(manifest.files)} files (SHA-256)")
    layout.verify(root, manifest)
    engine = database_engine()
    if engine == "postgresql":
        pg_command("pg_restore")  # installed, or the restore stops here
    if manifest.database.get("engine") != engine:
        raise BackupError(
            f"the backup holds a {manifest.database.get('engine')} accounts database and this"
            f" install uses {engine}: restore it into the same mode, then `manage.py"
            " move_data` to change modes (docs/scaling.md)"
        )
    known_ch = {migration.version for migration in discover()}
    newer_ch = sorted(set(manifest.versions.get("clickhouse_migrations", [])) - known_ch)
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known_dj = {f"{app}.{name}" for app, name in loader.disk_migrations}
    newer_dj = sorted(set(manifest.versions.get("django_migrations", [])) - known_dj)
    if newer_ch or newer_dj:
        unknown = ", ".join([*(f"ClickHouse {v:04d}" for v in newer_ch), *newer_dj][:5])
        raise BackupError(
            f"the backup comes from a newer Trail ({manifest.versions.get('trail')}; migrations"
            f" unknown here: {unknown}): upgrade Trail first"
        )
    return manifest


def holdings(client: ClickHouse) -> str:
    """What the install already holds ('' when empty): rows of Trail's models and tables."""
    held = []
    existing = set(connection.introspection.table_names())
    for model in move.moved_models():
        if model._meta.db_table in existing and model._base_manager.exists():
            held.append(model._meta.verbose_name_plural)
    for table in move.tables(client):
        name = checked_identifier(table.name)
        if client.query(f"SELECT count() > 0 AS any FROM {name}")[0]["any"]:  # noqa: S608
            held.append(f"ClickHouse table {table.name}")
    return ", ".join(str(item) for item in held[:6])


def restore(root: Path, *, force: bool, log: Log, progress: Any = None) -> Manifest:
    refuse_on_cluster("Restoring a backup", settings.CLICKHOUSE.cluster)
    root = root.resolve()
    manifest = check(root, log)
    if settings.CLICKHOUSE.embedded:
        from events.clickhouse import lock

        try:
            lock.ensure_free(settings.CLICKHOUSE.data_dir)
        except ClickHouseLocked as exc:
            raise BackupError(f"{exc} Stop Trail before restoring.") from None
    client = get_client()
    held = holdings(client)
    if held and not force:
        raise BackupError(
            f"this install is not empty (it holds {held}): restore into a fresh install, or"
            " pass --force to replace everything it holds with the backup"
        )
    _database(root, manifest, log)
    log("accounts database: applying newer migrations, if any")
    call_command("migrate", verbosity=0, interactive=False)
    migrate(client, cluster=settings.CLICKHOUSE.cluster, log=log)
    _clickhouse(root, manifest, client, log, progress)
    _spool(root, manifest, client, log)
    log(f"restored {root}: {manifest.rows:,} ClickHouse rows")
    return manifest


def _database(root: Path, manifest: Manifest, log: Log) -> None:
    path = layout.path_of(root, str(manifest.database["file"]))
    log(f"accounts database: restoring {manifest.database['engine']}")
    if manifest.database["engine"] == "sqlite":
        connection.ensure_connection()
        source = sqlite3.connect(path)
        try:
            source.backup(connection.connection)  # replaces every page of the database
        finally:
            source.close()
        return
    args, env = pg_command("pg_restore")  # installed: checked before anything is dropped
    with connection.cursor() as cursor:  # what the dump does not know must not stay either
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')  # noqa: S608
    connection.close()
    run_pg([*args, "--exit-on-error", "--single-transaction", str(path)], env)


def view_targets(client: ClickHouse) -> set[str]:
    """The tables that materialized views write into."""
    rows = client.query(
        "SELECT create_table_query AS q FROM system.tables"
        " WHERE database = currentDatabase() AND engine = 'MaterializedView'"
    )
    found = set()
    for row in rows:
        match = _VIEW_TARGET.search(str(row["q"]).split(" AS SELECT", 1)[0])
        if match:
            found.add(match.group(1))
    return found


def _truncate(client: ClickHouse, table: str) -> None:
    cluster = on_cluster(settings.CLICKHOUSE.cluster)
    client.command(f"TRUNCATE TABLE IF EXISTS {checked_identifier(table)}{cluster}")


def _clickhouse(
    root: Path, manifest: Manifest, client: ClickHouse, log: Log, progress: Any
) -> None:
    present = {table.name for table in move.tables(client)}
    for name in sorted({str(t["name"]) for t in manifest.tables} - present):
        # as move_data: a table Trail's migrations do not make is an operator's own
        log(f"ClickHouse: {name} is not one of Trail's tables: not restored")
    for name in sorted(present):  # --force: the install's own rows go
        _truncate(client, name)
    targets = view_targets(client)
    ordered = sorted(
        (t for t in manifest.tables if t["name"] in present),
        key=lambda t: (t["name"] in targets, t["name"]),
    )
    rows = sum(int(t["rows"]) for t in ordered)
    log(f"ClickHouse: {len(ordered)} tables, {rows:,} rows")
    if progress is not None:
        progress.start(rows)
    for entry in ordered:
        name = checked_identifier(str(entry["name"]))
        if name in targets:
            _truncate(client, name)  # filled by its view meanwhile: its own rows instead
        names = [checked_identifier(str(column[0])) for column in entry["columns"]]
        files = list(entry["files"])
        for number, file in enumerate(files):
            data = layout.path_of(root, file).read_bytes()
            if data:
                token = f"restore-{uuid.uuid4().hex}"
                client.insert_raw(name, names, data, fmt="Native", dedup_token=token)
            if progress is not None:  # rows per file are not recorded: spread evenly
                share = int(entry["rows"]) // len(files)
                last = int(entry["rows"]) - share * (len(files) - 1)
                progress.advance(Piece(last if number == len(files) - 1 else share))
    if progress is not None:
        progress.finish()


def _spool(root: Path, manifest: Manifest, client: ClickHouse, log: Log) -> None:
    if not manifest.spool:
        return
    target = spool_dir()
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name in manifest.spool:
        shutil.copyfile(layout.path_of(root, name), target / Path(name).name)
    report = flush_spool(client=client)
    log(f"spool: {len(manifest.spool)} segment(s) restored, {report.events:,} events flushed")
