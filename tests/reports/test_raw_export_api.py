"""`GET /api/v1/sites/{domain}/events/export` (reports/raw_export_api.py) on real chDB:
the file in each format with its headers, gzip when accepted, 400 naming the field, 404 for
another tenant's site (the same as a made-up one), 403 for a key without `stats:read`, and a
client that goes away closing the stream."""

from __future__ import annotations

import csv
import gzip
import inspect
import io
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pyarrow.parquet as pq
import pytest
from django.test import Client, RequestFactory

from accounts.models import Role
from reports import raw_export
from reports.raw_export_api import RawEventsExportView
from sites.models import Site
from tests import factories
from tests.reports.test_raw_export import FIRST, LAST, RANGE, traffic

pytestmark = pytest.mark.django_db

NAMES = [column.name for column in raw_export.COLUMNS]


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site("raw-export-api.example.com", timezone="Europe/Berlin")
    seed(site, traffic(site))
    return site


@pytest.fixture
def key(site: Site) -> str:
    return factories.api_key(site.organization, scopes=("stats:read",))[1]


def get(client: Client, domain: str, key: str, **params: Any) -> Any:
    """The export with these query parameters (`HTTP_*` ones are headers)."""
    headers = {k: v for k, v in params.items() if k.startswith("HTTP_")}
    query = urlencode(
        {"date_range": f"{FIRST},{LAST}"}
        | {k: v for k, v in params.items() if not k.startswith("HTTP_")}
    )
    if key:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client.get(f"/api/v1/sites/{domain}/events/export?{query}", **headers)


def body(response: Any) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


def test_ndjson_by_default(client: Client, site: Site, key: str) -> None:
    response = get(client, site.domain, key)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    assert response["Content-Disposition"] == (
        f'attachment; filename="raw-export-api.example.com-events-{FIRST}-{LAST}.ndjson"'
    )
    assert response["X-Trail-Columns-Version"] == "1"
    assert "Content-Encoding" not in response
    rows = [json.loads(line) for line in body(response).splitlines()]
    assert len(rows) == 7 and list(rows[0]) == NAMES


def test_each_format(client: Client, site: Site, key: str) -> None:
    table = pq.read_table(io.BytesIO(body(get(client, site.domain, key, format="parquet"))))
    assert table.num_rows == 7 and table.column_names == NAMES
    response = get(client, site.domain, key, format="csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert len(rows) == 7 and list(rows[0]) == NAMES


def test_filters_and_a_json_date_range(client: Client, site: Site, key: str) -> None:
    filters = json.dumps([["is", "visit:device", ["Mobile"]]])
    response = get(client, site.domain, key, filters=filters, date_range=json.dumps(RANGE))
    rows = [json.loads(line) for line in body(response).splitlines()]
    assert {row["name"] for row in rows} == {"pageview", "Signup"}
    assert {row["device"] for row in rows} == {"Mobile"}


def test_gzip_when_accepted(client: Client, site: Site, key: str) -> None:
    plain = body(get(client, site.domain, key))
    response = get(client, site.domain, key, HTTP_ACCEPT_ENCODING="br, gzip;q=0.8")
    assert response["Content-Encoding"] == "gzip"
    assert response["Vary"] == "Accept-Encoding"
    assert gzip.decompress(body(response)) == plain
    parquet = get(client, site.domain, key, format="parquet", HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in parquet  # compressed inside already
    assert body(parquet).startswith(b"PAR1")


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"format": "xlsx"}, "format: expected one of ndjson, csv, parquet"),
        ({"date_range": "fortnight"}, "date_range: unknown date range"),
        ({"date_range": ""}, "date_range: required"),
        ({"date_range": "2026-01-01,2026-02-30"}, "date_range[1]:"),
        ({"filters": "[[1"}, "filters: expected a JSON array"),
        ({"filters": '[["is", "visit:planet", ["x"]]]'}, "filters[0][1]:"),
        ({"filters": '[["matches", "event:page", ["(x"]]]'}, "filters: not a valid RE2"),
        ({"filters": '"' + "x" * 5000 + '"'}, "filters:"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(
    client: Client, site: Site, key: str, params: dict[str, str], error: str
) -> None:
    response = get(client, site.domain, key, **params)
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)


def test_another_tenants_site_is_404_as_a_made_up_one(client: Client, site: Site) -> None:
    other = factories.organization()
    _, foreign = factories.api_key(other, scopes=("stats:read",))
    theirs = get(client, site.domain, foreign)
    made_up = get(client, "no-such-site.example.com", foreign)
    assert theirs.status_code == made_up.status_code == 404
    assert theirs.json() == made_up.json() == {"error": "not found"}


def test_a_key_without_the_scope_is_403(client: Client, site: Site) -> None:
    _, writer = factories.api_key(site.organization, scopes=("events:write",))
    response = get(client, site.domain, writer)
    assert response.status_code == 403
    assert "stats:read" in response.json()["error"]
    assert get(client, site.domain, "").status_code in (401, 403)  # no key at all


def test_a_signed_in_member_may_export(client: Client, site: Site) -> None:
    viewer = factories.member(site.organization, Role.VIEWER)
    client.force_login(viewer)
    response = get(client, site.domain, "")
    assert response.status_code == 200
    assert body(response).count(b"\n") == 7


def test_drf_format_override_and_accept_choose_nothing(
    client: Client, site: Site, key: str
) -> None:
    response = get(client, site.domain, key, format="csv", HTTP_ACCEPT="application/xml")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")


def test_a_client_that_goes_away_closes_the_stream(site: Site, key: str) -> None:
    """The server closes the response when its client disconnects (WSGI's close(), which
    trail.gate calls too): the view's generator closes raw_export.stream's, whose query
    stops (the adapters' own tests show a closed stream stopping ClickHouse's query)."""
    request = RequestFactory().get(
        f"/api/v1/sites/{site.domain}/events/export?date_range={FIRST},{LAST}",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_ACCEPT_ENCODING="gzip",
    )
    response = RawEventsExportView.as_view()(request, domain=site.domain)
    outer = response._iterator  # the view's generator, as the server iterates it
    assert next(iter(response.streaming_content))  # the first chunk went out
    chunks = outer.gi_frame.f_locals["chunks"]  # raw_export.stream's generator
    assert inspect.getgeneratorstate(chunks) != inspect.GEN_CLOSED
    response.close()
    assert inspect.getgeneratorstate(outer) == inspect.GEN_CLOSED
    assert inspect.getgeneratorstate(chunks) == inspect.GEN_CLOSED
