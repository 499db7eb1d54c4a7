"""The flush: closed spool segments -> enrichment -> visits -> ClickHouse, exactly once.

One segment at a time, oldest first:
1. read its records (a torn last line was never acknowledged and is skipped);
2. enrich each (a record that cannot be enriched becomes a dead letter);
3. drop repeated event ids: within the segment, and ids sent by clients (batch API) that
   ClickHouse already holds, so the same `event_id` sent ten times is stored once;
4. stitch visits and insert the `sessions` changes, then the `events` rows, each block with
   an insert deduplication token named after the segment: a segment flushed again after a
   crash is stored once;
5. a block ClickHouse rejects is split in halves until the rejected rows are alone; those
   become dead letters with the reason, the rest is stored;
6. delete the segment, only now.

ClickHouse unreachable stops the run with the segment in place: the next run retries it,
and the spool keeps accepting until its backlog cap (then ingest answers 503). One flush
runs at a time across all processes (a Redis lock in services mode, a thread lock in
embedded mode), so visits are stitched in order.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from common.metrics import segment_flushed
from events import locks
from events.clickhouse import ClickHouse, ClickHouseError, ClickHouseUnavailable, get_client
from events.clickhouse.internal import open_visits, stored_event_ids
from events.destinations import outbox
from events.enrich.enrich import enrich
from events.enrich.geo import GeoDatabase, geo_database
from events.jobs import periodic
from events.models import DeadLetter
from events.record import SpooledEvent
from events.rows import EventRow, columns
from events.salts import visitor_id
from events.sessions import session_columns, stitch
from events.spool import closed_segments, recover_orphans, segment_lines, spool_dir

logger = logging.getLogger(__name__)

FLUSH_JOB = "events.flush_spool"
LOCK_SECONDS = 30  # a flush killed mid-run blocks the others for at most this long
PAUSE_WAIT = 120.0  # seconds `flush_paused` waits for a running flush to let go of its lock


@dataclass
class FlushReport:
    segments: int = 0
    events: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    busy: bool = False  # another process was flushing
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Dead:
    index: int
    reason: str
    event: dict[str, Any]
    row: dict[str, Any] | None = None


# A block is refused by ClickHouse, or cannot even be encoded for it (pyarrow's errors are
# ValueError/TypeError subclasses): either way it is halved down to the rows at fault.
_REJECTED = (ClickHouseError, ValueError, TypeError, OverflowError)

FLUSH_LOCK = "trail:flush-lock"


@contextlib.contextmanager
def _flush_lock() -> Iterator[Any]:
    """Held while flushing; yields a callable that extends the lease (False: it was lost,
    stop), or None if busy."""
    with locks.held(FLUSH_LOCK, LOCK_SECONDS) as renew:
        if renew is None:
            yield None
            return

        def extend() -> bool:
            if renew():
                return True
            logger.warning("the flush lock expired during a segment: stopping this run")
            return False

        yield extend


class FlushBusy(Exception):
    """A flush kept its lock longer than `flush_paused` would wait."""


@contextlib.contextmanager
def flush_paused(wait: float = PAUSE_WAIT) -> Iterator[Callable[[], bool]]:
    """Nothing is flushed while this is held (the flush's own lock, waiting up to `wait`
    seconds for a running flush to finish; `FlushBusy` after that): accepted events wait
    in the spool. Yields the lease's extender (False: the lease was lost: stop)."""
    deadline = time.monotonic() + wait
    while True:
        with _flush_lock() as extend:
            if extend is not None:
                yield extend
                return
        if time.monotonic() > deadline:
            raise FlushBusy(f"the spool's flush kept its lock for over {wait:.0f} s")
        time.sleep(0.2)


@periodic(every=1.0, name=FLUSH_JOB)
def flush_spool(
    *,
    client: ClickHouse | None = None,
    directory: Path | None = None,
    table: str = "events",
    limit: int | None = None,
) -> FlushReport:
    """Flush the closed segments (at most `limit`); what was done."""
    report = FlushReport()
    directory = directory or spool_dir()
    with _flush_lock() as extend:
        if extend is None:
            report.busy = True
            return report
        recover_orphans(directory)
        client = client or get_client()
        geo = geo_database()
        for path in closed_segments(directory)[:limit]:
            try:
                flush_segment(path, client=client, geo=geo, table=table, report=report)
            except ClickHouseUnavailable as exc:
                report.errors.append(f"ClickHouse unavailable: {exc}")
                logger.warning("flush paused, ClickHouse is unavailable: %s", exc)
                break
            if not extend():
                report.busy = True
                break
    return report


