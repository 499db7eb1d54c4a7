"""Issue 16.10 and 16.11 in a real browser: an invitee signs up from the invitation link,
confirms the e-mailed address and lands signed in, in the inviting organization; and the
small things: the 404 page in the app's layout, the favicon, copy buttons for a new API
key and a shared link, every organization's sites on the site list, tabs on a phone."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.mail import EmailMessage
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect

from accounts import services as accounts
from accounts.models import Membership, Organization, Role, User
from sites import services as sites
from sites.models import Site
from tests import factories

pytestmark = pytest.mark.browser

PASSWORD = "Correct-Horse-Battery-Staple-42"
INVITEE = "invitee@example.com"


def _mail_link(outbox: list[EmailMessage], address: str, path: str, live_url: str) -> str:
    sent = [message for message in outbox if address in message.to]
    assert sent, [(m.to, m.subject) for m in outbox]
    match = re.search(r"https?://[^\s/]+(" + path + ")", sent[-1].body)
    assert match, sent[-1].body
    return live_url + match.group(1)


def _signed_in(
    new_context: Callable[..., BrowserContext], user: User, live_url: str, **options: object
) -> Page:
    client = Client()
    client.force_login(user)
    context = new_context(**options)
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_url}]
    )
    return context.new_page()


def _owner_with_site(name: str, domain: str) -> tuple[Organization, User, Site]:
    org = factories.organization(name=name)
    owner = org.memberships.get(role=Role.OWNER).user
    return org, owner, sites.site_create(organization=org, domain=domain)


def test_an_invitee_signs_up_and_lands_in_the_inviting_organization(
    new_context: Callable[..., BrowserContext],
    live_server: object,
    clickhouse: object,
    fresh_site_ids: int,
    mailoutbox: list[EmailMessage],
    screenshots: Path,
) -> None:
    live_url = str(live_server.url)  # type: ignore[attr-defined]
    org, owner, site = _owner_with_site("Acme", "acme-shop.com")
    accounts.invitation_create(organization=org, actor=owner, email=INVITEE, role=Role.VIEWER)
    invitation = _mail_link(mailoutbox, INVITEE, r"/invitations/[^\s/]+", live_url)
    assert mailoutbox[-1].subject.startswith("[Trail] ")

    guest = new_context().new_page()
    guest.goto(invitation)
    expect(guest.get_by_role("heading", name="Join Acme")).to_be_visible()
    guest.get_by_role("main").get_by_role("link", name="Sign up").click()
    expect(guest.get_by_role("heading", name="Sign Up")).to_be_visible()
    guest.get_by_label("Email").fill(INVITEE)
    guest.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    guest.get_by_label("Password (again)").fill(PASSWORD)
    guest.get_by_role("button", name="Sign Up").click()
    expect(guest.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()

    verification = [m for m in mailoutbox if INVITEE in m.to][-1]
    assert verification.subject.startswith("[Trail] ")
    assert "Hello from Trail!" in verification.body
    guest.goto(_mail_link(mailoutbox, INVITEE, r"/accounts/confirm-email/[^\s/]+/", live_url))
    guest.get_by_role("button", name="Confirm").click()

    # Signed in by confirming, member of Acme, working in it, on its sites.
    expect(guest).to_have_url(f"{live_url}/sites/")
    expect(guest.get_by_role("button", name="Log out")).to_be_visible()
    expect(guest.get_by_role("status")).to_contain_text("You joined Acme.")
    expect(guest.get_by_label("Organization", exact=True)).to_have_value(str(org.id))
    expect(guest.get_by_role("link", name=re.compile(re.escape(site.domain)))).to_be_visible()
    guest.screenshot(path=screenshots / "16-10-invitee-lands.png", full_page=True)
    invitee = User.objects.get(email=INVITEE)
    assert Membership.objects.get(user=invitee, organization=org).role == Role.VIEWER


def test_small_things(
    new_context: Callable[..., BrowserContext],
    live_server: object,
    clickhouse: object,
    fresh_site_ids: int,
    screenshots: Path,
) -> None:
    live_url = str(live_server.url)  # type: ignore[attr-defined]
    org, owner, site = _owner_with_site("First", "first-shop.com")
    other = factories.organization(owner=owner, name="Second")
    sites.site_create(organization=other, domain="second-shop.com")
    page = _signed_in(new_context, owner, live_url)

    # Every organization's sites, grouped; the current one first.
    page.goto("/sites/")
    groups = page.locator("section.site-group")
    expect(groups).to_have_count(2)
    expect(groups.nth(0).get_by_role("heading", level=2)).to_have_text("First")
    expect(groups.nth(1).get_by_role("heading", level=2)).to_have_text("Second")
    expect(groups.nth(1).get_by_role("link", name=re.compile("second-shop.com"))).to_be_visible()

    # The favicon is linked and served.
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert icon
    answer = page.request.get(icon)
    assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg")

    # The 404 page wears the app's header.
    response = page.goto("/no-such-page/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not Found")).to_be_visible()
    expect(page.locator("header.topbar").get_by_role("link", name="Trail")).to_be_visible()
    expect(page.locator('link[rel="stylesheet"]')).to_have_attribute(
        "href", "/static/trail/app.css"
    )
    page.screenshot(path=screenshots / "16-11-404.png", full_page=True)

    # A new API key comes with a copy button; the key's error shows once.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/settings/api-keys")
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    page.get_by_label("Name").fill("CI")
    page.get_by_label(re.compile("stats:read")).check()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("button", name="Copy key")).to_be_visible()
    copy = page.locator('button[data-copy="new-key"]')
    copy.click()
    expect(copy).to_have_text("Copied")
    key = page.locator("#new-key").inner_text()
    assert page.evaluate("navigator.clipboard.readText()") == key

    # A shared link too.
    page.goto(f"/sites/{site.domain}/shared-links")
    expect(page.get_by_text("No shared links yet.")).to_be_visible()
    page.get_by_label("Password (optional)").fill("short")
    page.get_by_role("button", name="Create link").click()
    expect(page.locator(".field.invalid .error")).to_have_count(1)
    expect(page.get_by_role("status")).to_have_count(0)  # shown once, beside the field
    page.get_by_label("Name").fill("Board")
    page.get_by_label("Password (optional)").fill("")
    page.get_by_role("button", name="Create link").click()
    expect(page.get_by_role("button", name="Copy link Board")).to_be_visible()
    link_copy = page.locator("td button[data-copy]")
    link_copy.click()
    expect(link_copy).to_have_text("Copied")
    assert "/share/first-shop.com?auth=" in page.evaluate("navigator.clipboard.readText()")


def test_tabs_neither_wrap_nor_clip_on_a_phone(
    new_context: Callable[..., BrowserContext],
    live_server: object,
    clickhouse: object,
    fresh_site_ids: int,
    screenshots: Path,
) -> None:
    live_url = str(live_server.url)  # type: ignore[attr-defined]
    _, owner, site = _owner_with_site("Phone", "phone-shop.com")
    page = _signed_in(new_context, owner, live_url, viewport={"width": 360, "height": 740})
    page.goto(f"/sites/{site.domain}/settings")
    tabs = page.get_by_role("navigation", name="Site")
    expect(tabs).to_be_visible()
    tops = tabs.locator("a").evaluate_all("links => links.map(a => a.getBoundingClientRect().top)")
    assert len(set(tops)) == 1, tops  # one line
    style = tabs.evaluate("n => [getComputedStyle(n).overflowX, getComputedStyle(n).flexWrap]")
    assert style == ["auto", "nowrap"], style
    # The last tab can be scrolled to and is then fully inside the bar.
    last = tabs.locator("a").last
    last.scroll_into_view_if_needed()
    box, bar = last.bounding_box(), tabs.bounding_box()
    assert box and bar and box["x"] + box["width"] <= bar["x"] + bar["width"] + 1
    page.screenshot(path=screenshots / "16-11-phone-tabs.png")


def test_the_api_docs_link_back_to_the_app(
    new_context: Callable[..., BrowserContext], live_server: object
) -> None:
    page = new_context().new_page()
    page.goto("/api/docs/")
    back = page.get_by_role("link", name="← Back to the app")
    expect(back).to_have_attribute("href", "/sites/")
    expect(page.get_by_text("/api/event").first).to_be_visible()
