"""The daily tier of the rollups (docs/rollups.md, "The daily tier"): per site and closed
UTC day, exact visitor counts and the hourly rollups' sums (ClickHouse migration 0009).

Visitor ids change every UTC day (events/salts.py), so the visitors of whole UTC days add
up: a 12-month report sums a few hundred rows per value instead of merging a year of
visitor sets. A report bucket or range edge that cuts a UTC day (a local midnight of the
site's zone inside it) reads the day's pieces instead ('part' rows: visitors, 'span'
rows: the visits' sums by the pieces they start and end in); `SHAPES` are those rows,
computed from rows shaped like the hourly rollups. The reports read the same shapes from
the hourly rows of the days not closed yet (reports/sql/rollups.py).

A UTC day is closed `CLOSE_AFTER` its end by `close_days`, a periodic job: it writes the
day's rows from the hourly rollups, writes again the days that received rows since (a
late batch event, an import: `rollup_mixed`, filled by a view), and deletes the hourly
rows older than `HOURLY_DAYS` once every day they hold is closed. `events.rollups.
rebuild_days` (after a delete, an import, a rebuild) writes the closed days it recomputes.
"""

# ruff: noqa: S608 (every statement is Trail's own SQL; values are bound parameters)
from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace

from events.clickhouse import get_client
from events.jobs import periodic

logger = logging.getLogger(__name__)

# Hourly rows are kept this many UTC days (today included): hour-by-hour reports and the
# days not closed yet read them; older days are read from the daily tier.
HOURLY_DAYS = 14
# A UTC day is closed this long after it ended: its events have been flushed by then (a
# row for it inserted later marks it in `rollup_mixed`, and it is written again). Visits
# end at UTC midnight (their visitor ids change), so the day is complete. Until then its
# hourly rows are read, and merging a day of visitor sets is what a read of it costs.
CLOSE_AFTER = dt.timedelta(minutes=15)
KIND_TYPE = "Enum8('day' = 1, 'part' = 2, 'span' = 3, 'active' = 4, 'month' = 5)"
ZONE = "{rollup_zone:String}"
VISIT_COLUMNS = (
    "entry_page",
    "referrer_source",
    "referrer",
    "channel",
    "utm_medium",
    "utm_source",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "country_code",
    "region",
    "city",
    "device",
    "browser",
    "browser_version",
    "os",
    "os_version",
    "screen_size",
)
EVENTS_DAILY, SESSIONS_DAILY = "rollup_events_daily", "rollup_sessions_daily"
MIXED, CLOSED = "rollup_mixed", "rollup_closed"


def piece_start(column: str) -> str:
    """The first instant of the piece of `column`'s UTC day that lies in one local day of
    the site's zone (bound as `rollup_zone`)."""
    return f"greatest(toTimeZone(toStartOfDay({column}, {ZONE}), 'UTC'), toStartOfDay({column}))"


def has_pieces(column: str) -> str:
    """Does a local midnight fall inside `column`'s UTC day, after its first instant? A day
    without one is never cut by a report's buckets: it has 'day' rows only."""
    day = f"toStartOfDay({column})"
    return f"toTimeZone(toStartOfDay({day} + 86399, {ZONE}), 'UTC') > {day}"


# The daily tier's rows per event name (any page): what a report of event names or of
# event goals adds up (a visitor on two pages of one name is one visitor of the name).
NAME_ROWS = "event:name"
# The hourly rows they are made of (an event name on a page).
EVENT_ROWS = "event"


