"""The raw events export (reports/raw_export.py) on traffic seeded through the real
collector into the embedded ClickHouse: every format's file read back, its counts and sums
equal to the Stats API's for the same range and filters, the documented column set, the
CSV formula rule, bad input, another site's events never included."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.test import override_settings

from accounts.errors import ServiceError
from reports import raw_export
from reports.stats import answer
from sites.models import Goal, Site
from tests.reports.conftest import CHROME_ANDROID, SAFARI_MAC, hit
from tests.reports.test_stats_api import places

pytestmark = pytest.mark.django_db

DAY = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(
    days=5
)
FIRST = (DAY - dt.timedelta(days=1)).date().isoformat()
LAST = (DAY + dt.timedelta(days=1)).date().isoformat()
RANGE = [FIRST, LAST]
MIN = dt.timedelta(minutes=1)
GOOGLE = "https://www.google.com/"
GB, DE = "81.2.69.1", "91.198.174.1"


def traffic(site: Site) -> list[dict[str, Any]]:
    return [
        hit(site, DAY, "/", ip=GB, referrer=GOOGLE, query="?utm_source=news&utm_medium=email&utm_campaign=%3DSUM(1)"),
        hit(site, DAY + MIN, "/pricing", ip=GB, referrer=f"https://{site.domain}/"),
        hit(site, DAY + 2 * MIN, "/pricing", name="Purchase", ip=GB,
            props={"plan": "pro", "note": "=HYPERLINK(\"x\")"},
            revenue={"amount": "12.50", "currency": "EUR"}),
        hit(site, DAY + 3 * MIN, "/pricing", name="engagement", ip=GB, sd=80, e=4200),
        hit(site, DAY + 5 * MIN, "/blog", ip=DE, user_agent=CHROME_ANDROID),
        hit(site, DAY + 6 * MIN, "/blog", name="Signup", ip=DE, user_agent=CHROME_ANDROID,
            props={"plan": "free"}),
        hit(site, DAY + 9 * MIN, "/-2+3", ip="81.2.70.1", user_agent=SAFARI_MAC,
            referrer="https://duck.com/"),
        # outside the range: two days later
        hit(site, DAY + dt.timedelta(days=3), "/late", ip=GB),
    ]  # fmt: skip


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None], tmp_path: Path) -> Site:
    """The site, and a neighbour with the same traffic that no export may include."""
    geoip = places(tmp_path / "city.mmdb")
    trail = dataclasses.replace(
        settings.TRAIL, ingest=dataclasses.replace(settings.TRAIL.ingest, geoip_database=geoip)
    )
    site = make_site("raw-export.example.com", timezone="Europe/Berlin")
    Goal.objects.create(site=site, kind=Goal.Kind.EVENT, value="Signup", display_name="Signup")
    Goal.objects.create(
        site=site, kind=Goal.Kind.EVENT, value="Purchase", display_name="Purchase", currency="EUR"
    )
    neighbour = make_site("raw-neighbour.example.com")
    with override_settings(TRAIL=trail):
        seed(site, traffic(site))
        seed(neighbour, traffic(neighbour))
    return site


def export(site: Site, fmt: str, filters: Any = None, date_range: Any = RANGE) -> bytes:
    req = raw_export.parse_request(site, date_range=date_range, format=fmt, filters=filters)
    return b"".join(raw_export.stream(req))


def ndjson(site: Site, filters: Any = None) -> list[dict[str, Any]]:
    return [json.loads(line) for line in export(site, "ndjson", filters).splitlines()]


def parquet(site: Site, filters: Any = None) -> pa.Table:
    return pq.read_table(io.BytesIO(export(site, "parquet", filters)))


def stats(site: Site, filters: list[Any], revenue: bool) -> dict[str, Any]:
    metrics = ["visitors", "visits", "pageviews", "events"]
    if revenue:  # the revenue metric needs a filter on a goal with a currency
        metrics.append("total_revenue")
    body = {"site_id": site.domain, "metrics": metrics, "date_range": RANGE, "filters": filters}
    found = answer(site=site, body=body)
    return dict(zip(metrics, found["results"][0]["metrics"], strict=True))


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The Stats API's totals computed from exported rows (engagement rows count in none)."""
    counted = [row for row in rows if row["name"] != "engagement"]
    revenue = sum(Decimal(str(row["revenue_amount"])) for row in counted if row["revenue_amount"])
    return {
        "visitors": len({row["visitor_id"] for row in counted}),
        "visits": len({row["visit_id"] for row in counted}),
        "pageviews": sum(row["name"] == "pageview" for row in counted),
        "events": len(counted),
        "total_revenue": revenue,
    }


@pytest.mark.parametrize(
    "filters",
    [
        [],
        [["is", "visit:source", ["Google"]]],
        [["is_not", "visit:country", ["DE"]]],
        [["contains", "event:page", ["pric"]]],
        [["is", "event:goal", ["Signup"]]],
        [["is", "event:goal", ["Purchase"]]],
        [["is", "visit:device", ["Mobile"]]],
        [["or", [["is", "visit:browser", ["Safari"]], ["is", "event:name", ["Purchase"]]]]],
    ],
)
def test_counts_and_sums_equal_the_stats_api(site: Site, filters: list[Any]) -> None:
    rows = ndjson(site, filters)
    revenue = filters == [["is", "event:goal", ["Purchase"]]]
    expected = stats(site, filters, revenue)
    got = totals(rows)
    if revenue:
        assert got["total_revenue"] == Decimal(str(expected.pop("total_revenue")["value"]))
        assert got["total_revenue"] == Decimal("12.5")
    del got["total_revenue"]
    assert got == expected
    req = raw_export.parse_request(site, date_range=RANGE, format="ndjson", filters=filters)
    assert raw_export.count_rows(req) == len(rows)
    assert len(parquet(site, filters)) == len(rows)


