"""Has a site's snippet sent anything yet? (the "verify installation" page polls this)."""

from __future__ import annotations

import datetime as dt

from reports.sql.builder import Select, run
from sites.models import Site


def first_event_at(site: Site) -> dt.datetime | None:
    [row] = run(
        Select(site_id=site.id, table="events", columns=("min(timestamp) AS first", "count() AS n"))
    )
    return row["first"] if row["n"] else None


def has_events(site: Site) -> bool:
    """Cheaper than `first_event_at`: stops at the first row."""
    return bool(run(Select(site_id=site.id, table="events", columns=("1 AS found",), limit=1)))
