# ruff: noqa: F811 (the running Trail's fixtures come from test_tracker.py, by name)
"""The dashboard as a new user meets it, in Debian's Chromium against a running Trail: the
tracker on a fixture page sends traffic, the dashboard shows it, a click on a source
filters every panel and the URL, a preset changes the numbers, realtime updates without a
reload, a shared link works logged out until it is revoked, and a CSV export matches its
panel. Screenshots (desktop and phone) are written to test-artifacts/screenshots/.
No page breaks its Content-Security-Policy (trail/security.py): every violation Chromium
reports fails the test, the proof that nothing still needs inline code.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import pytest

from tests.browser.test_tracker import (  # noqa: F401 (fixtures, used by name)
    DOMAIN,
    EMAIL,
    PERSON_UA,
    Trail,
    _run,
    person,
    site,
    trail,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page

PASSWORD = "x-9-long-pass"  # the one tests/browser/test_tracker.py gives the superuser
VERIFIED = """from allauth.account.models import EmailAddress
from accounts.models import User
user = User.objects.get(email="{email}")
EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={{"verified": True, "primary": True}})
"""


@pytest.fixture(scope="module")
def signed_in(trail: Trail, person: Browser) -> Iterator[BrowserContext]:
    """The site's owner, signed in to the running Trail."""
    _run("shell", "-c", VERIFIED.format(email=EMAIL), env=trail.env)
    context = person.new_context(base_url=trail.url, user_agent=PERSON_UA)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign In", re.I)).click()
    page.wait_for_url(re.compile(r"/sites/"))
    page.close()
    yield context
    context.close()


def visit(person: Browser, site: str, path: str, *, ip_hint: str, referer: str = "") -> None:
    """A visitor (own user agent: a visitor of its own) viewing a page with the tracker."""
    context = person.new_context(user_agent=f"{PERSON_UA} Visitor/{ip_hint}")
    page = context.new_page()
    page.goto(f"{site}{path}", referer=referer or None)
    page.wait_for_function("typeof window.trail === 'function' && !window.trail.q")
    context.close()


def number(page: Page, metric: str) -> int:
    text = page.locator(f'[data-metric="{metric}"]').inner_text()
    return int(re.sub(r"[^0-9]", "", text) or 0)


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


# Chromium reports a refused script, style or handler on the console and as an event.
CSP_WATCH = (
    "document.addEventListener('securitypolicyviolation', e => console.error("
    "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile))"
)


