"""The dashboard's "Include imported data" switch (frontend/dashboard.py, `with_imported`):
on by default, part of the view's URL, shown only to a site with a done Plausible import;
every panel asks the Stats API with `include.imports` while it is on; the top stats say
why imported data was left out when the view's filters cannot use it.

The import goes through the real job (upload, `data_jobs.run`) into the embedded
ClickHouse; the site's own traffic is one visitor today.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.http import QueryDict

from frontend.dashboard import View, base_query, view_from
from sites import services
from sites.models import Goal, Site
from tests.reports.conftest import hit
from tests.reports.test_imports_plausible import csv_text, write_zip
from tests.reports.test_imports_plausible_job import start

pytestmark = pytest.mark.django_db

TODAY = dt.datetime.now(dt.UTC).date()
# (date, visitors, pageviews, bounces, visits, visit_duration): inside "Last 30 days"
IMPORTED = [
    (TODAY - dt.timedelta(days=12), 10, 30, 4, 12, 600),
    (TODAY - dt.timedelta(days=11), 20, 50, 10, 25, 1000),
]
NOW = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)


def plausible_zip(path: Path) -> Path:
    header = ["date", "visitors", "pageviews", "bounces", "visits", "visit_duration"]
    return write_zip(path, {"imported_visitors.csv": csv_text(header, [list(r) for r in IMPORTED])})


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None], tmp_path: Path) -> Site:
    site = make_site("imports-switch-trail.com")
    Goal.objects.create(site=site, kind="event", value="Signup", display_name="Signup")
    seed(site, [hit(site, NOW, "/")])
    start(site, plausible_zip(tmp_path / "export.zip"))
    return site


@pytest.fixture
def member(client: Any, site: Site) -> Any:
    client.force_login(site.organization.memberships.get().user)
    return client


def visitors(html: str) -> int:
    found = re.search(r'data-metric="visitors">([\d,]+)<', html)
    assert found, html
    return int(found[1].replace(",", ""))


def test_the_switch_is_in_the_url_and_on_by_default() -> None:
    assert view_from(QueryDict("")).imports is True
    assert view_from(QueryDict("with_imported=true")).imports is True
    assert view_from(QueryDict("with_imported=nonsense")).imports is True  # the default
    off = view_from(QueryDict("period=7d&with_imported=false&f=visit:source|is|Google"))
    assert off == View(period="7d", filters=(("visit:source", "is", "Google"),), imports=False)
    assert "with_imported=false" in off.params()
    assert view_from(QueryDict(off.params())) == off  # survives a round trip
    assert "with_imported" not in View().params()  # on is the default: not written
    assert "with_imported=false" in off.params(period="30d")  # carried by every link
    assert ("with_imported", "false") in off.hidden("compare")  # and every form


def test_only_a_site_with_imports_asks_for_them(site: Site, make_site: Callable[..., Site]) -> None:
    plain = make_site("no-imports-switch.test")
    assert "include" not in base_query(View(), plain)
    assert base_query(View(), site)["include"] == {"imports": True}
    assert "include" not in base_query(View(imports=False), site)


def test_the_page_shows_the_switch_to_a_site_with_imports(
    member: Any, site: Site, make_site: Callable[..., Site]
) -> None:
    html = member.get(f"/sites/{site.domain}/?period=7d").content.decode()
    switch = re.search(r'<a class="imports-switch" href="\?([^"]+)"[^>]*>', html)
    assert switch, html
    assert 'aria-checked="true"' in switch[0]
    assert "with_imported=false" in switch[1] and "period=7d" in switch[1]

    html = member.get(f"/sites/{site.domain}/?period=7d&with_imported=false").content.decode()
    switch = re.search(r'<a class="imports-switch" href="\?([^"]+)"[^>]*>', html)
    assert switch and 'aria-checked="false"' in switch[0]
    assert "with_imported" not in switch[1]
    # the presets, the panels and the forms carry the choice
    assert 'href="?period=30d&amp;compare=previous_period&amp;with_imported=false"' in html
    assert "panel/top?period=7d&amp;compare=previous_period&amp;with_imported=false" in html
    assert '<input type="hidden" name="with_imported" value="false">' in html

    other = make_site("no-imports-page.test", organization=site.organization)
    member.get(f"/sites/{other.domain}/")  # a site without imports: no switch
    assert "imports-switch" not in member.get(f"/sites/{other.domain}/").content.decode()


def test_the_panels_add_imported_days_while_it_is_on(member: Any, site: Site) -> None:
    base = f"/sites/{site.domain}/panel"
    on = member.get(f"{base}/top?period=30d&compare=").content.decode()
    off = member.get(f"{base}/top?period=30d&compare=&with_imported=false").content.decode()
    assert visitors(on) == 1 + sum(r[1] for r in IMPORTED)
    assert visitors(off) == 1
    chart = member.get(f"{base}/chart?period=30d&compare=").content.decode()
    day = IMPORTED[0][0]
    assert f'<th scope="row">{day:%a}, {day:%b} {day.day}, {day.year}</th><td>10</td>' in chart
    chart_off = member.get(f"{base}/chart?period=30d&compare=&with_imported=false")
    assert f"{day:%b} {day.day}, {day.year}</th><td>0</td>" in chart_off.content.decode()
    assert "imports-note" not in on  # nothing to explain


def test_all_time_starts_at_the_first_imported_day(member: Any, site: Site) -> None:
    chart = member.get(f"/sites/{site.domain}/panel/chart?period=all&compare=").content.decode()
    first = re.search(r'<tbody><tr><th scope="row">([^<]+)</th><td>([^<]+)</td>', chart)
    day = IMPORTED[0][0]
    assert first and first.groups() == (f"{day:%a}, {day:%b} {day.day}, {day.year}", "10")
    # the range is the site's history, with the switch off too (its days are then empty)
    off = member.get(f"/sites/{site.domain}/panel/chart?period=all&compare=&with_imported=false")
    first = re.search(
        r'<tbody><tr><th scope="row">([^<]+)</th><td>([^<]+)</td>', off.content.decode()
    )
    assert first and first.groups() == (f"{day:%a}, {day:%b} {day.day}, {day.year}", "0")


def test_the_top_stats_say_why_filters_leave_imports_out(member: Any, site: Site) -> None:
    url = f"/sites/{site.domain}/panel/top?period=30d&compare=&f=visit:channel|is|Direct"
    html = member.get(url).content.decode()
    assert 'class="muted imports-note"' in html
    assert "Imported data is not included: the dimension visit:channel has no imported" in html
    goal = member.get(f"/sites/{site.domain}/panel/top?period=30d&f=event:goal|is|Signup")
    assert "the metric conversion_rate has no imported data" in goal.content.decode()
    off = member.get(url + "&with_imported=false").content.decode()
    assert "imports-note" not in off  # switched off: nothing was asked


def test_a_site_without_imports_gets_no_note(
    member: Any, site: Site, make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    other = make_site("no-imports-note.test", organization=site.organization)
    Goal.objects.create(site=other, kind="event", value="Signup", display_name="Signup")
    seed(other, [hit(other, NOW, "/")])
    url = f"/sites/{other.domain}/panel/top?period=30d&compare=&f=event:goal|is|Signup"
    assert "imports-note" not in member.get(url).content.decode()


def test_a_shared_link_carries_the_switch(client: Any, site: Site) -> None:
    link = services.shared_link_create(site=site, name="board")
    html = client.get(f"/share/{site.domain}?auth={link.slug}").content.decode()
    switch = re.search(r'<a class="imports-switch" href="\?([^"]+)"', html)
    assert switch and f"auth={link.slug}" in switch[1]
    top = client.get(
        f"/share/{site.domain}/panel/top?period=30d&compare=&with_imported=false&auth={link.slug}"
    )
    assert visitors(top.content.decode()) == 1


@pytest.mark.parametrize("panel", ["top", "chart", "sources", "funnels"])
def test_panels_still_take_a_few_database_queries(
    member: Any, site: Site, panel: str, django_assert_max_num_queries: Any
) -> None:
    """The import check is one query a request, however many Stats API bodies it makes."""
    with django_assert_max_num_queries(8):
        assert member.get(f"/sites/{site.domain}/panel/{panel}?period=7d").status_code == 200
