"""The filter menu and the panels' details in Chromium (issue 16.4–5), signed in and through
a shared link: a filter added from the menu with "is not" changes the panels, a search
narrows the suggested values, a chip reads in words and is edited in the menu; a panel's
details list every row, search them, sort them by a column and page through them, and the
pages' details show bounce rate, time on page and scroll depth. No Content-Security-Policy
violation and no page error on the way."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect

from sites import services
from sites.models import Site
from tests import factories
from tests.browser.test_dashboard_flow import watch_csp
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, hit

pytestmark = pytest.mark.browser

DOMAIN = "filters-browser-trail.org"
NOW = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
DOCS = [f"/docs/{i:02d}" for i in range(25)]


def at(minutes: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


@pytest.fixture
def site(live_server: object, clickhouse: object, fresh_site_ids: int, seed: Callable) -> Site:
    """/pricing by two visitors (one scrolled 80 % and stayed 20 s), /promo by one, and 25
    /docs pages by a fourth, /docs/24 viewed 3 times, /docs/23 twice, the others once: 28
    pages, more than one details page."""
    site = factories.site(factories.organization(), DOMAIN)
    one = {"ip": "81.2.69.1", "user_agent": FIREFOX, "referrer": "https://www.google.com/"}
    two = {"ip": "81.2.69.2", "user_agent": CHROME_ANDROID}
    three = {"ip": "81.2.69.3", "user_agent": FIREFOX}
    four = {"ip": "81.2.69.4", "user_agent": CHROME_ANDROID}
    events = [
        hit(site, at(30), "/pricing", **one),
        hit(site, at(29), "/pricing", name="engagement", sd=80, e=20_000, **one),
        hit(site, at(28), "/", ip=one["ip"], user_agent=FIREFOX),
        hit(site, at(27), "/pricing", **two),
        hit(site, at(26), "/promo", **three),
    ]
    views = {"/docs/24": 3, "/docs/23": 2}
    for i, page in enumerate(DOCS):
        events += [
            hit(site, at(20 - i / 2) + dt.timedelta(seconds=k), page, **four)
            for k in range(views.get(page, 1))
        ]
    seed(site, events)
    return site


def signed_in(new_context: Callable[..., BrowserContext], site: Site, live_server: object) -> Page:
    client = Client()
    client.force_login(site.organization.memberships.get().user)
    context = new_context()
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": str(live_server.url)}]  # type: ignore[attr-defined]
    )
    return context.new_page()


def pages_shown(page: Page) -> list[str]:
    """The pages panel's rows, once loaded (a navigation in place swaps in a new panel that
    is busy until its rows arrive)."""
    panel = "#panel-pages:not([aria-busy]) table"
    page.wait_for_selector(panel)
    return page.locator(f"{panel} tbody tr td:first-child").all_inner_texts()


def test_the_filter_menu_adds_suggests_and_edits(
    new_context: Callable[..., BrowserContext], live_server: object, site: Site
) -> None:
    page = signed_in(new_context, site, live_server)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    violations = watch_csp(page)
    page.goto(f"/sites/{DOMAIN}/?period=7d")
    assert "/pricing" in pages_shown(page)

    # "+ Filter": Page, is not, a search among the suggested values
    page.get_by_role("button", name="+ Filter").click()
    menu = page.get_by_role("dialog", name="Add a filter")
    expect(menu).to_be_visible()
    menu.get_by_label("Filter by").select_option(label="Page")
    menu.get_by_label("Operator").select_option(label="is not")
    menu.get_by_label("Value", exact=True).fill("PRI")
    suggestions = menu.locator("#filter-suggestions [data-suggestion]")
    expect(suggestions).to_have_text(["/pricing"])  # any case, only the matching values
    menu.get_by_label("Value", exact=True).fill("")
    menu.get_by_label("Value", exact=True).press_sequentially("/pr")
    expect(suggestions).to_have_text(["/pricing", "/promo"])
    suggestions.first.click()
    expect(menu.get_by_label("Value", exact=True)).to_have_value("/pricing")
    menu.get_by_role("button", name="Apply filter").click()

    page.wait_for_url(re.compile(r"f=event%3Apage%7Cis_not%7C%2Fpricing"))
    chips = page.locator(".chips")
    expect(chips).to_contain_text("Page is not /pricing")
    assert "event:page" not in chips.inner_text()
    shown = pages_shown(page)
    assert "/pricing" not in shown and "/" in shown

    # a chip opens the menu filled in; the keyboard changes it and applies
    page.get_by_role("button", name="Edit filter: Page is not /pricing").click()
    editing = page.get_by_role("dialog", name="Edit the filter")
    expect(editing.get_by_label("Operator")).to_have_value("is_not")
    expect(editing.get_by_label("Value", exact=True)).to_have_value("/pricing")
    editing.get_by_label("Operator").select_option(label="contains")
    editing.get_by_label("Value", exact=True).fill("docs/0")
    editing.get_by_label("Value", exact=True).press("Enter")
    page.wait_for_url(re.compile(r"f=event%3Apage%7Ccontains%7Cdocs%2F0"))
    assert "is_not" not in page.url  # replaced, not added
    expect(chips).to_contain_text("Page contains docs/0")
    assert pages_shown(page) == [f"/docs/0{i}" for i in range(9)]

    # the chip's × removes it
    page.get_by_role("link", name="Remove filter: Page contains docs/0").click()
    page.wait_for_url(re.compile(r"^(?!.*f=).*$"))
    assert "/pricing" in pages_shown(page)
    assert errors == []
    assert violations == []


def details_rows(dialog: object) -> list[str]:
    return dialog.locator("#details-rows tbody tr td:first-child").all_inner_texts()  # type: ignore[attr-defined]


def test_details_search_sort_and_pages_on_a_shared_link(
    new_context: Callable[..., BrowserContext], live_server: object, site: Site
) -> None:
    link = services.shared_link_create(site=site, name="board")
    page = new_context().new_page()  # nobody signed in
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    violations = watch_csp(page)
    page.goto(f"/share/{DOMAIN}?auth={link.slug}&period=7d")
    pages_shown(page)

    page.get_by_role("button", name="Details of Top pages").click()
    dialog = page.get_by_role("dialog", name="Top pages")
    expect(dialog).to_be_visible()
    headers = dialog.locator("thead th").all_inner_texts()
    for header in ("Visitors", "Pageviews", "Bounce rate", "Time on page", "Scroll depth"):
        assert any(h.startswith(header) for h in headers), headers
    rows = details_rows(dialog)
    assert len(rows) == 20 and rows[0] == "/pricing"
    first = dialog.locator("#details-rows tbody tr").first.locator("td").all_inner_texts()
    assert first == ["/pricing", "2", "2", "50%", "20 s", "80%"]

    # pages
    dialog.get_by_role("link", name="Next →").click()
    expect(dialog.get_by_text("Page 2")).to_be_visible()
    assert details_rows(dialog) == [*DOCS[18:], "/promo"]
    dialog.get_by_role("link", name="← Previous").click()
    expect(dialog.get_by_text("Page 1")).to_be_visible()

    # sort by a column, then the other way
    dialog.get_by_role("link", name="Pageviews").click()
    expect(dialog.locator("#details-rows tbody tr").first).to_contain_text("/docs/24")
    assert details_rows(dialog)[:2] == ["/docs/24", "/docs/23"]
    assert dialog.locator('th[aria-sort="descending"]').inner_text().startswith("Pageviews")
    dialog.get_by_role("link", name=re.compile("^Pageviews")).click()
    expect(dialog.locator('th[aria-sort="ascending"]')).to_contain_text("Pageviews")
    assert details_rows(dialog)[0] == "/"

    # search narrows the rows (and the sort stays)
    dialog.get_by_label("Search").fill("docs/1")
    expect(dialog.locator("#details-rows tbody tr")).to_have_count(10)
    assert details_rows(dialog)[0] == "/docs/10"
    dialog.get_by_label("Search").fill("nothing like it")
    expect(dialog.get_by_text("No rows contain")).to_be_visible()

    # its close button (or Escape outside the search field) closes it; the suggestions
    # work for a shared viewer too
    dialog.get_by_role("button", name="Close details").press("Enter")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="+ Filter").click()
    page.get_by_label("Value", exact=True).fill("promo")
    expect(page.locator("#filter-suggestions [data-suggestion]")).to_have_text(["/promo"])
    assert errors == []
    assert violations == []
