"""What every raw source's parser yields, and how it names a bad file.

A parser (`reports/imports/<source>.py`) reads one file and yields `RawEvent`s: the event as
the file gives it, in the terms of Trail's raw export column set (docs/exports.md, version
1). What a source does not have stays empty (or None); the importer fills it the way the
collector would (source and channel from the referrer and UTM tags, host and path from the
URL, visits by the 30-minute rule when the file names none, ids when the file has none).
A parser never touches the database or ClickHouse: it is a pure function of the file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class RawEvent:
    timestamp: dt.datetime  # aware, UTC
    name: str  # "pageview", "engagement" or a custom event's name
    url: str  # the page's URL (scheme and host when the file has them) or its path
    line: int  # where in the file (1-based row or line), for error messages
    referrer: str = ""
    event_id: str = ""  # a UUID when the file has one (Trail's export): kept as it is
    # What tells visitors and visits apart in the source (GA4's user_pseudo_id and
    # ga_session_id, Umami's session and visit ids): the importer hashes them into Trail's
    # ids. Ignored when the ids themselves are given (Trail's own export).
    visitor_key: str = ""
    visit_key: str = ""
    visitor_id: int | None = None  # Trail's export: the daily visitor hash, kept
    visit_id: int | None = None  # Trail's export: the visit id, kept
    source: str = ""  # Trail's export: as attributed; else derived from referrer and UTM
    channel: str = ""
    utm_medium: str = ""
    utm_source: str = ""
    utm_campaign: str = ""
    utm_content: str = ""
    utm_term: str = ""
    click_id_param: str = ""
    country: str = ""  # ISO 3166-1 alpha-2
    region: str = ""  # English name
    city: str = ""  # English name
    device: str = ""  # Trail's words: Desktop, Mobile, Tablet, …
    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    screen: str = ""  # Trail's screen size class
    props: dict[str, str] = field(default_factory=dict)
    revenue_amount: Decimal | None = None
    revenue_currency: str = ""
    interactive: bool = True
    scroll_depth: int | None = None  # engagement events
    engaged_ms: int | None = None  # engagement events


class BadImportFile(Exception):
    """A file an import cannot take: the job fails with this message, nothing is kept."""

    def __init__(self, file: str, message: str, *, line: int | None = None, column: str = ""):
        self.file, self.line, self.column = file, line, column
        where = file
        if line is not None:
            where += f", line {line}"
        if column:
            where += f", column {column}"
        super().__init__(f"{where}: {message}")
        self.message = f"{where}: {message}"
