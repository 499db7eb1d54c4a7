"""What parsing a site's request needs from storage (a `reports.query.ParseContext`),
loaded once by the caller and handed to the parsers (`reports.parse.parse`,
`reports.funnels.parse`), which do no I/O themselves.

- The site's goals (`sites.Goal`), for `event:goal` filters and dimensions.
- The first day of the site's data, where a `date_range` of "all" begins: the earlier of
  its own events' first day and its first imported day (Plausible's daily aggregates, the
  `imported_*` tables; raw imports are events already). It is read from ClickHouse only
  for a body that asks for "all", and kept on the site's row (`Site.stats_start_date`)
  once it is final: the batch API accepts events up to `MAX_PAST` old, so a first day
  older than that (and `SETTLE` more, for a spool backlog or dead letters replayed late)
  can no longer move earlier. A younger one is looked up again on each such request,
  exactly as before it was kept. Only an import can still move a kept day: one that
  completes (older days) or is deleted (its days gone) calls `forget_first_day`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils.timezone import now as current_time

from events.ingest.request import MAX_PAST
from reports import dates
from reports.imports.present import has_imported_aggregates
from reports.query import GoalDefinition, ParseContext
from reports.sql.builder import run
from reports.sql.imported import TABLES as IMPORTED_TABLES
from reports.sql.imported import coverage_select
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
    site's first event, whatever the time zone, or its first imported day when that is
    earlier (imported days are the site's local days already)."""
    first = site.stats_start_date or _first_day(site, now or current_time())
    return None if first is None else first - _ZONE_MARGIN


def _first_day(site: Site, now: dt.datetime) -> dt.date | None:
    """The UTC day of the site's first event, or the day after its first imported day when
    that is earlier (so that taking `_ZONE_MARGIN` off gives the imported day itself); kept
    on its row once no event can precede it."""
    found = run(first_day_select(site.id))
    days = [found[0]["first"]] if found else []
    imported = first_imported_day(site)
    if imported is not None:
        days.append(imported + _ZONE_MARGIN)
    if not days:
        return None
    first: dt.date = min(days)
    if first < (now - MAX_PAST - SETTLE).astimezone(dt.UTC).date():
        site.stats_start_date = first
        site.save(update_fields=["stats_start_date"])
    return first


def first_imported_day(site: Site) -> dt.date | None:
    """The site's first day in any imported table (published rows only), or None. The
    tables are read only for a site with a finished import (a database query): ten small
    queries took ~110 ms (median) on the embedded engine."""
    if not has_imported_aggregates(site=site):
        return None
    days = []
    for table in IMPORTED_TABLES:
        [coverage] = run(coverage_select(site.id, table))
        if int(coverage["n"]):
            days.append(coverage["first"])
    return min(days, default=None)


def forget_first_day(site_id: int) -> None:
    """Drop the kept first day of the site's data, so that the next "all" looks it up
    again. An import moves it: call this when an import completes (it may hold older days)
    and when one is deleted (its days may have been the first)."""
    Site.objects.filter(pk=site_id).update(stats_start_date=None)


def site_range(
    site: Site, value: object, *, timezone: str, now: dt.datetime | None = None
) -> dates.DateRange:
    """A `date_range` of a site's report outside a request body: "all" starts at the site's
    first data."""
    first_day = first_day_of_data(site, now=now) if value == "all" else None
    return dates.resolve(value, timezone=timezone, first_day=first_day, now=now)
