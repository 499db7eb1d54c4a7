"""The `events` table's row: its type (`EventRow`, with the `VisitAttributes` a visit keeps)
and its columns, in the order of the dataclass.

The flush builds rows (`events/enrich/enrich.py`), stitches them into visits
(`events/sessions.py`) and inserts them as a columnar block (`columns`); dead letters keep a
row as JSON (`as_json`/`from_json`) and replay it. Nothing here parses requests or queries
ClickHouse.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Event names with a meaning of their own: a pageview counts towards visits and pages; an
# engagement event carries scroll depth and engaged time and joins a visit without changing it.
PAGEVIEW = "pageview"
ENGAGEMENT = "engagement"


@dataclass(slots=True)
class VisitAttributes:
    """What an event says about its visit: where the visitor came from, with what, from
    where. A visit keeps its first event's (events/sessions.py)."""

    hostname: str
    referrer: str
    referrer_source: str
    channel: str
    utm_medium: str
    utm_source: str
    utm_campaign: str
    utm_content: str
    utm_term: str
    click_id_param: str
    country_code: str
    region: str
    city: str
    browser: str
    browser_version: str
    os: str
    os_version: str
    device: str
    screen_size: str


@dataclass(slots=True)
class EventRow(VisitAttributes):
    """One `events` row (session_id is filled in by the session stitching)."""

    site_id: int
    event_id: uuid.UUID
    timestamp: dt.datetime
    name: str
    visitor_id: int
    pathname: str
    props: dict[str, str]
    revenue_amount: Decimal | None
    revenue_currency: str
    interactive: bool
    scroll_depth: int
    engagement_ms: int
    session_id: int = 0

    @property
    def is_pageview(self) -> bool:
        return self.name == PAGEVIEW

    @property
    def is_engagement(self) -> bool:
        return self.name == ENGAGEMENT

    def as_json(self) -> dict[str, Any]:
        """The row as JSON values (for dead letters)."""
        values: dict[str, Any] = {}
        for name in COLUMNS:
            value = getattr(self, name)
            if isinstance(value, uuid.UUID | Decimal):
                value = str(value)
            elif isinstance(value, dt.datetime):
                value = value.isoformat()
            values[name] = value
        return values

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> EventRow:
        fields = dict(values)
        fields["event_id"] = uuid.UUID(fields["event_id"])
        fields["timestamp"] = dt.datetime.fromisoformat(fields["timestamp"])
        amount = fields.get("revenue_amount")
        fields["revenue_amount"] = Decimal(amount) if amount is not None else None
        return cls(**fields)


COLUMNS = tuple(EventRow.__dataclass_fields__)


def columns(rows: list[EventRow]) -> dict[str, list[Any]]:
    """Rows -> the columnar block `ClickHouse.insert` takes."""
    block = {name: [getattr(row, name) for row in rows] for name in COLUMNS}
    block["event_id"] = [str(value) for value in block["event_id"]]  # UUID travels as text
    return block
