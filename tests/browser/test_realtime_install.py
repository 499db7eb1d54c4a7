"""Realtime and the first install in Chromium (issue 16.7, 16.8): the header's current
visitors and their pages from one labelled window; the Realtime period (the last 30
minutes by minute) and Today refreshing by themselves; the installation page turning into
the dashboard when the first event arrives through the real ingest, and explaining
localhost and automated browsers; /docs/tracker as a page with a copy button per snippet.
No Content-Security-Policy violation anywhere.

PAGE_CLOCK: the pages' own timers (htmx's `every`, refresh.js) run on Playwright's clock,
which flows as the wall clock does; where a test waits for a refresh it moves that clock by
the refresh's period instead of waiting it out (43 s of waiting in one test before). Each
wait's timeout is what it was less the time moved over, so the longest period a test lets
pass is the same as when it waited."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect

from sites.models import Site
from tests import factories
from tests.browser.test_dashboard_flow import watch_csp
from tests.reports.conftest import CHROME_ANDROID, hit
from tests.wsgi_client import post

pytestmark = pytest.mark.browser

Flush = Callable[..., Any]


def signed_in_page(
    new_context: Callable[..., BrowserContext], live_server: Any, site: Site, **options: Any
) -> Page:
    """A page of a new browser context (`options`: `java_script_enabled=False`, …) signed
    in as the site's owner."""
    client = Client()
    client.force_login(site.organization.memberships.get().user)
    context = new_context(**options)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": str(live_server.url),
            }
        ]
    )
    return context.new_page()


def send(domain: str, path: str, flush: Flush, *, ip: str = "198.51.100.23") -> None:
    """A pageview through the real ingest (`/api/event`), flushed into ClickHouse."""
    body = json.dumps({"n": "pageview", "u": f"https://{domain}{path}", "d": domain})
    answer = post("/api/event", body, remote_addr=ip)
    assert answer.status == 202 and answer.dropped is None, answer
    flush()


def test_the_installation_page_turns_into_the_dashboard(
    new_context: Callable[..., BrowserContext],
    live_server: Any,
    clickhouse: object,
    fresh_site_ids: int,
    flush: Flush,
) -> None:
    domain = "first-event-browser-trail.org"
    site = factories.site(factories.organization(), domain)
    page = signed_in_page(new_context, live_server, site)
    page.clock.install()  # the page's timers run on a clock the test can move (PAGE_CLOCK)
    violations = watch_csp(page)
    page.goto(f"/sites/{domain}/")
    expect(page.get_by_role("status")).to_have_text("Waiting for the first event…")
    local = page.locator("#install-local")
    expect(local.get_by_role("heading")).to_have_text(
        "Trying it on localhost or in an automated browser?"
    )
    expect(local).to_contain_text("navigator.webdriver")
    expect(page.locator("#snippet-local")).to_contain_text(
        f'<script defer data-allow-local data-domain="{domain}"'
    )
    expect(local.get_by_role("button", name="Copy")).to_be_visible()
    expect(page.locator(".realtime-box")).to_have_count(0)

    send(domain, "/first", flush)
    # htmx polls every 5 s; the first event's answer sends the page to the dashboard
    page.clock.fast_forward(5_000)
    expect(page.locator("[data-realtime]")).to_have_attribute("data-realtime", "1", timeout=15_000)
    assert page.url.endswith(f"/sites/{domain}/")
    expect(page.get_by_role("status")).to_have_count(0)
    assert violations == []


@pytest.fixture
def busy(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site("realtime-browser-trail.org")
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=12)
    seed(site, [hit(site, earlier, "/earlier", ip="81.2.69.50")])  # the batch API
    return site


def test_realtime_is_one_window_and_refreshes_itself(
    new_context: Callable[..., BrowserContext], live_server: Any, busy: Site, flush: Flush
) -> None:
    domain = busy.domain
    send(domain, "/now", flush, ip="81.2.69.51")
    page = signed_in_page(new_context, live_server, busy)
    page.clock.install()
    violations = watch_csp(page)
    page.goto(f"/sites/{domain}/?period=7d")

    header = page.locator(".realtime-box")
    expect(header.locator("[data-realtime]")).to_have_text("1")
    expect(header).to_contain_text("current visitor in the last 5 minutes")
    expect(header).to_contain_text("/now (1)")
    expect(header).not_to_contain_text("/earlier")  # 12 minutes ago: not in this window

    header.get_by_role("link").click()
    page.wait_for_url("**period=realtime**")
    expect(page.locator(".presets [aria-current]")).to_have_text("Realtime")
    live = page.locator(".realtime-period")
    expect(live.locator('[data-metric="current_visitors"]')).to_have_text("1")
    expect(live.locator('[data-metric="visitors"]')).to_have_text("2")
    expect(live.locator(".realtime-chart tr")).to_have_count(30)  # a row per minute
    expect(live.locator("canvas[data-series]")).to_be_visible()
    expect(live.locator("#realtime-pages")).to_contain_text("/earlier")
    expect(live.locator("#realtime-pages")).to_contain_text("last 30 minutes")
    expect(page.locator("section.top")).to_have_count(0)  # no Stats API panels here

    send(domain, "/fresh", flush, ip="81.2.69.52")
    # every 10 s by itself, no reload
    page.clock.fast_forward(10_000)
    expect(live.locator("#realtime-pages")).to_contain_text("/fresh", timeout=10_000)
    expect(live.locator('[data-metric="visitors"]')).to_have_text("3")
    expect(header.locator("[data-realtime]")).to_have_text("2")

    page.goto(f"/sites/{domain}/?period=day")
    pages = page.locator("#panel-pages")
    expect(pages).to_contain_text("/fresh")
    send(domain, "/later-today", flush, ip="81.2.69.53")
    # Today's panels are asked again every 30 s (frontend/dashboard/refresh.js)
    page.clock.fast_forward(30_000)
    expect(pages).to_contain_text("/later-today", timeout=15_000)
    assert violations == []


