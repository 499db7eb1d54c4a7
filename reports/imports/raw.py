"""Raw imports: `RawEvent`s from a parser → Trail's `events` rows and their visits.

1. **Rows.** `Rows.row(event)` completes what the file left empty the way the collector
   would: host and path from the URL (`events.enrich.urls`), source, channel and cleaned
   referrer from the referrer and UTM tags (`events.enrich.referrers.attribute`) unless the
   file names them (Trail's export), ids kept when given, else derived (see below).
2. **Staging.** Rows go, in blocks, to the import's own staging table
   (`staging_table()`, made with `events`' exact structure and dropped at the end), tagged
   with the import's id: no report reads it, so nothing of a running import is visible.
   Trail's export is read into it by ClickHouse itself (`reports.imports.trail_load`).
3. **Publishing.** Once every file was read, `publish()` checks that every staged id is new
   (none twice in the import, none the site has: events whose id the site already has are
   left out, an id twice is kept once — in a second staging table, when that happens);
   computes one `sessions` row per new visit from those events by the collector's rules
   (first event's attributes and entry page, last pageview's exit page, pageviews, events,
   interactive events, bounce, duration) into a staging copy of `sessions`; then attaches
   the staged partitions to `events` and `sessions` (`ALTER TABLE … ATTACH PARTITION …
   FROM`: the parts are hard-linked, not rewritten). Both carry `import_id`, so `purge()`
   removes exactly that import's rows. The staging tables are dropped last.

Ids: an event's id is the file's, else derived from the file's sha256 and the line (the
same file gives the same ids). A visitor id given is kept; else it is a hash of the site,
the source's visitor key (or visit key) and the day, a new one each day as the collector's.
A visit id given is kept; else a hash of the site, visitor key and visit key; else the
30-minute rule per visitor, in the order of the file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from events.clickhouse import get_client
from events.clickhouse.base import (
    SMALL_INSERT_BLOCKS,
    checked_identifier,
    on_cluster,
    quoted,
    settings_clause,
)
from events.clickhouse.cluster import refuse_on_cluster
from events.clickhouse.internal import drop_partition
from events.enrich.referrers import attribute
from events.enrich.urls import parse_page_url
from events.rollups import enabled as rollups_enabled
from events.rollups import rebuild_days
from events.rows import COLUMNS, ENGAGEMENT, EventRow, columns
from events.sessions import TIMEOUT, VISIT_FROM_EVENTS
from reports.imports.rows import BadImportFile, RawEvent

# The staging table of earlier versions (migrations 0006, 0007), shared by all imports:
# no longer written, still swept.
LEGACY_STAGING = "import_events"
BLOCK = 50_000  # rows a staging insert carries
MAX_NAME = 120
_PARTITION_TEXT = re.compile(r"^[A-Za-z0-9:_-]{1,80}$")  # events.clickhouse.internal's


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


def staging_table(import_id: str, kind: str = "events") -> str:
    """The name of an import's staging table for `events` (or `sessions`, or `unique`: its
    events without repeated ids): `import_<32 hex>_<kind>`, the hex the import's id (a
    UUID; any other id, as tests give, is hashed)."""
    try:
        hexed = uuid.UUID(import_id).hex
    except ValueError:
        hexed = hashlib.blake2b(import_id.encode(), digest_size=16).hexdigest()
    return f"import_{hexed}_{kind}"


def import_of(table: str) -> str:
    """The import id a staging table is named after ("" for another table)."""
    match = _STAGING_TABLE.match(table)
    return str(uuid.UUID(match[1])) if match else ""


_STAGING_TABLE = re.compile(r"^import_([0-9a-f]{32})_(events|sessions|unique)$")
_PARTITION_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


def _create_like(table: str, model: str) -> None:
    """`table` made with `model`'s exact structure (columns, indexes, PARTITION BY, ORDER BY,
    TTL, engine): what `ATTACH PARTITION … FROM` requires. Not on a sharded cluster,
    where `events` is a Distributed table: a staging copy of it would write to the shards."""
    refuse_on_cluster("Importing raw events", settings.CLICKHOUSE.cluster)
    cluster = on_cluster(settings.CLICKHOUSE.cluster)
    get_client().command(f"CREATE TABLE IF NOT EXISTS {table}{cluster} AS {model}")


def _drop_table(table: str) -> None:
    cluster = on_cluster(settings.CLICKHOUSE.cluster)
    get_client().command(f"DROP TABLE IF EXISTS {checked_identifier(table)}{cluster} SYNC")


def prepare(import_id: str) -> str:
    """The import's staging table for events, made if missing; its name."""
    table = staging_table(import_id)
    _create_like(table, "events")
    return table


