"""The GA4 parser (reports/imports/ga4.py) on BigQuery `events_*` rows the test builds from
the documented export schema, written as NDJSON, gzipped NDJSON and Parquet: every field's
mapping, visit and visitor keys, props, revenue, the dropped events, streaming with bounded
memory, and every bad or hostile input named by file, line and column."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from common import countries
from reports.imports import ga4
from reports.imports.rows import BadImportFile, RawEvent

WHEN = dt.datetime(2024, 3, 5, 14, 30, 15, 123456, tzinfo=dt.UTC)
MICROS = int((WHEN - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(microseconds=1))
PAGE = "https://shop.example/products/red?color=red"

# BigQuery's schema of the columns the parser reads (the export has more; they are ignored).
VALUE = pa.struct(
    [
        ("string_value", pa.string()),
        ("int_value", pa.int64()),
        ("float_value", pa.float64()),
        ("double_value", pa.float64()),
    ]
)
SCHEMA = pa.schema(
    [
        ("event_date", pa.string()),
        ("event_timestamp", pa.int64()),
        ("event_name", pa.string()),
        ("event_params", pa.list_(pa.struct([("key", pa.string()), ("value", VALUE)]))),
        ("user_pseudo_id", pa.string()),
        (
            "device",
            pa.struct(
                [
                    ("category", pa.string()),
                    ("operating_system", pa.string()),
                    ("operating_system_version", pa.string()),
                    ("browser", pa.string()),
                    ("browser_version", pa.string()),
                    (
                        "web_info",
                        pa.struct([("browser", pa.string()), ("browser_version", pa.string())]),
                    ),
                ]
            ),
        ),
        (
            "geo",
            pa.struct([("country", pa.string()), ("region", pa.string()), ("city", pa.string())]),
        ),
        (
            "traffic_source",
            pa.struct([("name", pa.string()), ("medium", pa.string()), ("source", pa.string())]),
        ),
        (
            "collected_traffic_source",
            pa.struct(
                [
                    ("manual_source", pa.string()),
                    ("manual_medium", pa.string()),
                    ("manual_campaign_name", pa.string()),
                    ("manual_content", pa.string()),
                    ("manual_term", pa.string()),
                    ("gclid", pa.string()),
                ]
            ),
        ),
        ("ecommerce", pa.struct([("purchase_revenue", pa.float64())])),
    ]
)


def param(key: str, value: Any) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "string_value": None,
        "int_value": None,
        "float_value": None,
        "double_value": None,
    }
    if isinstance(value, str):
        cell["string_value"] = value
    elif isinstance(value, int):
        cell["int_value"] = value
    else:
        cell["double_value"] = value
    return {"key": key, "value": cell}


def row(
    name: str = "page_view",
    *,
    micros: int = MICROS,
    user: str | None = "1234567890.1700000000",
    session: int | None = 1700000001,
    page: str | None = PAGE,
    referrer: str | None = "https://www.google.com/",
    params: dict[str, Any] | None = None,
    device: dict[str, Any] | None = None,
    geo: dict[str, Any] | None = None,
    campaign: dict[str, Any] | None = None,
    revenue: float | None = None,
) -> dict[str, Any]:
    """One `events_*` row as BigQuery exports it."""
    event_params = [param("ga_session_number", 3), param("engaged_session_event", 1)]
    if page is not None:
        event_params.append(param("page_location", page))
        event_params.append(param("page_title", "Red shoes"))
    if referrer is not None:
        event_params.append(param("page_referrer", referrer))
    if session is not None:
        event_params.append(param("ga_session_id", session))
    event_params += [param(key, value) for key, value in (params or {}).items()]
    return {
        "event_date": WHEN.strftime("%Y%m%d"),
        "event_timestamp": micros,
        "event_name": name,
        "event_params": event_params,
        "user_pseudo_id": user,
        "device": {
            "category": "mobile",
            "operating_system": "Android",
            "operating_system_version": "Android 14",
            "browser": None,
            "browser_version": None,
            "web_info": {"browser": "Chrome", "browser_version": "122.0.6261.105"},
            **(device or {}),
        },
        "geo": {"country": "Germany", "region": "Bavaria", "city": "Munich", **(geo or {})},
        "traffic_source": {"name": "(direct)", "medium": "(none)", "source": "(direct)"},
        "collected_traffic_source": campaign,
        "ecommerce": {"purchase_revenue": revenue} if revenue is not None else None,
    }


def ndjson(path: Path, rows: list[dict[str, Any]], *, gz: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows).encode()
    path.write_bytes(gzip.compress(text) if gz else text)
    return path


def parquet(path: Path, rows: list[dict[str, Any]], *, row_group_size: int = 1000) -> Path:
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), path, row_group_size=row_group_size)
    return path


def parse(path: Path) -> list[RawEvent]:
    return list(ga4.events(path))


def one(tmp_path: Path, r: dict[str, Any]) -> RawEvent:
    events = parse(ndjson(tmp_path / "events.ndjson", [r]))
    assert len(events) == 1
    return events[0]


WRITERS = {
    "ndjson": lambda path, rows: ndjson(path / "e.ndjson", rows),
    "ndjson.gz": lambda path, rows: ndjson(path / "e.ndjson.gz", rows, gz=True),
    "parquet": lambda path, rows: parquet(path / "e.parquet", rows),
}


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_a_page_view_maps_every_field(tmp_path: Path, fmt: str) -> None:
    path = WRITERS[fmt](tmp_path, [row()])
    [event] = parse(path)
    assert event == RawEvent(
        timestamp=WHEN,
        name="pageview",
        url=PAGE,
        line=1,
        referrer="https://www.google.com/",
        visitor_key="1234567890.1700000000",
        visit_key="1234567890.1700000000:1700000001",
        country="DE",
        region="Bavaria",
        city="Munich",
        device="Mobile",
        browser="Chrome",
        browser_version="122.0",
        os="Android",
        os_version="14",
    )


def test_every_format_gives_the_same_events(tmp_path: Path) -> None:
    rows = [
        row(),
        row("sign_up", params={"method": "email"}),
        row("purchase", revenue=12.5, params={"currency": "EUR"}),
    ]
    answers = [parse(write(tmp_path, rows)) for write in WRITERS.values()]
    assert answers[0] == answers[1] == answers[2]
    assert len(answers[0]) == 3


def test_visits_and_visitors_come_from_the_pseudo_id_and_session_id(tmp_path: Path) -> None:
    rows = [
        row(user="a.1", session=1),
        row(user="a.1", session=1),
        row(user="a.1", session=2),
        row(user="b.2", session=1),
        row(user=None, session=1),  # consent mode: no identifiers
        row(user="c.3", session=None),
    ]
    events = parse(ndjson(tmp_path / "e.ndjson", rows))
    assert [(e.visitor_key, e.visit_key) for e in events] == [
        ("a.1", "a.1:1"),
        ("a.1", "a.1:1"),
        ("a.1", "a.1:2"),
        ("b.2", "b.2:1"),
        ("", ""),
        ("c.3", ""),
    ]
    assert [e.line for e in events] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("ga4_name", "trail_name"),
    [(name, None) for name in sorted(ga4.DROPPED)]
    + [("page_view", "pageview"), ("user_engagement", "engagement")],
)
def test_automatic_events_kept_or_dropped(
    tmp_path: Path, ga4_name: str, trail_name: str | None
) -> None:
    events = parse(ndjson(tmp_path / "e.ndjson", [row(ga4_name)]))
    assert [e.name for e in events] == ([] if trail_name is None else [trail_name])


def test_user_engagement_is_an_engagement_with_its_time(tmp_path: Path) -> None:
    event = one(tmp_path, row("user_engagement", params={"engagement_time_msec": 5400}))
    assert (event.name, event.engaged_ms, event.scroll_depth, event.props) == (
        "engagement",
        5400,
        None,
        {},
    )


def test_outbound_clicks_and_downloads_get_plausibles_names(tmp_path: Path) -> None:
    rows = [
        row(
            "click",
            params={
                "outbound": "true",
                "link_url": "https://other.example/x",
                "link_domain": "other.example",
            },
        ),
        row(
            "file_download",
            params={"link_url": "https://shop.example/a.pdf", "file_extension": "pdf"},
        ),
        row("click", params={"link_url": "https://shop.example/internal"}),
    ]
    events = parse(ndjson(tmp_path / "e.ndjson", rows))
    assert [(e.name, e.props) for e in events] == [
        ("Outbound Link: Click", {"url": "https://other.example/x"}),
        ("File Download", {"url": "https://shop.example/a.pdf"}),
        ("click", {"link_url": "https://shop.example/internal"}),
    ]


def test_custom_events_keep_their_params_as_props_minus_ga4s_own(tmp_path: Path) -> None:
    params = {
        "plan": "pro",
        "seats": 12,
        "ratio": 0.25,
        "whole": 3.0,
        "currency": "USD",
        "campaign": "x",
        "engagement_time_msec": 10,
    }
    event = one(tmp_path, row("sign_up", params=params))
    assert event.name == "sign_up"
    assert event.props == {"plan": "pro", "seats": "12", "ratio": "0.25", "whole": "3"}
    assert event.revenue_amount is None


def test_props_are_capped_like_the_collectors(tmp_path: Path) -> None:
    params = {f"k{i:02}": "v" * 5000 for i in range(50)}
    params["x" * 1000] = "long key"
    event = one(tmp_path, row("big", params=params))
    assert len(event.props) == ga4.MAX_PROPS
    assert all(
        len(k) <= ga4.MAX_PROP_KEY and len(v) <= ga4.MAX_PROP_VALUE for k, v in event.props.items()
    )


@pytest.mark.parametrize(
    ("ecommerce", "params", "amount", "currency"),
    [
        (19.99, {"currency": "EUR", "value": 5.0}, Decimal("19.990"), "EUR"),
        (None, {"currency": "usd", "value": 42}, Decimal("42.000"), "USD"),
        (None, {"currency": "GBP", "value": 0.1 + 0.2}, Decimal("0.300"), "GBP"),
        (19.99, {}, None, ""),  # no currency: no revenue
        (19.99, {"currency": "EURO"}, None, ""),
        (None, {"currency": "EUR"}, None, ""),  # no amount
        (1e300, {"currency": "EUR"}, None, ""),  # beyond Decimal(18, 3)
    ],
)
def test_purchase_revenue(
    tmp_path: Path,
    ecommerce: float | None,
    params: dict[str, Any],
    amount: Decimal | None,
    currency: str,
) -> None:
    event = one(
        tmp_path, row("purchase", revenue=ecommerce, params={**params, "transaction_id": "T-1"})
    )
    assert (event.revenue_amount, event.revenue_currency) == (amount, currency)
    assert event.props == {"transaction_id": "T-1"}


def test_revenue_only_on_purchases(tmp_path: Path) -> None:
    event = one(tmp_path, row("add_to_cart", revenue=10.0, params={"currency": "EUR"}))
    assert event.revenue_amount is None


def test_utm_from_collected_traffic_source(tmp_path: Path) -> None:
    campaign = {
        "manual_source": "newsletter",
        "manual_medium": "email",
        "manual_campaign_name": "spring",
        "manual_content": "hero",
        "manual_term": "shoes",
        "gclid": None,
    }
    page = "https://shop.example/?utm_source=ignored"
    event = one(tmp_path, row(campaign=campaign, page=page))
    assert (
        event.utm_source,
        event.utm_medium,
        event.utm_campaign,
        event.utm_content,
        event.utm_term,
        event.click_id_param,
    ) == ("newsletter", "email", "spring", "hero", "shoes", "")


def test_utm_and_click_id_from_the_page_url_without_collected_traffic_source(
    tmp_path: Path,
) -> None:
    """The parser leaves them to the importer, which reads the page URL as the collector
    does."""
    from reports.imports import raw

    page = "https://shop.example/?utm_source=fb&utm_medium=social&utm_campaign=c&gclid=abc"
    event = one(tmp_path, row(page=page))
    assert (event.utm_source, event.click_id_param) == ("", "")
    built = raw.Rows(site_id=1, file_name="e.ndjson", file_sha256="0" * 64).row(event)
    assert (built.utm_source, built.utm_medium, built.utm_campaign, built.click_id_param) == (
        "fb",
        "social",
        "c",
        "gclid",
    )
    tagged = one(tmp_path, row(campaign={"gclid": "xyz"}))
    assert (tagged.click_id_param, tagged.utm_source) == ("gclid", "")


def test_traffic_source_is_the_users_first_acquisition_and_ignored(tmp_path: Path) -> None:
    r = row()
    r["traffic_source"] = {"name": "launch", "medium": "cpc", "source": "google"}
    event = one(tmp_path, r)
    assert (event.utm_source, event.utm_medium, event.utm_campaign) == ("", "", "")


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (
            {
                "category": "desktop",
                "operating_system": "Macintosh",
                "operating_system_version": "Macintosh Intel 10.15",
                "web_info": {"browser": "Safari", "browser_version": "17.3.1"},
            },
            ("Desktop", "Mac", "10.15", "Safari", "17.3"),
        ),
        (
            {
                "category": "desktop",
                "operating_system": "Windows",
                "operating_system_version": "Windows 10",
                "web_info": {"browser": "Edge", "browser_version": "121.0.0.0"},
            },
            ("Desktop", "Windows", "10", "Microsoft Edge", "121.0"),
        ),
        (
            {
                "category": "tablet",
                "operating_system": "iOS",
                "operating_system_version": "iOS 17.4.1",
                "web_info": {"browser": "Safari (in-app)", "browser_version": "17.4"},
            },
            ("Tablet", "iPadOS", "17.4", "Mobile App", ""),
        ),
        (
            {
                "category": "mobile",
                "operating_system": "iOS",
                "operating_system_version": "iOS 16.1",
                "web_info": {"browser": "Safari", "browser_version": "16.1"},
            },
            ("Mobile", "iOS", "16.1", "Safari", "16.1"),
        ),
        (
            {
                "category": "mobile",
                "operating_system": "Android",
                "operating_system_version": "Android 13",
                "web_info": {"browser": "Samsung Internet", "browser_version": "23.0"},
            },
            ("Mobile", "Android", "13", "Samsung Browser", "23.0"),
        ),
        (
            {
                "category": "desktop",
                "operating_system": "Linux",
                "operating_system_version": "(not set)",
                "web_info": {"browser": "Firefox", "browser_version": "123.0"},
            },
            ("Desktop", "GNU/Linux", "", "Firefox", "123.0"),
        ),
        (
            {
                "category": "smart tv",
                "operating_system": "(not set)",
                "operating_system_version": "(not set)",
                "web_info": {"browser": "(not set)", "browser_version": "(not set)"},
            },
            ("", "", "", "", ""),
        ),
        (
            {
                "category": "mobile",
                "operating_system": "Android",
                "operating_system_version": "Android 14",
                "web_info": None,
                "browser": "Android Webview",
                "browser_version": "120.0",
            },
            ("Mobile", "Android", "14", "Mobile App", ""),
        ),
    ],
)
def test_device_os_and_browser_in_trails_words(
    tmp_path: Path, device: dict[str, Any], expected: tuple[str, ...]
) -> None:
    event = one(tmp_path, row(device=device))
    assert (
        event.device,
        event.os,
        event.os_version,
        event.browser,
        event.browser_version,
    ) == expected


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("United States", "US"),
        ("United Kingdom", "GB"),
        ("Türkiye", "TR"),
        ("Czechia", "CZ"),
        ("Côte d’Ivoire", "CI"),
        ("Myanmar (Burma)", "MM"),
        ("Congo - Kinshasa", "CD"),
        ("Bosnia & Herzegovina", "BA"),
        ("St. Vincent & Grenadines", "VC"),
        ("Hong Kong", "HK"),
        ("south korea", "KR"),
        ("(not set)", ""),
        ("Atlantis", ""),
    ],
)
def test_country_names_become_iso_codes(tmp_path: Path, name: str, code: str) -> None:
    assert one(tmp_path, row(geo={"country": name})).country == code


def test_every_code_of_the_table_is_two_capital_letters() -> None:
    assert countries.CODES
    assert all(len(code) == 2 and code.isupper() for code in countries.CODES.values())
    assert len(set(countries.CODES.values())) >= 240


def test_region_and_city_not_set_are_empty(tmp_path: Path) -> None:
    event = one(
        tmp_path, row(geo={"country": "(not set)", "region": "(not set)", "city": "(not set)"})
    )
    assert (event.country, event.region, event.city) == ("", "", "")


def test_rows_without_a_page_are_skipped(tmp_path: Path) -> None:
    events = parse(ndjson(tmp_path / "e.ndjson", [row(page=None), row()]))
    assert [e.line for e in events] == [2]


def test_int64_as_json_strings_are_read(tmp_path: Path) -> None:
    r = row(params={"seats": 7})
    r["event_timestamp"] = str(MICROS)
    for item in r["event_params"]:
        if item["value"]["int_value"] is not None:
            item["value"]["int_value"] = str(item["value"]["int_value"])
    event = one(tmp_path, r)
    assert event.timestamp == WHEN
    assert event.visit_key.endswith(":1700000001")


def test_blank_lines_are_skipped_and_lines_counted(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson"
    path.write_text("\n" + json.dumps(row()) + "\n\n" + json.dumps(row()) + "\n")
    assert [e.line for e in parse(path)] == [2, 4]


def test_parquet_is_read_a_row_group_at_a_time(tmp_path: Path) -> None:
    rows = [row(micros=MICROS + i) for i in range(2500)]
    path = parquet(tmp_path / "e.parquet", rows, row_group_size=100)
    events = parse(path)
    assert len(events) == 2500
    assert events[-1].line == 2500
    assert events[-1].timestamp == WHEN + dt.timedelta(microseconds=2499)


def _peak(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = sum(1 for _ in ga4.events(path))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_large_ndjson_file_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "big.ndjson"
    line = (json.dumps(row(params={"note": "x" * 1500})) + "\n").encode()
    with path.open("wb") as out:
        for _ in range(20_000):
            out.write(line)
    size = path.stat().st_size
    assert size > 40_000_000
    count, peak = _peak(path)
    assert count == 20_000
    assert peak < size / 20


def test_a_large_parquet_file_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    batch = pa.Table.from_pylist(
        [row(params={"note": f"{i}-" + "y" * 2000}) for i in range(2000)], schema=SCHEMA
    )
    with pq.ParquetWriter(path, SCHEMA, compression="none") as writer:
        for _ in range(10):
            writer.write_table(batch, row_group_size=2000)
    size = path.stat().st_size
    assert size > 40_000_000
    count, peak = _peak(path)
    assert count == 20_000
    assert peak < size / 4  # one batch of rows as Python objects, whatever the size


# Bad input: every case names the file, the line and the column.


def bad(tmp_path: Path, content: bytes, name: str = "e.ndjson") -> BadImportFile:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BadImportFile) as caught:
        parse(path)
    assert caught.value.file == name
    assert str(caught.value).startswith(name)
    return caught.value


def lines(*rows: Any) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.mark.parametrize(
    ("change", "column"),
    [
        ({"event_timestamp": "yesterday"}, "event_timestamp"),
        ({"event_timestamp": 1.5}, "event_timestamp"),
        ({"event_timestamp": True}, "event_timestamp"),
        ({"event_timestamp": None}, "event_timestamp"),
        ({"event_timestamp": 10**30}, "event_timestamp"),
        ({"event_timestamp": "9" * 19}, "event_timestamp"),
        ({"event_name": ""}, "event_name"),
        ({"event_name": 7}, "event_name"),
        ({"event_params": "page_location=x"}, "event_params"),
        ({"event_params": [{"key": 1, "value": {}}]}, "event_params"),
        ({"event_params": [{"key": "a", "value": "b"}]}, "event_params"),
        ({"event_params": [{"key": "a", "value": {"int_value": "ten"}}]}, "event_params"),
        ({"event_params": [{"key": "a", "value": {"string_value": 5}}]}, "event_params"),
        ({"event_params": [{"key": "a", "value": {"double_value": "x"}}]}, "event_params"),
        ({"user_pseudo_id": 5}, "user_pseudo_id"),
        ({"device": "desktop"}, "device"),
        ({"device": {"category": 3}}, "device.category"),
        ({"geo": ["DE"]}, "geo"),
        ({"geo": {"country": {"name": "DE"}}}, "geo.country"),
        ({"collected_traffic_source": "google"}, "collected_traffic_source"),
        (
            {"collected_traffic_source": {"manual_source": 1}},
            "collected_traffic_source.manual_source",
        ),
    ],
)
def test_a_wrong_type_in_a_cell(tmp_path: Path, change: dict[str, Any], column: str) -> None:
    broken = {**row(), **change}
    error = bad(tmp_path, lines(row(), row(), broken))
    assert (error.line, error.column) == (3, column)


def test_a_wrong_purchase_revenue(tmp_path: Path) -> None:
    broken = row("purchase", params={"currency": "EUR"})
    broken["ecommerce"] = {"purchase_revenue": "lots"}
    error = bad(tmp_path, lines(broken))
    assert (error.line, error.column) == (1, "ecommerce.purchase_revenue")


@pytest.mark.parametrize("column", ["event_timestamp", "event_name"])
def test_a_missing_column(tmp_path: Path, column: str) -> None:
    broken = row()
    del broken[column]
    error = bad(tmp_path, lines(row(), broken))
    assert (error.line, error.column) == (2, column)
    assert "not a GA4 export" in str(error)


def test_a_parquet_file_without_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    with pytest.raises(BadImportFile) as caught:
        parse(path)
    assert (caught.value.file, caught.value.column) == ("other.parquet", "event_timestamp")


def test_a_parquet_cell_of_the_wrong_type_names_its_row(tmp_path: Path) -> None:
    rows = [row(), row(), row()]
    for r in rows:
        r["event_timestamp"] = str(r["event_timestamp"])
    rows[2]["event_timestamp"] = "soon"
    schema = SCHEMA.set(1, pa.field("event_timestamp", pa.string()))
    path = tmp_path / "e.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, row_group_size=2)
    with pytest.raises(BadImportFile) as caught:
        parse(path)
    assert (caught.value.line, caught.value.column) == (3, "event_timestamp")


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"event_date,event_timestamp\n20240101,1\n", 1),  # a CSV
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), 1),  # binary
        (b"[1, 2, 3]\n", 1),  # JSON, not an object
        (lines(row()) + b'{"event_name": \n', 2),  # a truncated line
        (lines(row()) + b"\xff\xfe{}\n", 2),  # not UTF-8
        (b"PAR1" + b"\x00" * 100, None),  # Parquet's magic, no Parquet
    ],
)
def test_a_file_that_is_not_a_ga4_export(tmp_path: Path, content: bytes, line: int | None) -> None:
    assert bad(tmp_path, content).line == line


def test_a_corrupt_gzip_stream(tmp_path: Path) -> None:
    packed = gzip.compress(lines(row(), row()) * 200)
    error = bad(tmp_path, packed[: len(packed) // 2], name="e.ndjson.gz")
    assert error.line is not None


def test_a_line_too_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ga4, "MAX_LINE", 10_000)
    huge = row(params={"note": "z" * 20_000})
    error = bad(tmp_path, lines(row(), huge))
    assert error.line == 2
    assert "longer than" in str(error)


def test_deep_nesting_is_refused_not_a_crash(tmp_path: Path) -> None:
    deep = b'{"event_params": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    assert bad(tmp_path, lines(row()) + deep).line == 2


def test_hostile_values_are_made_storable(tmp_path: Path) -> None:
    text = (
        json.dumps(
            row(
                "sign\u0000up",
                page="https://shop.example/\u0000a",
                params={"bad": "\ud800x", "\udfffkey": "y", "nul": "a\u0000b"},
            )
        )
        + "\n"
    ).encode()
    assert b"\\ud800" in text  # JSON's escaped lone surrogate
    [event] = parse(ndjson_bytes(tmp_path, text))
    assert event.name == "signup"
    assert event.url == "https://shop.example/a"
    assert event.props == {"bad": "?x", "?key": "y", "nul": "ab"}
    for value in (event.name, event.url, *event.props, *event.props.values()):
        value.encode("utf-8")


def test_huge_strings_are_cut_to_the_collectors_limits(tmp_path: Path) -> None:
    event = one(
        tmp_path,
        row(
            "e" * 10_000,
            page="https://shop.example/" + "p" * 100_000,
            referrer="https://r.example/" + "r" * 100_000,
            geo={"city": "c" * 100_000},
        ),
    )
    assert len(event.name) == ga4.MAX_NAME
    assert len(event.url) == ga4.MAX_URL
    assert len(event.referrer) == ga4.MAX_URL
    assert len(event.city) <= ga4.MAX_PROP_VALUE


def test_odd_numbers_do_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "e.ndjson"
    r = row("user_engagement", params={"engagement_time_msec": 1.0})
    text = json.dumps(r).replace("1.0", "Infinity")
    r2 = row("purchase", params={"currency": "EUR", "value": 1.0})
    text2 = json.dumps(r2).replace("1.0", "NaN")
    path.write_text(text + "\n" + text2 + "\n")
    first, second = parse(path)
    assert first.engaged_ms == 0
    assert second.revenue_amount is None


def ndjson_bytes(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "hostile.ndjson"
    path.write_bytes(content)
    return path


def test_the_importer_takes_every_event(tmp_path: Path) -> None:
    """The backbone's row builder (`raw.Rows`, no database) accepts what the parser yields,
    under the name it registers (`parse(path, name)`)."""
    from reports.imports import raw

    rows = [
        row(),
        row("user_engagement", params={"engagement_time_msec": 900}),
        row("purchase", revenue=9.5, params={"currency": "EUR", "transaction_id": "T"}),
        row("click", params={"outbound": "true", "link_url": "https://x.example/"}),
        row(user=None, session=None),
    ]
    path = ndjson(tmp_path / "e.ndjson", rows)
    builder = raw.Rows(site_id=1, file_name="e.ndjson", file_sha256="0" * 64)
    built = [builder.row(event) for event in ga4.events(path, "e.ndjson")]
    assert [r.name for r in built] == [
        "pageview",
        "engagement",
        "purchase",
        "Outbound Link: Click",
        "pageview",
    ]
    assert built[0].session_id == built[1].session_id == built[2].session_id
    assert (built[0].hostname, built[0].pathname, built[0].country_code) == (
        "shop.example",
        "/products/red",
        "DE",
    )
    assert built[2].revenue_amount == Decimal("9.500")


def test_parquet_batches_give_what_ndjson_gives(tmp_path: Path) -> None:
    """Row groups and batches that do not line up, rows without params, a null value
    record: the column-wise reading of `event_params` gives NDJSON's events."""
    rows = []
    for i in range(3000):
        r = row(
            "sign_up" if i % 3 else "page_view",
            micros=MICROS + i,
            user=f"u{i % 7}",
            session=i % 11,
            params={f"p{i % 5}": i, "label": f"n{i}", "share": i / 8},
        )
        if i % 250 == 0:
            r["event_params"] = None  # skipped: no page
        elif i % 97 == 0:
            r["event_params"].append({"key": "empty", "value": None})
        rows.append(r)
    expected = parse(ndjson(tmp_path / "e.ndjson", rows))
    got = parse(parquet(tmp_path / "e.parquet", rows, row_group_size=700))
    assert len(expected) == 3000 - 12
    assert got == expected