@dataclass(frozen=True)
class Shape:
    """Daily rows of every kind, computed in one pass over rows shaped like an hourly
    rollup's (renamed: `hourly_dimension`; `hour` for events, `start_hour` and `end_hour`
    for visits): each hourly row goes to its day's row and, on a day with a local midnight
    inside, to its pieces' (`arrayJoin` of (kind, start, end) tuples). The same dimension
    keys, or (`names`) the event-name rows made of the hourly event rows."""

    columns: tuple[str, ...]  # in the daily table's order, aliased by its column names
    where: str  # which hourly rows it is made of
    group_by: tuple[str, ...]
    names: bool = False

    def choosing(self, condition: str) -> Shape:
        """Only the kinds of rows for which `condition` holds (on `k`, a (kind, start, end)
        tuple, and the hourly row): a read computes the rows it will use, not all."""
        first, *rest = self.group_by
        pieces = first.removeprefix("arrayJoin(").removesuffix(") AS piece")
        chosen = f"arrayJoin(arrayFilter(k -> {condition}, {pieces})) AS piece"
        return replace(self, group_by=(chosen, *rest))

    def narrowed(self, kept: frozenset[str]) -> Shape:
        """Without the visit columns not in `kept` (a read that groups and filters by one
        dimension: fewer expressions for ClickHouse to plan and run)."""
        dropped = set(VISIT_COLUMNS) - kept
        return replace(
            self,
            columns=tuple(c for c in self.columns if c.rsplit(" AS ", 1)[-1] not in dropped),
            group_by=tuple(g for g in self.group_by if g not in dropped),
        )


def _kinds(first: str, last: str, *, visits: bool) -> str:
    """The (kind, start, end) tuples an hourly row of `first` (and for visits `last`, its
    last event's hour) goes to."""
    day = f"toStartOfDay({first})"
    start, end = piece_start(first), piece_start(last)
    if visits:  # visitors by the piece begun in or by every piece active in; sums by span
        pieces = (
            f"arrayConcat([('part', {start}, {start}), ('span', {start}, {end})],"
            f" arrayMap(p -> ('active', p, p), arrayDistinct([{start}, {end}])))"
        )
    else:
        pieces = f"[('part', {start}, {start})]"
    return f"arrayConcat([('day', {day}, {day})], if({has_pieces(first)}, {pieces}, []))"


def _events_shape(*, names: bool) -> Shape:
    return Shape(
        (
            "site_id",
            f"'{NAME_ROWS}' AS dimension" if names else "hourly_dimension AS dimension",
            "toDate(hour) AS day",
            f"CAST(tupleElement(piece, 1) AS {KIND_TYPE}) AS kind",
            f"{ZONE} AS zone",
            "tupleElement(piece, 2) AS timestamp",
            "name",
            "'' AS pathname" if names else "pathname",
            "toUInt64(uniqExactMerge(visitors)) AS visitors",
            "toUInt64(sum(pageviews)) AS pageviews",
            "toUInt64(sum(events)) AS events",
        ),
        f"hourly_dimension = '{EVENT_ROWS}'" if names else "1",
        (
            f"arrayJoin({_kinds('hour', 'hour', visits=False)}) AS piece",
            "site_id",
            "dimension",
            "day",
            "name",
            *(() if names else ("pathname",)),
        ),
        names,
    )


def _sessions_shape() -> Shape:
    counted = "kind IN ('day', 'span')"  # the sums' rows; visitors: every kind but 'span'
    return Shape(
        (
            "site_id",
            "hourly_dimension AS dimension",
            "if(kind = 'active', toDate(start), toDate(start_hour)) AS day",
            f"CAST(tupleElement(piece, 1) AS {KIND_TYPE}) AS kind",
            f"{ZONE} AS zone",
            "tupleElement(piece, 2) AS start",
            "tupleElement(piece, 3) AS timestamp",
            *VISIT_COLUMNS,
            "toUInt64(if(kind = 'span', 0, uniqExactMerge(visitors))) AS visitors",
            *(
                f"toInt64(if({counted}, sum({name}), 0)) AS {name}"
                for name in ("visits", "pageviews", "events", "bounces", "duration")
            ),
        ),
        "1",
        (
            f"arrayJoin({_kinds('start_hour', 'end_hour', visits=True)}) AS piece",
            "site_id",
            "dimension",
            "toDate(start_hour)",
            *VISIT_COLUMNS,
        ),
    )


# daily table → (its hourly table, that table's columns renamed for the shapes, the
# hourly table's time column that says the day, the shapes)
SHAPES = {
    EVENTS_DAILY: (
        "rollup_events",
        ("site_id", "dimension AS hourly_dimension", "timestamp AS hour", "name", "pathname")
        + ("visitors", "pageviews", "events"),
        "timestamp",
        (_events_shape(names=False), _events_shape(names=True)),
    ),
    SESSIONS_DAILY: (
        "rollup_sessions",
        ("site_id", "dimension AS hourly_dimension", "start AS start_hour")
        + ("timestamp AS end_hour", *VISIT_COLUMNS)
        + ("visitors", "visits", "pageviews", "events", "bounces", "duration"),
        "start",
        (_sessions_shape(),),
    ),
}