def test_the_documented_columns_in_every_format(site: Site) -> None:
    names = [column.name for column in raw_export.COLUMNS]
    rows = ndjson(site)
    assert len(rows) == 7  # the neighbour's events and the late one are not included
    assert all(list(row) == names for row in rows)
    table = parquet(site)
    assert table.column_names == names
    assert table.schema.field("timestamp").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("visitor_id").type == pa.uint64()
    props = table.schema.field("props").type
    assert isinstance(props, pa.MapType)
    assert (props.key_type, props.item_type) == (pa.string(), pa.string())
    assert table.schema.field("scroll_depth").type == pa.uint8()
    assert table.schema.field("revenue_amount").type == pa.decimal128(18, 3)
    header = export(site, "csv").decode().splitlines()[0]
    assert header == ",".join(f'"{name}"' for name in names)
    assert raw_export.COLUMNS_VERSION == 1


def test_values_as_stored(site: Site) -> None:
    rows = {(row["name"], row["page"]): row for row in ndjson(site)}
    landing = rows[("pageview", "/")]
    assert landing["source"] == "news"  # utm_source names the source
    assert landing["utm_source"] == "news"
    assert landing["utm_campaign"] == "=SUM(1)"  # NDJSON keeps values exactly
    assert isinstance(landing["visitor_id"], str) and int(landing["visitor_id"]) > 0
    assert landing["country"] == "GB"
    assert landing["timestamp"] == DAY.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert landing["scroll_depth"] is None
    purchase = rows[("Purchase", "/pricing")]
    assert purchase["props"] == {"plan": "pro", "note": '=HYPERLINK("x")'}
    assert Decimal(str(purchase["revenue_amount"])) == Decimal("12.5")
    assert purchase["revenue_currency"] == "EUR"
    engagement = rows[("engagement", "/pricing")]
    assert (engagement["scroll_depth"], engagement["engaged_ms"]) == (80, 4200)
    assert engagement["visit_id"] == landing["visit_id"]
    assert rows[("Signup", "/blog")]["device"] == "Mobile"
    assert not any("ip" in name for name in landing)  # no address is stored or exported


def test_csv_makes_formula_cells_inert(site: Site) -> None:
    rows = list(csv.DictReader(io.StringIO(export(site, "csv").decode())))
    assert len(rows) == 7
    pages = {row["page"] for row in rows}
    assert "'/-2+3" not in pages and "/-2+3" in pages  # begins with "/", not a formula
    purchase = next(row for row in rows if row["name"] == "Purchase")
    assert json.loads(purchase["props"])["note"] == '=HYPERLINK("x")'  # inside a JSON object
    landing = next(row for row in rows if row["page"] == "/")
    assert landing["utm_campaign"] == "'=SUM(1)"  # a formula made inert
    assert landing["scroll_depth"] == ""  # NULL: an empty cell
    assert int(landing["visitor_id"]) > 0  # numbers as they are
    assert landing["timestamp"].endswith("Z")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"format": "xlsx"}, "format"),
        ({"format": None}, "format"),
        ({"date_range": "fortnight"}, "date_range"),
        ({"date_range": "[2026-01-01"}, "date_range"),
        ({"date_range": ["2026-02-01", "2026-01-01"]}, "date_range"),
        ({"date_range": "2026-13-01,2026-12-31"}, "date_range[0]"),
        ({"date_range": ""}, "date_range"),
        ({"filters": "[["}, "filters"),
        ({"filters": '[["is", "visit:nonsense", ["x"]]]'}, "filters[0][1]"),
        ({"filters": '[["is", "event:goal", ["No such goal"]]]'}, "filters[0][2][0]"),
        ({"filters": {"not": "a list"}}, "filters"),
    ],
)
def test_bad_input_names_the_field(site: Site, kwargs: dict[str, Any], field: str) -> None:
    arguments = {"date_range": RANGE, "format": "ndjson", "filters": None, **kwargs}
    with pytest.raises(ServiceError) as raised:
        raw_export.parse_request(site, **arguments)
    assert raised.value.field == field


def test_a_bad_pattern_is_named_before_any_byte(site: Site) -> None:
    req = raw_export.parse_request(
        site, date_range=RANGE, format="ndjson", filters=[["matches", "event:page", ["(x"]]]
    )
    with pytest.raises(ServiceError) as raised:
        raw_export.stream(req)
    assert raised.value.field == "filters"


def test_date_range_spellings(site: Site) -> None:
    as_text = export(site, "ndjson", date_range=f"{FIRST},{LAST}")
    as_json = export(site, "ndjson", date_range=json.dumps(RANGE))
    assert as_text == as_json and as_text.count(b"\n") == 7
    assert export(site, "ndjson", date_range="all").count(b"\n") == 8  # the late one too


def test_an_empty_range_is_a_file_with_its_header_or_schema(site: Site) -> None:
    empty = ["2001-01-01", "2001-01-02"]
    assert export(site, "ndjson", date_range=empty) == b""
    assert export(site, "csv", date_range=empty).decode().count("\n") == 1
    table = pq.read_table(io.BytesIO(export(site, "parquet", date_range=empty)))
    assert table.num_rows == 0
    assert table.column_names == [column.name for column in raw_export.COLUMNS]


def test_filename(site: Site) -> None:
    req = raw_export.parse_request(site, date_range=RANGE, format="parquet", filters=None)
    assert raw_export.filename(req) == f"raw-export.example.com-events-{FIRST}-{LAST}.parquet"
