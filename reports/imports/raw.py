"""Raw imports: `RawEvent`s from a parser → Trail's `events` rows and their visits.

1. **Rows.** `Rows.row(event)` completes what the file left empty the way the collector
   would: host and path from the URL (`events.enrich.urls`), source, channel and cleaned
   referrer from the referrer and UTM tags (`events.enrich.referrers.attribute`) unless the
   file names them (Trail's export), ids kept when given, else derived (see below).
2. **Staging.** Rows go, in blocks, to `import_events` tagged with the import's id: no
   report reads that table, so nothing of a running import is visible.
3. **Publishing.** Once every file was read, `publish()` moves the rows into `events` with
   one `INSERT … SELECT` (events whose id the site already has, or that appear twice in the
   import, are left out), then writes one `sessions` row per new visit, computed from the
   published events by the collector's rules (first event's attributes and entry page, last
   pageview's exit page, pageviews, events, interactive events, bounce, duration). Both
   carry `import_id`, so `purge()` removes exactly that import's rows. The staging rows
   are deleted last.

Ids: an event's id is the file's, else derived from the file's sha256 and the line (the
same file gives the same ids). A visitor id given is kept; else it is a hash of the site,
the source's visitor key (or visit key) and the day, a new one each day as the collector's.
A visit id given is kept; else a hash of the site, visitor key and visit key; else the
30-minute rule per visitor, in the order of the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

from events.clickhouse import get_client
from events.clickhouse.base import SMALL_INSERT_BLOCKS, settings_clause
from events.clickhouse.internal import drop_partition
from events.enrich.referrers import attribute
from events.enrich.urls import parse_page_url
from events.rollups import rebuild_days
from events.rows import COLUMNS, ENGAGEMENT, EventRow, columns
from events.sessions import TIMEOUT, VISIT_FROM_EVENTS
from reports.imports.rows import BadImportFile, RawEvent

STAGING = "import_events"
BLOCK = 50_000  # rows a staging insert carries
MAX_NAME = 120


def _hash64(*parts: object, person: bytes) -> int:
    text = "\x1f".join(str(part) for part in parts).encode()
    digest = hashlib.blake2b(text, digest_size=8, person=person).digest()
    return int.from_bytes(digest, "big") >> 1


@dataclass
class _OpenVisit:
    start: dt.datetime
    last: dt.datetime
    session_id: int


@dataclass
class Rows:
    """Turns one import's `RawEvent`s into `EventRow`s (state: the 30-minute rule's open
    visits per visitor)."""

    site_id: int
    file_name: str
    file_sha256: str
    open_visits: dict[int, list[_OpenVisit]] = field(default_factory=dict)

    def row(self, event: RawEvent) -> EventRow:
        bad = self._bad(event)
        if not event.name or len(event.name) > MAX_NAME:
            raise bad("name", "expected an event name of 1 to 120 characters")
        timestamp = event.timestamp
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=dt.UTC)
        timestamp = timestamp.astimezone(dt.UTC)
        if event.event_id:
            try:
                event_id = uuid.UUID(event.event_id)
            except ValueError:
                raise bad("event_id", "expected a UUID") from None
        else:
            digest = hashlib.blake2b(
                f"{self.file_sha256}:{event.line}".encode(), digest_size=16, person=b"trail-import"
            ).digest()
            event_id = uuid.UUID(bytes=digest, version=4)
        # Trail's export names the page's path exactly (a hash-mode path keeps its '#').
        page = parse_page_url(event.url, hash_mode=event.visit_id is not None)
        utm = {
            "utm_source": event.utm_source or page.utm_source,
            "utm_medium": event.utm_medium or page.utm_medium,
            "utm_campaign": event.utm_campaign or page.utm_campaign,
            "utm_content": event.utm_content or page.utm_content,
            "utm_term": event.utm_term or page.utm_term,
        }
        click_id = event.click_id_param or page.click_id_param
        if event.source or event.channel or event.visit_id is not None:
            referrer, source, channel = event.referrer, event.source, event.channel
        else:
            found = attribute(
                referrer=event.referrer,
                page_host=page.hostname,
                utm_source=utm["utm_source"],
                utm_medium=utm["utm_medium"],
                utm_campaign=utm["utm_campaign"],
                click_id_param=click_id,
            )
            referrer, source, channel = found.referrer, found.source, found.channel
        visitor_key = event.visitor_key or event.visit_key or str(event_id)
        visitor_id = event.visitor_id
        if visitor_id is None:
            visitor_id = _hash64(
                self.site_id, visitor_key, timestamp.date(), person=b"trail-visitor"
            )
        row = EventRow(
            hostname=page.hostname,
            referrer=referrer,
            referrer_source=source,
            channel=channel,
            utm_medium=utm["utm_medium"],
            utm_source=utm["utm_source"],
            utm_campaign=utm["utm_campaign"],
            utm_content=utm["utm_content"],
            utm_term=utm["utm_term"],
            click_id_param=click_id,
            country_code=event.country,
            region=event.region,
            city=event.city,
            browser=event.browser,
            browser_version=event.browser_version,
            os=event.os,
            os_version=event.os_version,
            device=event.device,
            screen_size=event.screen,
            site_id=self.site_id,
            event_id=event_id,
            timestamp=timestamp,
            name=event.name,
            visitor_id=visitor_id,
            pathname=page.pathname,
            props=dict(event.props),
            revenue_amount=event.revenue_amount,
            revenue_currency=event.revenue_currency,
            interactive=event.interactive,
            scroll_depth=event.scroll_depth or 0,
            engagement_ms=event.engaged_ms or 0,
        )
        if event.visit_id is not None:
            row.session_id = event.visit_id
        elif event.visit_key:
            row.session_id = _hash64(
                self.site_id, event.visitor_key, event.visit_key, person=b"trail-visit"
            )
        else:
            row.session_id = self._thirty_minutes(row)
        return row

    def _thirty_minutes(self, row: EventRow) -> int:
        """The collector's rule: a visitor's events with no gap over 30 minutes are one
        visit (engagement events join one but never start one)."""
        visits = self.open_visits.setdefault(row.visitor_id, [])
        when = row.timestamp
        for visit in visits:
            if visit.start - TIMEOUT <= when <= visit.last + TIMEOUT:
                if row.name != ENGAGEMENT:
                    visit.start, visit.last = min(visit.start, when), max(visit.last, when)
                return visit.session_id
        if row.name == ENGAGEMENT:
            return 0
        digest = hashlib.blake2b(row.event_id.bytes, digest_size=8, person=b"trail-visit")
        session_id = int.from_bytes(digest.digest(), "big") >> 1
        visits.append(_OpenVisit(start=when, last=when, session_id=session_id))
        return session_id

    def _bad(self, event: RawEvent) -> Any:
        def bad(column: str, message: str) -> BadImportFile:
            return BadImportFile(self.file_name, message, line=event.line, column=column)

        return bad


def stage(import_id: str, rows: list[EventRow]) -> None:
    """Write a block of rows to the staging table, tagged with the import."""
    if not rows:
        return
    block = columns(rows)
    block["import_id"] = [import_id] * len(rows)
    get_client().insert(STAGING, block)


_EVENT_COLUMNS = ", ".join(COLUMNS)
_PARAMS = "{import:String}"
_SITE = "{site:UInt64}"
_SESSION_VALUES = {**VISIT_FROM_EVENTS, "import_id": _PARAMS}


def publish(*, site_id: int, import_id: str) -> int:
    """Move an import's staged events into `events` and write their visits; the number of
    events published. (Run once, at the end of the job.)

    The common case, an import whose ids are all new (none twice in it, none the site has),
    moves every staged row and builds the visits from the staged rows (the import's partition,
    already in visit order); otherwise the rows are filtered as they move and the visits are
    built from what was published."""
    client = get_client()
    params = {"import": import_id, "site": site_id}
    [found] = client.query(
        f"SELECT count() AS rows, uniqExact(event_id) AS ids,"  # noqa: S608
        f" countIf(event_id IN (SELECT event_id FROM events WHERE site_id = {_SITE})) AS known"
        f" FROM {STAGING} WHERE import_id = {_PARAMS} AND site_id = {_SITE}",
        params,
    )
    all_new = int(found["ids"]) == int(found["rows"]) and not int(found["known"])
    moved = (
        ""
        if all_new
        else f" AND event_id NOT IN (SELECT event_id FROM events WHERE site_id = {_SITE})"  # noqa: S608
        " LIMIT 1 BY event_id"  # an id twice in one import: the same event, kept once
    )
    client.command(
        f"INSERT INTO events ({_EVENT_COLUMNS}, import_id)"  # noqa: S608
        f" SELECT {_EVENT_COLUMNS}, import_id FROM {STAGING}"
        f" WHERE import_id = {_PARAMS} AND site_id = {_SITE}{moved}"
        + settings_clause(SMALL_INSERT_BLOCKS),
        params,
    )
    names = ", ".join(_SESSION_VALUES)
    values = ", ".join(_SESSION_VALUES.values())
    client.command(
        f"INSERT INTO sessions ({names})"  # noqa: S608
        f" SELECT {values} FROM {STAGING if all_new else 'events'}"
        f" WHERE site_id = {_SITE} AND import_id = {_PARAMS}"
        f" AND session_id != 0 AND name != '{ENGAGEMENT}'"
        f" AND session_id NOT IN (SELECT session_id FROM sessions WHERE site_id = {_SITE})"
        " GROUP BY site_id, session_id" + settings_clause(SMALL_INSERT_BLOCKS),
        params,
    )
    if all_new:
        published = int(found["rows"])
    else:
        published = int(
            client.query(
                f"SELECT count() AS n FROM events"  # noqa: S608
                f" WHERE site_id = {_SITE} AND import_id = {_PARAMS}",
                params,
            )[0]["n"]
        )
    drop_staging(import_id)
    return published


def staged(import_id: str) -> int:
    """How many rows an import has staged so far."""
    found = get_client().query(
        f"SELECT count() AS n FROM {STAGING} WHERE import_id = {_PARAMS}",  # noqa: S608
        {"import": import_id},
    )
    return int(found[0]["n"])


def drop_staging(import_id: str) -> None:
    """The import's staged rows gone: its partition of the staging table (migration 0007)."""
    drop_partition(get_client(), STAGING, (import_id,))


