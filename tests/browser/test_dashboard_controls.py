"""The dashboard's period, comparison and chart controls in Chromium (issue 16.1–3): a
comparison chosen from a preset applies at once and keeps the period, the chart's labels
read "Dec 4" or "1 PM" in the site's time zone, "Today" stops at now, a click on a day
zooms into it, any top stat can be charted, and the view is the URL: metric, interval,
tab, filter, period and comparison survive a reload, and a filter click swaps the
dashboard in place (no page load).

Events go through the batch API into the embedded ClickHouse of pytest-django's live
server; the owner's session cookie is handed to the browser.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from sites import services
from sites.models import Site
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, hit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ZONE = "Asia/Tokyo"  # not UTC: the labels and "now" are the site's


def recent_minutes() -> tuple[dt.datetime, dt.timedelta]:
    """When "a few minutes ago" starts, and its minute: nine minutes before now, or, in
    the site's first minutes of the day, since its midnight with the spacing shrunk, so
    that the recent visits are always today's in the site's time zone (a run just after
    Tokyo's midnight put them on yesterday)."""
    now = dt.datetime.now(ZoneInfo(ZONE))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(seconds=1)
    start = max(now - dt.timedelta(minutes=9), midnight)
    return start.astimezone(dt.UTC), (now - start) / 9


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    """Three visitors in the last minutes (one from Google), two a week and a day ago (the
    previous period of "last 7 days")."""
    site = make_site("controls-trail.com", timezone=ZONE)
    start, minute = recent_minutes()
    a = {"ip": "81.2.69.1", "user_agent": FIREFOX}
    b = {"ip": "81.2.69.2", "user_agent": CHROME_ANDROID}
    c = {"ip": "81.2.69.3", "user_agent": FIREFOX + " C"}
    week = start + 9 * minute - dt.timedelta(days=8)
    seed(
        site,
        [
            hit(site, start, "/", referrer="https://www.google.com/", **a),
            hit(site, start + minute, "/pricing", **a),
            hit(site, start + 3 * minute, "/blog", **b),
            hit(site, start + 5 * minute, "/", **c),
            hit(site, week, "/", **a),
            hit(site, week + 2 * minute, "/blog", **b),
        ],
    )
    return site


@pytest.fixture
def errors() -> list[str]:
    """The page's uncaught script errors."""
    return []


@pytest.fixture
def page(
    client: Any,
    site: Site,
    live_server: Any,
    new_context: Callable[..., BrowserContext],
    errors: list[str],
) -> Page:
    """The owner's dashboard session in a browser (the Django session cookie, handed over)."""
    client.force_login(site.organization.memberships.get().user)
    context = new_context()
    session = client.cookies["sessionid"].value
    context.add_cookies([{"name": "sessionid", "value": session, "url": str(live_server.url)}])
    page = context.new_page()
    watch(page, errors)
    return page


# Chromium reports what the Content-Security-Policy refuses as an event: none may happen.
CSP_WATCH = (
    "document.addEventListener('securitypolicyviolation', e => console.error("
    "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile"
    " + ':' + e.lineNumber + ':' + e.columnNumber + ' ' + e.sample))"
)


def watch(page: Page, errors: list[str]) -> None:
    """Collect the page's script errors and policy violations into `errors`."""
    page.add_init_script(CSP_WATCH)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if "CSP violation" in message.text else None,
    )


