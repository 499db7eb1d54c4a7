"""Site settings → Alerts in a real browser: start from the "Traffic spike" preset, add the
rule with an email address, see it listed, send a test (htmx), delete it; no CSP
violation, no serious accessibility violation."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.mail import EmailMessage
from playwright.sync_api import BrowserContext, expect

from accounts.models import Role
from alerts.models import AlertRule
from sites import services as sites
from tests import factories
from tests.browser.test_dashboard_flow import assert_accessible, watch_csp

pytestmark = pytest.mark.browser


def test_an_owner_creates_an_alert_from_a_preset_and_sends_a_test(
    signed_in: Callable[..., BrowserContext],
    live_server: object,
    clickhouse: object,
    fresh_site_ids: int,
    mailoutbox: list[EmailMessage],
    screenshots: Path,
) -> None:
    org = factories.organization(name="Watchers")
    owner = org.memberships.get(role=Role.OWNER).user
    site = sites.site_create(organization=org, domain="watched-shop.com")
    page = signed_in(owner).new_page()
    violations = watch_csp(page)

    page.goto(f"/sites/{site.domain}/settings")
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Alerts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(site.domain)
    expect(page.get_by_text("No alerts yet.")).to_be_visible()

    page.get_by_role("link", name="Traffic spike").click()
    expect(page.get_by_label("Name")).to_have_value("Traffic spike")
    expect(page.get_by_label("Number")).to_have_value("current_visitors")
    page.get_by_label("Threshold").fill("25")
    page.get_by_label("Email address").fill("ops@example.com")
    page.get_by_role("button", name="Add alert").click()

    expect(page.get_by_role("status")).to_contain_text("Alert “Traffic spike” added.")
    row = page.get_by_role("row", name=re.compile("Traffic spike"))
    expect(row).to_contain_text("Current visitors above 25")
    expect(row).to_contain_text("ops@example.com")
    expect(row.locator(".alert-state")).to_have_text("ok")
    expect(row.locator(".alert-value")).to_contain_text("not yet")
    rule = AlertRule.objects.get(site__domain=site.domain)
    assert (rule.metric, rule.window, rule.threshold) == ("current_visitors", "5m", 25)

    row.get_by_role("button", name="Send a test of Traffic spike").click()
    expect(row.get_by_role("status")).to_contain_text("Test sent: ops@example.com sent")
    sent = [m for m in mailoutbox if "ops@example.com" in m.to]
    assert len(sent) == 1 and "Traffic spike (test)" in sent[0].subject
    page.reload()
    expect(page.locator(".alert-firing")).to_contain_text("test")
    assert_accessible(page)
    page.screenshot(path=str(screenshots / "alerts.png"), full_page=True)

    row = page.get_by_role("row", name=re.compile("Traffic spike"))
    row.get_by_role("button", name="Delete alert Traffic spike").click()
    expect(page.get_by_text("No alerts yet.")).to_be_visible()
    assert not AlertRule.objects.exists()
    assert violations == []
