"""The *Google Analytics 4* source: the BigQuery export's `events_*` rows → `RawEvent`s.

A file is NDJSON (one BigQuery row a line, as `bq extract --destination_format
NEWLINE_DELIMITED_JSON` writes it; gzipped or not) or Parquet (told by its `PAR1` magic),
read a line or a row group batch at a time, never whole. The mapping of every field and
what is dropped, with the reasons, is in docs/imports-sources.md; in short:

- `page_view` is a `pageview`, `user_engagement` an `engagement` carrying its engaged
  time, `click` (outbound) and `file_download` are Plausible's "Outbound Link: Click" and
  "File Download"; `session_start`, `first_visit`, `scroll` and the app-only automatic
  events are dropped (Trail derives visits itself); any other event keeps its name with
  its parameters (minus GA4's own) as props.
- The visitor is `user_pseudo_id`, the visit `user_pseudo_id` + `ga_session_id`.
- UTM tags come from `collected_traffic_source` (this event's campaign), else from the page
  URL's query; `traffic_source` (the user's first acquisition, the same on every event of
  the user) is not this visit's source and is ignored.
- Country names become ISO codes through `common.countries` (GA4 writes English names).

Rows without a `page_location` (app events) are skipped: they are no page of a site.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from common import countries
from events.enrich.labels import BROWSERS, IPADOS, MOBILE_APP
from events.ingest.request import MAX_NAME, MAX_PROP_KEY, MAX_PROP_VALUE, MAX_PROPS, MAX_URL
from reports.imports.rows import BadImportFile, RawEvent

MAX_LINE = 8 * 1024 * 1024  # one BigQuery row as JSON; a longer line is not a GA4 row
PARQUET_BATCH = 1_024  # rows turned into Python objects at a time
REQUIRED = ("event_timestamp", "event_name")

# GA4's automatic events that carry nothing a Trail report counts (visits and first visits
# are derived from the events themselves; `scroll` only says "90 % reached").
DROPPED = frozenset(
    {
        "session_start",
        "first_visit",
        "scroll",
        "first_open",
        "app_remove",
        "os_update",
        "app_update",
        "screen_view",
        "app_exception",
        "notification_receive",
        "notification_dismiss",
        "notification_open",
        "notification_foreground",
    }
)
RENAMED = {"file_download": "File Download"}
OUTBOUND = "Outbound Link: Click"

# Parameters GA4 sets itself (page, session, attribution, engagement bookkeeping): they are
# columns of the row or nobody's property.
INTERNAL_PARAMS = frozenset(
    {
        "page_location",
        "page_referrer",
        "page_title",
        "ga_session_id",
        "ga_session_number",
        "engagement_time_msec",
        "engaged_session_event",
        "session_engaged",
        "entrances",
        "ignore_referrer",
        "debug_mode",
        "batch_page_id",
        "batch_ordering_id",
        "campaign",
        "campaign_id",
        "source",
        "medium",
        "term",
        "content",
        "gclid",
        "dclid",
        "srsltid",
        "firebase_conversion",
        "firebase_event_origin",
        "firebase_screen",
        "firebase_screen_class",
        "firebase_screen_id",
        "currency",
        "value",
        "synthetic_bundle",
        "link_classes",
        "link_id",
        "link_domain",
        "outbound",
    }
)

DEVICES = {"desktop": "Desktop", "mobile": "Mobile", "tablet": "Tablet"}
OPERATING_SYSTEMS = {
    "Macintosh": "Mac",
    "Linux": "GNU/Linux",
    "Chrome OS": "Chrome OS",
    "Windows": "Windows",
    "iOS": "iOS",
    "Android": "Android",
}
# GA4's browser names that differ from Trail's (Plausible's); the rest are the same words
# as ua-parser's, so Trail's own table (`BROWSERS`) applies after this one.
GA4_BROWSERS = {
    "Edge": "Microsoft Edge",
    "Samsung Internet": "Samsung Browser",
    "Android Webview": MOBILE_APP,
    "Safari (in-app)": MOBILE_APP,
    "YaBrowser": "Yandex Browser",
    "Android Browser": "Android Browser",
    "Opera Mini": "Opera",
}
NOT_SET = frozenset({"", "(not set)", "(other)", "(data deleted)"})
CLICK_IDS = ("gclid", "dclid", "srsltid")  # the click ids collected_traffic_source has
UTM_FIELDS = (
    ("utm_source", "manual_source"),
    ("utm_medium", "manual_medium"),
    ("utm_campaign", "manual_campaign_name"),
    ("utm_content", "manual_content"),
    ("utm_term", "manual_term"),
)
CURRENCY = re.compile(r"[A-Z]{3}")
REVENUE_LIMIT = Decimal("1e15")  # Decimal(18, 3) holds 15 integer digits


class Client(NamedTuple):
    device: str
    os: str
    os_version: str
    browser: str
    browser_version: str


def events(path: Path, name: str = "") -> Iterator[RawEvent]:
    """The Trail events of one GA4 export file (`name`: the upload's name, for messages)."""
    name = name or path.name
    with path.open("rb") as file:
        head = file.read(4)
    if head == b"PAR1":
        yield from _parquet(path, name)
    else:
        yield from _ndjson(path, name, gzipped=head[:2] == b"\x1f\x8b")


def _ndjson(path: Path, name: str, *, gzipped: bool) -> Iterator[RawEvent]:
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as file:
        number = 0
        while True:
            try:
                raw = file.readline(MAX_LINE + 1)
            except (OSError, EOFError) as exc:  # a corrupt or truncated gzip stream
                raise BadImportFile(
                    name, f"not a readable gzip file ({exc})", line=number + 1
                ) from exc
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE:
                raise BadImportFile(name, f"a line longer than {MAX_LINE} bytes", line=number)
            if not raw.strip():
                continue
            row = _json(raw, name, number)
            if not isinstance(row, dict):
                raise BadImportFile(
                    name, "not a GA4 export: the line is not a JSON object", line=number
                )
            event = _event(row, name, number)
            if event is not None:
                yield event


def _json(raw: bytes, name: str, number: int) -> Any:
    """One line's JSON: orjson (fast), else the standard library, which also takes what
    orjson refuses and BigQuery may write: lone surrogates, integers over 64 bits, NaN."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadImportFile(
            name, "not a GA4 export: the line is not a JSON object", line=number
        ) from exc


def _parquet(path: Path, name: str) -> Iterator[RawEvent]:
    import pyarrow.parquet as pq  # heavy: only when a Parquet file comes

    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own errors for a broken file
        raise BadImportFile(name, f"not a readable Parquet file ({exc})") from exc
    columns = parquet.schema_arrow.names
    for required in REQUIRED:
        if required not in columns:
            raise BadImportFile(name, "not a GA4 export: the column is missing", column=required)
    wanted = [
        column
        for column in (
            *REQUIRED,
            "event_params",
            "user_pseudo_id",
            "device",
            "geo",
            "collected_traffic_source",
            "ecommerce",
        )
        if column in columns
    ]
    number = 0
    try:
        batches = parquet.iter_batches(batch_size=PARQUET_BATCH, columns=wanted)
        for batch in batches:
            for row in batch.to_pylist():
                number += 1
                event = _event(row, name, number)
                if event is not None:
                    yield event
    except BadImportFile:
        raise
    except Exception as exc:  # a corrupt page or column chunk
        raise BadImportFile(name, f"not a readable Parquet file ({exc})", line=number + 1) from exc


def _text(value: Any, limit: int) -> str:
    """A text cell made storable: no NUL, no lone surrogate (JSON allows `\\ud800`), cut
    at `limit` characters."""
    text = value[:limit]
    if "\x00" in text:
        text = text.replace("\x00", "")
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _event(row: dict[str, Any], name: str, line: int) -> RawEvent | None:
    def bad(column: str, message: str) -> BadImportFile:
        return BadImportFile(name, message, line=line, column=column)

    def string(record: Any, key: str, column: str, limit: int = MAX_PROP_VALUE) -> str:
        value = record.get(key) if isinstance(record, dict) else None
        if value is None:
            return ""
        if not isinstance(value, str):
            raise bad(column, "expected a text")
        return "" if value in NOT_SET else _text(value, limit)

    for required in REQUIRED:
        if required not in row:
            raise bad(required, "not a GA4 export: the column is missing")
    timestamp = _timestamp(row["event_timestamp"], bad)
    event_name = row["event_name"]
    if not isinstance(event_name, str) or not event_name:
        raise bad("event_name", "expected a non-empty text")
    if event_name in DROPPED:
        return None
    params = _params(row.get("event_params"), bad)
    url = _param_text(params.get("page_location"), MAX_URL)
    if not url:
        return None
    user = string(row, "user_pseudo_id", "user_pseudo_id", MAX_PROP_VALUE)
    session = params.get("ga_session_id")
    device = row.get("device")
    if device is not None and not isinstance(device, dict):
        raise bad("device", "expected a record")
    web_info = (device or {}).get("web_info")
    geo = row.get("geo")
    if geo is not None and not isinstance(geo, dict):
        raise bad("geo", "expected a record")
    client = _client(
        string(device, "category", "device.category"),
        string(device, "operating_system", "device.operating_system"),
        string(device, "operating_system_version", "device.operating_system_version"),
        string(web_info, "browser", "device.web_info.browser")
        or string(device, "browser", "device.browser"),
        string(web_info, "browser_version", "device.web_info.browser_version")
        or string(device, "browser_version", "device.browser_version"),
    )
    utm, click_id = _campaign(row.get("collected_traffic_source"), bad)
    trail_name, props, engaged_ms = _name_and_props(event_name, params)
    amount, currency = (
        _revenue(row.get("ecommerce"), params, bad) if event_name == "purchase" else (None, "")
    )
    return RawEvent(
        timestamp=timestamp,
        name=trail_name,
        url=url,
        line=line,
        referrer=_param_text(params.get("page_referrer"), MAX_URL),
        visitor_key=user,
        visit_key=f"{user}:{_param_text(session, MAX_PROP_VALUE)}"
        if user and session not in (None, "")
        else "",
        utm_source=utm["utm_source"],
        utm_medium=utm["utm_medium"],
        utm_campaign=utm["utm_campaign"],
        utm_content=utm["utm_content"],
        utm_term=utm["utm_term"],
        click_id_param=click_id,
        country=countries.code_of(string(geo, "country", "geo.country")),
        region=string(geo, "region", "geo.region"),
        city=string(geo, "city", "geo.city"),
        device=client.device,
        browser=client.browser,
        browser_version=client.browser_version,
        os=client.os,
        os_version=client.os_version,
        props=props,
        revenue_amount=amount,
        revenue_currency=currency,
        engaged_ms=engaged_ms,
    )


@lru_cache(maxsize=4096)
def _client(category: str, os_name: str, os_text: str, browser: str, browser_text: str) -> Client:
    """GA4's device words in Trail's (a file repeats a few combinations: cached)."""
    os_version = _version(os_text)
    if os_name == "iOS" and category.casefold() == "tablet" and _major(os_version) >= 13:
        os_name = IPADOS
    browser = GA4_BROWSERS.get(browser, BROWSERS.get(browser, browser))
    return Client(
        device=DEVICES.get(category.casefold(), ""),
        os=OPERATING_SYSTEMS.get(os_name, os_name),
        os_version=os_version if os_name else "",
        browser=browser,
        browser_version="" if browser in ("", MOBILE_APP) else _version(browser_text),
    )


def _timestamp(value: Any, bad: Any) -> dt.datetime:
    """`event_timestamp`: microseconds since the epoch, UTC (BigQuery writes INT64 as a
    JSON string)."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad("event_timestamp", "expected an integer (microseconds since 1970, UTC)")
    try:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=value)
    except OverflowError as exc:
        raise bad("event_timestamp", "a time out of range") from exc


