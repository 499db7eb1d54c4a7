"""Dead letters: list, replay and purge the events the flush could not store.

A letter whose row ClickHouse rejected is replayed as that row; one whose record could not
be enriched is enriched again from what it kept (no IP or user agent: its visitor hash is
restored from the letter). A replayed letter is deleted; one that fails again stays, with
the new reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet

from events.clickhouse import ClickHouse, ClickHouseError, ClickHouseUnavailable
from events.enrich.enrich import enrich
from events.models import DeadLetter
from events.record import SpooledEvent
from events.rows import EventRow, columns


@dataclass(frozen=True)
class ReplayReport:
    replayed: int
    failed: int


def letters(
    *, ids: list[int] | None = None, older_than: dt.timedelta | None = None
) -> QuerySet[DeadLetter]:
    found = DeadLetter.objects.order_by("id")
    if ids:
        found = found.filter(id__in=ids)
    if older_than is not None:
        found = found.filter(created_at__lt=dt.datetime.now(dt.UTC) - older_than)
    return found


def _row(letter: DeadLetter) -> EventRow:
    if letter.row:
        return EventRow.from_json(letter.row)
    event = SpooledEvent.of({**letter.event, "ip": "", "ua": ""})
    row = enrich(event, geo=None)
    if "visitor_id" in letter.event:
        row.visitor_id = int(letter.event["visitor_id"])
    return row


def _token(letter: DeadLetter) -> str:
    """Stable and unique for ever: where the event sat in the spool (ids can be reused)."""
    return f"dead-{letter.segment.removesuffix('.seg')}-{letter.index}"


def replay(client: ClickHouse, *, ids: list[int] | None = None) -> ReplayReport:
    replayed = failed = 0
    for letter in letters(ids=ids):
        try:
            row = _row(letter)
            client.insert("events", columns([row]), dedup_token=_token(letter))
        except ClickHouseUnavailable:
            raise
        except (ClickHouseError, KeyError, TypeError, ValueError) as exc:
            letter.reason = f"replay failed: {str(exc)[:1000]}"
            letter.save(update_fields=["reason"])
            failed += 1
            continue
        letter.delete()
        replayed += 1
    return ReplayReport(replayed=replayed, failed=failed)


def purge(*, ids: list[int] | None = None, older_than: dt.timedelta | None = None) -> int:
    deleted, _ = letters(ids=ids, older_than=older_than).delete()
    return deleted
