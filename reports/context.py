"""What parsing a site's request needs from storage (a `reports.query.ParseContext`),
loaded once by the caller and handed to the parsers (`reports.parse.parse`,
`reports.funnels.parse`), which do no I/O themselves.

- The site's goals (`sites.Goal`), for `event:goal` filters and dimensions.
- The first day of the site's data, where a `date_range` of "all" begins. It is read from
  ClickHouse only for a body that asks for "all", and kept on the site's row
  (`Site.stats_start_date`) once it is final: the batch API accepts events up to
  `MAX_PAST` old, so a first day older than that (and `SETTLE` more, for a spool backlog
  or dead letters replayed late) can no longer move earlier. A younger one is looked up
  again on each such request, exactly as before it was kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils.timezone import now as current_time

from events.ingest.request import MAX_PAST
from reports import dates
from reports.query import GoalDefinition, ParseContext
from reports.sql.builder import run
from reports.sql.selects import first_day_select
from sites.models import Goal, Site

# A local day starts up to a day before its UTC date (time zones run from -12 to +14 hours).
_ZONE_MARGIN = dt.timedelta(days=1)
SETTLE = dt.timedelta(days=7)


def load_context(
    site: Site, body: Mapping[str, Any], *, now: dt.datetime | None = None
) -> ParseContext:
    """The goals of `site`, and its first day of data when `body` asks for "all"."""
    return ParseContext(
        goals=site_goals(site),
        first_day=first_day_of_data(site, now=now) if body.get("date_range") == "all" else None,
    )


def site_goals(site: Site) -> tuple[GoalDefinition, ...]:
    return tuple(
        GoalDefinition(
            name=goal.display_name,
            kind="event" if goal.kind == Goal.Kind.EVENT else "page",
            value=goal.value,
            currency=goal.currency,
        )
        for goal in site.goals.order_by("id")
    )


def first_day_of_data(site: Site, *, now: dt.datetime | None = None) -> dt.date | None:
    """The first local day with data (where "all" starts): a day before the UTC day of the
    site's first event, whatever the time zone."""
    first = site.stats_start_date or _first_event_day(site, now or current_time())
    return None if first is None else first - _ZONE_MARGIN


def _first_event_day(site: Site, now: dt.datetime) -> dt.date | None:
    """The UTC day of the site's first event, kept on its row once no event can precede it."""
    found = run(first_day_select(site.id))
    if not found:
        return None
    first: dt.date = found[0]["first"]
    if first < (now - MAX_PAST - SETTLE).astimezone(dt.UTC).date():
        site.stats_start_date = first
        site.save(update_fields=["stats_start_date"])
    return first


def site_range(
    site: Site, value: object, *, timezone: str, now: dt.datetime | None = None
) -> dates.DateRange:
    """A `date_range` of a site's report outside a request body: "all" starts at the site's
    first data."""
    first_day = first_day_of_data(site, now=now) if value == "all" else None
    return dates.resolve(value, timezone=timezone, first_day=first_day, now=now)
