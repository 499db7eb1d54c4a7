"""What a report must say about a site's raw-event retention (docs/retention.md).

A site may keep raw events for a limited number of days (`events.retention` drops older
ones); rollups are kept forever. A report over days before the retention start is right
when the rollups answer it, and would be silently short when it reads raw events: this
module gives the warning the Stats API puts in `meta` in that case.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from events.retention import kept_days, raw_events_since
from sites.models import Site


def retention_start(site: Site, *, now: dt.datetime | None = None) -> dt.date | None:
    """The site's first local day (in its time zone) whose raw events are all kept; None
    when none has been dropped and none will be (forever)."""
    since = raw_events_since(site, now=now)
    if since is None:
        return None
    local = since.astimezone(zoneinfo.ZoneInfo(site.timezone))
    # A cutoff is a UTC midnight: in most time zones it falls inside a local day, whose
    # earlier hours are gone, so that day is not whole any more.
    if local.time() == dt.time():
        return local.date()
    return local.date() + dt.timedelta(days=1)


def retention_warning(
    site: Site, first_day: dt.date, *, from_rollup: bool, now: dt.datetime | None = None
) -> str | None:
    """A warning for `meta` when a report read from raw events starts (`first_day`, a
    local day) before the site's raw events do; None when the rollups answered it or every
    day it covers is kept."""
    if from_rollup:
        return None
    start = retention_start(site, now=now)
    if start is None or first_day >= start:
        return None
    days = kept_days(site)
    kept = f"keeps {days} days of raw events" if days else "dropped older raw events"
    return (
        f"{site.domain} {kept}: events before {start.isoformat()} are gone, so this report,"
        " which needs raw events (its filters or dimensions are not in the rollups), counts"
        f" nothing before that day. Start the range on {start.isoformat()} or later, or"
        " drop the filters and dimensions the rollups do not hold."
    )
