"""The property keys of a custom event: which `props` keys its rows carry, most used first.

The dashboard's custom events panel offers them to break the event down by (a breakdown by
one is then an ordinary report on `event:props:<key>`). Read through the SQL builder, whose
site guard every report's read has.
"""

from __future__ import annotations

from reports.context import site_range
from reports.sql.builder import Select, run
from reports.sql.catalog import EVENTS, Binder, date_condition
from sites.models import Site

MAX_KEYS = 20


def property_keys(*, site: Site, date_range: object, event: str) -> list[str]:
    """The keys of `event`'s properties within `date_range` (a Stats API `date_range`:
    a preset such as "7d" or `[first, last]`, in the site's time zone), by how many of
    its rows carry them, then by name; at most `MAX_KEYS`."""
    span = site_range(site, date_range, timezone=site.timezone)
    binder = Binder()
    found = run(
        Select(
            site_id=site.id,
            table=EVENTS,
            columns=("arrayJoin(mapKeys(props)) AS key", "count() AS n"),
            where=(
                date_condition(EVENTS, binder, span.start, span.end),
                f"name = {binder.bind(event, 'String')}",
            ),
            params=binder.params,
            group_by=("key",),
            order_by=("n DESC", "key"),
            limit=MAX_KEYS,
        )
    )
    return [row["key"] for row in found]