def stage(import_id: str, rows: list[EventRow]) -> None:
    """Write a block of rows to the import's staging table, tagged with the import."""
    if not rows:
        return
    block = columns(rows)
    block["import_id"] = [import_id] * len(rows)
    get_client().insert(prepare(import_id), block)


_EVENT_COLUMNS = ", ".join(COLUMNS)
_PARAMS = "{import:String}"
_SITE = "{site:UInt64}"
# A visit's attributes are its first event's. `VISIT_FROM_EVENTS` takes them with one
# argMin of a tuple of them all, which costs more than the rest of the visit together (1.1
# of 1.6 CPU s for 244,000 visits of a million events): here the visit's first event is
# found by its id alone, and its attributes read from it with a join (0.55 CPU s in all).
_FIRST_OF = "tupleElement(argMin(tuple("
_ATTRIBUTES = [name for name, value in VISIT_FROM_EVENTS.items() if value.startswith(_FIRST_OF)]
_VISIT_TOTALS = {
    name: value for name, value in VISIT_FROM_EVENTS.items() if name not in _ATTRIBUTES
}
_VISIT_NAMES = ", ".join([*_VISIT_TOTALS, *_ATTRIBUTES, "import_id"])
_VISIT_SELECT = ", ".join(
    [
        *(f"visit.v_{name}" for name in _VISIT_TOTALS),
        *(f"first.{name}" for name in _ATTRIBUTES),
        "first.import_id",
    ]
)
_VISIT_TOTALS_SELECT = ", ".join(
    [
        *(f"{value} AS v_{name}" for name, value in _VISIT_TOTALS.items()),
        "argMin(event_id, timestamp) AS first_event",
    ]
)
# The visits written are new (one row per visit id, none the site has): the collapsing
# engine's merge of each inserted block (`optimize_on_insert`) finds nothing to collapse
# and took four fifths of the write (1.1 of 1.4 CPU s for 244,000 visits).
_VISIT_INSERT = {**SMALL_INSERT_BLOCKS, "optimize_on_insert": 0}


def _visits_sql(source: str, target: str) -> str:
    """`INSERT` into `target` of the visits of `source`'s events (ids unique in it) that
    the site has not got, by `VISIT_FROM_EVENTS`' rules."""
    return (
        f"INSERT INTO {target} ({_VISIT_NAMES})"  # noqa: S608
        f" SELECT {_VISIT_SELECT} FROM {source} AS first INNER JOIN ("
        f"SELECT {_VISIT_TOTALS_SELECT} FROM {source}"
        f" WHERE site_id = {_SITE} AND session_id != 0 AND name != '{ENGAGEMENT}'"
        f" AND session_id NOT IN (SELECT session_id FROM sessions WHERE site_id = {_SITE})"
        " GROUP BY site_id, session_id"
        ") AS visit ON first.event_id = visit.first_event" + settings_clause(_VISIT_INSERT)
    )


def _attach(target: str, source: str) -> None:
    """Every partition of `source` attached to `target` (a copy of its parts by hard links,
    no rewrite: a metadata change). On the server the statement is run on: a replicated
    `target` tells its other replicas, which fetch the parts."""
    client = get_client()
    found = client.query(f"SELECT DISTINCT _partition_id AS id FROM {source}")  # noqa: S608
    for row in found:
        partition = str(row["id"])
        if not _PARTITION_ID.match(partition):
            raise ValueError(f"unexpected partition id {partition[:80]!r}")
        client.command(
            f"ALTER TABLE {target} ATTACH PARTITION ID {quoted(partition)} FROM {source}"
        )


