"""The edge of ingest: raw request bodies become frozen `EventInput`s, or a `BadRequest`.

Nothing downstream sees raw JSON. Limits follow Plausible's Events API: a name of at most
120 characters, URL and referrer of at most 2,000 bytes, at most 30 props with keys of at
most 300 bytes and values of at most 2,000 bytes, no `data:` or `javascript:` URLs. Any
other scheme is a page (`app://localhost/x`, `capacitor://`, `file:///…`: docs/hostnames.md).
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from common import strict_json
from events.enrich.urls import parse_page_url
from events.rows import ENGAGEMENT

MAX_BODY = 64 * 1024  # one browser event
MAX_BATCH_BODY = 8 * 1024 * 1024  # up to 1,000 server events
MAX_BATCH_EVENTS = 1000
MAX_NAME = 120
MAX_URL = 2000
MAX_PROPS = 30
MAX_PROP_KEY = 300
MAX_PROP_VALUE = 2000
MAX_ENGAGEMENT_MS = 30 * 24 * 3_600_000  # Plausible ignores an engaged time of 30 days or more
MAX_FUTURE = dt.timedelta(minutes=5)
MAX_PAST = dt.timedelta(days=30)
_FORBIDDEN_SCHEMES = ("data:", "javascript:", "vbscript:")
# Plausible's goals "with a path": sent without a `path` property (Plausible's npm library
# sends `Form: Submission` bare), they get the event's pathname as one.
GOALS_WITH_PATH = frozenset({"404", "Form: Submission", "WP Form Completions"})


class BadRequest(Exception):
    """The client's fault: `status` (400, 413 or 415) and a message naming the field."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class NotAnEvent(Exception):
    """A well-formed request that carries no event to store (Umami's `identify`): it is
    answered 202 with `X-Trail-Dropped: <reason>`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class EventInput:
    name: str
    url: str
    referrer: str = ""
    domains: tuple[str, ...] = ()  # Plausible: `d` (comma-separated)
    website: str = ""  # Umami: the site's public UUID
    props: tuple[tuple[str, str], ...] = ()
    revenue_amount: Decimal | None = None
    revenue_currency: str = ""
    interactive: bool = True
    hash_mode: bool = False
    scroll_depth: int | None = None
    engagement_ms: int | None = None
    screen_width: int | None = None
    title: str = ""
    language: str = ""
    timestamp: dt.datetime | None = None  # batch API only
    event_id: str = ""  # batch API only
    ip: str = ""  # batch API only: the visitor's IP as the server saw it
    user_agent: str = ""  # batch API only


def too_large(limit: int) -> BadRequest:
    """The 413 of a body over `limit` bytes."""
    return BadRequest(f"body too large: at most {limit} bytes", 413)


def read_body(raw: bytes, content_encoding: str, limit: int) -> bytes:
    """The body, decompressed if gzip/deflate, never more than `limit` bytes."""
    if len(raw) > limit:
        raise too_large(limit)
    return decompress(raw, content_encoding, limit)


def decompress(raw: bytes, content_encoding: str, limit: int) -> bytes:
    """A body read within `limit`, decompressed if gzip/deflate: at most `limit` bytes."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "deflate"):
        raise BadRequest(f"unsupported Content-Encoding {encoding[:20]!r}", 415)
    inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise BadRequest(f"body is not valid {encoding}") from None
    if len(body) > limit or inflater.unconsumed_tail:
        raise BadRequest(f"body too large once decompressed: at most {limit} bytes", 413)
    return body


def parse_json(body: bytes) -> Any:
    """A body's JSON (common.strict_json: UTF-8, no unpaired surrogates, bounded depth)."""
    if not body.strip():
        raise BadRequest("empty body: send a JSON object")
    try:
        return strict_json.loads(body)
    except strict_json.InvalidJson as exc:
        raise BadRequest(f"body is {exc.message}") from None


def _text(
    value: Any, field: str, *, limit: int, required: bool = False, in_bytes: bool = False
) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadRequest(f"{field}: expected a string")
    if "\x00" in value:
        raise BadRequest(f"{field}: contains a NUL character")
    size = len(value)  # ASCII (the common case): as many bytes as characters
    if not value.isascii():
        try:
            encoded = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise BadRequest(f"{field}: contains an unpaired surrogate") from None
        if in_bytes:
            size = encoded
    if size > limit:
        raise BadRequest(f"{field}: at most {limit} {'bytes' if in_bytes else 'characters'}")
    if required and not value.strip():
        raise BadRequest(f"{field}: required")
    return value


