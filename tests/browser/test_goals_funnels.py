"""Goals, revenue and funnels in Chromium (issue 16.6, 16.9): a goal made and edited on the
Goals page (a revenue currency added), its filter switching the top stats to conversions
with the revenue of a 9.50 EUR purchase sent through the real ingest (`/api/event`); a
change from nothing reading "new", never "+100%"; a funnel with numbered steps added and
removed, a window in hours, drawn on the dashboard as bars with drop-off, and edited. No
Content-Security-Policy violation anywhere (the form's behaviour is trail/app.js's)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from sites.models import Site
from tests import factories
from tests.browser.test_dashboard_flow import watch_csp
from tests.browser.test_realtime_install import signed_in_page
from tests.wsgi_client import post

pytestmark = pytest.mark.browser

Flush = Callable[..., Any]
DOMAIN = "goals-browser-trail.org"


def event(ip: str, path: str, name: str = "pageview", **extra: Any) -> None:
    """An event through the real ingest (`/api/event`), as the tracker sends it."""
    body = {"n": name, "u": f"https://{DOMAIN}{path}", "d": DOMAIN, **extra}
    answer = post("/api/event", json.dumps(body), remote_addr=ip)
    assert answer.status == 202 and answer.dropped is None, answer


@pytest.fixture
def site(clickhouse: object, fresh_site_ids: int, flush: Flush) -> Site:
    """A buyer (/ then a Purchase of 9.50 EUR) and a reader (/ then /pricing), today."""
    site = factories.site(factories.organization(), DOMAIN)
    event("81.2.69.61", "/")
    event("81.2.69.61", "/buy", "Purchase", revenue={"currency": "EUR", "amount": "9.50"})
    event("81.2.69.62", "/")
    event("81.2.69.62", "/pricing")
    flush()
    return site


@pytest.fixture
def page(new_context: Callable[..., BrowserContext], live_server: Any, site: Site) -> Page:
    return signed_in_page(new_context, live_server, site)


def stat(page: Page, metric: str) -> Any:
    return page.locator(f'.stats [data-metric="{metric}"]')


def test_a_revenue_goal_shows_conversions_and_revenue(page: Page, site: Site) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    violations = watch_csp(page)

    # the previous 7 days had nothing: each change reads "new"
    page.goto(f"/sites/{DOMAIN}/?period=7d")
    expect(stat(page, "visitors")).to_have_text("2")
    changes = page.locator(".stats .change")
    expect(changes.first).to_have_text("new")
    assert "+100%" not in page.locator(".stats").inner_text()

    # a goal without revenue, then edited: a currency, and its name
    page.goto(f"/sites/{DOMAIN}/goals")
    page.get_by_label("Kind").select_option("event")
    page.get_by_label("Page path or event name").fill("Purchase")
    page.get_by_label("Name (optional)").fill("Buy")
    page.get_by_role("button", name="Add goal").click()
    expect(page.locator("table.list")).to_contain_text("Buy")
    page.get_by_role("link", name="Edit goal Buy").click()
    expect(page.get_by_label("Page path or event name")).to_have_value("Purchase")
    page.get_by_label("Name (optional)").fill("Purchase")
    page.get_by_label("Revenue currency (optional)").fill("EUR")
    page.get_by_role("button", name="Save goal").click()
    page.wait_for_url(re.compile(r"/goals$"))
    expect(page.locator("table.list tbody tr").first).to_contain_text("EUR")

    # the goal's row filters the dashboard: the top stats are its conversions and revenue
    page.goto(f"/sites/{DOMAIN}/?period=7d")
    page.locator("#panel-goals table").get_by_role("link", name="Purchase").click()
    expect(page.locator(".stats")).to_contain_text("Unique conversions")
    expect(stat(page, "visitors")).to_have_text("1")
    expect(stat(page, "events")).to_have_text("1")
    expect(stat(page, "conversion_rate")).to_have_text("50.0%")
    expect(stat(page, "total_revenue")).to_have_text("€9.50")
    expect(stat(page, "average_revenue")).to_have_text("€9.50")
    tiles = page.locator(".stats").inner_text()
    assert "Total pageviews" not in tiles and "Views per visit" not in tiles
    assert "Total revenue" in tiles and "Average revenue" in tiles
    assert errors == [] and violations == []


def steps(page: Page) -> Any:
    """The step rows shown (all eight are in the page; app.js hides the empty ones)."""
    return page.locator("ol[data-steps] > li:visible")


def test_a_funnel_with_steps_added_and_removed_drawn_and_edited(page: Page, site: Site) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    violations = watch_csp(page)
    page.goto(f"/sites/{DOMAIN}/funnels")
    page.get_by_label("Name").fill("Home to purchase")
    expect(steps(page)).to_have_count(2)
    expect(page.get_by_role("button", name="Remove step 1")).to_be_disabled()  # 2 at least
    page.get_by_label("Step 1 page or event").fill("/")
    page.get_by_label("Step 2 page or event").fill("/pricing")
    page.get_by_role("button", name="Add a step").click()
    expect(steps(page)).to_have_count(3)
    expect(steps(page).nth(2)).to_contain_text("Step 3")
    page.get_by_label("Step 3 kind").select_option("event")
    expect(page.get_by_label("Step 3 page or event")).to_have_attribute("placeholder", "Signup")
    page.get_by_label("Step 3 page or event").fill("Purchase")
    page.get_by_role("button", name="Remove step 2").click()  # the middle one
    expect(steps(page)).to_have_count(2)
    expect(page.get_by_label("Step 2 page or event")).to_have_value("Purchase")
    assert page.get_by_label("Step 2 page or event").get_attribute("name") == "value1"
    page.get_by_label("Window").fill("2")
    page.get_by_label("Unit").select_option("hours")
    page.get_by_role("button", name="Save funnel").click()
    expect(page.locator("table.list")).to_contain_text("2 hours")

    # the dashboard draws it: a bar per step, the second half as wide, the drop-off
    page.goto(f"/sites/{DOMAIN}/?period=7d")
    chart = page.locator("#panel-funnels .funnel-chart")
    expect(chart.locator(".funnel-step")).to_have_count(2)
    expect(chart).to_contain_text("1 dropped off (50.0%)")
    widths = chart.locator(".funnel-bar").evaluate_all(
        "bars => bars.map(b => b.getBoundingClientRect().width)"
    )
    assert widths[0] > 0 and abs(widths[1] - widths[0] / 2) <= 1, widths
    expect(page.locator("#panel-funnels")).to_contain_text("1 of 2 visitors converted")

    # edited: a window of a day, a step more
    page.goto(f"/sites/{DOMAIN}/funnels")
    page.get_by_role("link", name="Edit funnel Home to purchase").click()
    expect(steps(page)).to_have_count(2)
    expect(page.get_by_label("Window")).to_have_value("2")
    expect(page.get_by_label("Unit")).to_have_value("3600")
    page.get_by_role("button", name="Add a step").click()
    page.get_by_label("Step 3 page or event").fill("/thanks")
    page.get_by_label("Window").fill("1")
    page.get_by_label("Unit").select_option("days")
    page.get_by_role("button", name="Save funnel").click()
    page.wait_for_url(re.compile(r"/funnels$"))
    expect(page.locator("table.list")).to_contain_text("1 day")
    expect(page.locator("table.list")).to_contain_text("/thanks")

    # up to eight steps: then "Add a step" is disabled
    add = page.get_by_role("button", name="Add a step")
    for shown in range(3, 9):
        add.click()
        expect(steps(page)).to_have_count(shown)
    expect(add).to_be_disabled()
    expect(page.get_by_label("Step 8 page or event")).to_be_focused()
    page.get_by_role("button", name="Remove step 4").click()
    expect(steps(page)).to_have_count(7)
    expect(add).to_be_enabled()
    expect(page.locator("[data-steps-hint]")).to_be_hidden()  # the no-script hint
    assert errors == [] and violations == []


def test_a_funnel_of_eight_steps_without_javascript(
    new_context: Callable[..., BrowserContext], live_server: Any, site: Site
) -> None:
    """Every row is in the page, the ones past the second optional; the buttons that need
    JavaScript are not shown; the rows filled are the funnel's steps, gaps skipped."""
    page = signed_in_page(new_context, live_server, site, java_script_enabled=False)
    page.goto(f"/sites/{DOMAIN}/funnels")
    expect(steps(page)).to_have_count(8)
    expect(page.get_by_role("button", name="Add a step")).to_be_hidden()
    expect(page.get_by_role("button", name=re.compile("Remove step"))).to_have_count(0)
    expect(page.locator("[data-steps-hint]")).to_be_visible()
    expect(steps(page).nth(2)).to_contain_text("Step 3 (optional)")
    page.get_by_label("Name").fill("Long way")
    for i in range(8):
        if i == 5:
            continue  # left empty: skipped
        page.get_by_label(f"Step {i + 1} page or event").fill(f"/p{i}")
    page.get_by_label("Step 8 kind").select_option("event")
    page.get_by_label("Step 8 page or event").fill("Purchase")
    page.get_by_role("button", name="Save funnel").click()
    page.wait_for_url(re.compile(r"/funnels$"))
    expect(page.locator("table.list")).to_contain_text("Long way")
    funnel = site.funnels.get(name="Long way")
    assert [s["value"] for s in funnel.steps] == [
        "/p0",
        "/p1",
        "/p2",
        "/p3",
        "/p4",
        "/p6",
        "Purchase",
    ]

    # edited without JavaScript: the saved steps, then an empty row to fill
    page.get_by_role("link", name="Edit funnel Long way").click()
    expect(page.get_by_label("Step 7 page or event")).to_have_value("Purchase")
    page.get_by_label("Step 8 page or event").fill("/thanks")
    page.get_by_role("button", name="Save funnel").click()
    page.wait_for_url(re.compile(r"/funnels$"))
    funnel.refresh_from_db()
    assert len(funnel.steps) == 8 and funnel.steps[-1] == {"type": "page", "value": "/thanks"}