def _without_client(record: dict[str, Any]) -> dict[str, Any]:
    """A spool record without the visitor's IP and user agent."""
    return {key: value for key, value in record.items() if key not in ("ip", "ua")}


def anonymous(record: dict[str, Any], event: SpooledEvent) -> dict[str, Any]:
    """What a dead letter keeps of a spool record: no IP, no user agent, but the visitor
    hash they give (so a replay counts the same visitor)."""
    kept = _without_client(record)
    with contextlib.suppress(Exception):
        kept["visitor_id"] = visitor_id(
            site_id=event.site_id,
            ip=event.ip,
            user_agent=event.user_agent,
            received_at=event.received_at,
        )
    return kept


def _read_records(path: Path, dead: list[_Dead]) -> list[tuple[int, dict[str, Any], SpooledEvent]]:
    events = []
    for index, line in enumerate(segment_lines(path)):
        try:
            record = orjson.loads(line)
        except ValueError as exc:  # a damaged line: it may hold an IP, keep no text
            dead.append(_Dead(index, f"unreadable spool record: {exc}", {"bytes": len(line)}))
            continue
        try:
            events.append((index, record, SpooledEvent.of(record)))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            kept = _without_client(record) if isinstance(record, dict) else {}
            dead.append(_Dead(index, f"invalid spool record: {exc!r}", kept))
    return events


def _insert(
    client: ClickHouse, table: str, rows: list[tuple[int, EventRow]], token: str
) -> list[_Dead]:
    """Insert; a rejected block is halved until the rejected rows stand alone."""
    if not rows:
        return []
    try:
        client.insert(table, columns([row for _, row in rows]), dedup_token=token)
        return []
    except ClickHouseUnavailable:
        raise
    except _REJECTED as exc:
        if len(rows) == 1:
            index, row = rows[0]
            reason = f"rejected by ClickHouse: {str(exc)[:1000]}"
            return [_Dead(index, reason, {}, row.as_json())]
    middle = len(rows) // 2
    return _insert(client, table, rows[:middle], f"{token}a") + _insert(
        client, table, rows[middle:], f"{token}b"
    )


def flush_segment(
    path: Path,
    *,
    client: ClickHouse,
    geo: GeoDatabase | None,
    table: str = "events",
    report: FlushReport | None = None,
) -> None:
    report = report if report is not None else FlushReport()
    token = path.stem
    dead: list[_Dead] = []
    rows: list[tuple[int, EventRow]] = []
    seen: set[bytes] = set()
    client_ids: list[EventRow] = []
    for index, record, event in _read_records(path, dead):
        if event.event_id.bytes in seen:
            report.duplicates += 1
            continue
        seen.add(event.event_id.bytes)
        try:
            row = enrich(event, geo=geo)
        except Exception as exc:  # a bug or a record no step foresaw: keep it, say why
            logger.exception("could not enrich an event of %s", path.name)
            reason = f"enrichment failed: {exc!r}"[:1000]
            dead.append(_Dead(index, reason, anonymous(record, event)))
            continue
        rows.append((index, row))
        if event.client_event_id:
            client_ids.append(row)
    stored = stored_event_ids(client, table, client_ids)
    if stored:
        before = len(rows)
        rows = [(i, row) for i, row in rows if str(row.event_id) not in stored]
        report.duplicates += before - len(rows)
    plain = [row for _, row in rows]
    changes = stitch(plain, open_visits(client, plain))
    if changes:
        try:
            client.insert("sessions", session_columns(changes), dedup_token=f"{token}.s")
        except ClickHouseUnavailable:
            raise
        except _REJECTED:
            logger.exception("ClickHouse rejected the visits of %s; storing its events", path)
            report.errors.append(f"visits of {path.name} rejected")
    dead += _insert(client, table, rows, f"{token}.e")
    if table == "events":  # streaming destinations: queue what is stored (docs/destinations.md)
        outbox.enqueue(
            token,
            rows,
            rejected={d.index for d in dead if d.row is not None},
            resent=[row for row in client_ids if str(row.event_id) in stored],
        )
    if dead:
        _bury(path.name, dead)
        report.dead_letters += len(dead)
    report.events += len(rows) - sum(1 for d in dead if d.row is not None)
    report.segments += 1
    segment_flushed(path, events=len(rows), dead_letters=len(dead))  # common.metrics
    path.unlink()


def _bury(segment: str, dead: list[_Dead]) -> None:
    DeadLetter.objects.bulk_create(
        [
            DeadLetter(segment=segment, index=d.index, reason=d.reason, event=d.event, row=d.row)
            for d in dead
        ],
        ignore_conflicts=True,  # a segment flushed again after a crash
    )
    logger.error("%d event(s) of %s went to the dead letters", len(dead), segment)
