"""Site settings → Email reports in a real browser: add an address for the monthly report,
send the last report now (the mail carries the chart and the unsubscribe link), follow the
link as the recipient, stop it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.core.mail import EmailMessage
from playwright.sync_api import BrowserContext, expect

from accounts.models import Role
from digests.models import EmailReport
from sites import services as sites
from tests import factories

pytestmark = pytest.mark.browser


def test_an_owner_adds_sends_and_the_recipient_unsubscribes(
    new_context: Callable[..., BrowserContext],
    signed_in: Callable[..., BrowserContext],
    live_server: object,
    clickhouse: object,
    fresh_site_ids: int,
    mailoutbox: list[EmailMessage],
) -> None:
    live_url = str(live_server.url)  # type: ignore[attr-defined]
    org = factories.organization(name="Mailers")
    owner = org.memberships.get(role=Role.OWNER).user
    site = sites.site_create(organization=org, domain="mailed-shop.com")
    page = signed_in(owner).new_page()

    page.goto(f"/sites/{site.domain}/settings")
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Email reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(site.domain)
    expect(page.get_by_text("No email reports yet.")).to_be_visible()
    # On a desktop every site tab is in sight, none cut off at the bar's end.
    page.set_viewport_size({"width": 1024, "height": 800})
    tabs = page.get_by_role("navigation", name="Site")
    bar = tabs.bounding_box()
    for box in tabs.locator("a").evaluate_all(
        "links => links.map(a => { const r = a.getBoundingClientRect();"
        " return [r.left, r.right]; })"
    ):
        assert bar and bar["x"] - 1 <= box[0] and box[1] <= bar["x"] + bar["width"] + 1, box

    page.get_by_label("Email address").fill("board@example.org")
    page.get_by_label("Every").select_option("monthly")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status")).to_contain_text(
        "board@example.org will receive the monthly report."
    )
    row = page.get_by_role("row", name=re.compile("board@example.org"))
    expect(row).to_contain_text("month")

    row.get_by_role("button", name="Send the last report to board@example.org now").click()
    expect(page.get_by_role("status")).to_contain_text("is on its way to board@example.org")
    sent = [m for m in mailoutbox if "board@example.org" in m.to]
    assert len(sent) == 1 and sent[0].subject.startswith("Monthly report for mailed-shop.com")
    link = re.search(r"https?://[^\s/]+(/email-reports/unsubscribe/\S+)", sent[0].body)
    assert link, sent[0].body

    # The recipient, not signed in, follows the mail's link.
    stranger = new_context().new_page()
    stranger.goto(live_url + link.group(1))
    expect(stranger.get_by_role("heading", level=1)).to_have_text(
        "Stop the monthly report of mailed-shop.com?"
    )
    stranger.get_by_role("button", name="Unsubscribe").click()
    expect(stranger.get_by_role("heading", level=1)).to_have_text("Unsubscribed")
    assert not EmailReport.objects.exists()

    page.reload()
    expect(page.get_by_text("No email reports yet.")).to_be_visible()