Param = str | int | float | None


def _params(value: Any, bad: Any) -> dict[str, Param]:
    """`event_params` (a repeated {key, value {string_value, int_value, float_value,
    double_value}}) as key → the one value that is set."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise bad("event_params", "expected a list of {key, value}")
    params: dict[str, Param] = {}
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise bad("event_params", "expected a list of {key, value}")
        cell = item.get("value")
        if cell is None:
            continue
        if not isinstance(cell, dict):
            raise bad("event_params", f"{item['key'][:100]!r}: expected a value record")
        params[item["key"]] = _param_value(cell, item["key"], bad)
    return params


def _param_value(cell: dict[str, Any], key: str, bad: Any) -> Param:
    for field in ("string_value", "int_value", "double_value", "float_value"):
        value = cell.get(field)
        if value is None:
            continue
        if field == "string_value":
            if not isinstance(value, str):
                raise bad("event_params", f"{key[:100]!r}: string_value is not a text")
            return value
        if field == "int_value":
            if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value):
                return int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad("event_params", f"{key[:100]!r}: int_value is not an integer")
            return value
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("event_params", f"{key[:100]!r}: {field} is not a number")
        return float(value)
    return None


def _param_text(value: Param, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    else:
        text = str(value)
    return _text(text, limit)


def _name_and_props(
    event_name: str, params: dict[str, Param]
) -> tuple[str, dict[str, str], int | None]:
    if event_name == "page_view":
        return "pageview", {}, None
    if event_name == "user_engagement":
        engaged = params.get("engagement_time_msec")
        finite = isinstance(engaged, int | float) and math.isfinite(engaged) and engaged >= 0
        engaged_ms = min(int(engaged), 2**32 - 1) if finite else 0  # type: ignore[arg-type]
        return "engagement", {}, engaged_ms
    if event_name == "click" and params.get("outbound") in ("true", 1):
        return OUTBOUND, _props({"url": params.get("link_url")}), None
    if event_name in RENAMED:
        return RENAMED[event_name], _props({"url": params.get("link_url")}), None
    kept = {key: value for key, value in params.items() if key not in INTERNAL_PARAMS}
    return _text(event_name, MAX_NAME), _props(kept), None


def _props(params: dict[str, Param]) -> dict[str, str]:
    props: dict[str, str] = {}
    for key in sorted(params):
        text = _param_text(params[key], MAX_PROP_VALUE)
        if key and text:
            props[_text(key, MAX_PROP_KEY)] = text
        if len(props) == MAX_PROPS:
            break
    return props


def _campaign(traffic: Any, bad: Any) -> tuple[dict[str, str], str]:
    """The event's UTM tags and click id parameter from `collected_traffic_source` (the
    importer reads the page URL's query for what this leaves empty, as the collector does)."""
    if traffic is not None and not isinstance(traffic, dict):
        raise bad("collected_traffic_source", "expected a record")
    traffic = traffic or {}
    utm: dict[str, str] = {}
    for tag, field in UTM_FIELDS:
        value = traffic.get(field)
        if value is not None and not isinstance(value, str):
            raise bad(f"collected_traffic_source.{field}", "expected a text")
        utm[tag] = "" if value is None or value in NOT_SET else _text(value, MAX_PROP_VALUE)
    return utm, next((key for key in CLICK_IDS if traffic.get(key)), "")


