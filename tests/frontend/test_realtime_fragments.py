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
from sites import services
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
    assert 'hx-trigger="load"' in page  # then every 10 s: the fragment's own poller
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


def realtime_period(member: Any, site: Site, query: str) -> tuple[int, str]:
    answer = member.get(f"/sites/{site.domain}/panel/realtime_period?period=realtime&{query}")
    return answer.status_code, answer.content.decode()


def stats_of(text: str) -> dict[str, str]:
    return dict(re.findall(r'data-metric="(\w+)">(\d+)<', text))


def panel(text: str, key: str) -> str:
    found = re.search(rf'<section class="panel" id="realtime-{key}">(.*?)</section>', text, re.S)
    assert found is not None, key
    return found[1]


def test_the_realtime_period_has_locations_and_devices(site: Site, member: Any) -> None:
    status, text = realtime_period(member, site, "")
    assert status == 200
    assert re.findall(r'id="realtime-(\w+)"', text) == ["sources", "pages", "locations", "devices"]
    assert '>GB</a></td><td class="num">2</td>' in panel(text, "locations")
    devices = panel(text, "devices")
    assert re.findall(r"<a [^>]*>(Devices|Browsers|Operating systems)</a>", devices) == [
        "Devices",
        "Browsers",
        "Operating systems",
    ]
    assert 'aria-current="true">Devices<' in devices and ">Desktop</a>" in devices
    # the fragment polls itself, for the view it shows
    assert 'hx-get="/sites/realtime-frag-trail.com/panel/realtime_period?period=realtime' in text
    assert 'hx-trigger="every 10s"' in text


def test_a_devices_tab_is_in_the_url(site: Site, member: Any) -> None:
    status, text = realtime_period(member, site, "tab_devices=browsers")
    devices = panel(text, "devices")
    assert 'aria-current="true">Browsers<' in devices and ">Firefox</a>" in devices
    assert '<th scope="col">Browsers</th>' in devices
    poller = re.search(r'<div hidden hx-get="([^"]+)" hx-trigger="every 10s"', text)
    assert poller is not None and "tab_devices=browsers" in poller[1]
    # a tab Realtime has not (the other periods' Screens) shows the first
    _, text = realtime_period(member, site, "tab_devices=screens")
    assert 'aria-current="true">Devices<' in panel(text, "devices")
    # the page keeps the tab for the fragment it loads
    page = member.get(f"/sites/{site.domain}/?period=realtime&tab_devices=os").content.decode()
    assert (
        "panel/realtime_period?period=realtime&amp;compare=previous_period&amp;tab_devices=os"
        in page
    )


def test_the_filters_apply_to_the_realtime_period(site: Site, member: Any) -> None:
    status, text = realtime_period(member, site, "f=visit:source|is|Google")
    assert status == 200
    assert stats_of(text) == {"current_visitors": "1", "visitors": "1", "pageviews": "1"}
    assert "/now" in panel(text, "pages") and "/earlier" not in text
    assert "DuckDuckGo" not in text and "Every figure is of the visitors the filters keep" in text
    # the header's line is the whole site's, as Plausible's
    header = member.get(
        f"/sites/{site.domain}/panel/realtime?period=realtime&f=visit:source|is|Bing"
    )
    assert '<strong data-realtime="1">1</strong>' in header.content.decode()

    _, text = realtime_period(member, site, "f=event:page|is|/earlier")
    assert stats_of(text) == {"current_visitors": "0", "visitors": "1", "pageviews": "1"}
    assert ">DuckDuckGo</a>" in panel(text, "sources")

    _, text = realtime_period(member, site, "f=visit:source|is_not|Google&f=visit:source|is|Bing")
    assert stats_of(text) == {"current_visitors": "0", "visitors": "0", "pageviews": "0"}
    assert text.count("No visitors in the last 30 minutes.") == 4


def test_a_row_is_a_filter_link(site: Site, member: Any) -> None:
    _, text = realtime_period(member, site, "tab_devices=os")
    links = dict(
        (label, html_module.unescape(href))
        for href, label in re.findall(r'<a href="\?([^"]+)" title="Filter by ([^"]+)">', text)
    )
    assert links["Google"] == (
        "period=realtime&compare=previous_period&f=visit%3Asource%7Cis%7CGoogle&tab_devices=os"
    )
    assert "f=event%3Apage%7Cis%7C%2Fnow" in links["/now"]
    assert "f=visit%3Acountry%7Cis%7CGB" in links["GB"]
    assert "f=visit%3Aos%7Cis%7CGNU%2FLinux" in links["GNU/Linux"]
    # following one keeps Realtime and narrows it
    query = QueryDict(links["Google"])
    _, narrowed = realtime_period(member, site, f"f={query['f']}&tab_devices=os")
    assert stats_of(narrowed)["visitors"] == "1"


def test_a_filter_realtime_cannot_run_is_refused_in_the_fragment(site: Site, member: Any) -> None:
    status, text = realtime_period(member, site, "f=event:page|matches|(unclosed")
    assert status == 400 and "filters" in text


def test_a_shared_link_filters_realtime(client: Any, site: Site) -> None:
    link = services.shared_link_create(site=site, name="Team")
    path = f"/share/{site.domain}/panel/realtime_period"
    answer = client.get(
        path, {"period": "realtime", "auth": link.slug, "f": "visit:source|is|Google"}
    )
    text = answer.content.decode()
    assert answer.status_code == 200 and stats_of(text)["visitors"] == "1"
    assert f"&amp;auth={link.slug}" in text  # every link and the poller carry the shared link
    assert "/earlier" not in text
    # another site's shared link sees nothing of this one
    other = client.get(path.replace(site.domain, "nobody-trail.com"), {"auth": link.slug})
    assert other.status_code == 404
