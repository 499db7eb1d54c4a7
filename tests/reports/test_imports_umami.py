"""The Umami parser (reports/imports/umami.py) on export CSVs the test writes from Umami's
documented columns (`website_event` joined with its session; the v2.13+ and the older
column sets): every column's mapping, visit and visitor keys, props, streaming with
bounded memory, and every bad or hostile input named by file, line and column."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import pytest

from reports.imports import umami
from reports.imports.rows import BadImportFile, RawEvent

# Umami v2.13+: website_event's columns, then its session's.
HEADER = [
    "event_id", "website_id", "session_id", "visit_id", "created_at", "hostname",
    "url_path", "url_query", "utm_source", "utm_medium", "utm_campaign", "utm_content",
    "utm_term", "referrer_path", "referrer_query", "referrer_domain", "page_title", "gclid",
    "fbclid", "msclkid", "ttclid", "li_fat_id", "twclid", "event_type", "event_name", "tag",
    "browser", "os", "device", "screen", "language", "country", "region", "city",
]  # fmt: skip
# Before v2.13 (no UTM or click id columns, the region as subdivision1/2).
OLD_HEADER = [
    "event_id", "website_id", "session_id", "created_at", "url_path", "url_query",
    "referrer_path", "referrer_query", "referrer_domain", "page_title", "event_type",
    "event_name", "visit_id", "hostname", "browser", "os", "device", "screen", "language",
    "country", "subdivision1", "subdivision2", "city",
]  # fmt: skip
EVENT = "8d3f5f2e-3c1b-4f57-9b7e-0c2f4bfa1e01"
SESSION = "b5f0d7a1-0e7c-5b1a-8c9f-2d1e3f4a5b6c"
VISIT = "c1a2b3c4-d5e6-5f70-8192-a3b4c5d6e7f8"
WHEN = dt.datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=dt.UTC)


def record(**values: Any) -> dict[str, str]:
    """One export row: a pageview with every session column filled."""
    base = {
        "event_id": EVENT,
        "website_id": "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9",
        "session_id": SESSION,
        "visit_id": VISIT,
        "created_at": "2024-05-01 10:20:30.123",
        "hostname": "shop.example",
        "url_path": "/products/red",
        "url_query": "color=red",
        "referrer_path": "/search",
        "referrer_query": "q=shoes",
        "referrer_domain": "www.google.com",
        "page_title": "Red shoes",
        "event_type": "1",
        "event_name": "",
        "tag": "",
        "browser": "chrome",
        "os": "Android OS",
        "device": "mobile",
        "screen": "412x915",
        "language": "de-DE",
        "country": "DE",
        "region": "DE-BY",
        "subdivision1": "DE-BY",
        "subdivision2": "",
        "city": "Munich",
    }
    base.update({key: str(value) for key, value in values.items()})
    return base


def write(
    path: Path,
    rows: list[dict[str, str]],
    header: list[str] = HEADER,
    *,
    gz: bool = False,
) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(column, "") for column in header])
    data = out.getvalue().encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def parse(path: Path) -> list[RawEvent]:
    return list(umami.events(path))


def one(tmp_path: Path, r: dict[str, str], header: list[str] = HEADER) -> RawEvent:
    [event] = parse(write(tmp_path / "umami.csv", [r], header))
    return event


@pytest.mark.parametrize("gz", [False, True])
def test_a_pageview_maps_every_column(tmp_path: Path, gz: bool) -> None:
    [event] = parse(write(tmp_path / "umami.csv", [record()], gz=gz))
    assert event == RawEvent(
        timestamp=WHEN,
        name="pageview",
        url="https://shop.example/products/red?color=red",
        line=2,
        referrer="https://www.google.com/search?q=shoes",
        event_id=EVENT,
        visitor_key=SESSION,
        visit_key=VISIT,
        country="DE",
        region="",  # Umami's subdivision code is no English name
        city="Munich",
        device="Mobile",
        browser="Chrome",
        os="Android",
        screen="Mobile",
    )


def test_the_older_column_set(tmp_path: Path) -> None:
    """Before v2.13: no UTM columns; the importer reads the tags off the URL's query."""
    from reports.imports import raw

    query = "utm_source=news&utm_medium=email&fbclid=1"
    event = one(tmp_path, record(url_query=query), OLD_HEADER)
    assert (event.url, event.visit_key, event.region) == (
        f"https://shop.example/products/red?{query}",
        VISIT,
        "",
    )
    assert (event.utm_source, event.click_id_param) == ("", "")
    built = raw.Rows(site_id=1, file_name="u.csv", file_sha256="0" * 64).row(event)
    assert (built.utm_source, built.utm_medium, built.click_id_param) == ("news", "email", "fbclid")


