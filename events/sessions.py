"""Visits: events stitched into sessions with the 30-minute rule, as the flush writes them.

A visit is a visitor's run of events on a site with no gap over 30 minutes. For each block
of enriched rows the flush
1. loads the visits of the block's visitors that may continue (`open_visits` in
   `events/clickhouse/internal.py`, one query to `sessions`), then hands rows and visits to
   `stitch()`, which
2. walks the rows in time order, giving each its visit's `session_id` (a new visit's id is
   derived from its first event's id, so a retried block gets the same ids), and
3. returns the `sessions` rows to write: for every visit the block changed, its previous
   state with `sign = -1` and its new state with `sign = +1` (VersionedCollapsingMergeTree),
   so `sum(sign * x)` is exact at any time, merged or not.

Engagement events join the visit they belong to but neither start nor change one (as
Plausible: they carry scroll depth and engaged time, not activity). A visit's attributes
(entry page, source, UTM, location, device) are those of its first event; its exit page is
its last pageview's. An event older than its visit's start still joins it but does not
move the start (the sorting key of a visit must not change between its versions).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from copy import copy
from dataclasses import dataclass, fields, replace
from typing import Any

from events.rows import PAGEVIEW, EventRow, VisitAttributes

TIMEOUT = dt.timedelta(minutes=30)
_ATTRIBUTES = tuple(f.name for f in fields(VisitAttributes))


@dataclass(slots=True)
class Visit(VisitAttributes):
    site_id: int
    session_id: int
    visitor_id: int
    version: int
    start: dt.datetime
    timestamp: dt.datetime  # the last event's
    entry_page: str
    exit_page: str
    pageviews: int
    events: int
    interactive_events: int

    @property
    def is_bounce(self) -> int:
        """One pageview and nothing else interactive (Plausible's bounce)."""
        return 1 if self.interactive_events <= 1 else 0

    @property
    def duration(self) -> int:
        return max(0, int((self.timestamp - self.start).total_seconds()))

    def accepts(self, when: dt.datetime) -> bool:
        return self.start - TIMEOUT <= when <= self.timestamp + TIMEOUT

    def row(self, sign: int) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(sign=sign, is_bounce=self.is_bounce, duration=self.duration)
        return values

    @classmethod
    def begin(cls, event: EventRow) -> Visit:
        digest = hashlib.blake2b(event.event_id.bytes, digest_size=8, person=b"trail-visit")
        visit = cls(
            site_id=event.site_id,
            session_id=int.from_bytes(digest.digest(), "big") >> 1,
            visitor_id=event.visitor_id,
            version=0,  # bumped to 1 when written
            start=event.timestamp,
            timestamp=event.timestamp,
            entry_page=event.pathname,
            exit_page=event.pathname,
            pageviews=0,
            events=0,
            interactive_events=0,
            **{name: getattr(event, name) for name in _ATTRIBUTES},
        )
        visit.add(event)  # the counters follow one rule, first event or not
        return visit

    def add(self, event: EventRow) -> None:
        """Count `event` in (mutable: the flush changes its own copies, in a hot loop)."""
        if event.timestamp >= self.timestamp:
            self.timestamp = event.timestamp
            if event.is_pageview:
                self.exit_page = event.pathname
        self.events += 1
        if event.is_pageview:
            self.pageviews += 1
            self.interactive_events += 1
        elif event.interactive:
            self.interactive_events += 1


VISIT_COLUMNS = tuple(f.name for f in fields(Visit))
SESSION_COLUMNS = (*VISIT_COLUMNS, "sign", "is_bounce", "duration")


def _joinable(visits: list[Visit], when: dt.datetime) -> Visit | None:
    """The visit `when` belongs to: of those that accept it, the one nearest in time."""
    best = None
    for visit in visits:
        if visit.accepts(when):
            gap = abs((when - min(max(when, visit.start), visit.timestamp)).total_seconds())
            if best is None or gap < best[0]:
                best = (gap, visit)
    return best[1] if best else None


def stitch(rows: list[EventRow], known: dict[tuple[int, int], list[Visit]]) -> list[dict[str, Any]]:
    """Give each row its `session_id`; the `sessions` rows (cancel + new state) to write."""
    open_ = {key: [copy(v) for v in visits] for key, visits in known.items()}
    before: dict[int, Visit] = {v.session_id: v for vs in known.values() for v in vs}
    after: dict[int, Visit] = {}
    for row in sorted(rows, key=lambda r: r.timestamp):  # stable: arrival order breaks ties
        visits = open_.setdefault((row.site_id, row.visitor_id), [])
        visit = _joinable(visits, row.timestamp)
        if row.is_engagement:
            row.session_id = visit.session_id if visit is not None else 0
            continue
        if visit is None:
            visit = Visit.begin(row)
            visits.append(visit)
        else:
            visit.add(row)
        after[visit.session_id] = visit
        row.session_id = visit.session_id
    changes: list[dict[str, Any]] = []
    for session_id, visit in after.items():
        previous = before.get(session_id)
        if previous is not None:
            changes.append(previous.row(-1))
        changes.append(replace(visit, version=(previous.version if previous else 0) + 1).row(1))
    return changes


def session_columns(changes: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [change[name] for change in changes] for name in SESSION_COLUMNS}


# A visit recomputed from its stored events by the rules above, as ClickHouse expressions
# over `events` grouped by `site_id, session_id` (engagement events left out): raw imports'
# publishing writes new visits with them, a deletion rewrites the visits it touched.
# The visit's attributes are its first event's: one argMin of them all (ClickHouse computes
# the repeated aggregate once), half the time of an argMin per attribute.
_FIRST = "tupleElement(argMin(tuple({columns}), timestamp), {index})"
_VISIT_ATTRIBUTES = (
    "hostname",
    "referrer",
    "referrer_source",
    "channel",
    "utm_medium",
    "utm_source",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "click_id_param",
    "country_code",
    "region",
    "city",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "device",
    "screen_size",
)
_INTERACTIVE = f"(name = '{PAGEVIEW}' OR interactive)"
VISIT_FROM_EVENTS = {
    "site_id": "site_id",
    "session_id": "session_id",
    "visitor_id": "argMin(visitor_id, timestamp)",
    "sign": "1",
    "version": "1",
    "start": "min(timestamp)",
    "timestamp": "max(timestamp)",
    "entry_page": "argMin(pathname, timestamp)",
    "exit_page": f"if(countIf(name = '{PAGEVIEW}') > 0,"
    f" argMaxIf(pathname, timestamp, name = '{PAGEVIEW}'), argMin(pathname, timestamp))",
    "pageviews": f"countIf(name = '{PAGEVIEW}')",
    "events": "count()",
    "interactive_events": f"countIf{_INTERACTIVE}",
    "is_bounce": f"if(countIf{_INTERACTIVE} <= 1, 1, 0)",
    "duration": "toUInt32(intDiv(toUnixTimestamp64Milli(max(timestamp))"
    " - toUnixTimestamp64Milli(min(timestamp)), 1000))",
    **{
        name: _FIRST.format(columns=", ".join(_VISIT_ATTRIBUTES), index=index)
        for index, name in enumerate(_VISIT_ATTRIBUTES, start=1)
    },
}
