"""No spreadsheet formula in Trail's CSV (common/csvsafe.py): hostile values sent through
the public ingest come back out of the dashboard's CSV and zip downloads as inert text."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from common.csvsafe import FORMULA_STARTS, cell, csv_text
from sites import services
from sites.models import Site
from tests.wsgi_client import post

HOSTILE = ('=HYPERLINK("https://evil.example","x")', "+1", "-2+3", "@SUM(1)", "\t=1", "\r=1")


@pytest.mark.parametrize("value", HOSTILE)
def test_a_text_a_spreadsheet_would_run_gets_an_apostrophe(value: str) -> None:
    assert cell(value) == f"'{value}"


@pytest.mark.parametrize("value", [0, -3, 2.5, -0.25, 10**20, None, True, "", "Google", "a=b"])
def test_numbers_and_plain_text_stay_as_they_are(value: object) -> None:
    assert cell(value) == value


def test_csv_text_quotes_and_protects_every_row_header_included() -> None:
    text = csv_text([["=label", "visitors"], ["-2+3", -2], ['say "hi", =1', 3.5]])
    assert list(csv.reader(io.StringIO(text))) == [
        ["'=label", "visitors"],
        ["'-2+3", "-2"],
        ['say "hi", =1', "3.5"],
    ]


# ----------------------------------------------------------------------------------------
# Through the real ingest and the real dashboard downloads

DOMAIN = "csv-formulas-trail.com"


def _send(event: dict[str, Any], visitor: int) -> None:
    body = json.dumps({"d": DOMAIN, **event})
    answer = post("/api/event", body, remote_addr=f"198.51.100.{visitor}")
    assert answer.status == 202, answer.body
    assert answer.dropped is None, answer.dropped


REFERRERS = ("https://-2+3.example/", "https://+1.example/a", "https://=1.example/")


@pytest.fixture
def site(db: None, make_site: Callable[..., Site], flush: Callable[..., Any]) -> Iterator[Site]:
    """One visitor per hostile value, who lands with it as UTM tags and sends it as an event
    name and as the `kind` prop of a `Hostile` event; one per hostile referrer host; and a
    visitor from Google who signs up."""
    site = make_site(DOMAIN)
    for i, value in enumerate(HOSTILE, start=10):
        tags = "&".join(
            f"utm_{k}={quote(value, safe='')}" for k in ("source", "medium", "campaign")
        )
        _send({"n": "pageview", "u": f"https://{DOMAIN}/?{tags}"}, i)
        _send({"n": value, "u": f"https://{DOMAIN}/"}, i)
        _send({"n": "Hostile", "u": f"https://{DOMAIN}/", "p": {"kind": value}}, i)
    for i, referrer in enumerate(REFERRERS, start=50):
        _send({"n": "pageview", "u": f"https://{DOMAIN}/", "r": referrer}, i)
    _send({"n": "Signup", "u": f"https://{DOMAIN}/", "r": "https://www.google.com/"}, 99)
    flush()
    yield site


@pytest.fixture
def member(client: Any, site: Site) -> Any:
    client.force_login(site.organization.memberships.get().user)
    return client


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _check(rows: list[list[str]]) -> set[str]:
    """Every cell of `rows` inert; the label cells (first column), for the caller's checks."""
    header, *body = rows
    for row in rows:
        for value in row:
            assert not value.startswith(FORMULA_STARTS), (value, rows)
    for row in body:
        for number in row[1:]:  # metrics are numbers, written as they are
            float(number)
    return {row[0] for row in body}


PROTECTED = {f"'{value}" for value in HOSTILE}
STRIPPED = {f"'{value.strip()}" for value in HOSTILE}  # names and UTM values are trimmed


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("events?tab=events", STRIPPED | {"Hostile", "Signup"}),
        ("sources?tab=utm_source", STRIPPED | {"(none)"}),
        ("sources?tab=utm_medium", STRIPPED | {"(none)"}),
        ("sources?tab=utm_campaign", STRIPPED | {"(none)"}),
        ("sources?tab=sources", STRIPPED | {"Google", "Direct / None"}),
        ("sources?tab=referrers", {"google.com", "Direct / None"}),  # ingest refused the hosts
        ("events?tab=events&f=event:name|is|Hostile&prop=kind", PROTECTED),
    ],
    ids=["names", "utm_source", "utm_medium", "utm_campaign", "sources", "referrers", "props"],
)
def test_panel_csv_cells_are_inert(member: Any, site: Site, query: str, expected: set[str]) -> None:
    answer = member.get(f"/sites/{site.domain}/export/{query}&period=7d")
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/csv")
    assert _check(_rows(answer.content.decode())) == expected


def test_a_prop_breakdown_keeps_its_numbers(member: Any, site: Site) -> None:
    answer = member.get(
        f"/sites/{site.domain}/export/events?tab=events&period=7d&f=event:name|is|Hostile&prop=kind"
    )
    header, *rows = _rows(answer.content.decode())
    assert header == ["kind", "visitors", "events"]
    assert sorted(rows) == sorted([label, "1", "1"] for label in PROTECTED)


def test_every_csv_of_the_zip_is_inert(member: Any, site: Site) -> None:
    answer = member.get(f"/sites/{site.domain}/export/all?period=7d")
    assert answer["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    labels: set[str] = set()
    for name in archive.namelist():
        labels |= _check(_rows(archive.read(name).decode()))
    assert labels >= STRIPPED | {"Signup", "Google", "google.com"}


def test_the_shared_link_csv_is_inert_too(client: Any, site: Site) -> None:
    link = services.shared_link_create(site=site, name="board")
    answer = client.get(
        f"/share/{site.domain}/export/sources?tab=utm_source&period=7d&auth={link.slug}"
    )
    assert answer.status_code == 200
    assert _check(_rows(answer.content.decode())) == STRIPPED | {"(none)"}


def test_the_time_series_keeps_its_numbers(member: Any, site: Site) -> None:
    archive = zipfile.ZipFile(
        io.BytesIO(member.get(f"/sites/{site.domain}/export/all?period=7d").content)
    )
    rows = _rows(archive.read("time-series.csv").decode())
    assert rows[0] == ["time", "visitors"]
    today = dt.datetime.now(ZoneInfo(site.timezone)).date().isoformat()
    assert [today, str(len(HOSTILE) + len(REFERRERS) + 1)] in rows  # one visitor each