def publish(*, site_id: int, import_id: str) -> int:
    """Make an import's staged events and their visits visible; the number of events
    published. (Run once, at the end of the job.)

    The staging table has `events`' structure, so its partitions are attached to `events`
    as they are: no row is read or written again. That needs every staged id new (none
    twice, none the site has): the common case, checked first. Otherwise the rows whose id
    is new are copied, once each, into a second staging table, which is attached instead.
    The visits are computed from the rows attached into a staging copy of `sessions`,
    attached the same way right after the events."""
    client = get_client()
    params = {"import": import_id, "site": site_id}
    staging = staging_table(import_id)
    if not _exists(staging):  # made when the job started (`prepare`): removed meanwhile
        raise LookupError("the import's staged rows were removed before it could finish")
    [found] = client.query(
        f"SELECT count() AS rows, uniqExact(event_id) AS ids,"  # noqa: S608
        f" countIf(event_id IN (SELECT event_id FROM events WHERE site_id = {_SITE})) AS known"
        f" FROM {staging} WHERE site_id = {_SITE}",
        params,
    )
    source = staging
    if int(found["ids"]) != int(found["rows"]) or int(found["known"]):
        source = staging_table(import_id, "unique")
        _drop_table(source)
        _create_like(source, "events")
        client.command(
            f"INSERT INTO {source} ({_EVENT_COLUMNS}, import_id)"  # noqa: S608
            f" SELECT {_EVENT_COLUMNS}, import_id FROM {staging} WHERE site_id = {_SITE}"
            f" AND event_id NOT IN (SELECT event_id FROM events WHERE site_id = {_SITE})"
            " LIMIT 1 BY event_id"  # an id twice in one import: the same event, kept once
            + settings_clause(SMALL_INSERT_BLOCKS),
            params,
        )
        published = int(client.query(f"SELECT count() AS n FROM {source}")[0]["n"])  # noqa: S608
    else:
        published = int(found["rows"])
    visits = staging_table(import_id, "sessions")
    _drop_table(visits)
    _create_like(visits, "sessions")
    client.command(_visits_sql(source, visits), params)
    new_days = []
    if rollups_enabled():
        days_sql = f"SELECT DISTINCT toDate(timestamp) AS day FROM {source}"  # noqa: S608
        new_days = [row["day"] for row in client.query(days_sql)]
    _attach("events", source)
    _attach("sessions", visits)
    # Rollup views see inserts only, and an attach is none: the days are recomputed.
    rebuild_days(site_id, new_days)
    drop_staging(import_id)
    return published


def staged(import_id: str) -> int:
    """How many rows an import has staged so far."""
    table = staging_table(import_id)
    if not _exists(table):
        return 0
    return int(get_client().query(f"SELECT count() AS n FROM {table}")[0]["n"])  # noqa: S608


def _exists(table: str) -> bool:
    return bool(
        get_client().query(
            "SELECT 1 AS found FROM system.tables WHERE database = currentDatabase()"
            " AND name = {table:String}",
            {"table": table},
        )
    )


def drop_staging(import_id: str) -> None:
    """The import's staging tables gone. (`purge` also drops its partition of the shared
    staging table earlier versions wrote, `import_events`.)"""
    for kind in ("events", "unique", "sessions"):
        _drop_table(staging_table(import_id, kind))


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
    if _PARTITION_TEXT.match(import_id):
        drop_partition(client, LEGACY_STAGING, (import_id,))
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
    client = get_client()
    found = client.query(
        f"SELECT DISTINCT site_id, import_id FROM {LEGACY_STAGING}"  # noqa: S608
        " UNION DISTINCT SELECT DISTINCT site_id, toString(import_id) FROM events"
        " WHERE import_id != ''"
    )
    pairs = {(int(row["site_id"]), str(row["import_id"])) for row in found}
    for table in staging_tables():
        rows = client.query(f"SELECT DISTINCT site_id, import_id FROM {table}")  # noqa: S608
        pairs |= {(int(row["site_id"]), str(row["import_id"])) for row in rows}
    return pairs


def staging_tables() -> list[str]:
    """Every import's staging table there is."""
    found = get_client().query(
        "SELECT name FROM system.tables WHERE database = currentDatabase()"
        " AND startsWith(name, 'import_')"
    )
    return sorted(str(row["name"]) for row in found if _STAGING_TABLE.match(str(row["name"])))


def drop_staging_tables(tables: list[str]) -> None:
    """Drop these staging tables (the sweep's: of imports that ended)."""
    for table in tables:
        if _STAGING_TABLE.match(table):
            _drop_table(table)
