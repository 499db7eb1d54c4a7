"""A page carrying Plausible's snippet, with only the script's host changed to Trail's, in
Debian's Chromium: it counts in Trail as it did in Plausible (issue 24 point 3).

The Trail process, the person's Chromium and the query helpers are tests/browser/
test_tracker.py's (its fixtures are imported here: this module gets its own Trail). The
fixture site is `http://fixture-shop.com:<port>`, another origin than Trail's.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from events.clickhouse import ClickHouse
from tests.browser.test_tracker import (  # noqa: F401 (fixtures used by name)
    DOMAIN,
    OTHER,
    PERSON_UA,
    Trail,
    _api,
    eventually,
    fixture_origin,
    page_opener,
    pages_under,
    person,
    stats,
    trail,
)
from tests.helpers import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SECOND = "second-fixture-shop.com"  # a second site, for `data-domain` with two domains

# Plausible's snippet as its docs give it, with the script's host changed.
SNIPPET = (
    '<script defer data-domain="{domain}" src="{trail}/js/{script}" {options}></script>\n'
    "<script>window.plausible = window.plausible || function() {{"
    " (window.plausible.q = window.plausible.q || []).push(arguments) }}</script>"
)
PAGE = "<!doctype html><html><head><title>Fixture</title>{snippet}{head}</head><body>{body}</body></html>"


def page(
    body: str,
    *,
    script: str = "script.js",
    options: str = "",
    head: str = "",
    domain: str = DOMAIN,
) -> str:
    snippet = SNIPPET.format(domain=domain, trail="{trail}", script=script, options=options)
    return PAGE.format(snippet=snippet, head=head, body=body)


PAGES = {
    "/p-tagged/": page(
        "<a id=out href='http://{other}/landing'>partner</a>"
        "<button id=signup class='plausible-event-name=Signup plausible-event-plan=pro'>"
        "<span id=inner>sign up</span></button>"
        "<a id=tagged-out class='plausible-event-name=Partner+Click' href='http://{other}/x'>x</a>"
        "<button id=plain>nothing</button>"
        "<form id=newsletter class='plausible-event-name=Newsletter' action='/p-thanks'>"
        "<button id=subscribe>subscribe</button></form>",
        script="script.outbound-links.tagged-events.js",
    ),
    "/p-thanks": page("thanks"),
    "/landing": page("partner"),
    "/x": page("partner"),
    "/p-plain/": page(
        "<a id=out href='http://{other}/landing'>partner</a>"
        "<a id=file href='/files/report.pdf'>report</a>"
        "<button id=signup class='plausible-event-name=Signup'>sign up</button>"
    ),
    "/p-queue/": page(
        "<button id=buy onclick=\"plausible('Purchase', {props: {plan: 'pro'},"
        " revenue: {amount: 9.5, currency: 'EUR'}, callback: function () {"
        " document.title = 'sent' }})\">buy</button>",
        script="plausible.revenue.js",
        head="<script>plausible('Early', {props: {when: 'before load'}})</script>",
    ),
    "/p-norevenue/": page(
        "<button id=buy onclick=\"plausible('Purchase', {revenue: {amount: 3, currency: 'EUR'},"
        " callback: function () { document.title = 'sent' }})\">buy</button>"
    ),
    "/p-manual/": page(
        "<button id=view onclick=\"plausible('pageview', {u: location.origin + '/p-manual/virtual'})\">"
        "view</button>",
        script="script.manual.js",
    ),
    "/p-hash/": page("<a id=go href='#/inbox'>inbox</a>", script="script.hash.js"),
    "/p-spa/": page(
        "<button id=query onclick=\"history.pushState({}, '', '/p-spa/?tab=2')\">query</button>"
        "<button id=push onclick=\"history.pushState({}, '', '/p-spa/next')\">next</button>"
    ),
    "/p-excluded/secret/": page(
        "excluded",
        script="script.exclusions.js",
        options='data-exclude="/p-excluded/**, /p-other"',
    ),
    "/p-included/": page(
        "included",
        script="script.exclusions.js",
        options='data-exclude="/p-excluded/**"',
    ),
    "/p-props/": page(
        "<button id=event onclick=\"plausible('Read', {props: {author: 'Call'}})\">read</button>",
        script="script.pageview-props.js",
        options='event-author="Jane Doe"',
    ),
    "/p-two/": page("two sites", domain=f"{DOMAIN},{SECOND}"),
    "/p-files/": page(
        "<a id=file href='/files/report.pdf?token=secret'>report</a>"
        "<a id=custom href='/files/data.json'>data</a>",
        script="script.file-downloads.js",
        options='add-file-types="json"',
    ),
    "/files/report.pdf": "%PDF-1.4 fixture",
    "/files/data.json": "{}",
    "/p-after/": page("a page view that is counted"),
    "/p-quiet/": page("<button id=signup onclick=\"plausible('Quiet')\">x</button>"),
}


@pytest.fixture(scope="module")
def site(trail: Trail) -> Iterator[str]:  # noqa: F811 (the imported fixture)
    """The fixture site's origin (the same server answers for the partner site's name)."""
    port = free_port()
    _api(trail.url, trail.key, "/api/v1/sites", {"domain": SECOND})
    # The page's host is the first site's: the second site allows it (under Plausible's
    # hostname rule, issue 24 point 4, a site without an allowlist takes it anyway).
    allow = urllib.request.Request(  # noqa: S310 (loopback)
        f"{trail.url}/api/v1/sites/{SECOND}",
        data=json.dumps({"extra_hostnames": [DOMAIN]}).encode(),
        headers={"Authorization": f"Bearer {trail.key}", "Content-Type": "application/json"},
        method="PUT",
    )
    with urllib.request.urlopen(allow, timeout=10):  # noqa: S310
        pass
    pages = {
        path: html.replace("{trail}", trail.url).replace("{other}", f"{OTHER}:{port}")
        for path, html in PAGES.items()
    }

    files = {path: (body.encode(), "text/html") for path, body in pages.items()}
    yield from fixture_origin(port, files)


@pytest.fixture
def open_page(person: Browser, site: str) -> Iterator[Callable[[str], Page]]:  # noqa: F811
    yield from page_opener(person, site, "plausible")


def events_of(trail: Trail, prefix: str, site_id: str = DOMAIN) -> Callable[[], list[Any]]:  # noqa: F811
    """(name, events) of the pages under `prefix`, pageviews included."""

    def read() -> list[Any]:
        answer = _api(
            trail.url,
            trail.key,
            "/api/v2/query",
            {
                "site_id": site_id,
                "date_range": "7d",
                "metrics": ["events"],
                "dimensions": ["event:name"],
                "filters": [["contains", "event:page", [prefix]]],
                "order_by": [["event:name", "asc"]],
            },
        )
        return [(*row["dimensions"], *row["metrics"]) for row in answer["results"]]

    return read


def test_pageviews_outbound_clicks_and_tagged_events(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
    site: str,
) -> None:
    """The issue's check: pageviews, outbound clicks and a tagged event."""
    port = site.rsplit(":", 1)[1]
    tagged = open_page("/p-tagged/")
    tagged.click("#inner")  # inside the tagged button: Signup
    tagged.click("#plain")  # not tagged: nothing
    tagged.click("#out")
    tagged.wait_for_url(f"**{OTHER}**/landing")
    tagged.goto(f"{site}/p-tagged/")
    tagged.click("#tagged-out")  # a tagged outbound link: its own event, not also outbound
    tagged.wait_for_url(f"**{OTHER}**/x")
    tagged.goto(f"{site}/p-tagged/")
    tagged.click("#subscribe")  # a tagged form: on submit
    tagged.wait_for_url("**/p-thanks**")
    eventually(
        events_of(trail, "/p-tagged/"),
        [
            ("Newsletter", 1),
            ("Outbound Link: Click", 1),
            ("Partner Click", 1),
            ("Signup", 1),
            ("pageview", 3),
        ],
    )
    plans = stats(
        trail,
        metrics=["events"],
        dimensions=["event:props:plan"],
        filters=[["is", "event:name", ["Signup"]]],
    )
    assert plans == [("pro", 1)]
    urls = stats(
        trail,
        metrics=["events"],
        dimensions=["event:props:url"],
        filters=[["is", "event:name", ["Outbound Link: Click"]]],
    )
    assert urls == [(f"http://{OTHER}:{port}/landing", 1)]


