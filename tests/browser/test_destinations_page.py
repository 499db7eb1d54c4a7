"""A site's "Destinations" page in Chromium (issue 20.4): an owner opens it from the site's
tabs, is told why a bad URL is refused, adds a signed HTTP endpoint (a real local receiver
that verifies signatures), watches the table (htmx refreshes it every 5 s) show the events
sent by the embedded forwarder (the job thread of this process), then the receiver's 500
as the last error with events waiting; pauses, resumes (everything arrives, once) and
deletes it. No Content-Security-Policy violation and no page error on the way."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from playwright.sync_api import BrowserContext, expect

from events.destinations.forward import FORWARD_JOB
from events.destinations.models import Destination
from events.job_thread import JobThread
from sites.models import Site
from tests import factories
from tests.browser.test_dashboard_flow import watch_csp
from tests.browser.test_filters_details import signed_in
from tests.events.destination_receiver import Receiver
from tests.reports.conftest import hit

pytestmark = pytest.mark.browser

DOMAIN = "destinations-browser-trail.org"
SECRET = "browser-secret"
AT = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


@pytest.fixture
def site(live_server: object, clickhouse: object, fresh_site_ids: int) -> Site:
    return factories.site(factories.organization(), DOMAIN)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, allow_private_webhooks=True)):
        found = Receiver(secret=SECRET).start()
        yield found
        found.stop()


@pytest.fixture
def forwarder() -> Iterator[JobThread]:
    """The embedded mode's runner, for the forwarding job alone."""
    thread = JobThread(tick=0.1, only={FORWARD_JOB})
    thread.start()
    yield thread
    thread.stop()


def test_an_owner_adds_watches_pauses_resumes_and_deletes_a_destination(
    new_context: Callable[..., BrowserContext],
    site: Site,
    live_server: object,
    receiver: Receiver,
    forwarder: JobThread,
    seed: Callable[[Site, list[dict[str, Any]]], None],
    screenshots: Path,
) -> None:
    page = signed_in(new_context, site, live_server)
    violations = watch_csp(page)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server.url}/sites/{DOMAIN}/settings")  # type: ignore[attr-defined]
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Destinations").click()
    page.wait_for_url(re.compile(rf"/sites/{re.escape(DOMAIN)}/destinations$"))
    expect(page.locator("#destinations")).to_contain_text("No destinations yet.")

    page.get_by_label("URL", exact=True).fill("ftp://files.example.com/drop")
    page.get_by_role("button", name="Add destination").click()
    expect(page.get_by_role("alert")).to_have_text(
        "URL: only http:// and https:// URLs are accepted"
    )
    assert not Destination.objects.exists()

    page.get_by_label("URL", exact=True).fill(receiver.url)
    page.get_by_label("Secret (HTTP endpoint, optional: signs every request)").fill(SECRET)
    page.get_by_role("button", name="Add destination").click()
    expect(page.locator(".messages")).to_contain_text("Destination added")
    row = page.locator("#destinations tr.destination").first
    expect(row).to_contain_text("HTTP endpoint (signed)")
    expect(row.locator(".destination-state")).to_have_text("Active")
    assert SECRET not in page.content()

    seed(site, [hit(site, AT, f"/p/{n}", ip=f"192.0.2.{n + 1}") for n in range(12)])
    expect(row.locator(".destination-sent")).to_contain_text("12", timeout=20_000)  # htmx
    expect(row.locator(".destination-lag")).to_have_text("up to date")
    assert len(receiver.unique) == 12 and receiver.bad_signatures == 0

    receiver.status = 500
    seed(site, [hit(site, AT, f"/q/{n}", ip=f"192.0.2.{n + 50}") for n in range(5)])
    expect(row.locator(".destination-error")).to_contain_text("HTTP 500", timeout=20_000)
    expect(row.locator(".destination-lag")).to_contain_text("5 events waiting")

    page.get_by_role("button", name=re.compile(r"^Pause destination")).click()
    expect(page.locator(".messages")).to_contain_text("Destination paused")
    expect(row.locator(".destination-state")).to_contain_text("Paused")
    page.screenshot(path=screenshots / "site-destinations.png", full_page=True)

    receiver.status = 200
    page.get_by_role("button", name=re.compile(r"^Resume destination")).click()
    expect(page.locator(".messages")).to_contain_text("continues from its oldest unsent event")
    expect(row.locator(".destination-lag")).to_have_text("up to date", timeout=20_000)
    assert len(receiver.unique) == 17 and receiver.repeated == 0

    page.get_by_role("button", name=re.compile(r"^Delete destination")).click()
    expect(page.locator(".messages")).to_contain_text("Destination deleted")
    expect(page.locator("#destinations")).to_contain_text("No destinations yet.")
    assert not Destination.objects.exists()
    assert violations == [] and errors == []
