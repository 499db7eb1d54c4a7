"""The dashboard in Chromium while ClickHouse cannot answer (a shard with no replica up):
a panel swaps in the 503's sentence instead of keeping old numbers or a frozen
"Loading…", and the dashboard opened then is the 503 page (base.html's htmx-config; frontend/middleware.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from django.conf import settings
from django.test import override_settings
from playwright.sync_api import BrowserContext, expect

from accounts.models import Role
from events.clickhouse import reset_client
from sites.models import Site
from tests.events.test_shard_down import cluster_server

pytestmark = pytest.mark.browser


def test_panels_say_the_statistics_are_unavailable(
    signed_in: Callable[..., BrowserContext],
    live_server: object,
    make_site: Callable[..., Site],
    seed: Callable[..., None],
) -> None:
    site = make_site("unavailable-browser.com")
    seed(site, [{"domain": site.domain, "name": "pageview", "url": f"https://{site.domain}/"}])
    owner = site.organization.memberships.get(role=Role.OWNER).user
    url = str(live_server)
    page = signed_in(owner).new_page()
    with cluster_server() as (server, state):
        reset_client()
        try:
            with override_settings(CLICKHOUSE=replace(settings.CLICKHOUSE, url=server)):
                page.goto(f"{url}/sites/{site.domain}/")
                chart = page.locator("section.chart-box")
                expect(chart.locator("nav[aria-label='Chart metric']")).to_be_visible()

                # Down while the page is open: the panel a click reloads says why.
                state.down = True
                chart.locator("nav[aria-label='Chart metric'] a").nth(1).click()
                expect(chart.get_by_role("alert")).to_contain_text("cannot be read right now")
                expect(chart.locator("canvas")).to_have_count(0)  # no chart, no numbers
                assert state.refused > 0

                # Opened while down: the whole page is the 503's, not a 500.
                answer = page.goto(f"{url}/sites/{site.domain}/")
                assert answer is not None and answer.status == 503
                expect(page.get_by_role("heading", level=1)).to_have_text(
                    "Statistics unavailable for a moment"
                )
        finally:
            reset_client()
