"""Enrichment: a spooled event becomes a row of the `events` table.

Runs in the flush (a Celery task in services mode, the flusher thread in embedded mode),
never on the request path. The IP and user agent are used here and dropped: the row keeps
the visitor hash, the location and the device.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from events.ingest.clients import client_info, screen_size
from events.ingest.geo import UNKNOWN, GeoDatabase
from events.ingest.record import SpooledEvent
from events.ingest.referrers import attribute
from events.ingest.request import ENGAGEMENT
from events.ingest.urls import parse_page_url
from events.salts import visitor_id

PAGEVIEW = "pageview"


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


def enrich(event: SpooledEvent, *, geo: GeoDatabase | None) -> EventRow:
    page = parse_page_url(event.url, hash_mode=event.hash_mode)
    client = client_info(event.user_agent)
    location = geo.lookup(event.ip) if geo is not None and event.ip else UNKNOWN
    source = attribute(
        referrer=event.referrer,
        page_host=page.hostname,
        utm_source=page.utm_source,
        utm_medium=page.utm_medium,
        utm_campaign=page.utm_campaign,
        click_id_param=page.click_id_param,
    )
    return EventRow(
        site_id=event.site_id,
        event_id=event.event_id,
        timestamp=event.timestamp,
        name=event.name,
        visitor_id=visitor_id(
            site_id=event.site_id,
            ip=event.ip,
            user_agent=event.user_agent,
            received_at=event.received_at,
        ),
        hostname=page.hostname,
        pathname=page.pathname,
        referrer=source.referrer,
        referrer_source=source.source,
        channel=source.channel,
        utm_medium=page.utm_medium,
        utm_source=page.utm_source,
        utm_campaign=page.utm_campaign,
        utm_content=page.utm_content,
        utm_term=page.utm_term,
        click_id_param=page.click_id_param,
        country_code=location.country_code,
        region=location.region,
        city=location.city,
        browser=client.browser,
        browser_version=client.browser_version,
        os=client.os,
        os_version=client.os_version,
        device=client.device if event.user_agent else "",
        screen_size=screen_size(event.screen_width),
        props=dict(event.props),
        revenue_amount=event.revenue_amount,
        revenue_currency=event.revenue_currency,
        interactive=event.interactive,
        scroll_depth=event.scroll_depth or 0,
        engagement_ms=event.engagement_ms or 0,
    )
