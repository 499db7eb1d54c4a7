"""The organization's usage page in Chromium: events counted by the real job from chDB,
the bar against the quota, the per-site-per-day table, nothing of another organization."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from accounts.models import Role
from events.limits import quota
from events.limits.models import OrganizationLimits
from sites.models import Site
from tests import factories

pytestmark = pytest.mark.browser


def test_the_usage_page_shows_this_months_events_against_the_quota(
    signed_in: Callable[..., BrowserContext],
    live_server: object,
    make_site: Callable[..., Site],
    seed: Callable[..., None],
    screenshots: Path,
) -> None:
    mine = make_site("usage-browser.com")
    theirs = make_site("usage-browser-other.com")
    OrganizationLimits.objects.create(organization=mine.organization, monthly_quota=10)
    page_view = {"domain": mine.domain, "name": "pageview", "url": f"https://{mine.domain}/"}
    seed(mine, [page_view] * 9)
    seed(theirs, [{**page_view, "domain": theirs.domain}] * 4)
    quota.count_usage()

    owner = mine.organization.memberships.get(role=Role.OWNER).user
    url = str(live_server)
    page = signed_in(owner).new_page()
    page.goto(f"{url}/organization/")
    page.get_by_role("link", name="Usage this month").click()
    expect(page).to_have_url(f"{url}/organization/usage")
    expect(page.locator("#usage-summary")).to_contain_text("9 of 10 events this month (90%)")
    bar = page.locator("meter#usage-bar")
    assert bar.evaluate("m => [m.value, m.max]") == [9, 10]
    row = page.locator("#usage-table tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("th")).to_have_text(mine.domain)
    today = dt.datetime.now(dt.UTC).day
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "9" and cells[today] == "9"  # the month, then one cell a day
    assert sum(int(n) for n in cells[1:]) == 9
    assert theirs.domain not in page.content()
    page.screenshot(path=str(screenshots / "organization-usage.png"), full_page=True)

    # a viewer of the other organization sees its own numbers only
    viewer = factories.member(theirs.organization, Role.VIEWER)
    theirs_page = signed_in(viewer).new_page()
    theirs_page.goto(f"{url}/organization/usage")
    expect(theirs_page.locator("#usage-summary")).to_contain_text("4 events this month")
    expect(theirs_page.locator("#usage-summary")).to_contain_text("no monthly quota")
    assert mine.domain not in theirs_page.content()
