"""What a destination receives: the events of a batch as lines, and a request's body.

A batch stores each event as one compact JSON line in the export's column set, version 1
(docs/exports.md, "Columns"): a generic HTTP endpoint receives those lines as they are;
Mixpanel receives them translated to its event shape (`event`, `properties` with
`distinct_id`, `time` in ms and `$insert_id` = the event id), NDJSON as its `/import`
endpoint takes it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from events.rows import EventRow

COLUMNS_VERSION = "1"
WEBHOOK_LIMIT = 5000  # events a request to a generic endpoint, at most
MIXPANEL_LIMIT = 2000  # Mixpanel's /import takes up to 2,000 events (10 MB) a request
MIXPANEL_URL = "https://api.mixpanel.com/import"


def line(row: EventRow) -> bytes:
    """One event as the export's NDJSON line (no newline)."""
    engagement = row.is_engagement
    stamp = row.timestamp
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return orjson.dumps(
        {
            "event_id": str(row.event_id),
            "timestamp": stamp.astimezone(dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "name": row.name,
            "page": row.pathname,
            "hostname": row.hostname,
            "referrer": row.referrer,
            "source": row.referrer_source,
            "channel": row.channel,
            "utm_medium": row.utm_medium,
            "utm_source": row.utm_source,
            "utm_campaign": row.utm_campaign,
            "utm_content": row.utm_content,
            "utm_term": row.utm_term,
            "click_id_param": row.click_id_param,
            "country": row.country_code,
            "region": row.region,
            "city": row.city,
            "device": row.device,
            "browser": row.browser,
            "browser_version": row.browser_version,
            "os": row.os,
            "os_version": row.os_version,
            "screen": row.screen_size,
            "props": row.props,
            "revenue_amount": str(row.revenue_amount) if row.revenue_amount is not None else None,
            "revenue_currency": row.revenue_currency,
            "interactive": row.interactive,
            "visitor_id": row.visitor_id,
            "visit_id": row.session_id,
            "scroll_depth": row.scroll_depth if engagement else None,
            "engaged_ms": row.engagement_ms if engagement else None,
        }
    )


def webhook_body(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"


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


def mixpanel_event(event: dict[str, Any]) -> dict[str, Any]:
    """An export line → Mixpanel's event: `$insert_id` is the event id (Mixpanel drops a
    repeat), `distinct_id` the daily visitor hash, `time` in ms since the epoch."""
    stamp = dt.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
    properties: dict[str, Any] = {
        "$insert_id": event["event_id"],
        "distinct_id": str(event["visitor_id"]),
        "time": int(stamp.timestamp() * 1000),
    }
    for key, value in event.items():
        if key in _LEFT_OUT or value is None or value == "":
            continue
        properties[_MIXPANEL_NAMES.get(key, key)] = value
    if event.get("scroll_depth") is not None:
        properties["scroll_depth"] = event["scroll_depth"]
        properties["engaged_ms"] = event["engaged_ms"]
    for key, value in (event.get("props") or {}).items():
        properties.setdefault(key, value)  # Trail's own names win over a custom property
    return {"event": event["name"], "properties": properties}


def mixpanel_body(lines: list[bytes]) -> bytes:
    return b"\n".join(orjson.dumps(mixpanel_event(orjson.loads(raw))) for raw in lines) + b"\n"
