"""The filter menu's words and suggestions, and the panels' details (fragments `suggest` and
`details`), as a member and through a shared link (Django's client; the browser's side is
tests/browser/test_filters_details.py)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.http import QueryDict

from frontend import details, filters
from frontend.dashboard import PANELS, View, view_from
from reports.query import EVENT_DIMENSIONS, OPERATORS, VISIT_DIMENSIONS
from sites import services
from sites.models import Site
from tests import factories
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, hit

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
PAGES = [f"/docs/{i:02d}" for i in range(25)]  # /docs/00 … /docs/24, more than a page


def at(minutes: int) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    """/pricing seen by three visitors (one from Google, who scrolled and stayed, one who
    bounced), /Promo by one who bounced, and 25 /docs pages by a fifth, page i seen i+1
    times."""
    site = make_site("filters-details-trail.com")
    google = {"ip": "81.2.69.1", "user_agent": FIREFOX, "referrer": "https://www.google.com/"}
    two = {"ip": "81.2.69.2", "user_agent": CHROME_ANDROID}
    three = {"ip": "81.2.69.3", "user_agent": FIREFOX}
    four = {"ip": "81.2.69.4", "user_agent": FIREFOX}
    five = {"ip": "81.2.69.5", "user_agent": CHROME_ANDROID}
    events = [
        hit(site, at(30), "/pricing", **google),
        hit(site, at(29), "/pricing", name="engagement", sd=80, e=20_000, **google),
        hit(site, at(28), "/", ip=google["ip"], user_agent=FIREFOX),
        hit(site, at(27), "/pricing", **two),
        hit(site, at(26), "/pricing", **four),
        hit(site, at(26) + dt.timedelta(seconds=5), "/pricing", **four),
        hit(site, at(25), "/Promo", **three),
    ]
    for i, page in enumerate(PAGES):
        events += [
            hit(site, at(20) + dt.timedelta(seconds=i * 30 + k), page, **five) for k in range(i + 1)
        ]
    seed(site, events)
    return site


@pytest.fixture
def member(client: Any, site: Site) -> Any:
    client.force_login(site.organization.memberships.get().user)
    return client


def cells(html: str) -> list[list[str]]:
    """The details table's body rows, each a list of its cells' text."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


# --- words ---------------------------------------------------------------------------------


def test_every_dimension_and_operator_has_words() -> None:
    assert set(filters.LABELS) == set(EVENT_DIMENSIONS) | set(VISIT_DIMENSIONS)
    assert set(filters.OPERATOR_WORDS) == set(OPERATORS)
    assert filters.label("event:props:plan") == "Property plan"


def test_chips_read_in_words_and_remove_themselves() -> None:
    view = view_from(
        QueryDict("period=7d&f=event:page|is|/pricing&f=visit:source|contains_not|Goo")
    )
    menu = filters.menu(view, lambda query: f"{query}&auth=slug")
    first, second = menu.chips
    assert (first.subject, first.value) == ("Page is", "/pricing")
    assert (second.subject, second.value) == ("Source does not contain", "Goo")
    assert first.raw == "event:page|is|/pricing"
    assert "f=" + "visit%3Asource%7Ccontains_not%7CGoo" in first.remove
    assert "pricing" not in first.remove and first.remove.endswith("&auth=slug")


def test_the_dashboard_shows_chips_and_the_menu(member: Any, site: Site) -> None:
    html = member.get(f"/sites/{site.domain}/?f=event:page|is_not|/pricing").content.decode()
    assert "Page is not <strong>/pricing</strong>" in html
    assert 'data-filter="event:page|is_not|/pricing"' in html
    assert '<option value="visit:utm_campaign">UTM campaign</option>' in html
    assert '<option value="contains_not">does not contain</option>' in html
    assert f'hx-get="/sites/{site.domain}/panel/suggest?' in html


# --- suggestions ---------------------------------------------------------------------------


def test_suggestions_are_the_top_values_narrowed_by_a_search(member: Any, site: Site) -> None:
    base = f"/sites/{site.domain}/panel/suggest?period=7d&dimension=event:page"
    top = member.get(base).content.decode()
    shown = re.findall(r'data-suggestion="([^"]+)"', top)
    assert shown[:4] == ["/pricing", "/", "/Promo", "/docs/00"]  # by visitors, then a to z
    assert len(shown) == filters.SUGGESTIONS
    found = member.get(f"{base}&q=PR").content.decode()  # any case
    assert re.findall(r'data-suggestion="([^"]+)"', found) == ["/pricing", "/Promo"]
    assert "No matching values" in member.get(f"{base}&q=nothing").content.decode()


