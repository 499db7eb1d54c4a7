"""The installation box in Chromium: htmx polls it, it says why events are refused, and its
one-click fix lets the next event in, with no Content-Security-Policy violation."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import BrowserContext, expect

from sites import services
from sites.models import Site
from tests import factories
from tests.browser.test_dashboard_flow import watch_csp
from tests.wsgi_client import post

pytestmark = pytest.mark.browser

DOMAIN = "box-browser-trail.org"
REFUSED = "staging.box-browser-trail.net"
LISTED = "cdn.box-browser-trail.net"  # the site's host name allowlist: REFUSED is not on it


def pageview(url: str) -> str:
    return json.dumps({"n": "pageview", "u": url, "d": DOMAIN})


def test_the_box_explains_a_refused_host_and_allows_it(
    new_context: Callable[..., BrowserContext],
    live_server: object,
    clickhouse: object,
    fresh_site_ids: int,
) -> None:
    organization = factories.organization()
    services.site_update(site=factories.site(organization, DOMAIN), extra_hostnames=[LISTED])
    signed_in = Client()
    signed_in.force_login(organization.memberships.get().user)
    context = new_context()
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": signed_in.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": str(live_server.url),  # type: ignore[attr-defined]
            }
        ]
    )
    page = context.new_page()
    violations = watch_csp(page)
    page.goto(f"/sites/{DOMAIN}/")
    box = page.get_by_role("status")
    expect(box).to_have_text("Waiting for the first event…")

    for _ in range(3):
        assert post("/api/event", pageview(f"https://{REFUSED}/")).dropped == (
            "hostname_not_allowed"
        )
    # htmx polls every 5 s
    expect(box).to_contain_text(f"3 events from {REFUSED} were refused", timeout=15_000)
    box.get_by_role("button", name=f"Allow {REFUSED}").click()
    expect(page.get_by_text(f"{REFUSED} is allowed")).to_be_visible()
    assert Site.objects.get(domain=DOMAIN).extra_hostnames == [LISTED, REFUSED]
    assert post("/api/event", pageview(f"https://{REFUSED}/")).dropped is None
    assert violations == []