def _revenue(ecommerce: Any, params: dict[str, Param], bad: Any) -> tuple[Decimal | None, str]:
    """A purchase's revenue: `ecommerce.purchase_revenue`, else the `value` parameter; in
    the `currency` parameter's currency (none without a valid ISO 4217 code)."""
    currency = params.get("currency")
    if not isinstance(currency, str) or not CURRENCY.fullmatch(currency.strip().upper()):
        return None, ""
    if ecommerce is not None and not isinstance(ecommerce, dict):
        raise bad("ecommerce", "expected a record")
    amount = (ecommerce or {}).get("purchase_revenue")
    if amount is None:
        amount = params.get("value")
    if isinstance(amount, str):
        try:
            amount = float(amount)
        except ValueError as exc:
            raise bad("ecommerce.purchase_revenue", "expected a number") from exc
    if amount is None or isinstance(amount, bool) or not isinstance(amount, int | float):
        return None, ""
    try:
        revenue = Decimal(str(amount)).quantize(Decimal("0.001"))
    except InvalidOperation:
        return None, ""
    if not revenue.is_finite() or abs(revenue) >= REVENUE_LIMIT:
        return None, ""
    return revenue, currency.strip().upper()


def _version(text: str) -> str:
    """Major and minor of the last version-looking word ("Windows 10" → "10",
    "iOS 17.4.1" → "17.4", "120.0.6099.224" → "120.0")."""
    for word in reversed(text.split()):
        if word[:1].isdigit():
            return ".".join(part for part in word.split(".")[:2] if part)
    return ""


def _major(version: str) -> int:
    head = version.partition(".")[0]
    return int(head) if head.isdigit() and len(head) < 6 else 0
