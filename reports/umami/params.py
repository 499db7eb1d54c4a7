"""Umami's query parameters, read strictly: each bad one is a ServiceError naming it.

Umami names a time range by two instants (`startAt`, `endAt`, epoch milliseconds); Trail's
reports cover whole days of a time zone, so the range becomes the local days it touches
(`endAt` itself excluded: an `endAt` at midnight ends the day before). Its filters are
query parameters named after the dimension (`path=/blog`, `country=FR`), each an equality.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from accounts.errors import ServiceError
from reports import dates

MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_TEXT = 2_000
LATEST = dt.date(2199, 12, 31)  # the reports' last day (as the Stats API v1's)

# Umami's filter parameters → Trail's dimensions (each an `is` filter on one value).
FILTERS = {
    "path": "event:page",
    "url": "event:page",  # Umami's name before 2025
    "referrer": "visit:referrer",
    "hostname": "event:hostname",
    "host": "event:hostname",  # Umami's name before 2025
    "event": "event:name",
    "browser": "visit:browser",
    "os": "visit:os",
    "device": "visit:device",
    "country": "visit:country",
    "region": "visit:region",
    "city": "visit:city",
    "channel": "visit:channel",
    "utm_source": "visit:utm_source",
    "utm_medium": "visit:utm_medium",
    "utm_campaign": "visit:utm_campaign",
    "utm_content": "visit:utm_content",
    "utm_term": "visit:utm_term",
    # Umami's current names (docs.umami.is, "Filters")
    "utmSource": "visit:utm_source",
    "utmMedium": "visit:utm_medium",
    "utmCampaign": "visit:utm_campaign",
    "utmContent": "visit:utm_content",
    "utmTerm": "visit:utm_term",
}
# Umami's filters that Trail has no dimension for: refused, not silently ignored.
UNSUPPORTED_FILTERS = ("title", "query", "language", "tag", "segment", "cohort", "distinctId")


@dataclass(frozen=True)
class Span:
    """An Umami range: its instants, and the local days Trail reports on."""

    start: dt.datetime
    end: dt.datetime
    timezone: str
    first: dt.date
    last: dt.date

    def date_range(self) -> list[str]:
        return [self.first.isoformat(), self.last.isoformat()]


def text(params: Mapping[str, Any], name: str, default: str = "") -> str:
    value = params.get(name, default)
    if not isinstance(value, str):
        raise ServiceError("expected text", field=name)
    if len(value) > MAX_TEXT or "\x00" in value:
        raise ServiceError(f"at most {MAX_TEXT} characters, no NUL", field=name)
    return value


def integer(
    params: Mapping[str, Any], name: str, *, default: int | None, low: int, high: int
) -> int:
    raw = text(params, name).strip()
    if not raw:
        if default is None:
            raise ServiceError("required", field=name)
        return default
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 20:
        raise ServiceError("expected a whole number", field=name)
    value = int(raw)
    if not low <= value <= high:
        raise ServiceError(f"expected {low} to {high}", field=name)
    return value


def instant(params: Mapping[str, Any], name: str) -> dt.datetime:
    ms = integer(params, name, default=None, low=0, high=MAX_MS)
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def timezone(params: Mapping[str, Any], default: str) -> str:
    name = text(params, "timezone", default) or default
    try:
        dates.zone(name)
    except Exception:  # noqa: BLE001 (any refusal of the name is the caller's mistake)
        raise ServiceError(f"unknown time zone {name!r}", field="timezone") from None
    return name


def span(params: Mapping[str, Any], *, site_timezone: str) -> Span:
    start, end = instant(params, "startAt"), instant(params, "endAt")
    if end <= start:
        raise ServiceError("must be after startAt", field="endAt")
    zone_name = timezone(params, site_timezone)
    zone = dates.zone(zone_name)
    first = start.astimezone(zone).date()
    last = (end - dt.timedelta(milliseconds=1)).astimezone(zone).date()
    if last < dates.EARLIEST:
        raise ServiceError(f"before {dates.EARLIEST.isoformat()}", field="endAt")
    if last > LATEST:
        raise ServiceError(f"after {LATEST.isoformat()}", field="endAt")
    # "Since ever" (`startAt=0`, as clients ask for all time) starts where Trail's reports
    # can: 2000-01-01, and at most 20 years before the last day (the reports' longest range).
    first = max(first, dates.EARLIEST, last - dt.timedelta(days=366 * 20))
    return Span(start=start, end=end, timezone=zone_name, first=first, last=last)


def filters(params: Mapping[str, Any]) -> list[list[Any]]:
    """The Stats API's filters for Umami's filter parameters (an empty one is no filter)."""
    for name in UNSUPPORTED_FILTERS:
        if text(params, name):
            raise ServiceError("Trail has no such dimension to filter on", field=name)
    chosen: list[list[Any]] = []
    for name, dimension in FILTERS.items():
        value = text(params, name)
        if value:
            if dimension == "visit:device":
                value = value[:1].upper() + value[1:].lower()  # Umami's `mobile`, Trail's `Mobile`
            chosen.append(["is", dimension, [value]])
    return chosen


def page(params: Mapping[str, Any]) -> tuple[int, int]:
    """Umami's `page` (from 1) and `pageSize`."""
    number = integer(params, "page", default=1, low=1, high=1_000_000)
    size = integer(params, "pageSize", default=10, low=1, high=1_000)
    return number, size