def test_the_plain_script_sends_pageviews_only(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
    site: str,
) -> None:
    plain = open_page("/p-plain/")
    plain.click("#signup")  # tagged, but script.js has no tagged-events
    plain.click("#file")  # script.js has no file-downloads
    plain.goto(f"{site}/p-plain/")
    plain.click("#out")  # nor outbound-links
    plain.wait_for_url(f"**{OTHER}**/landing")
    plain.goto(f"{site}/p-after/")
    eventually(pages_under(trail, "/p-after/"), [("/p-after/", 1)])
    assert events_of(trail, "/p-plain/")() == [("pageview", 2)]


def test_the_queue_custom_props_revenue_and_callback(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
    clickhouse: ClickHouse,
) -> None:
    bought = open_page("/p-queue/")
    bought.click("#buy")
    bought.wait_for_function("document.title === 'sent'")
    eventually(events_of(trail, "/p-queue/"), [("Early", 1), ("Purchase", 1), ("pageview", 1)])
    free = open_page("/p-norevenue/")
    free.click("#buy")
    free.wait_for_function("document.title === 'sent'")
    eventually(events_of(trail, "/p-norevenue/"), [("Purchase", 1), ("pageview", 1)])
    rows = clickhouse.query(
        "SELECT pathname, toFloat64(revenue_amount) AS amount, revenue_currency AS currency"
        " FROM events WHERE site_id = {s:UInt64} AND name = 'Purchase' ORDER BY pathname",
        {"s": trail.site_id},
    )
    # revenue only with the revenue extension, as in Plausible
    assert [(r["pathname"], r["currency"]) for r in rows] == [
        ("/p-norevenue/", ""),
        ("/p-queue/", "EUR"),
    ]
    assert rows[1]["amount"] == 9.5
    plans = stats(
        trail,
        metrics=["events"],
        dimensions=["event:props:plan"],
        filters=[["is", "event:name", ["Purchase"]]],
    )
    assert ("pro", 1) in plans