def test_utm_and_click_id_columns(tmp_path: Path) -> None:
    event = one(
        tmp_path,
        record(
            utm_source="newsletter",
            utm_medium="email",
            utm_campaign="spring",
            utm_content="hero",
            utm_term="shoes",
            gclid="abc",
            url_query="utm_source=ignored",
        ),
    )
    assert (
        event.utm_source,
        event.utm_medium,
        event.utm_campaign,
        event.utm_content,
        event.utm_term,
        event.click_id_param,
    ) == ("newsletter", "email", "spring", "hero", "shoes", "gclid")


def test_visits_and_visitors(tmp_path: Path) -> None:
    other_visit, other_session = str(uuid.uuid4()), str(uuid.uuid4())
    rows = [
        record(event_id=uuid.uuid4()),
        record(event_id=uuid.uuid4(), visit_id=other_visit),
        record(event_id=uuid.uuid4(), session_id=other_session, visit_id=""),
    ]
    events = parse(write(tmp_path / "u.csv", rows))
    assert [(e.visitor_key, e.visit_key, e.line) for e in events] == [
        (SESSION, VISIT, 2),
        (SESSION, other_visit, 3),
        (other_session, "", 4),
    ]


def test_custom_events_with_event_data_as_props(tmp_path: Path) -> None:
    header = [*HEADER, "event_data"]
    data = {"plan": "pro", "seats": 12, "trial": True, "nested": {"a": [1, 2]}, "none": None}
    event = one(
        tmp_path, record(event_type=2, event_name="Signup", event_data=json.dumps(data)), header
    )
    assert event.name == "Signup"
    assert event.props == {"plan": "pro", "seats": "12", "trial": "true", "nested": '{"a": [1, 2]}'}
    without = one(tmp_path, record(event_type=2, event_name="Signup"))
    assert without.props == {}


def test_other_event_types_are_skipped(tmp_path: Path) -> None:
    rows = [record(event_type=3), record(event_type=4), record()]
    assert [e.line for e in parse(write(tmp_path / "u.csv", rows))] == [4]


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        ("2024-05-01 10:20:30", dt.datetime(2024, 5, 1, 10, 20, 30, tzinfo=dt.UTC)),
        ("2024-05-01 10:20:30.123", WHEN),
        ("2024-05-01T10:20:30.123Z", WHEN),
        ("2024-05-01 10:20:30.123+00", WHEN),
        ("2024-05-01 12:20:30.123+02:00", WHEN),
    ],
)
def test_created_at_forms(tmp_path: Path, created_at: str, expected: dt.datetime) -> None:
    assert one(tmp_path, record(created_at=created_at)).timestamp == expected


@pytest.mark.parametrize(
    ("browser", "os", "device", "expected"),
    [
        ("edge-chromium", "Windows 10", "desktop", ("Microsoft Edge", "Windows", "10", "Desktop")),
        ("safari", "Mac OS", "laptop", ("Safari", "Mac", "", "Desktop")),
        ("ios", "iOS", "mobile", ("Safari", "iOS", "", "Mobile")),
        ("crios", "iOS", "tablet", ("Chrome", "iOS", "", "Tablet")),
        ("fxios", "iOS", "mobile", ("Firefox", "iOS", "", "Mobile")),
        ("firefox", "Linux", "desktop", ("Firefox", "GNU/Linux", "", "Desktop")),
        ("samsung", "Android OS", "mobile", ("Samsung Browser", "Android", "", "Mobile")),
        ("ios-webview", "iOS", "mobile", ("Mobile App", "iOS", "", "Mobile")),
        ("facebook", "Android OS", "mobile", ("Mobile App", "Android", "", "Mobile")),
        ("opera", "Chrome OS", "laptop", ("Opera", "Chrome OS", "", "Desktop")),
        ("ie", "Windows 7", "desktop", ("Internet Explorer", "Windows", "7", "Desktop")),
        ("Vivaldi", "Windows Vista", "desktop", ("Vivaldi", "Windows", "", "Desktop")),
        ("", "", "", ("", "", "", "")),
    ],
)
def test_browser_os_and_device_in_trails_words(
    tmp_path: Path, browser: str, os: str, device: str, expected: tuple[str, ...]
) -> None:
    event = one(tmp_path, record(browser=browser, os=os, device=device))
    assert (event.browser, event.os, event.os_version, event.device) == expected