def test_suggestions_leave_out_the_filters_on_their_own_dimension(site: Site) -> None:
    view = View(period="7d", filters=(("event:page", "is", "/Promo"),))
    assert "/pricing" in filters.suggestions(site, view, "event:page", "pri")
    assert filters.suggestions(site, view, "visit:not_a_dimension") == []


# --- details -------------------------------------------------------------------------------


def test_details_of_pages_have_every_metric_and_pages_of_rows(member: Any, site: Site) -> None:
    """Rows by visitors, ties by their value; 28 pages: 20, then 8."""
    base = f"/sites/{site.domain}/panel/details?period=7d&panel=pages&tab=pages"
    html = member.get(base).content.decode()
    for header in ("Visitors", "Pageviews", "Bounce rate", "Time on page", "Scroll depth"):
        assert header in html
    rows = cells(html)
    assert len(rows) == details.PAGE_SIZE
    # 3 visitors, 4 views; entered by 3 visits, 1 bounced; the engagement's time and scroll
    assert rows[0] == ["/pricing", "3", "4", "33%", "20 s", "80%"]
    assert [r[0] for r in rows[1:4]] == ["/", "/Promo", "/docs/00"]
    assert rows[1][3] == "—"  # no visit entered on /
    assert "Next →" in html and "← Previous" not in html
    second = member.get(f"{base}&page=2").content.decode()
    assert [r[0] for r in cells(second)] == PAGES[17:]
    assert "Next →" not in second and "← Previous" in second
    assert cells(member.get(f"{base}&q=PRIC").content.decode())[0][0] == "/pricing"
    assert "No rows contain" in member.get(f"{base}&q=nothing").content.decode()


def test_details_sort_by_any_column(member: Any, site: Site) -> None:
    base = f"/sites/{site.domain}/panel/details?period=7d&panel=pages&tab=pages"
    by_name = cells(member.get(f"{base}&order=label:desc").content.decode())
    assert [r[0] for r in by_name][:2] == ["/pricing", "/docs/24"]
    most_viewed = cells(member.get(f"{base}&order=pageviews:desc").content.decode())
    assert [r[0] for r in most_viewed][:2] == ["/docs/24", "/docs/23"]
    least_viewed = cells(member.get(f"{base}&order=pageviews:asc").content.decode())
    assert [r[0] for r in least_viewed][:3] == ["/", "/Promo", "/docs/00"]
    html = member.get(f"{base}&order=pageviews:desc").content.decode()
    assert 'aria-sort="descending"' in html and "order=pageviews%3Aasc" in html
    # the entry page's bounce rate cannot be sorted by: the default order
    assert cells(member.get(f"{base}&order=bounce_rate:asc").content.decode())[0][0] == "/pricing"


@pytest.mark.parametrize(
    ("panel", "tab"), [(panel, tab) for panel, p in PANELS.items() for tab in p.tabs]
)
def test_every_tab_has_details(member: Any, site: Site, panel: str, tab: str) -> None:
    for column in ("label", *(c.metric for c in details.columns(panel, tab) if c.sortable)):
        for direction in ("asc", "desc"):
            url = f"/sites/{site.domain}/panel/details?period=7d&panel={panel}&tab={tab}"
            answer = member.get(f"{url}&order={column}:{direction}&q=e")
            assert answer.status_code == 200, (panel, tab, column, answer.content[:300])


def test_an_unknown_panel_is_404(member: Any, site: Site) -> None:
    assert member.get(f"/sites/{site.domain}/panel/details?panel=nope").status_code == 404


# --- who may ask ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["details?panel=pages", "suggest?dimension=event:page"])
def test_a_shared_link_may_ask_and_an_outsider_may_not(client: Any, site: Site, name: str) -> None:
    link = services.shared_link_create(site=site, name="board")
    shared = client.get(f"/share/{site.domain}/panel/{name}&period=7d&auth={link.slug}")
    assert shared.status_code == 200 and "/pricing" in shared.content.decode()
    if name.startswith("details"):  # its links carry the link
        assert f"auth={link.slug}" in shared.content.decode()
    assert client.get(f"/share/{site.domain}/panel/{name}&period=7d").status_code == 404
    assert client.get(f"/sites/{site.domain}/panel/{name}").status_code == 302  # to log in
    stranger = factories.organization().memberships.get().user
    client.force_login(stranger)
    assert client.get(f"/sites/{site.domain}/panel/{name}").status_code == 404
