"""The *Umami* source: Umami's data export CSV (`website_event` rows joined with their
session) → `RawEvent`s.

The CSV is read row by row with the csv module (gzipped or not); its header must name at
least `REQUIRED`, other known columns are used when present (Umami's versions differ:
`region` was `subdivision1` before v3, the UTM and click id columns came with v2.13),
unknown ones are ignored. `event_type` 1 is a pageview, 2 a custom event (`event_name`,
with `event_data`'s keys as props when the export has that column); Umami's other types
(links, pixels) are no page of a site and are skipped. docs/imports-sources.md has the
mapping of every column and what is dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from events.enrich.clients import screen_size
from events.enrich.labels import MOBILE_APP
from events.ingest.request import MAX_NAME, MAX_PROP_KEY, MAX_PROP_VALUE, MAX_PROPS, MAX_URL
from reports.imports.rows import BadImportFile, RawEvent

REQUIRED = ("session_id", "created_at", "url_path", "event_type")
UTM_TAGS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
CLICK_IDS = ("gclid", "fbclid", "msclkid", "ttclid", "li_fat_id", "twclid")
PAGEVIEW, CUSTOM_EVENT = 1, 2

# Umami's browser names (those of the detect-browser package) in Trail's words; a name
# missing here passes through unchanged.
BROWSERS = {
    "chrome": "Chrome",
    "crios": "Chrome",
    "chromium-webview": MOBILE_APP,
    "edge-chromium": "Microsoft Edge",
    "edge": "Microsoft Edge",
    "edge-ios": "Microsoft Edge",
    "firefox": "Firefox",
    "fxios": "Firefox",
    "safari": "Safari",
    "ios": "Safari",
    "ios-webview": MOBILE_APP,
    "samsung": "Samsung Browser",
    "opera": "Opera",
    "opera-mini": "Opera",
    "ie": "Internet Explorer",
    "android": "Android Browser",
    "yandexbrowser": "Yandex Browser",
    "silk": "Mobile Silk",
    "miui": "MIUI Browser",
    "facebook": MOBILE_APP,
    "instagram": MOBILE_APP,
    "kakaotalk": MOBILE_APP,
    "aol": "AOL",
    "brave": "Brave",
}
OPERATING_SYSTEMS = {
    "Mac OS": "Mac",
    "Android OS": "Android",
    "Linux": "GNU/Linux",
    "Chrome OS": "Chrome OS",
    "iOS": "iOS",
    "Open BSD": "OpenBSD",
    "Sun OS": "Solaris",
}
DEVICES = {"desktop": "Desktop", "laptop": "Desktop", "mobile": "Mobile", "tablet": "Tablet"}


def events(path: Path, name: str = "") -> Iterator[RawEvent]:
    """The Trail events of one Umami export CSV (`name`: the upload's name, for messages)."""
    name = name or path.name
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    binary = gzip.open(path, "rb") if gzipped else path.open("rb")
    with binary, io.TextIOWrapper(binary, encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        try:
            header = next(reader, None)
            if header is None:
                raise BadImportFile(name, "not an Umami export: the file is empty", line=1)
            columns = _columns(header, name)
            for row in reader:
                if row:
                    event = _event(row, columns, name, reader.line_num)
                    if event is not None:
                        yield event
        except (csv.Error, UnicodeDecodeError, OSError, EOFError) as exc:
            raise BadImportFile(
                name, f"not an Umami export CSV ({exc})", line=reader.line_num or 1
            ) from exc


def _columns(header: list[str], name: str) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, column in enumerate(header):
        column = column.strip()
        if column in columns:
            raise BadImportFile(name, "a column named twice", line=1, column=column[:100])
        columns[column] = index
    for required in REQUIRED:
        if required not in columns:
            raise BadImportFile(
                name,
                f"not an Umami export: the column is missing (expected {', '.join(REQUIRED)})",
                line=1,
                column=required,
            )
    return columns


def _text(value: str, limit: int) -> str:
    return value[:limit].replace("\x00", "")


def _event(row: list[str], columns: dict[str, int], name: str, line: int) -> RawEvent | None:
    def cell(column: str, limit: int = MAX_PROP_VALUE) -> str:
        index = columns.get(column)
        if index is None or index >= len(row):
            return ""
        return _text(row[index].strip(), limit)

    def bad(column: str, message: str) -> BadImportFile:
        return BadImportFile(name, message, line=line, column=column)

    if len(row) != len(columns):
        raise BadImportFile(
            name, f"{len(row)} cells where the header has {len(columns)}", line=line
        )
    kind = cell("event_type")
    if not (kind.isascii() and kind.isdigit() and len(kind) < 4):
        raise bad("event_type", "expected 1 (pageview) or 2 (custom event)")
    if int(kind) not in (PAGEVIEW, CUSTOM_EVENT):
        return None
    event_name = "pageview"
    props: dict[str, str] = {}
    if int(kind) == CUSTOM_EVENT:
        event_name = cell("event_name", MAX_NAME)
        if not event_name:
            raise bad("event_name", "a custom event (event_type 2) without a name")
        props = _props(cell("event_data", 1 << 20), bad)
    event_id = cell("event_id")
    if event_id:
        try:
            event_id = str(uuid.UUID(event_id))
        except ValueError as exc:
            raise bad("event_id", "expected a UUID") from exc
    path = cell("url_path", MAX_URL) or "/"
    query = cell("url_query", MAX_URL)
    host = cell("hostname", 253)
    url = f"{path}?{query}" if query else path
    if host:
        url = f"https://{host}{url if url.startswith('/') else '/' + url}"
    # The UTM tags and click ids of `url_query` are read by the importer (as the collector
    # reads a page URL's) when these columns are empty or missing (Umami before v2.13).
    utm = {tag: cell(tag) for tag in UTM_TAGS}
    click_id = next((key for key in CLICK_IDS if cell(key)), "")
    os_name, os_version = _os(cell("os", 100))
    browser = cell("browser", 100)
    country = cell("country").upper()
    region = cell("region", 200) or cell("subdivision1", 200)
    return RawEvent(
        timestamp=_timestamp(cell("created_at", 64), bad),
        name=event_name,
        url=url[:MAX_URL],
        line=line,
        referrer=_referrer(
            cell("referrer_domain", 253),
            cell("referrer_path", MAX_URL),
            cell("referrer_query", MAX_URL),
        ),
        event_id=event_id,
        visitor_key=cell("session_id"),
        visit_key=cell("visit_id"),
        utm_source=utm["utm_source"],
        utm_medium=utm["utm_medium"],
        utm_campaign=utm["utm_campaign"],
        utm_content=utm["utm_content"],
        utm_term=utm["utm_term"],
        click_id_param=click_id,
        country=country if len(country) == 2 and country.isascii() and country.isalpha() else "",
        # Umami keeps subdivision codes ("US-CA"); Trail keeps English names, so a code is
        # not carried over.
        region="" if _is_subdivision_code(region) else region,
        city=cell("city", 200),
        device=DEVICES.get(cell("device", 100).casefold(), ""),
        browser=BROWSERS.get(browser.casefold(), browser),
        os=os_name,
        os_version=os_version,
        screen=_screen(cell("screen", 100)),
        props=props,
    )


def _timestamp(value: str, bad: Any) -> dt.datetime:
    """`created_at` as Umami's databases write it: "2024-05-01 10:20:30(.123)(+00(:00)|Z)";
    no zone is UTC."""
    text = value.replace("Z", "+00:00")
    if len(text) >= 3 and text[-3] in "+-" and text[-2:].isdigit():  # PostgreSQL's "+00"
        text += ":00"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise bad("created_at", "expected a date and time (YYYY-MM-DD HH:MM:SS)") from exc
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _referrer(domain: str, path: str, query: str) -> str:
    if not domain:
        return ""
    if path and not path.startswith("/"):
        path = "/" + path
    referrer = f"https://{domain}{path}"
    return (f"{referrer}?{query}" if query else referrer)[:MAX_URL]


def _os(name: str) -> tuple[str, str]:
    """Umami's OS words → Trail's name and version ("Windows 10" → Windows, 10)."""
    if name.startswith("Windows "):
        version = name.removeprefix("Windows ").strip()
        return "Windows", version if version[:1].isdigit() else ""
    return OPERATING_SYSTEMS.get(name, name), ""


def _screen(value: str) -> str:
    """ "1920x1080" → Trail's size class of the width; anything else → unknown."""
    width, _, height = value.partition("x")
    if not (width.isascii() and width.isdigit() and len(width) < 7):
        return ""
    return screen_size(int(width))


def _is_subdivision_code(region: str) -> bool:
    country, dash, code = region.partition("-")
    return bool(dash) and len(country) == 2 and country.isalpha() and 0 < len(code) <= 3


def _props(data: str, bad: Any) -> dict[str, str]:
    """`event_data` (a JSON object when the export has it): its keys as props, nested
    values as their JSON text."""
    if not data:
        return {}
    try:
        parsed = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise bad("event_data", "expected a JSON object") from exc
    if not isinstance(parsed, dict):
        raise bad("event_data", "expected a JSON object")
    props: dict[str, str] = {}
    for key in sorted(parsed):
        value = parsed[key]
        if value is None:
            continue
        if isinstance(value, str):
            text = value
        else:
            try:
                text = json.dumps(value, ensure_ascii=False)
            except (ValueError, RecursionError) as exc:
                raise bad("event_data", "a value nested too deep") from exc
        key_text, text = _storable(key, MAX_PROP_KEY), _storable(text, MAX_PROP_VALUE)
        if key_text and text:
            props[key_text] = text
        if len(props) == MAX_PROPS:
            break
    return props


def _storable(text: str, limit: int) -> str:
    """No NUL, no lone surrogate (JSON's `\\ud800`), at most `limit` characters."""
    text = _text(text, limit)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text
