"""A site's "Delete data" page in Chromium (issue 19.3): an owner opens it from the site's
tabs, asks for the events of one custom property value (user_id=123) over all time, sees
the preview's count, confirms, watches the job's progress bar (htmx polling its row) until
it is done with the count deleted, finds the entry in the owners' audit list, and the
site's events dropped by exactly that. The embedded runner's threads in the live server's
process run the job. No Content-Security-Policy violation and no page error on the way."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, expect

from sites.models import Site
from tests import factories
from tests.browser.test_dashboard_flow import watch_csp
from tests.browser.test_filters_details import signed_in
from tests.browser.test_imports_page import events_of
from tests.reports.conftest import hit

pytestmark = pytest.mark.browser

DOMAIN = "deletions-browser-trail.org"
AT = dt.datetime.now(dt.UTC).replace(hour=10, minute=0, second=0, microsecond=0) - dt.timedelta(
    days=2
)


@pytest.fixture
def site(live_server: object, clickhouse: object, fresh_site_ids: int) -> Site:
    return factories.site(factories.organization(), DOMAIN)


def test_an_owner_previews_confirms_and_sees_the_deletion_done_and_audited(
    new_context: Callable[..., BrowserContext],
    site: Site,
    live_server: object,
    job_worker: None,
    seed: Callable[[Site, list[dict[str, Any]]], None],
    screenshots: Path,
) -> None:
    user = {"user_id": "123"}
    minute = dt.timedelta(minutes=1)
    seed(
        site,
        [
            hit(site, AT, "/", ip="192.0.2.20", props=user),
            hit(site, AT + minute, "/pricing", ip="192.0.2.20", props=user),
            hit(site, AT + 2 * minute, "/done", name="Signup", ip="192.0.2.20", props=user),
            hit(site, AT, "/", ip="192.0.2.21"),
            hit(site, AT + minute, "/blog", ip="192.0.2.21", props={"user_id": "456"}),
        ],
    )
    assert events_of(site) == 5
    page = signed_in(new_context, site, live_server)
    violations = watch_csp(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/sites/{DOMAIN}/settings")  # type: ignore[attr-defined]
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Delete data").click()
    page.wait_for_url(re.compile(rf"/sites/{re.escape(DOMAIN)}/deletions$"))
    expect(page.locator("#deletions")).to_contain_text("No deletions yet.")

    page.get_by_label("Days").select_option("all")
    page.get_by_label("Kind of filter 1").select_option("props")
    page.get_by_label("Property key 1").fill("user_id")
    page.get_by_label("Value 1").fill("123")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#deletion-count")).to_have_text("3")
    assert events_of(site) == 5  # a preview deletes nothing

    page.get_by_role("button", name="Delete 3 events").click()
    expect(page.locator(".messages")).to_contain_text("Deletion queued")
    job_row = page.locator("#deletions tr.deletion-job").first
    expect(job_row).to_contain_text("event:props:user_id is 123")
    expect(job_row).to_have_attribute("data-status", "done", timeout=60_000)
    expect(job_row.locator("progress")).to_have_count(0)
    expect(job_row.locator(".deletion-rows")).to_have_text("3")
    assert events_of(site) == 2

    page.reload()
    entry = page.locator("#deletion-audit tr.audit-entry").first
    owner = site.organization.memberships.get().user
    expect(entry).to_contain_text(f"user: {owner.email}")
    expect(entry.locator(".audit-rows")).to_have_text("3")
    expect(entry.locator(".audit-status")).to_have_text("done")
    page.screenshot(path=screenshots / "site-deletions.png", full_page=True)
    assert violations == [] and errors == []
