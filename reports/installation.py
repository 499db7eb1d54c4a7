"""Has a site's snippet sent anything yet, and why were its events dropped? (the
"verify installation" page polls this).

`first_event_at` and `has_events` raise `EventStoreError` when the event store could not be
asked, so that callers can say so without knowing which store runs. `dropped_recently`
reads the collector's counters (events/ingest/drops.py), not the event store.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from events.clickhouse.errors import ClickHouseError
from events.ingest.drops import RecentDrops, recent_drops
from reports.sql.builder import Select, run
from sites.models import Site


class EventStoreError(Exception):
    """The event store refused the question or could not be reached."""


def _ask(select: Select) -> list[dict[str, Any]]:
    try:
        return run(select)
    except ClickHouseError as exc:
        raise EventStoreError(str(exc)) from exc


def first_event_at(site: Site) -> dt.datetime | None:
    [row] = _ask(
        Select(site_id=site.id, table="events", columns=("min(timestamp) AS first", "count() AS n"))
    )
    return row["first"] if row["n"] else None


def has_events(site: Site) -> bool:
    """Cheaper than `first_event_at`: stops at the first row."""
    return bool(_ask(Select(site_id=site.id, table="events", columns=("1 AS found",), limit=1)))


def dropped_recently(site: Site) -> RecentDrops:
    """The site's dropped events of the last hour, by reason (the values of
    `events.ingest.steps.DropReason`) and by refused host name."""
    return recent_drops(site_id=site.id)