@pytest.mark.parametrize(
    ("screen", "size"),
    [
        ("375x667", "Mobile"),
        ("820x1180", "Tablet"),
        ("1366x768", "Laptop"),
        ("2560x1440", "Desktop"),
        ("", ""),
        ("wide", ""),
        ("99999999x1", ""),
    ],
)
def test_screen_size_classes(tmp_path: Path, screen: str, size: str) -> None:
    assert one(tmp_path, record(screen=screen)).screen == size


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"country": "us", "region": "Bavaria", "city": "Munich"}, ("US", "Bavaria", "Munich")),
        ({"country": "XXX", "region": "US-CA", "city": ""}, ("", "", "")),
    ],
)
def test_location(tmp_path: Path, values: dict[str, str], expected: tuple[str, ...]) -> None:
    event = one(tmp_path, record(**values))
    assert (event.country, event.region, event.city) == expected


def test_without_hostname_or_referrer(tmp_path: Path) -> None:
    event = one(tmp_path, record(hostname="", url_query="", referrer_domain=""))
    assert (event.url, event.referrer) == ("/products/red", "")


def test_unknown_columns_are_ignored_and_a_bom_read(tmp_path: Path) -> None:
    path = write(tmp_path / "u.csv", [record()], [*HEADER, "future_column"])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(parse(path)) == 1


def test_a_large_file_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    line = io.StringIO()
    csv.writer(line).writerow([record(page_title="t" * 2000).get(c, "") for c in HEADER])
    with path.open("w") as out:
        out.write(",".join(HEADER) + "\n")
        for _ in range(20_000):
            out.write(line.getvalue())
    size = path.stat().st_size
    assert size > 40_000_000
    tracemalloc.start()
    try:
        count = sum(1 for _ in umami.events(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert peak < size / 20


# Bad input: every case names the file, the line and the column.


def bad(tmp_path: Path, content: bytes, name: str = "umami.csv") -> BadImportFile:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadImportFile) as caught:
        parse(path)
    assert caught.value.file == name
    assert str(caught.value).startswith(name)
    return caught.value


def csv_bytes(rows: list[dict[str, str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(column, "") for column in header])
    return out.getvalue().encode()


@pytest.mark.parametrize("column", umami.REQUIRED)
def test_a_header_without_a_required_column(tmp_path: Path, column: str) -> None:
    header = [c for c in HEADER if c != column]
    error = bad(tmp_path, csv_bytes([record()], header))
    assert (error.line, error.column) == (1, column)
    assert "not an Umami export" in str(error)


def test_a_column_named_twice(tmp_path: Path) -> None:
    error = bad(tmp_path, csv_bytes([record()], [*HEADER, "city"]))
    assert (error.line, error.column) == (1, "city")


@pytest.mark.parametrize(
    ("values", "column"),
    [
        ({"event_type": "pageview"}, "event_type"),
        ({"event_type": ""}, "event_type"),
        ({"event_type": "-1"}, "event_type"),
        ({"event_type": "1" * 50}, "event_type"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"created_at": ""}, "created_at"),
        ({"created_at": "2024-13-45 99:99:99"}, "created_at"),
        ({"event_id": "not-a-uuid"}, "event_id"),
        ({"event_type": "2", "event_name": ""}, "event_name"),
    ],
)
def test_a_wrong_value_in_a_cell(tmp_path: Path, values: dict[str, str], column: str) -> None:
    error = bad(tmp_path, csv_bytes([record(), record(), record(**values)]))
    assert (error.line, error.column) == (4, column)


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", '"text"', '{"a": ' * 5000])
def test_bad_event_data(tmp_path: Path, data: str) -> None:
    row = record(event_type=2, event_name="Signup", event_data=data)
    error = bad(tmp_path, csv_bytes([row], [*HEADER, "event_data"]))
    assert (error.line, error.column) == (2, "event_data")


def test_deeply_nested_event_data_is_refused_not_a_crash(tmp_path: Path) -> None:
    data = '{"a": ' + "[" * 60_000 + "]" * 60_000 + "}"  # under the csv field limit
    row = record(event_type=2, event_name="Signup", event_data=data)
    error = bad(tmp_path, csv_bytes([row], [*HEADER, "event_data"]))
    assert (error.line, error.column) == (2, "event_data")


def test_a_row_with_the_wrong_number_of_cells(tmp_path: Path) -> None:
    content = csv_bytes([record()]) + b"a,b,c\n"
    assert bad(tmp_path, content).line == 3


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        b"PK\x03\x04" + b"\x00" * 200,  # a zip
        json.dumps({"event_type": 1}).encode() + b"\n",
        b"name,count\nfoo,1\n",
    ],
)
def test_a_file_that_is_not_an_umami_export(tmp_path: Path, content: bytes) -> None:
    assert bad(tmp_path, content).line is not None