def until(page: Page, script: str, timeout: float = 10) -> None:
    """Wait for `script` to be true in the page (polled with `evaluate`: Playwright's
    `wait_for_function` evaluates strings with eval, which the page's policy refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"not true in time: {script}"
        time.sleep(0.05)


def series(page: Page) -> dict[str, Any]:
    """The chart's data as drawn: the canvas' `data-series`."""
    until(page, "!!(document.querySelector('canvas.series') || {}).chart")
    data: dict[str, Any] = page.evaluate(
        "JSON.parse(document.querySelector('canvas.series').dataset.series)"
    )
    return data


def drawn_lines(page: Page) -> int:
    return int(page.evaluate("document.querySelector('canvas.series').chart.data.datasets.length"))


def params(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query, keep_blank_values=True)


def dashboard(site: Site, query: str) -> str:
    return f"/sites/{site.domain}/?{query}"


def test_a_comparison_chosen_on_a_preset_applies_and_keeps_the_period(
    page: Page, site: Site, errors: list[str]
) -> None:
    page.goto(dashboard(site, "period=7d&compare="))
    assert series(page)["comparison"] is None
    assert drawn_lines(page) == 1
    page.get_by_label("Compare").select_option("previous_period")
    page.wait_for_url(re.compile(r"compare=previous_period"))
    assert params(page)["period"] == ["7d"]
    expect(page.locator(".presets a[aria-current]")).to_have_text("Last 7 days")
    until(
        page,
        "(JSON.parse((document.querySelector('canvas.series') || {dataset: {series: '{}'}})"
        ".dataset.series).comparison || null) !== null",
    )
    drawn = series(page)
    assert drawn_lines(page) == 2
    assert drawn["comparison"]["name"] == "Previous period"
    assert sum(v or 0 for v in drawn["comparison"]["values"]) == 2  # a week and a day ago
    assert drawn["comparison"]["titles"][0]  # the compared day, named in the tooltip
    # the tooltip names the metric and the comparison's value
    box = page.locator("canvas.series").bounding_box()
    assert box is not None
    last = len(drawn["values"]) - 1
    x = page.evaluate(
        f"document.querySelector('canvas.series').chart.getDatasetMeta(0).data[{last}].x"
    )
    page.mouse.move(box["x"] + x, box["y"] + box["height"] / 2)
    lines = page.evaluate(
        "document.querySelector('canvas.series').chart.tooltip.body.map(b => b.lines.join(' '))"
    )
    assert lines[0] == "Visitors: 3"
    assert lines[1].startswith("Previous period (")
    # a custom range is a form of its own: its required dates stop nothing else
    page.get_by_label("Compare").select_option("")
    page.wait_for_url(re.compile(r"compare=(&|$)"))
    assert params(page)["period"] == ["7d"]
    assert errors == []


def test_the_chart_reads_like_a_calendar_stops_at_now_and_zooms(
    page: Page, site: Site, errors: list[str]
) -> None:
    page.goto(dashboard(site, "period=7d"))
    week = series(page)
    assert len(week["labels"]) == 7
    assert all(re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}", label) for label in week["labels"])
    today = dt.datetime.now(ZoneInfo(ZONE)).date()
    assert week["labels"][-1] == f"{today:%b} {today.day}"
    rotation = page.evaluate("document.querySelector('canvas.series').chart.scales.x.labelRotation")
    assert rotation == 0

    # today: hours in the site's time zone, none after now
    page.goto(dashboard(site, "period=day"))
    day = series(page)
    assert day["labels"][:3] == ["12 AM", "1 AM", "2 AM"] and day["labels"][13] == "1 PM"
    hour = dt.datetime.now(ZoneInfo(ZONE)).hour
    drawn = [v for v in day["values"] if v is not None]
    assert len(drawn) == hour + 1  # up to this hour, the rest not drawn as 0
    assert day["values"][hour + 1 :] == [None] * (23 - hour)

    # a click on today's point in the week zooms into today, by hour
    page.goto(dashboard(site, "period=7d"))
    series(page)
    box = page.locator("canvas.series").bounding_box()
    assert box is not None
    x = page.evaluate("document.querySelector('canvas.series').chart.getDatasetMeta(0).data[6].x")
    page.evaluate("window.stillHere = true")
    page.mouse.click(box["x"] + x, box["y"] + box["height"] / 2)
    page.wait_for_url(re.compile(r"period=custom"))
    assert params(page)["from"] == [today.isoformat()]
    assert params(page)["to"] == [today.isoformat()]
    until(
        page,
        "/AM|PM/.test((document.querySelector('canvas.series') || {dataset: {}}).dataset.series || '')",
    )
    assert series(page)["labels"][0] == "12 AM"
    assert page.evaluate("window.stillHere") is True  # in place, not a page load
    assert errors == []


def test_any_top_stat_is_charted(page: Page, site: Site, errors: list[str]) -> None:
    page.goto(dashboard(site, "period=7d"))
    series(page)
    chart = page.locator(".chart-box")
    for name in ("Visits", "Pageviews", "Views per visit", "Visit duration", "Bounce rate"):
        expect(chart.get_by_role("link", name=name, exact=True)).to_be_visible()
    chart.get_by_role("link", name="Bounce rate", exact=True).click()
    page.wait_for_url(re.compile(r"metric=bounce_rate"))
    until(
        page,
        "JSON.parse(document.querySelector('canvas.series').dataset.series).metric === 'bounce_rate'",
    )
    drawn = series(page)
    assert drawn["name"] == "Bounce rate"
    assert drawn["values"][-1] == 67  # two of three visits today saw one page
    ticks = page.evaluate(
        "document.querySelector('canvas.series').chart.scales.y.ticks.map(t => t.label)"
    )
    assert all(str(t).endswith("%") for t in ticks)
    assert errors == []


def test_the_view_survives_a_reload_and_a_filter_swaps_in_place(
    page: Page, site: Site, errors: list[str]
) -> None:
    page.goto(dashboard(site, "period=7d"))
    series(page)
    page.evaluate("window.stillHere = true")
    # the chart's metric and interval, a panel's tab: into the URL as they are chosen
    page.locator(".chart-box").get_by_role("link", name="Pageviews", exact=True).click()
    page.wait_for_url(re.compile(r"metric=pageviews"))
    page.locator(".chart-box").get_by_role("link", name="Hour", exact=True).click()
    page.wait_for_url(re.compile(r"interval=hour"))
    page.locator("#panel-pages").get_by_role("link", name="Entry pages").click()
    page.wait_for_url(re.compile(r"tab_pages=entry"))
    page.get_by_label("Compare").select_option("year_over_year")
    page.wait_for_url(re.compile(r"compare=year_over_year"))
    assert params(page)["metric"] == ["pageviews"]  # a link rendered before kept it

    # a filter click: the panels update in place, the page is not loaded again
    page.locator("#panel-sources table").get_by_role("link", name="Organic Search").click()
    started = time.monotonic()
    page.wait_for_url(re.compile(r"f=visit%3Achannel%7Cis%7COrganic"))
    until(page, "(document.querySelector('[data-metric=\"visitors\"]') || {}).textContent === '1'")
    swapped = time.monotonic() - started
    assert page.evaluate("window.stillHere") is True
    assert swapped < 5
    state = params(page)
    assert state["period"] == ["7d"] and state["compare"] == ["year_over_year"]
    assert state["metric"] == ["pageviews"] and state["interval"] == ["hour"]
    assert state["tab_pages"] == ["entry"]

    # everything survives a reload
    page.reload()
    drawn = series(page)
    assert drawn["metric"] == "pageviews" and drawn["comparison"]["name"] == "Year over year"
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{1,2} [AP]M", drawn["labels"][0])
    chart = page.locator(".chart-box")
    expect(chart.locator("[aria-current]")).to_have_text(["Pageviews", "Hour"])
    expect(page.locator("#panel-pages .panel-tabs a[aria-current]")).to_have_text("Entry pages")
    expect(page.locator(".presets a[aria-current]")).to_have_text("Last 7 days")
    expect(page.get_by_label("Compare")).to_have_value("year_over_year")
    expect(page.locator("[data-metric='visitors']")).to_have_text("1")
    assert errors == []


def test_a_shared_link_navigates_in_place_too(
    site: Site, new_context: Callable[..., BrowserContext]
) -> None:
    link = services.shared_link_create(site=site, name="board")
    page = new_context().new_page()
    page.goto(f"/share/{site.domain}?auth={link.slug}&period=7d")
    series(page)
    page.evaluate("window.stillHere = true")
    page.get_by_label("Compare").select_option("previous_period")
    page.wait_for_url(re.compile(r"compare=previous_period"))
    until(
        page,
        "(JSON.parse((document.querySelector('canvas.series') || {dataset: {series: '{}'}})"
        ".dataset.series).comparison || null) !== null",
    )
    assert params(page)["auth"] == [link.slug]
    page.locator("#panel-pages table").get_by_role("link", name="/pricing").click()
    page.wait_for_url(re.compile(r"event%3Apage"))
    expect(page.locator("[data-metric='visitors']")).to_have_text("1")
    assert page.evaluate("window.stillHere") is True