@pytest.fixture
def mixed(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    """Two visitors of the last minutes: a Linux Firefox from Google, an Android phone
    arriving directly."""
    site = make_site("realtime-filter-browser-trail.org")
    now = dt.datetime.now(dt.UTC)
    seed(
        site,
        [
            hit(site, now - dt.timedelta(minutes=3), "/from-google", ip="81.2.69.60",
                referrer="https://www.google.com/"),
            hit(site, now - dt.timedelta(minutes=2), "/direct", ip="81.2.69.61",
                user_agent=CHROME_ANDROID),
        ],
    )  # fmt: skip
    return site


def test_realtime_has_locations_and_devices_and_honours_filters(
    new_context: Callable[..., BrowserContext], live_server: Any, mixed: Site
) -> None:
    page = signed_in_page(new_context, live_server, mixed)
    page.clock.install()
    violations = watch_csp(page)
    page.goto(f"/sites/{mixed.domain}/?period=realtime")
    live = page.locator(".realtime-period")
    expect(live.locator('[data-metric="visitors"]')).to_have_text("2")
    locations, devices = live.locator("#realtime-locations"), live.locator("#realtime-devices")
    expect(locations.get_by_role("heading")).to_contain_text("Locations")
    expect(locations.get_by_role("link", name="GB")).to_be_visible()
    expect(devices.get_by_role("link", name="Desktop")).to_be_visible()
    expect(devices.get_by_role("link", name="Mobile")).to_be_visible()

    devices.get_by_role("link", name="Browsers").click()
    expect(devices.locator("[aria-current]")).to_have_text("Browsers")
    expect(live.locator("#realtime-devices").get_by_role("link", name="Firefox")).to_be_visible()
    page.wait_for_url("**tab_devices=browsers**")

    # a source row is a filter: Realtime stays, every panel narrows, the chip shows it
    live.locator("#realtime-sources").get_by_role("link", name="Google").click()
    page.wait_for_url("**f=visit%3Asource%7Cis%7CGoogle**")
    expect(page.locator(".presets [aria-current]")).to_have_text("Realtime")
    expect(page.locator(".chips")).to_contain_text("Google")
    live = page.locator(".realtime-period")
    expect(live.locator('[data-metric="visitors"]')).to_have_text("1")
    expect(live.locator('[data-metric="current_visitors"]')).to_have_text("1")
    expect(live.locator("#realtime-pages")).to_contain_text("/from-google")
    expect(live.locator("#realtime-pages")).not_to_contain_text("/direct")
    devices = live.locator("#realtime-devices")
    expect(devices.locator("[aria-current]")).to_have_text("Browsers")  # the tab stayed
    expect(devices.get_by_role("link", name="Firefox")).to_be_visible()
    expect(devices.get_by_role("link", name="Chrome")).to_have_count(0)
    # the fragment refreshes itself (every 10 s) with the filter and the tab
    stamp = live.locator("[data-updated]").text_content()
    time.sleep(1.01 - time.time() % 1)  # the next answer's stamp (seconds) differs
    page.clock.fast_forward(10_000)
    expect(live.locator("[data-updated]")).not_to_have_text(stamp or "", timeout=10_000)
    expect(live.locator('[data-metric="visitors"]')).to_have_text("1")
    expect(live.locator("#realtime-devices [aria-current]")).to_have_text("Browsers")

    page.reload()  # the view is the URL
    expect(page.locator(".realtime-period #realtime-devices [aria-current]")).to_have_text(
        "Browsers"
    )
    expect(page.locator('.realtime-period [data-metric="visitors"]')).to_have_text("1")
    assert violations == []


def test_the_tracker_docs_are_a_page_with_copy_buttons(
    new_context: Callable[..., BrowserContext], live_server: Any
) -> None:
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    violations = watch_csp(page)
    page.goto("/docs/tracker")
    expect(page.get_by_role("heading", level=1)).to_have_text("The browser tracker")
    expect(page.locator("table")).to_have_count(3)  # options, files, Plausible's extensions
    expect(page.get_by_role("cell", name="data-allow-local", exact=True)).to_be_visible()
    blocks = page.locator(".doc-snippet")
    count = blocks.count()
    assert count >= 4
    expect(page.locator(".doc-snippet pre")).to_have_count(count)
    expect(page.locator(".doc-snippet button[data-copy]")).to_have_count(count)
    expect(page.get_by_text("| attribute |")).to_have_count(0)
    expect(page.get_by_text("Building")).to_have_count(0)  # the developers' part

    first = blocks.first
    first.get_by_role("button", name="Copy").click()
    expect(first.get_by_role("button")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == first.locator("pre").text_content()
    assert "/js/trail.js" in copied
    assert violations == []
