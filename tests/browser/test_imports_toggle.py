"""The dashboard's "Include imported data" switch in Chromium (issue 18.2): a site with a
Plausible export imported (a zip in Plausible's format, written here, run through the real
import job into the live server's embedded ClickHouse) shows the imported days in its top
stats and chart while the switch is on; switched off they vanish, the choice survives a
reload and a filter click (it is the URL's `with_imported`), and switched on they are back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from sites.models import Site
from tests.browser.test_dashboard_controls import params, series, until, watch
from tests.frontend.test_imports_toggle import IMPORTED, plausible_zip
from tests.reports.conftest import hit
from tests.reports.test_imports_plausible_job import start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
IMPORTED_VISITORS = sum(row[1] for row in IMPORTED)


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None], tmp_path: Path) -> Site:
    """One visitor of the site's own today (from Google), and two imported days."""
    site = make_site("imports-toggle-trail.com")
    seed(site, [hit(site, NOW, "/", referrer="https://www.google.com/")])
    start(site, plausible_zip(tmp_path / "export.zip"))
    return site


@pytest.fixture
def page(
    client: Any, site: Site, live_server: Any, new_context: Callable[..., BrowserContext]
) -> tuple[Page, list[str]]:
    client.force_login(site.organization.memberships.get().user)
    context = new_context()
    session = client.cookies["sessionid"].value
    context.add_cookies([{"name": "sessionid", "value": session, "url": str(live_server.url)}])
    opened = context.new_page()
    errors: list[str] = []
    watch(opened, errors)
    return opened, errors


def top_visitors(page: Page, expected: int) -> None:
    """Wait for the top stats to show `expected` unique visitors."""
    expect(page.locator('.top [data-metric="visitors"]')).to_have_text(str(expected))


def imported_days_drawn(page: Page) -> list[Any]:
    """The chart's values on the imported days."""
    drawn = series(page)
    wanted = [f"{day:%b} {day.day}" for day, *_ in IMPORTED]
    return [drawn["values"][drawn["labels"].index(label)] for label in wanted]


def test_imported_days_come_and_go_with_the_switch(
    page: tuple[Page, list[str]], site: Site
) -> None:
    browser_page, errors = page
    browser_page.goto(f"/sites/{site.domain}/?period=30d&compare=")
    switch = browser_page.get_by_role("switch", name="Include imported data")
    expect(switch).to_have_attribute("aria-checked", "true")
    top_visitors(browser_page, 1 + IMPORTED_VISITORS)
    assert imported_days_drawn(browser_page) == [row[1] for row in IMPORTED]

    # off: a navigation in place (no page load), the imported days gone
    browser_page.evaluate("window.stillHere = true")
    switch.click()
    browser_page.wait_for_url(re.compile(r"with_imported=false"))
    expect(switch).to_have_attribute("aria-checked", "false")
    top_visitors(browser_page, 1)
    until(browser_page, "!!(document.querySelector('canvas.series') || {}).chart")
    assert imported_days_drawn(browser_page) == [0, 0]
    assert browser_page.evaluate("window.stillHere === true")

    # a reload and a filter click keep it off
    browser_page.reload()
    expect(switch).to_have_attribute("aria-checked", "false")
    top_visitors(browser_page, 1)
    browser_page.locator("#panel-sources table.rows a").first.click()
    browser_page.wait_for_url(re.compile(r"f=visit"))
    assert params(browser_page)["with_imported"] == ["false"]
    expect(switch).to_have_attribute("aria-checked", "false")
    top_visitors(browser_page, 1)

    # on again, without the filter: back
    browser_page.get_by_role("link", name=re.compile("Remove filter")).click()
    browser_page.wait_for_url(lambda url: "f=" not in url)
    switch.click()
    browser_page.wait_for_url(lambda url: "with_imported" not in url)
    expect(switch).to_have_attribute("aria-checked", "true")
    top_visitors(browser_page, 1 + IMPORTED_VISITORS)
    assert imported_days_drawn(browser_page) == [row[1] for row in IMPORTED]
    assert errors == []
