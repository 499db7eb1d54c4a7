"""The dashboard's pages and panels (Django's client; the browser flow is in tests/browser/)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest

from frontend.dashboard import View, view_from
from sites import services
from sites.models import Goal, Site
from tests import factories
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, hit

pytestmark = pytest.mark.django_db

# events of the last half hour, read over "7d": a run across midnight UTC sees them all
NOW = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site("dash-board-trail.com")
    Goal.objects.create(site=site, kind="event", value="Signup", display_name="Signup")
    a = {"ip": "81.2.69.1", "user_agent": FIREFOX}
    b = {"ip": "81.2.69.2", "user_agent": CHROME_ANDROID}
    seed(
        site,
        [
            hit(site, NOW - dt.timedelta(minutes=20), "/", referrer="https://www.google.com/", **a),
            hit(site, NOW - dt.timedelta(minutes=19), "/pricing", **a),
            hit(
                site,
                NOW - dt.timedelta(minutes=18),
                "/pricing",
                name="Signup",
                props={"plan": "pro"},
                **a,
            ),
            hit(
                site,
                NOW - dt.timedelta(minutes=10),
                "/blog",
                referrer="https://news.ycombinator.com/",
                **b,
            ),
        ],
    )
    return site


@pytest.fixture
def member(client: Any, site: Site) -> Any:
    owner = site.organization.memberships.get().user
    client.force_login(owner)
    return client


def test_a_site_with_events_opens_on_its_dashboard(
    member: Any, site: Site, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(12):
        page = member.get(f"/sites/{site.domain}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'hx-get="/sites/{site.domain}/panel/top?period=30d&amp;compare=previous_period"' in html
    assert "trail/dashboard.js" in html
    for key in ("day", "yesterday", "7d", "30d", "month", "last_month", "year", "12mo", "all"):
        assert f"period={key}" in html


def test_a_site_without_events_shows_the_snippet(
    member: Any, make_site: Callable[..., Site], site: Site
) -> None:
    empty = factories.site(site.organization, "empty-dash-trail.com")
    html = member.get(f"/sites/{empty.domain}/").content.decode()
    assert "Add the snippet to your site" in html and "Waiting for the first event" in html


@pytest.mark.parametrize(
    "panel", ["top", "chart", "realtime", "sources", "pages", "goals", "funnels"]
)
def test_panels_take_a_few_database_queries(
    member: Any, site: Site, panel: str, django_assert_max_num_queries: Any
) -> None:
    """The site and the member's session (and the goals or funnels), whatever the data."""
    with django_assert_max_num_queries(8):
        assert member.get(f"/sites/{site.domain}/panel/{panel}?period=7d").status_code == 200


def test_top_stats_and_chart(member: Any, site: Site) -> None:
    top = member.get(f"/sites/{site.domain}/panel/top?period=7d&compare=").content.decode()
    assert 'data-metric="visitors">2<' in top
    assert 'data-metric="pageviews">3<' in top
    assert 'data-metric="bounce_rate">50%<' in top
    chart = member.get(
        f"/sites/{site.domain}/panel/chart?period=7d&metric=pageviews"
    ).content.decode()
    assert "data-series=" in chart and "pageviews over time" in chart


def test_panels_rows_link_to_their_filter(member: Any, site: Site) -> None:
    sources = member.get(
        f"/sites/{site.domain}/panel/sources?period=7d&tab=sources"
    ).content.decode()
    assert "Google" in sources and "Hacker News" in sources
    assert "f=visit%3Asource%7Cis%7CGoogle" in sources
    filtered = member.get(
        f"/sites/{site.domain}/panel/pages?period=7d&f=visit:source|is|Google"
    ).content.decode()
    assert "/pricing" in filtered and "/blog" not in filtered
    top = member.get(
        f"/sites/{site.domain}/panel/top?period=7d&f=visit:source|is|Google"
    ).content.decode()
    assert 'data-metric="visitors">1<' in top
    goals = member.get(f"/sites/{site.domain}/panel/goals?period=7d").content.decode()
    assert "Signup" in goals and "50.0" in goals
    events = member.get(
        f"/sites/{site.domain}/panel/events?period=7d&f=event:name|is|Signup&prop=plan"
    ).content.decode()
    assert ">pro<" in events


def test_csv_export_matches_the_panel_and_the_zip_holds_every_panel(
    member: Any, site: Site
) -> None:
    answer = member.get(f"/sites/{site.domain}/export/pages?period=7d&tab=pages")
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert rows[0] == ["Top pages", "visitors", "pageviews"]
    assert sorted(rows[1:]) == [["/", "1", "1"], ["/blog", "1", "1"], ["/pricing", "1", "1"]]
    archive = zipfile.ZipFile(
        io.BytesIO(member.get(f"/sites/{site.domain}/export/all?period=7d").content)
    )
    assert {"pages-pages.csv", "sources-channels.csv", "time-series.csv"} <= set(archive.namelist())


def test_realtime_panel(member: Any, site: Site) -> None:
    html = member.get(f"/sites/{site.domain}/panel/realtime").content.decode()
    assert 'data-realtime="0"' in html or 'data-realtime="' in html


