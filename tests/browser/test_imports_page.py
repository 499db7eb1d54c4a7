"""A site's Imports page in Chromium (issue 18.1): an owner opens Imports from the site's
tabs, uploads a GA4 BigQuery export (gzipped NDJSON built here from the export's schema),
watches the import's progress bar (htmx polling its row every second) until it is done,
sees its events and days (the page passes axe-core's WCAG 2 A/AA rules), finds the visitors on the dashboard for those months, then deletes
the import (confirming the dialog) and sees it gone, its events with it. The embedded
runner's threads in the live server's process run the job (in the services suite, the
Celery worker). No Content-Security-Policy violation and no page error on the way."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Dialog, expect

from events.clickhouse import get_client
from events.models import DataJob
from sites.models import Site
from tests import factories
from tests.browser.test_dashboard_flow import assert_accessible, number, watch_csp
from tests.browser.test_filters_details import signed_in
from tests.reports.test_imports_ga4 import row

pytestmark = pytest.mark.browser

DOMAIN = "imports-browser-trail.org"
FIRST = dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)
DAYS = 45  # March 1 to April 14, 2024
VISITORS_A_DAY = 400  # enough rows (18,000) that the import runs for a moment


def ga4_export(path: Path) -> Path:
    """BigQuery `events_*` rows, gzipped NDJSON: each visitor one page view on its day."""
    with gzip.open(path, "wt") as file:
        for day in range(DAYS):
            for visitor in range(VISITORS_A_DAY):
                when = FIRST + dt.timedelta(days=day, seconds=visitor * 30)
                event = row(
                    micros=int(when.timestamp() * 1_000_000),
                    user=f"{visitor}.{day}",
                    session=day * VISITORS_A_DAY + visitor,
                    page=f"https://{DOMAIN}/page-{visitor % 9}",
                )
                event["event_date"] = when.strftime("%Y%m%d")
                file.write(json.dumps(event) + "\n")
    return path


def events_of(site: Site) -> int:
    found = get_client().query(
        "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", {"s": site.pk}
    )
    return int(found[0]["n"])


@pytest.fixture
def site(live_server: object, clickhouse: object, fresh_site_ids: int) -> Site:
    return factories.site(factories.organization(), DOMAIN)


def test_an_owner_imports_a_ga4_export_sees_it_on_the_dashboard_and_deletes_it(
    new_context: Callable[..., BrowserContext],
    site: Site,
    live_server: object,
    job_worker: None,
    tmp_path: Path,
    screenshots: Path,
) -> None:
    export = ga4_export(tmp_path / "events_202403.ndjson.gz")
    page = signed_in(new_context, site, live_server)
    violations = watch_csp(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/sites/{DOMAIN}/settings")  # type: ignore[attr-defined]
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Imports").click()
    page.wait_for_url(re.compile(rf"/sites/{re.escape(DOMAIN)}/imports$"))
    expect(page.locator("#imports")).to_contain_text("No imports yet.")

    page.get_by_label("What the files are").select_option("ga4")
    page.get_by_label("Files", exact=True).set_input_files(export)
    page.get_by_role("button", name="Import", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text("Import queued")
    assert_accessible(page)  # the page's message too
    job_row = page.locator("#imports tr.import-job").first
    expect(job_row).to_contain_text("Google Analytics 4")
    expect(job_row).to_contain_text("events_202403.ndjson.gz")
    # The row the page came with: queued or running, a progress bar, polled each second.
    expect(job_row.locator("progress")).to_be_attached(timeout=5000)
    expect(job_row).to_have_attribute("data-status", "done", timeout=60_000)
    expect(job_row.locator("progress")).to_have_count(0)
    total = DAYS * VISITORS_A_DAY
    expect(job_row.locator(".import-rows")).to_have_text(f"{total:,}")
    expect(job_row.locator(".import-days")).to_have_text("2024-03-01 – 2024-04-14")
    assert events_of(site) == total
    page.screenshot(path=screenshots / "site-imports.png", full_page=True)

    page.goto(f"/sites/{DOMAIN}/?period=custom&from=2024-03-01&to=2024-04-30")
    page.wait_for_selector('[data-metric="visitors"]')
    assert number(page, "visitors") > 0

    page.goto(f"/sites/{DOMAIN}/imports")
    assert_accessible(page)
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.locator("#imports tr.import-job").get_by_role(
        "button", name="Delete imported data"
    ).click()
    # The delete answers once ClickHouse has removed the rows (events, visits, staging) and
    # recomputed their days: seconds on an engine a whole suite has filled, under load.
    expect(page.locator("#imports tr.import-job")).to_have_count(0, timeout=30_000)
    assert asked and f"Delete the {total} events" in asked[0]
    assert not DataJob.objects.filter(site=site).exists()
    assert events_of(site) == 0
    page.reload()
    expect(page.locator("#imports")).to_contain_text("No imports yet.")
    assert violations == [] and errors == []
