"""Rollup maintenance (docs/rollups.md): their views on and off, and a site's rollups
recomputed from its raw rows.

The rollup tables (ClickHouse migration 0008) are filled by materialized views as rows are
inserted into `events` and `sessions` — only when `TRAIL_ROLLUPS` is on (`enabled()`):
`sync_views()` makes the views (events/clickhouse/rollup_views.sql) or drops them to match
the setting, at every `migrate`. Off, the planner never reads the rollups and nothing here
has work to do. A view sees inserts only: rows deleted from the raw
tables (a deletion on request, a deleted import) stay counted in the rollups until the
days they fell on are recomputed here, and a site's rows stored before the views existed
are missing from them until its first rebuild (`rollup_pending` lists those sites; the
planner reads raw events for them).

A recomputation reads the views' own SELECT from ClickHouse (`system.tables.as_select`)
and runs it over the site's rows of the given UTC days (its read of the raw table made a
read of those rows), so a rebuilt day holds exactly what the views would have written.

Days are UTC days: rollups are kept by UTC hour, and a visit belongs to the day it
started (every state row of a visit has the same start).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from django.conf import settings

from events import rollups_daily
from events.clickhouse import get_client
from events.clickhouse.base import on_cluster
from events.clickhouse.cluster import local_table
from events.clickhouse.migrate import render
from events.flush import flush_paused
from sites.models import Site

# rollup table → (its view, the raw table it reads, that table's time column)
ROLLUPS = {
    "rollup_events": ("rollup_events_mv", "events", "timestamp"),
    "rollup_sessions": ("rollup_sessions_mv", "sessions", "start"),
}
PENDING = "rollup_pending"
# The view that notes the days receiving rows inserted on another day (rollups_daily.py).
MIXED_VIEW = "rollup_mixed_mv"
VIEWS = (*(view for view, _, _ in ROLLUPS.values()), MIXED_VIEW)
# Emptied with the views dropped: every table the views or the closing job fill.
TABLES = (*ROLLUPS, *rollups_daily.SHAPES, rollups_daily.MIXED, rollups_daily.CLOSED, PENDING)
# Days recomputed per statement by `rebuild_site`: a month of raw rows at a time.
CHUNK_DAYS = 31
VIEWS_SQL = Path(__file__).resolve().parent / "clickhouse" / "rollup_views.sql"


def enabled() -> bool:
    """Are rollups kept (their views made) and read by the planner? (`TRAIL_ROLLUPS`)"""
    return bool(settings.TRAIL.rollups)


def _views_present() -> set[str]:
    found = get_client().query(
        "SELECT name FROM system.tables WHERE database = currentDatabase()"
        " AND name IN {views:Array(String)}",
        {"views": list(VIEWS)},
    )
    return {str(row["name"]) for row in found}


def sync_views(log: Callable[[str], object] | None = None) -> None:
    """Make the views when rollups are on and they are missing: every site with raw rows
    is listed pending first (its rows so far are not in the rollups; the planner reads raw
    rows for it until `rollups rebuild`). Drop them when rollups are off, and empty the
    rollup tables (they would fall behind; turned on again, every site is rebuilt)."""
    client = get_client()
    rollups_daily.forget_states()
    present = _views_present()
    cluster = settings.CLICKHOUSE.cluster
    if enabled() and len(present) < len(VIEWS):
        if not {view for view, _, _ in ROLLUPS.values()} <= present:
            client.command(f"INSERT INTO {PENDING} SELECT DISTINCT site_id FROM events")  # noqa: S608
        for statement in render(VIEWS_SQL.read_text(), cluster):
            client.command(statement)
        if log:
            log("ClickHouse: rollup views made (TRAIL_ROLLUPS on); run `rollups rebuild --all`")
    elif not enabled() and present:
        for view in sorted(present):
            client.command(f"DROP VIEW IF EXISTS {view}{on_cluster(cluster)} SYNC")
        for table in TABLES:
            client.command(
                f"TRUNCATE TABLE IF EXISTS {local_table(table, cluster)}{on_cluster(cluster)}"
            )
        if log:
            log("ClickHouse: rollup views dropped (TRAIL_ROLLUPS off)")


def _view_select(view: str, raw: str, condition: str) -> str:
    """The view's SELECT reading only the raw rows that match `condition`: its one read of
    `raw` becomes a read of a filtered subquery, so the raw table's primary key (site,
    day) skips the rest (a filter outside the view's GROUP BY could not use it)."""
    [row] = get_client().query(
        "SELECT as_select FROM system.tables WHERE database = currentDatabase()"
        " AND name = {view:String}",
        {"view": view},
    )
    select = str(row["as_select"])
    # On a cluster the view reads the shard's own `<raw>_local`; a recomputation reads every
    # shard's rows through the Distributed `<raw>` (and writes through the Distributed table).
    cluster = settings.CLICKHOUSE.cluster
    source = re.compile(rf"\bFROM ((?:`?\w+`?\.)?`?{local_table(raw, cluster)}`?)(?=[\s)])")
    found = source.findall(select)
    if len(found) != 1:
        raise RuntimeError(f"{view} does not read {raw} once: {select[:200]}")
    return source.sub(
        lambda m: f"FROM (SELECT * FROM {raw if cluster else m[1]} WHERE {condition})",  # noqa: S608 (Trail's own view and condition)
        select,
    )


def _local(table: str) -> str:
    """`table` as a DELETE names it: the local table on the cluster (a lightweight delete
    acts on parts), with `ON CLUSTER`; `table` itself without a cluster."""
    cluster = settings.CLICKHOUSE.cluster
    return f"{local_table(table, cluster)}{on_cluster(cluster)}"


def rebuild_days(site_id: int, days: Iterable[dt.date], *, now: dt.datetime | None = None) -> None:
    """Recompute `site_id`'s rollups for the UTC `days` from its raw rows: what a caller
    runs after deleting raw rows of those days (rows it did not delete stay counted,
    deleted ones go). The days' rollups are missing between the delete and the insert.
    The hourly rows come from the raw ones, then the daily rows of the days closed at
    `now` from those hourly rows (the closing job deletes old hourly rows again).

    Pass only days whose raw rows are kept: a day whose raw rows expired (retention) would
    lose its rollups, which are then the only record of it. A deletion may move a visit's
    start to the next day or drop the first events of a visit begun the day before, so the
    visits of the days on either side are recomputed too, if their raw visits are kept."""
    wanted = sorted(set(days))
    if not wanted or not enabled():
        return
    client = get_client()
    one = dt.timedelta(days=1)
    around = sorted({d + shift for d in wanted for shift in (-one, one)} - set(wanted))
    kept = client.query(
        "SELECT DISTINCT toDate(start) AS day FROM sessions WHERE site_id = {site:UInt64}"
        " AND toDate(start) IN {days:Array(Date)}",
        {"site": site_id, "days": around},
    )
    visit_days = sorted({*wanted, *(row["day"] for row in kept)})
    for table, (view, raw, column) in ROLLUPS.items():
        # every day whose visits are recomputed: its daily rows are written from both
        params = {"site": site_id, "days": visit_days}
        condition = f"site_id = {{site:UInt64}} AND toDate({column}) IN {{days:Array(Date)}}"
        # The flush paused between the delete and the recomputation: an event flushed
        # between them would be counted by the view and again by the recomputation.
        with flush_paused():
            client.command(f"DELETE FROM {_local(table)} WHERE {condition}", params)  # noqa: S608
            client.command(f"INSERT INTO {table} {_view_select(view, raw, condition)}", params)
    # The days' rows received on another day, noted again (rows stored before the view
    # that notes them existed are noted here).
    mixed = "site_id = {site:UInt64} AND toDate(timestamp) IN {days:Array(Date)}"
    client.command(
        f"INSERT INTO {rollups_daily.MIXED} {_view_select(MIXED_VIEW, 'events', mixed)}",
        {"site": site_id, "days": visit_days},
    )
    horizon = rollups_daily.closed_before(now or dt.datetime.now(dt.UTC))
    closed = [day for day in visit_days if day < horizon]
    zone = _zone_of(site_id) if closed else None
    if zone is not None:
        rollups_daily.write_days(site_id, closed, zone)


def _zone_of(site_id: int) -> str | None:
    """The site's time zone (its daily rows' pieces are cut in it); None if it is gone."""
    return Site.objects.filter(pk=site_id).values_list("timezone", flat=True).first()


def raw_days(site_id: int) -> list[dt.date]:
    """The UTC days on which `site_id` has raw events or visits (visits by their start)."""
    found = get_client().query(
        "SELECT DISTINCT toDate(timestamp) AS day FROM events WHERE site_id = {site:UInt64}"
        " UNION DISTINCT"
        " SELECT DISTINCT toDate(start) AS day FROM sessions WHERE site_id = {site:UInt64}",
        {"site": site_id},
    )
    return sorted(row["day"] for row in found)


def rebuild_site(site_id: int, *, progress: Callable[[int, int], None] | None = None) -> int:
    """Recompute every rollup of `site_id` from its raw rows, a month of days at a time,
    then take it off `rollup_pending`; `progress(done, total)` after each chunk (days).
    Days without raw rows keep their rollups (raw rows expire; rollups are kept forever).
    Returns the days rebuilt.

    Ingest goes on meanwhile: each table's days are recomputed with the flush paused
    (`rebuild_days`), so a flushed event is counted once. Rows another writer adds to the
    raw tables during a recomputation (an import publishing, a deletion rewriting visits)
    may be counted twice: run those apart (docs/rollups.md)."""
    client = get_client()
    days = raw_days(site_id)
    for at in range(0, len(days), CHUNK_DAYS):
        rebuild_days(site_id, days[at : at + CHUNK_DAYS])
        if progress is not None:
            progress(min(at + CHUNK_DAYS, len(days)), len(days))
    pending = _local(PENDING)
    client.command(f"DELETE FROM {pending} WHERE site_id = {{site:UInt64}}", {"site": site_id})  # noqa: S608
    rollups_daily.forget_states()
    return len(days)


def pending_sites() -> list[int]:
    """Sites whose rows stored before the rollups existed are not rolled up yet."""
    found = get_client().query(f"SELECT DISTINCT site_id FROM {PENDING} ORDER BY site_id")  # noqa: S608
    return [int(row["site_id"]) for row in found]