def column_names(shape: Shape) -> list[str]:
    return [column.rsplit(" AS ", 1)[-1] for column in shape.columns]


def shaped_sql(daily: str, source_where: str) -> str:
    """Every kind of `daily` row of the hourly rows that match `source_where`."""
    hourly, renamed, _, shapes = SHAPES[daily]
    inner = f"SELECT {', '.join(renamed)} FROM {hourly} WHERE {source_where}"
    return " UNION ALL ".join(
        f"SELECT {', '.join(shape.columns)} FROM ({inner}) WHERE {shape.where}"
        f" GROUP BY {', '.join(shape.group_by)}"
        for shape in shapes
    )


def closed_before(now: dt.datetime) -> dt.date:
    """UTC days before this one are closed at `now`."""
    return (now - CLOSE_AFTER).astimezone(dt.UTC).date()


def write_days(site_id: int, days: Iterable[dt.date], zone: str) -> None:
    """Write `site_id`'s daily rows of the closed UTC `days` from its hourly rows (which
    must hold those days whole), in `zone`, and note them closed. A day's rows are missing
    between the delete and the insert (reads of it fall back to its hourly rows)."""
    from events.rollups import _local

    wanted = sorted(set(days))
    if not wanted:
        return
    client = get_client()
    # A row inserted for these days from this second on may be missed by the reads below:
    # the days are noted closed as of the second before, so such a row writes them again.
    [began] = client.query("SELECT now() - 1 AS at")
    params = {"site": site_id, "days": wanted, "rollup_zone": zone}
    for daily, (_, _, column, shapes) in SHAPES.items():
        of_days = "site_id = {site:UInt64} AND day IN {days:Array(Date)}"
        client.command(f"DELETE FROM {_local(daily)} WHERE {of_days}", params)
        source = f"site_id = {{site:UInt64}} AND toDate({column}) IN {{days:Array(Date)}}"
        names = ", ".join(column_names(shapes[0]))
        client.command(f"INSERT INTO {daily} ({names}) {shaped_sql(daily, source)}", params)
    _note_closed(site_id, wanted, began["at"])
    forget_states()
    write_months(site_id, sorted({day.replace(day=1) for day in wanted}))


def _month_columns(names: list[str]) -> list[str]:
    """A month row's columns from the 'day' rows of its UTC days (their counts add up)."""
    instant = "toDateTime(toStartOfMonth(day), 'UTC')"
    made = {
        "day": "toStartOfMonth(day) AS day",
        "kind": f"CAST('month' AS {KIND_TYPE}) AS kind",
        "zone": "'' AS zone",
        "start": f"{instant} AS start",
        "timestamp": f"{instant} AS timestamp",
    }
    return [made.get(n, f"sum({n}) AS {n}" if n in _SUMS else n) for n in names]


_SUMS = frozenset({"visitors", "visits", "pageviews", "events", "bounces", "duration"})
# A month row's columns that are not its GROUP BY keys: sums, and the ones it makes.
_NOT_KEYS = _SUMS | {"kind", "zone", "start", "timestamp"}


def write_months(site_id: int, months: list[dt.date]) -> None:
    """Write `site_id`'s month rows (kind 'month', `day` = the month's first) of `months`
    from the 'day' rows of their UTC days: what a long range reads for its whole months
    (reports/sql/rollups.py `whole_months`), a thirtieth of the rows."""
    from events.rollups import _local

    if not months:
        return
    client = get_client()
    params = {"site": site_id, "months": months}
    for daily, (_, _, _, shapes) in SHAPES.items():
        names = column_names(shapes[0])
        client.command(
            f"DELETE FROM {_local(daily)} WHERE site_id = {{site:UInt64}} AND kind = 'month'"
            " AND day IN {months:Array(Date)}",
            params,
        )
        keys = [n for n in names if n not in _NOT_KEYS]
        client.command(
            f"INSERT INTO {daily} ({', '.join(names)})"
            f" SELECT {', '.join(_month_columns(names))} FROM (SELECT * FROM {daily}"
            " WHERE site_id = {site:UInt64} AND kind = 'day'"
            " AND toStartOfMonth(day) IN {months:Array(Date)})"
            f" GROUP BY {', '.join(keys)}",
            params,
        )


