"""What a destination receives: the events of a batch as lines, and a request's body.

A batch stores each event as one compact JSON array: its values in the order of the
export's column set, version 1 (docs/exports.md, "Columns"), the cheapest form for the
flush to write. The forwarder turns them into objects: a generic HTTP endpoint receives
NDJSON of the export's objects; Mixpanel receives its event shape (`event`, `properties`
with `distinct_id`, `time` in ms and `$insert_id` = the event id), NDJSON as its `/import`
endpoint takes it.
"""

from __future__ import annotations

import datetime as dt
import operator
from typing import Any

import orjson

from events.rows import ENGAGEMENT, EventRow

COLUMNS_VERSION = "1"
WEBHOOK_LIMIT = 5000  # events a request to a generic endpoint, at most
MIXPANEL_LIMIT = 2000  # Mixpanel's /import takes up to 2,000 events (10 MB) a request
MIXPANEL_URL = "https://api.mixpanel.com/import"


# The export's column names (version 1) and the row's attributes they come from, in order.
_COLUMNS = (
    ("event_id", "event_id"),
    ("timestamp", "timestamp"),
    ("name", "name"),
    ("page", "pathname"),
    ("hostname", "hostname"),
    ("referrer", "referrer"),
    ("source", "referrer_source"),
    ("channel", "channel"),
    ("utm_medium", "utm_medium"),
    ("utm_source", "utm_source"),
    ("utm_campaign", "utm_campaign"),
    ("utm_content", "utm_content"),
    ("utm_term", "utm_term"),
    ("click_id_param", "click_id_param"),
    ("country", "country_code"),
    ("region", "region"),
    ("city", "city"),
    ("device", "device"),
    ("browser", "browser"),
    ("browser_version", "browser_version"),
    ("os", "os"),
    ("os_version", "os_version"),
    ("screen", "screen_size"),
    ("props", "props"),
    ("revenue_amount", "revenue_amount"),
    ("revenue_currency", "revenue_currency"),
    ("interactive", "interactive"),
    ("visitor_id", "visitor_id"),
    ("visit_id", "session_id"),
    ("scroll_depth", "scroll_depth"),
    ("engaged_ms", "engagement_ms"),
)
_NAMES = tuple(name for name, _ in _COLUMNS)
_VALUES = operator.attrgetter(*(attribute for _, attribute in _COLUMNS))
# UUIDs and datetimes are written by orjson itself (an aware UTC time ends in `Z`).
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
_ENGAGEMENT_ONLY = (_NAMES.index("scroll_depth"), _NAMES.index("engaged_ms"))
_NAME = _NAMES.index("name")


def _text(value: object) -> str:
    return str(value)  # a Decimal (revenue): the only type orjson leaves to us


def stored_line(row: EventRow) -> bytes:
    """How the outbox keeps an event: its values as one JSON array, in the order of the
    export's columns (no newline). The flush pays for this one, so it is the cheapest
    form (~2 µs, a third of an object's); the forwarder turns it into the object."""
    return orjson.dumps(_VALUES(row), option=_OPTIONS, default=_text)


def event(stored: bytes) -> dict[str, Any]:
    """An outbox line → the export's object (version 1)."""
    values = orjson.loads(stored)
    if values[_NAME] != ENGAGEMENT:  # as the export: only engagement events have these
        for index in _ENGAGEMENT_ONLY:
            values[index] = None
    return dict(zip(_NAMES, values, strict=True))


def line(stored: bytes) -> bytes:
    """An outbox line → the export's NDJSON line (no newline)."""
    return orjson.dumps(event(stored))


def webhook_body(lines: list[bytes]) -> bytes:
    return b"\n".join(line(stored) for stored in lines) + b"\n"


# Mixpanel's own property names for what Trail knows; the rest keep Trail's names.
_MIXPANEL_NAMES = {
    "browser": "$browser",
    "browser_version": "$browser_version",
    "os": "$os",
    "device": "$device",
    "city": "$city",
    "region": "$region",
    "country": "mp_country_code",
    "referrer": "$referrer",
}
_LEFT_OUT = {"event_id", "timestamp", "name", "props", "visitor_id", "scroll_depth", "engaged_ms"}


def mixpanel_event(exported: dict[str, Any]) -> dict[str, Any]:
    """An export line → Mixpanel's event: `$insert_id` is the event id (Mixpanel drops a
    repeat), `distinct_id` the daily visitor hash, `time` in ms since the epoch."""
    stamp = dt.datetime.fromisoformat(exported["timestamp"].replace("Z", "+00:00"))
    properties: dict[str, Any] = {
        "$insert_id": exported["event_id"],
        "distinct_id": str(exported["visitor_id"]),
        "time": int(stamp.timestamp() * 1000),
    }
    for key, value in exported.items():
        if key in _LEFT_OUT or value is None or value == "":
            continue
        properties[_MIXPANEL_NAMES.get(key, key)] = value
    if exported.get("scroll_depth") is not None:
        properties["scroll_depth"] = exported["scroll_depth"]
        properties["engaged_ms"] = exported["engaged_ms"]
    for key, value in (exported.get("props") or {}).items():
        properties.setdefault(key, value)  # Trail's own names win over a custom property
    return {"event": exported["name"], "properties": properties}


def mixpanel_body(lines: list[bytes]) -> bytes:
    return b"\n".join(orjson.dumps(mixpanel_event(event(raw))) for raw in lines) + b"\n"
