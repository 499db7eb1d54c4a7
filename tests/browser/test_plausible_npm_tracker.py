"""Plausible's npm library (`@plausible-analytics/tracker`, a devDependency) in Debian's
Chromium, with only its `endpoint` changed to Trail's `/api/event`: what Trail stores is
what Plausible's README and type definitions say the library's calls mean.

The page script imports `init` and `track` from the package and is bundled by esbuild at
test time (nothing downloaded). The Trail process, the person's Chromium and the query
helpers are tests/browser/test_tracker.py's (imported, as test_plausible_snippet.py does:
this module gets its own Trail). The fixture site is `http://fixture-shop.com:<port>`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from events.clickhouse import ClickHouse
from tests.browser.test_tracker import (  # noqa: F401 (fixtures used by name)
    DOMAIN,
    OTHER,
    PERSON_UA,
    Trail,
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

REPO = Path(__file__).resolve().parents[2]
ESBUILD = REPO / "node_modules" / ".bin" / "esbuild"
PACKAGE = REPO / "node_modules" / "@plausible-analytics" / "tracker" / "package.json"

# The application's code, as a site using the library writes it; each page adds its own
# options (`window.npmOptions`, set before the bundle loads).
ENTRY = """import { init, track } from '@plausible-analytics/tracker'
window.npmTrack = track
window.results = []
init({
  domain: TRAIL_DOMAIN,
  endpoint: TRAIL_ENDPOINT,
  captureOnLocalhost: true,
  ...window.npmOptions,
})
"""

PAGE = """<!doctype html><html><head><title>{title}</title>
<script>window.npmOptions = {options}</script>
<script src="/app.js"></script>
</head><body style="height: 3000px">{body}</body></html>"""

RECORD = "callback: (result) => results.push([{name!r}, result === undefined ? 'ignored' : result])"

PAGES = {
    "/n-spa/": (
        "{}",
        "<button id=query onclick=\"history.pushState({}, '', '/n-spa/?tab=2')\">tab</button>"
        "<button id=next onclick=\"history.pushState({}, '', '/n-spa/next')\">next</button>"
        "<a id=out href='http://{other}/landing'>partner</a>",
    ),
    "/n-hash/": ("{hashBasedRouting: true}", "<a id=go href='#/inbox'>inbox</a>"),
    "/n-custom/": ("{customProperties: {content_category: 'news', tier: 'default'}}", ""),
    "/n-dynamic/": (
        "{customProperties: (eventName) => ({event_was: eventName, title: document.title,"
        " blank: '', '': 'no key'})}",
        "",
    ),
    "/n-links/": (
        "{outboundLinks: true, fileDownloads: true, formSubmissions: true}",
        "<a id=out href='http://{other}/landing'>partner</a>"
        "<a id=file href='/files/report.pdf?token=secret'>report</a>"
        "<a id=json href='/files/data.json'>data</a>"
        "<form id=contact action='/n-thanks'><input name=q required><button id=send>send</button>"
        "</form>",
    ),
    "/n-files/": (
        "{fileDownloads: {fileExtensions: ['json']}}",
        "<a id=json href='/files/data.json'>data</a><a id=file href='/files/report.pdf'>report</a>",
    ),
    "/n-transform/": (
        "{transformRequest: (payload) => payload.n === 'Skip' ? null"
        " : {...payload, u: payload.u.split('?')[0], p: {...payload.p, cleaned: 'yes'}}}",
        "",
    ),
    "/n-manual/": (
        "{autoCapturePageviews: false}",
        "<button id=next onclick=\"history.pushState({}, '', '/n-manual/next')\">next</button>",
    ),
    "/n-wall/": (
        "{}",
        "<button id=a onclick=\"history.pushState({}, '', '/n-wall/a')\">a</button>"
        "<button id=b onclick=\"history.pushState({}, '', '/n-wall/b')\">b</button>",
    ),
    "/n-thanks": ("{}", "thanks"),
    "/landing": ("{}", "partner"),
}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, trail: Trail) -> bytes:  # noqa: F811
    """The page script, bundled from the installed package for this Trail."""
    if not ESBUILD.exists() or not PACKAGE.exists():
        pytest.skip("needs `npm ci` (esbuild and @plausible-analytics/tracker)")
    assert json.loads(PACKAGE.read_text())["version"] == "0.4.6"
    out = tmp_path_factory.mktemp("npm-tracker") / "app.js"
    done = subprocess.run(  # noqa: S603 (our own esbuild, fixed arguments)
        [
            str(ESBUILD),
            "--bundle",
            "--format=iife",
            f"--outfile={out}",
            f"--define:TRAIL_DOMAIN={json.dumps(DOMAIN)}",
            f"--define:TRAIL_ENDPOINT={json.dumps(trail.url + '/api/event')}",
        ],
        input=ENTRY,
        cwd=REPO,  # the entry comes on stdin: imports resolve from the repository
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out.read_bytes()


@pytest.fixture(scope="module")
def site(bundle: bytes) -> Iterator[str]:
    """The fixture site's origin (the same server answers for the partner site's name)."""
    port = free_port()
    pages = {
        path: PAGE.format(
            title="Fixture", options=options, body=body.replace("{other}", f"{OTHER}:{port}")
        ).encode()
        for path, (options, body) in PAGES.items()
    }
    files = {
        "/app.js": (bundle, "text/javascript"),
        "/files/report.pdf": (b"%PDF-1.4 fixture", "application/pdf"),
        "/files/data.json": (b"{}", "application/json"),
    }

    html = {path: (body, "text/html") for path, body in pages.items()}
    yield from fixture_origin(port, {**html, **files})


@pytest.fixture
def open_page(person: Browser, site: str) -> Iterator[Callable[[str], Page]]:  # noqa: F811
    # `bindToWindow` (on by default) makes `window.plausible` the library's `track`
    yield from page_opener(person, site, "plausible")


def rows(clickhouse: ClickHouse, trail: Trail, prefix: str) -> Callable[[], list[dict[str, Any]]]:  # noqa: F811
    """What Trail stored for the pages under `prefix`, oldest first."""

    def read() -> list[dict[str, Any]]:
        return clickhouse.query(
            "SELECT name, pathname, props, toFloat64(revenue_amount) AS amount,"
            " revenue_currency AS currency, interactive, scroll_depth"
            " FROM events WHERE site_id = {s:UInt64} AND startsWith(pathname, {p:String})"
            " ORDER BY timestamp, name",
            {"s": trail.site_id, "p": prefix},
        )

    return read


def named(found: list[dict[str, Any]], *names: str) -> list[tuple[Any, ...]]:
    """(name, pathname, props) of the rows with one of `names`."""
    return [(r["name"], r["pathname"], dict(r["props"])) for r in found if r["name"] in names]


def results(page: Page, count: int) -> dict[str, Any]:
    """The callback results the page recorded (once there are `count`), by event: callbacks
    run when the answers come, in any order."""
    page.wait_for_function(f"results.length >= {count}")
    found = page.evaluate("results")
    assert len(found) == count, found
    return dict(found)


def test_pageviews_single_page_navigation_and_engagement(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
    clickhouse: ClickHouse,
) -> None:
    """Automatic page views; `pushState` to another path is a page view, one that changes
    only the query string is not (the library compares pathnames); the page left behind
    gets an `engagement` event, which is no event name and no page view in Trail."""
    spa = open_page("/n-spa/")
    spa.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    spa.wait_for_timeout(200)
    spa.click("#query")
    spa.click("#next")  # sends /n-spa/'s engagement, then the page view of /n-spa/next
    spa.go_back()
    spa.go_back()  # popstate back to /n-spa/: a page view again
    spa.wait_for_function("location.pathname === '/n-spa/' && !location.search")
    spa.click("#out")  # outbound links are off by default
    spa.wait_for_url(f"**{OTHER}**/landing")
    eventually(pages_under(trail, "/n-spa/"), [("/n-spa/", 2), ("/n-spa/next", 1)])
    names = lambda: stats(  # noqa: E731
        trail,
        metrics=["events"],
        dimensions=["event:name"],
        filters=[["contains", "event:page", ["/n-spa/"]]],
    )
    eventually(names, [("pageview", 3)])  # no engagement, no Outbound Link: Click
    engagements = lambda: [  # noqa: E731
        (r["pathname"], r["scroll_depth"], r["interactive"])
        for r in rows(clickhouse, trail, "/n-spa/")()
        if r["name"] == "engagement"
    ]
    # /n-spa/ was read to its end; #next was clicked at the top of /n-spa/next
    eventually(
        lambda: [(path, depth) for path, depth, _ in engagements()[:2]][:1], [("/n-spa/", 100)]
    )
    assert [path for path, _, _ in engagements()[:2]] == ["/n-spa/", "/n-spa/next"]
    assert all(interactive for _, _, interactive in engagements())
    depth = stats(
        trail,
        metrics=["scroll_depth"],
        dimensions=["event:page"],
        filters=[["is", "event:page", ["/n-spa/"]]],
    )
    assert depth == [("/n-spa/", 100)]


def test_hash_based_routing(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
    clickhouse: ClickHouse,
) -> None:
    hashed = open_page("/n-hash/")
    hashed.click("#go")
    eventually(pages_under(trail, "/n-hash/"), [("/n-hash/", 1), ("/n-hash/#/inbox", 1)])
    # the first page's engagement is sent in hash mode too: it belongs to "/n-hash/"
    eventually(
        lambda: named(rows(clickhouse, trail, "/n-hash/")(), "engagement")[:1],
        [("engagement", "/n-hash/", {})],
    )


def test_custom_events_props_revenue_interactive_url_and_callbacks(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
    clickhouse: ClickHouse,
    site: str,
) -> None:
    page = open_page("/n-custom/")
    calls = [
        f"npmTrack('signup', {{props: {{tier: 'startup'}}, {RECORD.format(name='signup')}}})",
        f"npmTrack('Purchase', {{revenue: {{amount: 15.99, currency: 'USD'}},"
        f" {RECORD.format(name='Purchase')}}})",
        f"npmTrack('Refund', {{revenue: {{amount: '-4.5', currency: 'EUR'}},"
        f" {RECORD.format(name='Refund')}}})",
        f"npmTrack('autoplay', {{interactive: false, {RECORD.format(name='autoplay')}}})",
        f"npmTrack('Virtual', {{url: location.origin + '/n-custom/virtual?x=1',"
        f" {RECORD.format(name='Virtual')}}})",
        # a name over Plausible's 120 characters: refused, and the callback says so
        f"npmTrack('x'.repeat(121), {{{RECORD.format(name='long')}}})",
    ]
    for call in calls:
        page.evaluate(call)
    assert results(page, len(calls)) == {
        "signup": {"status": 202},
        "Purchase": {"status": 202},
        "Refund": {"status": 202},
        "autoplay": {"status": 202},
        "Virtual": {"status": 202},
        "long": {"status": 400},
    }
    sent = ("pageview", "signup", "Purchase", "Refund", "autoplay", "Virtual")
    found = lambda: [r for r in rows(clickhouse, trail, "/n-custom/")() if r["name"] in sent]  # noqa: E731
    eventually(lambda: len(found()), 6)
    news = {"content_category": "news", "tier": "default"}
    assert sorted(named(found(), *sent)) == [
        ("Purchase", "/n-custom/", news),
        ("Refund", "/n-custom/", news),
        ("Virtual", "/n-custom/virtual", news),
        ("autoplay", "/n-custom/", news),
        ("pageview", "/n-custom/", news),
        ("signup", "/n-custom/", {**news, "tier": "startup"}),  # the event's own props win
    ]
    money = {r["name"]: (r["amount"], r["currency"]) for r in found()}
    assert money["Purchase"] == (15.99, "USD")
    assert money["Refund"] == (-4.5, "EUR")
    assert money["signup"] == (None, "")
    interactive = {r["name"]: r["interactive"] for r in found()}
    assert interactive == {
        "pageview": True,
        "signup": True,
        "Purchase": True,
        "Refund": True,
        "autoplay": False,
        "Virtual": True,
    }
    tiers = stats(
        trail,
        metrics=["events"],
        dimensions=["event:props:tier"],
        filters=[["is", "event:name", ["signup"]]],
    )
    assert tiers == [("startup", 1)]


def test_custom_properties_as_a_function(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
    clickhouse: ClickHouse,
) -> None:
    """The function gets the event's name; a blank key or value is left out, as Plausible's
    ingestion leaves it out (so a breakdown says "(none)", not "")."""
    page = open_page("/n-dynamic/")
    page.evaluate(
        f"document.title = ''; npmTrack('Read', {{props: {{author: 'Jane'}},"
        f" {RECORD.format(name='Read')}}})"
    )
    assert results(page, 1) == {"Read": {"status": 202}}
    found = rows(clickhouse, trail, "/n-dynamic/")
    eventually(lambda: len(named(found(), "pageview", "Read")), 2)
    assert sorted(named(found(), "pageview", "Read"), key=lambda r: r[0] != "pageview") == [
        ("pageview", "/n-dynamic/", {"event_was": "pageview", "title": "Fixture"}),
        ("Read", "/n-dynamic/", {"event_was": "Read", "author": "Jane"}),
    ]
    titles = stats(
        trail,
        metrics=["events"],
        dimensions=["event:name", "event:props:title"],
        filters=[["contains", "event:page", ["/n-dynamic/"]]],
        order_by=[["event:name", "asc"]],
    )
    assert titles == [("Read", "(none)", 1), ("pageview", "Fixture", 1)]


def test_outbound_links_file_downloads_and_form_submissions(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
    clickhouse: ClickHouse,
    site: str,
) -> None:
    port = site.rsplit(":", 1)[1]
    links = open_page("/n-links/")
    links.click("#json")  # not one of the default file types
    links.goto(f"{site}/n-links/")
    links.click("#file")
    links.goto(f"{site}/n-links/")
    links.click("#send")  # an invalid form (required field empty) is not submitted
    links.fill("input[name=q]", "hello")
    links.click("#send")
    links.wait_for_url("**/n-thanks**")
    links.goto(f"{site}/n-links/")
    links.click("#out")
    links.wait_for_url(f"**{OTHER}**/landing")
    files = open_page("/n-files/")  # fileExtensions replaces the default list
    files.click("#file")
    files.goto(f"{site}/n-files/")
    files.click("#json")

    def urls() -> list[tuple[Any, ...]]:
        return stats(
            trail,
            metrics=["events"],
            dimensions=["event:name", "event:props:url"],
            filters=[["is", "event:name", ["Outbound Link: Click", "File Download"]]],
            order_by=[["event:name", "asc"], ["event:props:url", "asc"]],
        )

    eventually(
        urls,
        [
            ("File Download", f"{site}/files/data.json", 1),
            ("File Download", f"{site}/files/report.pdf", 1),  # the query string left out
            ("Outbound Link: Click", f"http://{OTHER}:{port}/landing", 1),
        ],
    )
    forms = lambda: stats(  # noqa: E731
        trail, metrics=["events"], filters=[["is", "event:name", ["Form: Submission"]]]
    )
    eventually(forms, [(1,)])  # the invalid form sent nothing
    stored = clickhouse.query(
        "SELECT name, pathname, props FROM events WHERE site_id = {s:UInt64}"
        " AND name IN ('File Download', 'Form: Submission') ORDER BY name, pathname",
        {"s": trail.site_id},
    )
    assert [(r["name"], r["pathname"]) for r in stored] == [
        ("File Download", "/n-files/"),
        ("File Download", "/n-links/"),
        ("Form: Submission", "/n-links/"),
    ]
    # the library sends the form's event without props; Plausible stores the page's path
    # as its `path` property (one of its goals "with a path", as 404)
    assert dict(stored[2]["props"]) == {"path": "/n-links/"}
    paths = stats(
        trail,
        metrics=["events"],
        dimensions=["event:props:path"],
        filters=[["is", "event:name", ["Form: Submission"]]],
    )
    assert paths == [("/n-links/", 1)]


def test_transform_request_rewrites_and_skips(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
    clickhouse: ClickHouse,
    site: str,
) -> None:
    page = open_page("/n-transform/?secret=1")
    page.evaluate(f"npmTrack('Skip', {{{RECORD.format(name='Skip')}}})")
    page.evaluate(f"npmTrack('Kept', {{props: {{a: 'b'}}, {RECORD.format(name='Kept')}}})")
    # a skipped event calls back with nothing; a sent one with its status
    assert results(page, 2) == {"Skip": "ignored", "Kept": {"status": 202}}
    found = rows(clickhouse, trail, "/n-transform/")
    eventually(lambda: len(named(found(), "pageview", "Kept", "Skip")), 2)
    assert sorted(named(found(), "pageview", "Kept", "Skip")) == [
        ("Kept", "/n-transform/", {"a": "b", "cleaned": "yes"}),
        ("pageview", "/n-transform/", {"cleaned": "yes"}),  # the query string cut off
    ]
    [row] = clickhouse.query(
        "SELECT count() AS n FROM events WHERE site_id = {s:UInt64} AND name = 'Skip'",
        {"s": trail.site_id},
    )
    assert row["n"] == 0


def test_auto_capture_pageviews_off(
    trail: Trail,  # noqa: F811
    open_page: Callable[[str], Page],
    site: str,
) -> None:
    page = open_page("/n-manual/")
    page.click("#next")  # no automatic page view, on load or on navigation
    page.evaluate(f"npmTrack('pageview', {{{RECORD.format(name='pageview')}}})")
    page.evaluate(
        f"npmTrack('pageview', {{url: location.origin + '/n-manual/virtual',"
        f" {RECORD.format(name='virtual')}}})"
    )
    assert results(page, 2) == {"pageview": {"status": 202}, "virtual": {"status": 202}}
    eventually(pages_under(trail, "/n-manual/"), [("/n-manual/next", 1), ("/n-manual/virtual", 1)])


def test_engaged_time_of_a_page_left_open_for_days(
    trail: Trail,  # noqa: F811
    person: Browser,  # noqa: F811
    site: str,
    clickhouse: ClickHouse,
) -> None:
    """The library counts all the time a tab is visible and focused (no idle cut-off), so a
    page left open on a wall screen reports days. Plausible keeps up to 30 days and leaves
    more out (the scroll depth still counts); Trail refused anything over a day, and the
    page's scroll depth with it."""
    context = person.new_context(user_agent=PERSON_UA)
    try:
        page = context.new_page()
        page.clock.install()
        page.goto(f"{site}/n-wall/")
        page.wait_for_function("typeof window.plausible === 'function'")
        page.clock.fast_forward("25:00:00")
        page.click("#a")  # /n-wall/'s engagement: 25 hours
        page.clock.fast_forward(31 * 24 * 3_600_000)
        page.click("#b")  # /n-wall/a's: 31 days, left out
        read = lambda: clickhouse.query(  # noqa: E731
            "SELECT pathname, engagement_ms, scroll_depth FROM events"
            " WHERE site_id = {s:UInt64} AND name = 'engagement'"
            " AND pathname IN ('/n-wall/', '/n-wall/a') ORDER BY pathname",
            {"s": trail.site_id},
        )
        eventually(lambda: [r["pathname"] for r in read()], ["/n-wall/", "/n-wall/a"])
        wall, left = read()
        assert 25 * 3_600_000 <= wall["engagement_ms"] < 25 * 3_600_000 + 60_000
        assert left["engagement_ms"] == 0
        assert wall["scroll_depth"] > 0 and left["scroll_depth"] > 0
    finally:
        context.close()
