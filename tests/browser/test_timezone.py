"""frontend/static/trail/timezone.js: the new-site form preselects the browser's time zone."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from accounts.models import User
from sites.models import Site

pytestmark = pytest.mark.browser

EMAIL = "operator@example.com"
PASSWORD = "Correct-Horse-Battery-Staple-42"


def _signed_in(new_context: Callable[..., BrowserContext], zone: str) -> Page:
    """An operator's account (createsuperuser: verified) logged in from a browser in `zone`."""
    if not User.objects.filter(email=EMAIL).exists():
        User.objects.create_superuser(EMAIL, PASSWORD)
    page = new_context(timezone_id=zone).new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Sign In", re.I)).click()
    expect(page.get_by_role("heading", name="Sites")).to_be_visible()
    return page


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Sao_Paulo"])
def test_the_browsers_zone_is_preselected(
    new_context: Callable[..., BrowserContext], live_server: object, zone: str
) -> None:
    page = _signed_in(new_context, zone)
    page.goto("/sites/new")
    expect(page.get_by_label("Reporting time zone")).to_have_value(zone)
    page.get_by_label("Domain").fill("intranet")
    page.get_by_role("button", name="Add site").click()
    expect(page).to_have_url(re.compile(r"/sites/intranet/$"))
    assert Site.objects.get(domain="intranet").timezone == zone


def test_a_refused_form_keeps_the_zone_chosen(
    new_context: Callable[..., BrowserContext], live_server: object
) -> None:
    page = _signed_in(new_context, "Asia/Tokyo")
    page.goto("/sites/new")
    page.get_by_label("Reporting time zone").select_option("Europe/Berlin")
    page.get_by_label("Domain").fill("my intranet")
    page.get_by_role("button", name="Add site").click()
    expect(page.locator("#domain-error")).to_contain_text("is not a valid domain")
    expect(page.get_by_label("Reporting time zone")).to_have_value("Europe/Berlin")
    assert not Site.objects.exists()


def test_a_zone_chosen_before_the_script_ran_is_kept(
    new_context: Callable[..., BrowserContext], live_server: object
) -> None:
    page = _signed_in(new_context, "Asia/Tokyo")
    page.route("**/trail/timezone.js", lambda route: route.abort())  # held back: not yet run
    page.goto("/sites/new")
    page.get_by_label("Reporting time zone").select_option("Europe/Berlin")
    page.unroute("**/trail/timezone.js")
    page.add_script_tag(url="/static/trail/timezone.js")  # now it runs: the choice stands
    expect(page.get_by_label("Reporting time zone")).to_have_value("Europe/Berlin")
    page.get_by_label("Domain").fill("intranet")
    page.get_by_role("button", name="Add site").click()
    expect(page).to_have_url(re.compile(r"/sites/intranet/$"))
    assert Site.objects.get(domain="intranet").timezone == "Europe/Berlin"