def purge(*, site_id: int, import_id: str) -> None:
    """Remove everything an import wrote: its published events and visits, its staging;
    then recompute the rollups of the days its rows were on (their views saw the rows
    arrive but see no DELETE: docs/rollups.md)."""
    client = get_client()
    params = {"import": import_id, "site": site_id}
    found = client.query(
        f"SELECT DISTINCT toDate(timestamp) AS day FROM events WHERE site_id = {_SITE}"  # noqa: S608
        f" AND import_id = {_PARAMS} UNION DISTINCT SELECT DISTINCT toDate(start) AS day"
        f" FROM sessions WHERE site_id = {_SITE} AND import_id = {_PARAMS}",
        params,
    )
    for table in ("events", "sessions"):
        client.command(
            f"DELETE FROM {table} WHERE site_id = {_SITE} AND import_id = {_PARAMS}",  # noqa: S608
            params,
        )
    drop_staging(import_id)
    rebuild_days(site_id, [row["day"] for row in found])


def days(*, site_id: int, import_id: str) -> tuple[str | None, str | None]:
    """The first and last day (UTC) of an import's published events."""
    found = get_client().query(
        "SELECT toString(min(toDate(timestamp))) AS first,"  # noqa: S608
        " toString(max(toDate(timestamp)))"
        f" AS last, count() AS n FROM events WHERE site_id = {_SITE} AND import_id = {_PARAMS}",
        {"import": import_id, "site": site_id},
    )
    if not found or not int(found[0]["n"]):
        return None, None
    return str(found[0]["first"]), str(found[0]["last"])


def import_ids() -> set[tuple[int, str]]:
    """(site, import) of every import with rows anywhere: staged, or published."""
    found = get_client().query(
        f"SELECT DISTINCT site_id, import_id FROM {STAGING}"  # noqa: S608
        " UNION DISTINCT SELECT DISTINCT site_id, toString(import_id) FROM events"
        " WHERE import_id != ''"
    )
    return {(int(row["site_id"]), str(row["import_id"])) for row in found}