def _url(value: Any, field: str, *, required: bool) -> str:
    url = _text(value, field, limit=MAX_URL, required=required, in_bytes=True).strip()
    if url.lower().startswith(_FORBIDDEN_SCHEMES):
        raise BadRequest(f"{field}: {url.split(':', 1)[0].lower()}: URLs are not accepted")
    # urlsplit refuses only a broken IPv6 host or a non-ASCII host that NFKC-normalizes
    # into a delimiter: skip it for the plain URLs that are nearly all traffic.
    if "[" in url or "]" in url or not url.isascii():
        try:
            urlsplit(url)
        except ValueError:
            raise BadRequest(f"{field}: not a valid URL") from None
    return url


def _props(value: Any, *, drop_blank: bool = False) -> tuple[tuple[str, str], ...]:
    """Props as (key, value) strings. `drop_blank` (Plausible's Events API): a key or a
    value that is empty or only white space is left out, as Plausible leaves it out."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):  # the older plausible-tracker sends props as a JSON string
        value = parse_json(value.encode("utf-8", "surrogatepass"))
    if not isinstance(value, dict):
        raise BadRequest("props: expected an object of strings")
    if len(value) > MAX_PROPS:
        raise BadRequest(f"props: at most {MAX_PROPS} properties")
    props = []
    for key, item in value.items():
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, int | float):
            item = json.dumps(item)
        elif item is None or isinstance(item, list | dict):
            continue  # as Plausible: lists, maps and nulls are left out
        if drop_blank and isinstance(item, str) and (not key.strip() or not item.strip()):
            continue
        key = _text(key, "props key", limit=MAX_PROP_KEY, required=True, in_bytes=True)
        props.append((key, _text(item, f"props.{key[:40]}", limit=MAX_PROP_VALUE, in_bytes=True)))
    return tuple(props)


def _revenue(value: Any) -> tuple[Decimal | None, str]:
    if value is None:
        return None, ""
    if not isinstance(value, dict):
        raise BadRequest("revenue: expected {amount, currency}")
    currency = _text(value.get("currency"), "revenue.currency", limit=3, required=True).upper()
    if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
        raise BadRequest("revenue.currency: expected a 3-letter ISO 4217 code")
    amount = value.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        raise BadRequest("revenue.amount: expected a number")
    try:
        decimal = Decimal(str(amount))
    except InvalidOperation:
        raise BadRequest("revenue.amount: expected a number") from None
    if not decimal.is_finite() or abs(decimal) >= Decimal(10) ** 15:
        raise BadRequest("revenue.amount: out of range")
    return decimal.quantize(Decimal("0.001")), currency


def _int(value: Any, field: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise BadRequest(f"{field}: expected a number")
    if not low <= value <= high:
        raise BadRequest(f"{field}: expected {low} to {high}")
    return int(value)


def _scroll_depth(value: Any) -> int | None:
    """`sd`, the deepest share of the page seen, 0 to 100; more is 100 (Plausible's rule: a
    page that got shorter than the point scrolled to reports more, e.g. 698)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 100:
        return 100
    return _int(value, "sd", 0, 100)


def _engaged_ms(value: Any) -> int | None:
    """`e`, the engaged time in ms. 30 days or more is left out, not refused (Plausible's
    rule): the npm library counts all the time a tab is visible and focused, so a page
    left open on a wall screen sends days; its scroll depth still counts."""
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and value >= MAX_ENGAGEMENT_MS
    ):
        return None
    return _int(value, "e", 0, MAX_ENGAGEMENT_MS - 1)


