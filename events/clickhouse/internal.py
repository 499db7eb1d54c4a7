"""The write path's cross-site ClickHouse reads and deletes: internal, and cross-tenant.

Reports read ClickHouse only through the guarded builder (`reports/sql/`), which confines
every query to one site. The few statements here are the exceptions: the flush and the
purge job run for the whole installation, never on behalf of a user, so one statement may
touch the rows of many sites (of any organization). They are gathered here so that the
exceptions are few and in one place:

- `stored_event_ids`: which client-supplied event ids ClickHouse already holds (the flush's
  deduplication of batch retries);
- `open_visits`: the visits of a block's visitors that may still continue (the flush's
  session stitching);
- `purge_site`: delete a deleted site's events and visits (the purge job);
- `delete_before`: delete the raw rows of many sites older than a cutoff (the retention
  job: sites that keep the same number of days share one statement per table);
- `drop_partition`: drop one partition of a table partitioned by import (an import's
  staged or imported rows, when it is published, deleted or abandoned).

Nothing here takes input from a request: site ids and visitor hashes come from the spool
and the accounts database. Do not call these from a view or an API.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping

from django.conf import settings

from events.clickhouse.base import ClickHouse, checked_identifier, on_cluster, quoted
from events.clickhouse.cluster import local_table
from events.rows import EventRow
from events.sessions import TIMEOUT, VISIT_COLUMNS, Visit


def stored_event_ids(client: ClickHouse, table: str, rows: list[EventRow]) -> set[str]:
    """The client-supplied ids among `rows` that ClickHouse holds already."""
    if not rows:
        return set()
    found = client.query(
        f"SELECT DISTINCT toString(event_id) AS id FROM {checked_identifier(table)}"  # noqa: S608
        " WHERE site_id IN {sites:Array(UInt64)} AND event_id IN {ids:Array(UUID)}"
        " AND toDate(timestamp) BETWEEN {first:Date} AND {last:Date}",
        {
            "sites": sorted({row.site_id for row in rows}),
            "ids": [str(row.event_id) for row in rows],
            "first": min(row.timestamp for row in rows).date(),
            "last": max(row.timestamp for row in rows).date(),
        },
    )
    return {row["id"] for row in found}


_OPEN_VISITS = (
    f"SELECT {', '.join(VISIT_COLUMNS)}"  # noqa: S608 (column names from the dataclass)
    """
FROM sessions FINAL
WHERE site_id IN {sites:Array(UInt64)}
  AND toDate(start) >= toDate({since:DateTime64(3, 'UTC')}) - 1
  AND (site_id, visitor_id) IN {visitors:Array(Tuple(UInt64, UInt64))}
  AND timestamp >= {since:DateTime64(3, 'UTC')}
  AND sign = 1
"""
)


def open_visits(client: ClickHouse, rows: list[EventRow]) -> dict[tuple[int, int], list[Visit]]:
    """The visits of the rows' visitors that may still take one of the rows."""
    if not rows:
        return {}
    since = min(row.timestamp for row in rows) - TIMEOUT
    visitors = sorted({(row.site_id, row.visitor_id) for row in rows})
    found = client.query(
        _OPEN_VISITS,
        {
            "sites": sorted({site for site, _ in visitors}),
            "since": since,
            "visitors": visitors,
        },
    )
    latest: dict[int, Visit] = {}  # FINAL collapses versions; keep the newest if it lagged
    for values in found:
        visit = Visit(**values)
        current = latest.get(visit.session_id)
        if current is None or visit.version > current.version:
            latest[visit.session_id] = visit
    visits: dict[tuple[int, int], list[Visit]] = {}
    for visit in latest.values():
        visits.setdefault((visit.site_id, visit.visitor_id), []).append(visit)
    return visits


def purge_site(client: ClickHouse, site_id: int) -> None:
    """Delete every event and visit of the site (a deleted one: the purge job), and its
    rollups (migrations 0008 and 0009; the lists of sites' pending, mixed and closed days
    included)."""
    cluster = settings.CLICKHOUSE.cluster
    rollups = ("rollup_events", "rollup_sessions", "rollup_events_daily", "rollup_sessions_daily")
    for table in (
        "events",
        "sessions",
        *rollups,
        "rollup_pending",
        "rollup_mixed",
        "rollup_closed",
    ):
        client.command(
            f"DELETE FROM {local_table(table, cluster)}{on_cluster(cluster)}"  # noqa: S608
            " WHERE site_id = {site:UInt64}",
            {"site": site_id},
        )


_PARTITION_TEXT = re.compile(r"^[A-Za-z0-9:_-]{1,80}$")


def delete_before(
    client: ClickHouse, tables: Mapping[str, str], site_ids: list[int], cutoff: dt.datetime
) -> dict[int, int]:
    """Delete the rows of these sites older than `cutoff` from each table (name → its time
    column; lightweight deletes, one statement per table); rows removed by site. The count
    first reads the sort key's prefix only, and spares a mutation when nothing is older
    (most runs)."""
    removed: dict[int, int] = defaultdict(int)
    for table, column in tables.items():
        checked_identifier(table)
        checked_identifier(column)
        older = f"{column} < {{cutoff:DateTime64(3, 'UTC')}}"
        found = client.query(
            f"SELECT site_id, count() AS n FROM {table}"  # noqa: S608 (checked names)
            f" WHERE site_id IN {{sites:Array(UInt64)}} AND {older} GROUP BY site_id",
            {"sites": site_ids, "cutoff": cutoff},
        )
        if not found:
            continue
        cluster = settings.CLICKHOUSE.cluster
        client.command(
            f"DELETE FROM {local_table(table, cluster)}{on_cluster(cluster)}"  # noqa: S608
            f" WHERE site_id IN {{sites:Array(UInt64)}} AND {older}",
            {"sites": sorted(int(row["site_id"]) for row in found), "cutoff": cutoff},
        )
        for row in found:
            removed[int(row["site_id"])] += int(row["n"])
    return dict(removed)


def drop_partition(client: ClickHouse, table: str, values: tuple[int | str, ...]) -> None:
    """`ALTER TABLE table DROP PARTITION (values)` (on the cluster when there is one):
    partitions take no bound parameters, so the values are whole numbers or plain ids."""
    for value in values:
        if isinstance(value, str) and not _PARTITION_TEXT.match(value):
            raise ValueError(f"bad partition value {value[:80]!r}")
    literal = ", ".join(str(int(v)) if isinstance(v, int) else quoted(v) for v in values)
    cluster = settings.CLICKHOUSE.cluster
    local = local_table(checked_identifier(table), cluster)
    client.command(f"ALTER TABLE {local}{on_cluster(cluster)} DROP PARTITION ({literal})")
