"""The dashboard's realtime: the header's line (one window, the last 5 minutes, labelled)
and the Realtime period (the last 30 minutes by minute, polling itself); Today's panels
refresh too (issue 16.7). The browser flow: tests/browser/test_realtime_install.py."""

from __future__ import annotations

import datetime as dt
import html as html_module
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.http import QueryDict

from frontend.dashboard import View, date_range, view_from
from sites.models import Site
from tests.reports.conftest import hit

pytestmark = pytest.mark.django_db

MIN = dt.timedelta(minutes=1)


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site("realtime-frag-trail.com")
    now = dt.datetime.now(dt.UTC)
    seed(
        site,
        [
            hit(site, now - 2 * MIN, "/now", ip="81.2.69.1", referrer="https://www.google.com/"),
            # 12 minutes ago: in the 30 minutes, not among the current visitors
            hit(site, now - 12 * MIN, "/earlier", ip="81.2.69.2", referrer="https://duck.com/"),
        ],
    )
    return site


@pytest.fixture
def member(client: Any, site: Site) -> Any:
    client.force_login(site.organization.memberships.get().user)
    return client


def test_the_header_is_one_labelled_window(site: Site, member: Any) -> None:
    html = member.get(f"/sites/{site.domain}/panel/realtime?period=7d").content.decode()
    assert '<strong data-realtime="1">1</strong> current visitor</a>' in html
    assert "in the last 5 minutes" in html
    assert "/now (1)" in html and "Google" in html
    assert "/earlier" not in html and "duck" not in html.lower()  # 12 minutes ago
    assert 'href="?period=realtime&amp;compare=previous_period"' in html


def test_the_realtime_period(site: Site, member: Any) -> None:
    assert view_from(QueryDict("period=realtime")).period == "realtime"
    assert date_range(View(period="realtime"), site) == "day"  # a Stats API query reads today
    page = member.get(f"/sites/{site.domain}/?period=realtime").content.decode()
    assert 'hx-get="/sites/realtime-frag-trail.com/panel/realtime_period?period=realtime' in page
    assert 'hx-trigger="load, every 10s"' in page
    assert "/panel/top?" not in page and "/panel/sources?" not in page  # no Stats API panels
    assert 'aria-current="true" title="Realtime (key n)"' in page

    html = member.get(f"/sites/{site.domain}/panel/realtime_period?period=realtime")
    text = html.content.decode()
    stats = dict(re.findall(r'data-metric="(\w+)">(\d+)<', text))
    assert stats == {"current_visitors": "1", "visitors": "2", "pageviews": "2"}
    found = re.search(r'data-series="([^"]+)"', text)
    assert found is not None
    series = json.loads(html_module.unescape(found[1]))
    assert len(series["labels"]) == len(series["values"]) == 30
    assert all(re.fullmatch(r"\d\d:\d\d", label) for label in series["labels"])
    assert sum(series["values"]) == 2
    assert "/earlier" in text and "/now" in text and "DuckDuckGo" in text


def test_today_refreshes_and_other_periods_do_not(site: Site, member: Any) -> None:
    today = member.get(f"/sites/{site.domain}/?period=day").content.decode()
    assert 'data-refresh-panels="30"' in today
    month = member.get(f"/sites/{site.domain}/?period=30d").content.decode()
    assert "data-refresh-panels" not in month


def test_a_shared_link_sees_the_realtime_period(client: Any, site: Site) -> None:
    Site.objects.filter(pk=site.pk).update(is_public=True)
    page = client.get(f"/share/{site.domain}?period=realtime").content.decode()
    assert f"/share/{site.domain}/panel/realtime_period?period=realtime" in page
    html = client.get(f"/share/{site.domain}/panel/realtime_period?period=realtime")
    assert html.status_code == 200 and "/earlier" in html.content.decode()