def test_manual_hash_and_single_page_app_pageviews(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
) -> None:
    manual = open_page("/p-manual/")  # script.manual.js: no page view by itself
    manual.click("#view")
    manual.click("#view")  # an explicit call always counts
    hashed = open_page("/p-hash/")
    hashed.click("#go")
    spa = open_page("/p-spa/")
    spa.click("#query")  # only the query changes: the same page for Plausible
    spa.click("#push")
    eventually(pages_under(trail, "/p-manual/"), [("/p-manual/virtual", 2)])
    eventually(pages_under(trail, "/p-hash/"), [("/p-hash/", 1), ("/p-hash/#/inbox", 1)])
    eventually(pages_under(trail, "/p-spa/"), [("/p-spa/", 1), ("/p-spa/next", 1)])


def test_exclusions_pageview_props_and_two_domains(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
) -> None:
    open_page("/p-excluded/secret/")
    open_page("/p-included/")
    props = open_page("/p-props/")
    props.click("#event")
    open_page("/p-two/")
    eventually(pages_under(trail, "/p-included/"), [("/p-included/", 1)])
    eventually(events_of(trail, "/p-props/"), [("Read", 1), ("pageview", 1)])
    authors = stats(
        trail,
        metrics=["events"],
        dimensions=["event:name", "event:props:author"],
        filters=[["is", "event:page", ["/p-props/"]]],
        order_by=[["event:name", "asc"]],
    )
    assert authors == [("Read", "Call", 1), ("pageview", "Jane Doe", 1)]
    eventually(pages_under(trail, "/p-two/"), [("/p-two/", 1)])
    eventually(events_of(trail, "/p-two/", SECOND), [("pageview", 1)])
    assert events_of(trail, "/p-excluded/")() == []


def test_file_downloads_with_added_types_and_no_query(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
    site: str,
) -> None:
    files = open_page("/p-files/")
    files.click("#file")
    files.goto(f"{site}/p-files/")
    files.click("#custom")
    downloads = lambda: stats(  # noqa: E731
        trail,
        metrics=["events"],
        dimensions=["event:props:url"],
        filters=[["is", "event:name", ["File Download"]]],
        order_by=[["event:props:url", "asc"]],
    )
    eventually(downloads, [(f"{site}/files/data.json", 1), (f"{site}/files/report.pdf", 1)])


def test_plausible_ignore_and_localhost_send_nothing(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
    site: str,
) -> None:
    sent: list[str] = []
    quiet = open_page("/landing")
    quiet.on("request", lambda r: sent.append(r.url) if "/api/event" in r.url else None)
    quiet.evaluate("localStorage.plausible_ignore = 'true'")
    quiet.goto(f"{site}/p-quiet/")
    quiet.wait_for_function("typeof window.plausible === 'function'")
    quiet.click("#signup")
    local = open_page("/landing")
    local.on("request", lambda r: sent.append(r.url) if "/api/event" in r.url else None)
    local.goto(f"http://127.0.0.1:{site.rsplit(':', 1)[1]}/p-quiet/")
    local.wait_for_function("typeof window.plausible === 'function'")
    local.click("#signup")
    local.wait_for_timeout(300)
    assert sent == []
