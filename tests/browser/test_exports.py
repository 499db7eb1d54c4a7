"""The dashboard's Export menu in Chromium (issue 17.3): a member opens Export, starts the
raw events of the view as CSV, watches the job's progress bar until the job is done (htmx
polling its row every second), downloads the file, then exports the view as a zip. The
embedded runner's threads in the live server's process run the jobs (in the services suite,
the Celery worker). No
Content-Security-Policy violation and no page error on the way."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from events.models import DataJob
from sites.models import Site
from tests import factories
from tests.browser.test_dashboard_flow import watch_csp
from tests.browser.test_filters_details import signed_in
from tests.reports.conftest import hit

pytestmark = pytest.mark.browser

DOMAIN = "exports-browser-trail.org"
NOW = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


@pytest.fixture
def site(live_server: object, clickhouse: object, fresh_site_ids: int, seed: Callable) -> Site:
    site = factories.site(factories.organization(), DOMAIN)
    events = [
        hit(site, NOW - dt.timedelta(minutes=i), f"/page-{i % 7}", ip=f"192.0.2.{i % 50}")
        for i in range(120)
    ]
    seed(site, events)
    return site


def test_a_dashboard_export_shows_its_progress_and_then_its_download(
    new_context: Callable[..., BrowserContext],
    site: Site,
    live_server: object,
    job_worker: None,
    tmp_path: Path,
) -> None:
    page = signed_in(new_context, site, live_server)
    violations = watch_csp(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/sites/{DOMAIN}/?period=7d")  # type: ignore[attr-defined]

    page.get_by_text("Export", exact=True).click()
    expect(page.locator("#exports")).to_contain_text("No exports yet.")
    page.get_by_role("button", name="Raw events as CSV").click()

    row = page.locator("#exports .export-job").first
    # The row the start answered with: queued or running, a progress bar, polled each second.
    expect(row.locator("progress")).to_be_attached(timeout=5000)
    expect(row).to_have_attribute("data-status", "done", timeout=20_000)
    expect(row.locator("progress")).to_have_count(0)
    link = row.get_by_role("link", name="Download")
    expect(link).to_be_visible()
    expect(row).to_contain_text("120 rows")
    expect(row).to_contain_text("expires")

    with page.expect_download() as started:
        link.click()
    download = started.value
    assert download.suggested_filename.startswith(f"{DOMAIN}-events-")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    lines = saved.read_bytes().splitlines()
    assert len(lines) == 1 + 120 and lines[0].startswith(b'"event_id","timestamp","name","page"')

    page.get_by_role("button", name="This view as a zip of CSV files").click()
    report = page.locator("#exports .export-job").first
    expect(report).to_contain_text("Report (zip)")
    expect(report).to_have_attribute("data-status", "done", timeout=20_000)
    with page.expect_download() as started:
        report.get_by_role("link", name="Download").click()
    archive = tmp_path / "report.zip"
    started.value.save_as(archive)
    with zipfile.ZipFile(io.BytesIO(archive.read_bytes())) as opened:
        assert "pages-pages.csv" in opened.namelist()

    assert DataJob.objects.filter(site=site, status=DataJob.Status.DONE).count() == 2
    assert violations == [] and errors == []