def _note_closed(site_id: int, days: list[dt.date], at: object = None) -> None:
    """`days` closed as of `at` (a ClickHouse DateTime; now when None)."""
    get_client().command(
        f"INSERT INTO {CLOSED} (site_id, day, at)"
        " SELECT {site:UInt64}, arrayJoin({days:Array(Date)}),"
        + (" now()" if at is None else " {at:DateTime('UTC')}"),
        {"site": site_id, "days": days, **({} if at is None else {"at": at})},
    )


# How long a process reuses a site's `DailyState`: the closing job changes it hourly.
STATE_TTL = 30.0


@dataclass(frozen=True)
class DailyState:
    """What the daily tier holds of a site, read at one moment (for the zone asked): reads
    take the days before `open_from` and the `closed` days from the daily tier and every
    other day from its hourly rows, so a snapshot a few seconds old still splits the days
    between the two exactly once. `open_from` is the first day of the hourly rows kept, or
    an older day whose hours were never closed (the job fell behind). A closed day that
    received rows since it was written is not `closed` here: its hourly rows hold them."""

    open_from: dt.date
    closed: tuple[dt.date, ...]
    pending: bool  # rows stored before the rollups existed are not in them yet
    mixed: tuple[dt.date, ...]  # days holding rows received on another day
    foreign: tuple[dt.date, ...]  # days whose pieces were cut in another zone


_states: dict[tuple[int, str], tuple[float, DailyState]] = {}


def daily_state(site_id: int, zone: str) -> DailyState:
    """The site's `DailyState`, read once per `STATE_TTL` seconds per process."""
    key = (site_id, zone)
    cached = _states.get(key)
    if cached is not None and time.monotonic() - cached[0] < STATE_TTL:
        return cached[1]
    client = get_client()
    window = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=HOURLY_DAYS - 1)
    params = {"site": site_id, "zone": zone, "window": window}
    [row] = client.query(
        "SELECT (SELECT minOrNull(toDate(timestamp)) FROM rollup_events"
        " WHERE site_id = {site:UInt64} AND dimension = '' AND toDate(timestamp) < {window:Date}"
        f" AND toDate(timestamp) NOT IN (SELECT day FROM {CLOSED} WHERE site_id = {{site:UInt64}})"
        ") AS stale,"
        f" (SELECT count() FROM rollup_pending WHERE site_id = {{site:UInt64}}) AS pending,"
        f" (SELECT groupArray(DISTINCT day) FROM {MIXED} WHERE site_id = {{site:UInt64}}) AS mixed,"
        f" (SELECT groupArray(DISTINCT day) FROM {SESSIONS_DAILY} WHERE site_id = {{site:UInt64}}"
        " AND dimension = '' AND kind = 'part' AND zone != {zone:String}) AS foreign",
        params,
    )
    open_from: dt.date = min(row["stale"] or window, window)
    # closed days, but not those that received rows since (read hour by hour until the
    # job writes them again)
    closed = client.query(
        f"SELECT DISTINCT c.day AS day FROM {CLOSED} AS c FINAL"
        f" LEFT JOIN (SELECT day, max(at) AS at FROM {MIXED} WHERE site_id = {{site:UInt64}}"
        " GROUP BY day) AS m ON c.day = m.day"
        " WHERE c.site_id = {site:UInt64} AND c.day >= {open_from:Date} AND NOT (m.at > c.at)"
        " ORDER BY day",
        {**params, "open_from": open_from},
    )
    state = DailyState(
        open_from=open_from,
        closed=tuple(r["day"] for r in closed),
        pending=bool(int(row["pending"])),
        mixed=tuple(sorted(row["mixed"])),
        foreign=tuple(sorted(row["foreign"])),
    )
    _states[key] = (time.monotonic(), state)
    return state


def forget_states() -> None:
    """This process reads every site's state again (after it wrote the daily tier)."""
    _states.clear()