def _with_path(
    name: str, url: str, hash_mode: bool, props: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """Props of a goal with a path (`GOALS_WITH_PATH`) sent without one: the pathname
    first, as the flush stores it (`parse_page_url`, cached: the flush's parse of the same
    URL is then a hit), within the 30 props."""
    if name not in GOALS_WITH_PATH or any(key == "path" for key, _ in props):
        return props
    path = parse_page_url(url, hash_mode=hash_mode).pathname
    return (("path", path[:MAX_PROP_VALUE]), *props)[:MAX_PROPS]


def _flag(value: Any, field: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise BadRequest(f"{field}: expected true or false")


def _pick(data: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in data:
            return data[name]
    return None


def _require_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadRequest("body: expected a JSON object")
    return data


def _name(value: Any) -> str:
    return _text(value, "name", limit=MAX_NAME, required=True).strip()


def from_plausible(data: Any) -> EventInput:
    """A Plausible Events API payload (long or one-letter field names)."""
    data = _require_object(data)
    name = _name(_pick(data, "n", "name"))
    url = _url(_pick(data, "u", "url"), "url", required=True)
    domains_raw = _text(_pick(data, "d", "domain"), "domain", limit=MAX_URL)
    domains = tuple(d.strip() for d in domains_raw.split(",") if d.strip())
    if not domains:
        host = urlsplit(url).hostname or ""
        if not host:
            raise BadRequest("domain: required (or a URL with a host)")
        domains = (host,)
    amount, currency = _revenue(_pick(data, "$", "revenue"))
    engagement = name == ENGAGEMENT
    hash_mode = _flag(_pick(data, "h", "hashMode"), "hashMode", False)
    props = _props(_pick(data, "p", "props", "m", "meta"), drop_blank=True)
    return EventInput(
        name=name,
        url=url,
        referrer=_url(_pick(data, "r", "referrer"), "referrer", required=False),
        domains=domains,
        props=_with_path(name, url, hash_mode, props),
        revenue_amount=amount,
        revenue_currency=currency,
        interactive=_flag(_pick(data, "i", "interactive"), "interactive", True),
        hash_mode=hash_mode,
        scroll_depth=_scroll_depth(data.get("sd")) if engagement else None,
        engagement_ms=_engaged_ms(data.get("e")) if engagement else None,
        screen_width=_int(_pick(data, "w", "screen_width"), "screen_width", 0, 100_000),
    )


def from_umami(data: Any) -> EventInput:
    """An Umami `/api/send` body: `{type: "event", payload: {website, url, ...}}`."""
    data = _require_object(data)
    if data.get("type") == "identify":
        raise NotAnEvent("identify")  # Umami's session data: Trail keeps no visitor profiles
    if data.get("type") != "event":
        raise BadRequest('type: expected "event"')
    payload = _require_object(data.get("payload"))
    website = _text(payload.get("website"), "payload.website", limit=36, required=True).strip()
    name = _text(payload.get("name"), "payload.name", limit=MAX_NAME).strip() or "pageview"
    url = _url(payload.get("url"), "payload.url", required=False) or "/"
    hostname = _text(payload.get("hostname"), "payload.hostname", limit=253).strip()
    if url.startswith("/") and hostname:
        url = f"https://{hostname}{url}"
    screen = _text(payload.get("screen"), "payload.screen", limit=20)
    width = screen.split("x", 1)[0]
    return EventInput(
        name=name,
        url=url,
        referrer=_url(payload.get("referrer"), "payload.referrer", required=False),
        website=website,
        props=_props(payload.get("data")),
        screen_width=int(width) if width.isdigit() and len(width) < 6 else None,
        title=_text(payload.get("title"), "payload.title", limit=MAX_URL, in_bytes=True),
        language=_text(payload.get("language"), "payload.language", limit=35),
    )


def _timestamp(value: Any, now: dt.datetime) -> dt.datetime:
    if value is None:
        return now
    if isinstance(value, bool):
        raise BadRequest("timestamp: expected ISO-8601 or epoch milliseconds")
    if isinstance(value, int | float):
        try:
            when = dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise BadRequest("timestamp: out of range") from None
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest("timestamp: expected ISO-8601 or epoch milliseconds") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    else:
        raise BadRequest("timestamp: expected ISO-8601 or epoch milliseconds")
    if when > now + MAX_FUTURE:
        raise BadRequest("timestamp: more than 5 minutes in the future")
    if when < now - MAX_PAST:
        raise BadRequest("timestamp: more than 30 days in the past")
    return when.astimezone(dt.UTC)


def from_batch_item(data: Any, now: dt.datetime) -> EventInput:
    """One event of `POST /api/v1/events`."""
    data = _require_object(data)
    domain = _text(data.get("domain"), "domain", limit=253, required=True).strip()
    amount, currency = _revenue(data.get("revenue"))
    name = _name(data.get("name"))
    engagement = name == ENGAGEMENT
    return EventInput(
        name=name,
        url=_url(data.get("url"), "url", required=True),
        referrer=_url(data.get("referrer"), "referrer", required=False),
        domains=(domain,),
        props=_props(data.get("props")),
        revenue_amount=amount,
        revenue_currency=currency,
        screen_width=_int(data.get("screen_width"), "screen_width", 0, 100_000),
        scroll_depth=_scroll_depth(data.get("sd")) if engagement else None,
        engagement_ms=_engaged_ms(data.get("e")) if engagement else None,
        timestamp=_timestamp(data.get("timestamp"), now),
        event_id=_text(data.get("event_id"), "event_id", limit=128).strip(),
        ip=_text(data.get("ip"), "ip", limit=45).strip(),
        user_agent=_text(data.get("user_agent"), "user_agent", limit=1000),
    )


def batch_items(data: Any) -> list[Any]:
    data = _require_object(data)
    events = data.get("events")
    if not isinstance(events, list):
        raise BadRequest("events: expected a list")
    if not events:
        raise BadRequest("events: empty")
    if len(events) > MAX_BATCH_EVENTS:
        raise BadRequest(f"events: at most {MAX_BATCH_EVENTS} per request", 413)
    return events
