"""A page that reports to several sites names them comma-separated (`"d": "a,b"`, what
Plausible's script sends for `data-domain="a,b"`): the event counts once on each named site,
and a name that is no site is dropped alone (events/ingest/handler.py `per_domain`)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from django.test import Client

from events.flush import FlushReport
from events.ingest.handler import MAX_DOMAINS, per_domain
from events.ingest.request import from_plausible
from sites.models import Site
from tests import factories
from tests.reports.conftest import post_json
from tests.wsgi_client import post

pytestmark = pytest.mark.django_db

FIRST, SECOND = "first-multi-domain.example", "second-multi-domain.example"


def pageviews(site: Site) -> int:
    _, key = factories.api_key(site.organization, scopes=("stats:read",))
    today = dt.datetime.now(dt.UTC).date()
    body = {
        "site_id": site.domain,
        "date_range": [(today - dt.timedelta(days=1)).isoformat(), today.isoformat()],
        "metrics": ["pageviews"],
    }
    answer = post_json(Client(), "/api/v2/query", body, key)
    assert answer.status_code == 200, answer.content
    return int(answer.json()["results"][0]["metrics"][0])


@pytest.fixture
def sites(make_site: Callable[..., Site]) -> tuple[Site, Site]:
    return make_site(FIRST), make_site(SECOND)


def test_each_named_site_counts_the_event(
    sites: tuple[Site, Site], flush: Callable[..., FlushReport]
) -> None:
    body = {"n": "pageview", "u": f"https://{FIRST}/pricing", "d": f"{FIRST}, {SECOND}"}
    for number in range(3):
        answer = post("/api/event", json.dumps(body), remote_addr=f"198.51.100.{number + 1}")
        assert (answer.status, answer.dropped) == (202, None)
    flush()
    assert [pageviews(site) for site in sites] == [3, 3]


def test_an_unknown_name_among_them_is_dropped_alone(
    sites: tuple[Site, Site], flush: Callable[..., FlushReport]
) -> None:
    body = {"n": "pageview", "u": f"https://{FIRST}/", "d": f"{FIRST},nosuch.example,{SECOND}"}
    answer = post("/api/event", json.dumps(body), remote_addr="198.51.100.9")
    assert (answer.status, answer.dropped) == (202, "unknown_site")
    flush()
    assert [pageviews(site) for site in sites] == [1, 1]


def test_repeated_names_count_once_and_the_list_is_bounded() -> None:
    names = ",".join([FIRST, FIRST.upper(), FIRST] + [f"s{i}.example" for i in range(50)])
    events = per_domain(from_plausible({"n": "pageview", "u": "https://x.example/", "d": names}))
    assert len(events) == MAX_DOMAINS
    assert [e.domains for e in events][:2] == [(FIRST,), (FIRST.upper(),)]
    assert all(len(e.domains) == 1 for e in events)


def test_one_name_is_one_event() -> None:
    event = from_plausible({"n": "pageview", "u": f"https://{FIRST}/", "d": FIRST})
    assert per_domain(event) == [event]