@dataclass(frozen=True)
class CloseReport:
    closed: int  # site days written for the first time
    rewritten: int  # closed site days written again (they received rows)
    trimmed: bool  # hourly rows older than HOURLY_DAYS deleted


def _site_days(rows: Iterable[dict[str, object]]) -> dict[int, list[dt.date]]:
    found: dict[int, list[dt.date]] = defaultdict(list)
    for row in rows:
        found[int(str(row["site_id"]))].append(row["day"])  # type: ignore[arg-type]
    return found


@periodic(every=600, name="events.close_rollup_days")
def close_days(now: dt.datetime | None = None) -> CloseReport | None:
    """Close the UTC days ended `CLOSE_AFTER` ago, write again the closed days that
    received rows since, then delete the hourly rows older than `HOURLY_DAYS` if every
    day they hold is closed. Nothing when rollups are off."""
    from events import rollups
    from sites.models import Site

    if not rollups.enabled():
        return None
    now = now or dt.datetime.now(dt.UTC)
    horizon = closed_before(now)
    client = get_client()
    params = {"horizon": horizon}
    fresh = _site_days(
        client.query(
            "SELECT DISTINCT site_id, toDate(timestamp) AS day FROM rollup_events"
            " WHERE dimension = '' AND toDate(timestamp) < {horizon:Date}"
            f" AND (site_id, day) NOT IN (SELECT site_id, day FROM {CLOSED})"
            " ORDER BY site_id, day",
            params,
        )
    )
    late = _site_days(
        client.query(
            f"SELECT m.site_id AS site_id, m.day AS day FROM {MIXED} AS m FINAL"
            f" INNER JOIN {CLOSED} AS c FINAL ON m.site_id = c.site_id AND m.day = c.day"
            " WHERE m.at > c.at AND m.day < {horizon:Date} ORDER BY site_id, day",
            params,
        )
    )
    zones = dict(
        Site.objects.filter(pk__in={*fresh, *late}, deleted_at__isnull=True).values_list(
            "id", "timezone"
        )
    )
    for site_id, days in fresh.items():
        for at in range(0, len(days), rollups.CHUNK_DAYS):
            chunk = days[at : at + rollups.CHUNK_DAYS]
            if site_id in zones:
                write_days(site_id, chunk, zones[site_id])
            else:  # a deleted site's: nothing to write, nothing to keep its hours for
                _note_closed(site_id, chunk)
    for site_id, days in late.items():
        if site_id in zones:  # from raw rows: the hourly ones of old days are gone
            rollups.rebuild_days(site_id, days, now=now)
    trimmed = _trim_hourly(horizon, (now.astimezone(dt.UTC).date()))
    return CloseReport(
        closed=sum(len(days) for site, days in fresh.items() if site in zones),
        rewritten=sum(len(days) for site, days in late.items() if site in zones),
        trimmed=trimmed,
    )


def _trim_hourly(horizon: dt.date, today: dt.date) -> bool:
    """Delete the hourly rows of the UTC days before the last `HOURLY_DAYS`, when there are
    some and every one of those days is closed (or belongs to a deleted site)."""
    from events.rollups import _local

    cutoff = min(today - dt.timedelta(days=HOURLY_DAYS - 1), horizon)
    client = get_client()
    params = {"cutoff": cutoff}
    [old] = client.query(
        "SELECT count() AS n FROM rollup_events WHERE toDate(timestamp) < {cutoff:Date}", params
    )
    if not int(str(old["n"])):
        return False
    [open_days] = client.query(
        "SELECT count() AS n FROM (SELECT DISTINCT site_id, toDate(timestamp) AS day"
        " FROM rollup_events WHERE dimension = '' AND toDate(timestamp) < {cutoff:Date})"
        f" WHERE (site_id, day) NOT IN (SELECT site_id, day FROM {CLOSED})",
        params,
    )
    if int(str(open_days["n"])):
        logger.warning("hourly rollups before %s kept: some of their days are not closed", cutoff)
        return False
    for hourly, column in (("rollup_events", "timestamp"), ("rollup_sessions", "start")):
        client.command(
            f"ALTER TABLE {_local(hourly)} DELETE WHERE toDate({column}) < {{cutoff:Date}}"
            " SETTINGS mutations_sync = 2",
            params,
        )
    forget_states()
    return True