def test_another_tenants_dashboard_is_404(client: Any, site: Site) -> None:
    client.force_login(factories.user())
    for path in ("/", "/panel/top", "/panel/pages", "/export/all"):
        assert client.get(f"/sites/{site.domain}{path}").status_code == 404
    client.logout()
    assert client.get(f"/sites/{site.domain}/panel/top").status_code in (302, 404)


def test_shared_links_public_sites_passwords_and_revocation(client: Any, site: Site) -> None:
    assert client.get(f"/share/{site.domain}").status_code == 404  # not public, no link
    link = services.shared_link_create(site=site, name="board")
    page = client.get(f"/share/{site.domain}?auth={link.slug}")
    assert page.status_code == 200
    assert f"auth={link.slug}" in page.content.decode()
    top = client.get(f"/share/{site.domain}/panel/top?period=7d&auth={link.slug}").content.decode()
    assert 'data-metric="visitors">2<' in top
    locked = services.shared_link_create(site=site, name="locked", password="secret-pass-1")
    assert (
        "protected by a password"
        in client.get(f"/share/{site.domain}?auth={locked.slug}").content.decode()
    )
    assert client.get(f"/share/{site.domain}/panel/top?auth={locked.slug}").status_code == 404
    wrong = client.post(f"/share/{site.domain}?auth={locked.slug}", {"password": "nope"})
    assert wrong.status_code == 401
    right = client.post(f"/share/{site.domain}?auth={locked.slug}", {"password": "secret-pass-1"})
    assert right.status_code == 200
    assert client.get(f"/share/{site.domain}/panel/top?auth={locked.slug}").status_code == 200
    services.shared_link_delete(site=site, link_id=link.id)
    assert client.get(f"/share/{site.domain}?auth={link.slug}").status_code == 404
    Site.objects.filter(pk=site.pk).update(is_public=True)
    assert client.get(f"/share/{site.domain}").status_code == 200


def test_the_view_lives_in_the_url() -> None:
    from django.http import QueryDict

    query = QueryDict(
        "period=custom&from=2026-01-01&to=2026-01-31&compare=&f=visit:source|is|Google"
        "&f=bogus|is|x&f=event:page|equals|/&metric=pageviews&interval=week"
    )
    view = view_from(query)
    assert view == View(
        period="custom",
        first="2026-01-01",
        last="2026-01-31",
        compare="",
        filters=(("visit:source", "is", "Google"),),
        metric="pageviews",
        interval="week",
    )
    assert view_from(QueryDict(view.params())) == view
    assert view_from(QueryDict("period=custom&from=2026-02-01&to=2026-01-01")).period == "30d"
    assert view_from(QueryDict("period=forever")).period == "30d"


def test_the_site_list_loads_a_sparkline_per_site(member: Any, site: Site) -> None:
    listing = member.get("/sites/").content.decode()
    assert f"/sites/{site.domain}/panel/spark?period=7d" in listing
    spark = member.get(f"/sites/{site.domain}/panel/spark?period=7d&compare=").content.decode()
    assert "<polyline" in spark and "<strong>2</strong> visitors in 7 days" in spark


def test_funnels_are_defined_saved_and_shown(member: Any, site: Site) -> None:
    page = f"/sites/{site.domain}/funnels"
    assert member.get(page).status_code == 200
    bad = member.post(page, {"name": "one step", "type0": "page", "value0": "/"})
    assert bad.status_code == 400 and "steps" in bad.content.decode()
    saved = member.post(
        page,
        {
            "name": "Home to signup",
            "window": "1800",
            "type0": "page",
            "value0": "/",
            "type1": "page",
            "value1": "/pricing",
            "type2": "event",
            "value2": "Signup",
        },
    )
    assert saved.status_code == 302
    funnel = site.funnels.get()
    assert funnel.steps == [
        {"type": "page", "value": "/"},
        {"type": "page", "value": "/pricing"},
        {"type": "event", "value": "Signup"},
    ]
    panel = member.get(f"/sites/{site.domain}/panel/funnels?period=7d").content.decode()
    assert "Home to signup" in panel
    assert "Visit /pricing" in panel and ">1<" in panel  # one visitor went all the way
    deleted = member.post(page, {"delete": str(funnel.id)})
    assert deleted.status_code == 302 and not site.funnels.exists()


def test_realtime_line_names_direct_visitors(
    client: Any, make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    """A visitor without a referrer is "Direct / None", never Python's None or a blank."""
    site = make_site("realtime-direct-trail.com")
    now = dt.datetime.now(dt.UTC)
    seed(
        site,
        [
            hit(site, now - dt.timedelta(minutes=2), "/", ip="81.2.69.9"),
            hit(site, now - dt.timedelta(minutes=1), "/docs", ip="81.2.69.9", referrer=""),
            hit(site, now - dt.timedelta(minutes=1), "/", ip="81.2.69.8", name="Signup"),
        ],
    )
    client.force_login(site.organization.memberships.get().user)
    html = client.get(f"/sites/{site.domain}/panel/realtime").content.decode()
    assert '<strong data-realtime="2">2</strong> current visitors' in html
    assert " · from Direct / None</span>" in html
    assert html.count("None") == 1  # the label's own word, nothing else
    assert "()" not in html and ", ," not in html and "from </span>" not in html