def watch_csp(page: Page) -> list[str]:
    """The page's Content-Security-Policy violations, as they happen (across navigations)."""
    violations: list[str] = []
    page.add_init_script(CSP_WATCH)

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "CSP violation" in message.text:
            violations.append(f"{page.url}: {message.text}")

    page.on("console", seen)
    return violations


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def assert_accessible(page: Page) -> None:
    """axe-core's WCAG 2 A/AA rules: no serious or critical violation (labels, contrast,
    names, structure). axe-core comes from package.json (`npm ci`, which .ci/run runs)."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `npm ci`")
    page.evaluate(AXE.read_text())  # not add_script_tag: an inline <script> the CSP refuses
    checked = page.evaluate(
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']}).then(r => r.passes.length)"
    )
    assert checked > 10  # the rules ran
    found = page.evaluate(
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']}).then(r => r.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))"
    )
    assert found == [], found


def test_a_new_user_reads_filters_shares_and_exports(
    trail: Trail, site: str, person: Browser, signed_in: BrowserContext, screenshots: Path
) -> None:
    visit(person, site, "/spa/", ip_hint="1", referer="https://www.google.com/search?q=shop")
    visit(person, site, "/article/", ip_hint="2")
    visit(person, site, "/hash/", ip_hint="3", referer="https://news.ycombinator.com/")

    page = signed_in.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    violations = watch_csp(page)
    dashboard = f"/sites/{DOMAIN}/?period=day"

    def loaded() -> bool:
        page.goto(dashboard)
        if page.get_by_text("Add the snippet to your site").count():
            return False  # no event stored yet: the first-run page
        page.wait_for_selector('[data-metric="visitors"]')
        return number(page, "visitors") >= 3

    # The Trail under test flushes every second; a loaded CI machine has taken over 20 s.
    wait_for(loaded, "the three visitors reach the dashboard", timeout=60)
    page.wait_for_selector("#panel-sources table")
    page.wait_for_selector("#panel-pages table")
    page.wait_for_selector("canvas.series")
    page.wait_for_selector("#panel-locations canvas[data-map]")
    # the chart and the map are drawn, the rows' bars painted, with the policy in force
    assert page.evaluate("!!document.querySelector('canvas.series').chart")
    assert page.evaluate("!!document.querySelector('#panel-locations canvas[data-map]').chart")
    bar = "getComputedStyle(document.querySelector('#panel-pages tr[data-share]'))"
    assert page.evaluate(f"{bar}.getPropertyValue('--share')").strip().endswith("%")
    page.set_viewport_size({"width": 1280, "height": 1000})
    page.screenshot(path=str(screenshots / "dashboard-desktop.png"), full_page=True)
    assert_accessible(page)

    # a click on a source filters every panel and the URL
    page.locator("#panel-sources").get_by_role("link", name="Sources", exact=True).click()
    page.locator("#panel-sources table").get_by_role("link", name="Google").click()
    page.wait_for_url(re.compile(r"f=visit%3Asource%7Cis%7CGoogle"))
    page.wait_for_selector('[data-metric="visitors"]')
    assert number(page, "visitors") == 1
    assert "Source is Google" in page.locator(".chips").inner_text()  # in words (issue 16.4)
    page.wait_for_selector("#panel-pages table")
    assert page.locator("#panel-pages table tbody tr").all_inner_texts() == ["/spa/\t1\t1"]

    # the date picker changes the numbers (yesterday had no traffic); its key works too
    page.keyboard.press("e")
    page.wait_for_url(re.compile(r"period=yesterday"))
    page.wait_for_selector('[data-metric="visitors"]')
    assert number(page, "visitors") == 0
    page.goto(dashboard)
    page.wait_for_selector('[data-metric="visitors"]')

    # realtime updates without a reload
    live = page.locator("[data-realtime]")
    live.wait_for()
    before = int(live.get_attribute("data-realtime") or 0)
    visit(person, site, "/custom/", ip_hint="4")
    wait_for(
        lambda: int(page.locator("[data-realtime]").get_attribute("data-realtime") or 0) > before,
        "realtime counts the new visitor without a reload",
    )

    # a CSV export matches its panel
    page.goto(dashboard)
    page.wait_for_selector("#panel-pages table")
    shown = [
        row.split("\t") for row in page.locator("#panel-pages table tbody tr").all_inner_texts()
    ]
    href = page.locator("#panel-pages").get_by_role("link", name="CSV").get_attribute("href")
    exported = signed_in.request.get(str(href)).text()
    assert list(csv.reader(io.StringIO(exported)))[1:] == shown

    # a phone
    phone = signed_in.new_page()
    violations += watch_csp(phone)
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(dashboard)
    phone.wait_for_selector("#panel-pages table")
    phone.screenshot(path=str(screenshots / "dashboard-phone.png"), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    # a shared link shows the dashboard logged out, until it is revoked
    page.goto(f"/sites/{DOMAIN}/shared-links")
    page.get_by_label("Name").fill("for the board")
    page.get_by_role("button", name="Create link").click()
    link = page.locator("table.list code").first.inner_text()
    shared_path = unquote(link[link.index("/share/") :])
    outsider = person.new_context(base_url=trail.url, user_agent=PERSON_UA)
    public = outsider.new_page()
    public_violations = watch_csp(public)
    public.goto(shared_path)
    public.wait_for_selector('[data-metric="visitors"]')
    assert number(public, "visitors") >= 3
    page.get_by_role("button", name="Revoke link for the board").click()
    page.wait_for_load_state()
    assert public.goto(shared_path).status == 404
    outsider.close()
    assert errors == []
    assert violations + public_violations == []


SECOND_ORGANIZATION = """from accounts.models import User
from accounts.services import organization_create
organization_create(name="Second org", owner=User.objects.get(email="{email}"))
"""


def test_pages_keep_their_content_security_policy(
    trail: Trail, signed_in: BrowserContext, person: Browser
) -> None:
    """The other pages, the API docs' Swagger UI and the organization switcher (a select that
    submits its form from trail/app.js, not from an onchange attribute)."""
    page = signed_in.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    violations = watch_csp(page)
    for path in (
        "/sites/",
        "/sites/new",
        f"/sites/{DOMAIN}/settings",
        f"/sites/{DOMAIN}/goals",
        f"/sites/{DOMAIN}/funnels",
        f"/sites/{DOMAIN}/shared-links",
        "/organization/",
        "/settings/api-keys",
        "/docs/tracker",
    ):
        assert page.goto(path).status == 200, path
        page.wait_for_load_state("networkidle")
    page.goto("/api/docs/")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Trail API" in page.locator(".swagger-ui .info .title").inner_text()

    _run("shell", "-c", SECOND_ORGANIZATION.format(email=EMAIL), env=trail.env)
    chosen = "s => s.selectedOptions[0].textContent"
    page.goto("/sites/")
    first = page.eval_on_selector(".switcher select", chosen)
    page.get_by_label("Organization").select_option(label="Second org")
    page.wait_for_function(
        "document.querySelector('.switcher select').selectedOptions[0].textContent === 'Second org'"
    )
    # Every organization's sites stay listed, grouped, the current one first (issue 16.11).
    current = page.locator(".site-group").first
    current.get_by_text("current organization").wait_for()
    assert "Second org" in current.inner_text()
    assert current.get_by_text(DOMAIN).count() == 0  # the other organization's sites...
    assert page.locator(".site-group").get_by_text(DOMAIN).count() == 1  # ...in their group
    page.get_by_label("Organization").select_option(label=first)
    page.wait_for_selector(f"text={DOMAIN}")
    assert page.eval_on_selector(".switcher select", chosen) == first

    outsider = person.new_context(base_url=trail.url, user_agent=PERSON_UA)
    login = outsider.new_page()
    violations += watch_csp(login)
    login.goto("/accounts/login/")
    login.goto("/accounts/signup/")
    outsider.close()
    assert errors == []
    assert violations == []