def test_not_utf8_names_its_line(tmp_path: Path) -> None:
    content = csv_bytes([record(), record()]) + b"\xff\xfe," * 40 + b"\n"
    assert bad(tmp_path, content).line is not None


def test_a_corrupt_gzip(tmp_path: Path) -> None:
    packed = gzip.compress(csv_bytes([record()] * 500))
    bad(tmp_path, packed[: len(packed) // 2], name="umami.csv.gz")


def test_a_cell_over_the_csv_field_limit(tmp_path: Path) -> None:
    content = csv_bytes([record(), record(page_title="x" * (csv.field_size_limit() + 10))])
    assert bad(tmp_path, content).line == 3


def test_hostile_values_are_made_storable(tmp_path: Path) -> None:
    header = [*HEADER, "event_data"]
    data = '{"bad": "\\ud800x", "\\udfffkey": "y", "nul": "a\\u0000b"}'
    event = one(
        tmp_path,
        record(
            event_type=2,
            event_name="sign\x00up",
            url_path="/a\x00b",
            city="Mu\x00nich",
            event_data=data,
            url_query="",
        ),
        header,
    )
    assert (event.name, event.url, event.city) == ("signup", "https://shop.example/ab", "Munich")
    assert event.props == {"bad": "?x", "?key": "y", "nul": "ab"}


def test_huge_strings_are_cut_to_the_collectors_limits(tmp_path: Path) -> None:
    event = one(
        tmp_path,
        record(
            event_type=2,
            event_name="e" * 10_000,
            url_path="/" + "p" * 100_000,
            referrer_path="/" + "r" * 100_000,
        ),
    )
    assert len(event.name) == umami.MAX_NAME
    assert len(event.url) <= umami.MAX_URL
    assert len(event.referrer) <= umami.MAX_URL


def test_the_importer_takes_every_event(tmp_path: Path) -> None:
    """The backbone's row builder (`raw.Rows`, no database) accepts what the parser yields,
    under the name it registers (`parse(path, name)`)."""
    from reports.imports import raw

    rows = [
        record(),
        record(event_id=uuid.uuid4(), event_type=2, event_name="Signup"),
        record(
            event_id=uuid.uuid4(),
            session_id=uuid.uuid4(),
            visit_id=uuid.uuid4(),
            hostname="",
            referrer_domain="",
        ),
    ]
    path = write(tmp_path / "u.csv", rows)
    builder = raw.Rows(site_id=1, file_name="u.csv", file_sha256="0" * 64)
    built = [builder.row(event) for event in umami.events(path, "u.csv")]
    assert [r.name for r in built] == ["pageview", "Signup", "pageview"]
    assert str(built[0].event_id) == EVENT
    assert built[0].session_id == built[1].session_id != built[2].session_id
    assert (built[0].hostname, built[0].pathname) == ("shop.example", "/products/red")
    assert built[0].referrer_source == "Google"
