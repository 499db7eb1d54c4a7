"""The spool record: what an accepted event looks like on disk until it is flushed.

The edge writes one JSON object per event (`to_record`, at request time); the flush reads
it back (`SpooledEvent.of`), and so do dead letters: both sides of the format live here.
Short keys keep segments small. The record holds the raw IP and user agent only until the
flush turns them into a visitor hash, a location and a device; the segment is then deleted
(docs/privacy.md).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from events.ingest.request import EventInput

# Client-supplied event ids (batch API) become UUIDs in a namespace of Trail's own, per
# site: the same id sent twice maps to the same UUID, and is stored once.
_CLIENT_IDS = uuid.UUID("6f1d1c1e-5a8b-4f62-9d47-3c2e7b0a9e51")


def event_uuid(*, site_id: int, client_event_id: str) -> uuid.UUID:
    """The stored event id: random, or derived from the client's id (stable on retries)."""
    if client_event_id:
        return uuid.uuid5(_CLIENT_IDS, f"{site_id}/{client_event_id}")
    return uuid.uuid4()


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def to_record(
    event: EventInput, *, site_id: int, ip: str, user_agent: str, received_at: dt.datetime
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": event_uuid(site_id=site_id, client_event_id=event.event_id).hex,
        "s": site_id,
        "rx": _ms(received_at),
        "ts": _ms(event.timestamp or received_at),
        "ip": ip,
        "ua": user_agent,
        "n": event.name,
        "u": event.url,
    }
    optional: dict[str, Any] = {
        "r": event.referrer,
        "p": [list(pair) for pair in event.props],
        "ra": str(event.revenue_amount) if event.revenue_amount is not None else None,
        "rc": event.revenue_currency,
        "h": event.hash_mode,
        "sd": event.scroll_depth,
        "e": event.engagement_ms,
        "w": event.screen_width,
        "cid": bool(event.event_id),
    }
    record.update({key: value for key, value in optional.items() if value})
    if not event.interactive:
        record["ni"] = True
    return record


def _when(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


@dataclass(slots=True)  # not frozen: built once per event in the flush, and never changed
class SpooledEvent:
    event_id: uuid.UUID
    site_id: int
    received_at: dt.datetime
    timestamp: dt.datetime
    ip: str
    user_agent: str
    name: str
    url: str
    referrer: str
    props: tuple[tuple[str, str], ...]
    revenue_amount: Decimal | None
    revenue_currency: str
    interactive: bool
    hash_mode: bool
    scroll_depth: int | None
    engagement_ms: int | None
    screen_width: int | None
    client_event_id: bool  # the id came from the client: check it against stored events

    @classmethod
    def of(cls, record: dict[str, Any]) -> SpooledEvent:
        """Raises KeyError, TypeError or ValueError on a record the edge did not write."""
        amount = record.get("ra")
        return cls(
            event_id=uuid.UUID(hex=record["id"]),
            site_id=int(record["s"]),
            received_at=_when(int(record["rx"])),
            timestamp=_when(int(record["ts"])),
            ip=str(record.get("ip", "")),
            user_agent=str(record.get("ua", "")),
            name=str(record["n"]),
            url=str(record["u"]),
            referrer=str(record.get("r", "")),
            props=tuple((str(k), str(v)) for k, v in record.get("p", ())),
            revenue_amount=Decimal(amount) if amount is not None else None,
            revenue_currency=str(record.get("rc", "")),
            interactive=not record.get("ni", False),
            hash_mode=bool(record.get("h", False)),
            scroll_depth=record.get("sd"),
            engagement_ms=record.get("e"),
            screen_width=record.get("w"),
            client_event_id=bool(record.get("cid", False)),
        )
