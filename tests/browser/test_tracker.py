"""The tracker in Debian's Chromium, on a fixture site, against a real running Trail.

Trail runs as its own process (`manage.py serve`) on 127.0.0.1; its ClickHouse is this test
process's engine served over HTTP, so the rows can be read here too. The fixture site is
another origin: `http://fixture-shop.com:<port>` (Chromium maps the name to 127.0.0.1), so
every event crosses origins (CORS). Chromium runs without the automation flag, so
`navigator.webdriver` is false, as for a person; one test turns it back on.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings

from events.clickhouse import ClickHouse
from tests.browser.conftest import launch
from tests.clickhouse_http import serve
from tests.helpers import child_env, free_port, manage, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

# Headless Chromium says "HeadlessChrome", which the collector drops as a bot.
PERSON_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)
DOMAIN = "fixture-shop.com"
OTHER = "elsewhere-shop.com"
EMAIL = "tracker-test@example.com"


# run in the child (`manage.py shell -c`): its next site id is `first` + 1
SITE_SEQUENCE = """from django.db import connection
from sites.models import Site
table = Site._meta.db_table
with connection.cursor() as cursor:
    cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
    cursor.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, {first}])
"""


SITE_ID = """from sites.models import Site
print(Site.objects.get(domain="{domain}").id)
"""


@dataclass
class Trail:
    url: str
    key: str
    site_id: int
    env: dict[str, str]  # for `manage.py` commands on the running Trail's data


def _run(*args: str, env: dict[str, str]) -> str:
    done = manage(*args, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory, clickhouse: ClickHouse) -> Iterator[Trail]:
    """Trail in a process of its own, with a user, a key and the fixture site."""
    var = tmp_path_factory.mktemp("tracker-trail")
    with (
        serve(settings.CLICKHOUSE.data_dir)
        if settings.CLICKHOUSE.embedded
        else _given(settings.CLICKHOUSE.url) as clickhouse_url
    ):
        env = child_env(
            var, CLICKHOUSE_URL=clickhouse_url, DJANGO_SUPERUSER_PASSWORD="x-9-long-pass"
        )
        _run("migrate", "--noinput", env=env)
        _run("createsuperuser", "--noinput", "--email", EMAIL, env=env)
        key = (
            _run("create_api_key", "--email", EMAIL, "--scopes", "sites:manage,stats:read", env=env)
            .strip()
            .splitlines()[-1]
        )
        # a site id of its own in the shared engine (other tests' sites count from 1 too)
        _run(
            "shell", "-c", SITE_SEQUENCE.format(first=int(time.time_ns() % 2**40) + 2**50), env=env
        )
        with serving(env, free_port()) as url:
            created = _api(url, key, "/api/v1/sites", {"domain": DOMAIN})
            assert created["domain"] == DOMAIN
            site_id = _run("shell", "-c", SITE_ID.format(domain=DOMAIN), env=env)
            yield Trail(url=url, key=key, site_id=int(site_id.split()[-1]), env=env)


class _given:
    """A ClickHouse URL that is already there (the services suite)."""

    def __init__(self, url: str | None) -> None:
        self.url = url or ""

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


def _api(base: str, key: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{base}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


# --- the fixture site --------------------------------------------------------------------

PAGE = """<!doctype html><html><head><title>{title}</title>{head}
<script defer data-domain="{domain}" src="{trail}/js/trail.js" {options}></script>
</head><body style="height: 3000px">{body}</body></html>"""
QUEUE = (
    "<script>window.trail=window.trail||function(){(trail.q=trail.q||[]).push(arguments)}</script>"
)


def _pages(trail_url: str, site: str) -> dict[str, str]:
    def page(body: str, *, head: str = "", options: str = "", title: str = "Fixture") -> str:
        return PAGE.format(
            title=title, head=head, domain=DOMAIN, trail=trail_url, options=options, body=body
        )

    return {
        "/spa/": page(
            "<button id=push onclick=\"history.pushState({}, '', '/spa/a')\">a</button>"
            "<button id=again onclick=\"history.pushState({}, '', '/spa/a')\">a again</button>"
            "<button id=replace onclick=\"history.replaceState({}, '', '/spa/b')\">b</button>"
        ),
        "/hash/": page("<a id=go href='#/inbox'>inbox</a>", options="data-hash"),
        "/links/": page(
            f"<a id=out href='http://{OTHER}:{{port}}/landing'>partner</a>"
            "<a id=file href='/files/report.pdf'>report</a>"
            "<a id=same href='/links/again'>same site</a>"
            "<form id=contact action='/thanks'><input name=q><button id=send>send</button></form>",
            options="data-form-submissions",
        ),
        "/custom/": page(
            "<button id=signup onclick=\"trail('Signup', {props: {plan: 'pro'},"
            " revenue: {amount: 9.5, currency: 'EUR'}, callback: function () {"
            " document.title = 'sent' }})\">sign up</button>",
            head=QUEUE + "<script>trail('Early', {props: {when: 'before load'}})</script>",
        ),
        "/missing/": page("not here", options="data-404"),
        "/article/": page("<p>long read</p>"),
        "/quiet/": page("an owner's own visit"),
        "/robot/": page("automation"),
        "/after/": page("a page view that is counted"),
        "/local/": page("served as 127.0.0.1"),
        "/proxied/": page("through the site's own path", options='data-api="/p/event"'),
        "/thanks": page("thanks"),
        "/links/again": page("again"),
        "/landing": page("partner site"),
        "/files/report.pdf": "%PDF-1.4 fixture",
        "/": page("home"),
    }


def fixture_origin(
    port: int, files: Mapping[str, tuple[bytes, str]], *, proxy: str | None = None
) -> Iterator[str]:
    """Serve `files` (path → body and content type; query and fragment ignored) as the
    fixture site on `port`, and, with `proxy`, the site's first-party proxy: `POST /p/event`
    forwarded there. Yields the site's origin (`http://DOMAIN:port`) while it serves."""

    class Handler(SimpleHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            found = files.get(self.path.split("?")[0].split("#")[0])
            if found is None:
                self.send_error(404)
                return
            body, kind = found
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            if proxy is None or self.path != "/p/event":
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers["Content-Length"]))
            forward = urllib.request.Request(  # noqa: S310 (loopback)
                proxy,
                data=body,
                headers={"Content-Type": "text/plain", "User-Agent": self.headers["User-Agent"]},
            )
            with urllib.request.urlopen(forward, timeout=10) as answer:  # noqa: S310
                self.send_response(answer.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{DOMAIN}:{port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site(trail: Trail) -> Iterator[str]:
    """The fixture site's origin (the same server answers for the partner site's name)."""
    port = free_port()
    pages = {
        path: html.replace("{port}", str(port)) for path, html in _pages(trail.url, DOMAIN).items()
    }

    files = {
        path: (body.encode(), "application/pdf" if path.endswith(".pdf") else "text/html")
        for path, body in pages.items()
    }
    yield from fixture_origin(port, files, proxy=f"{trail.url}/api/event")


@pytest.fixture(scope="module")
def person(playwright: Playwright) -> Iterator[Browser]:
    """Chromium as a person's browser: the fixture names resolve to this machine, and
    `navigator.webdriver` is false."""
    rules = f"MAP {DOMAIN} 127.0.0.1, MAP {OTHER} 127.0.0.1"
    chromium = launch(
        playwright,
        f"--host-resolver-rules={rules}",
        "--disable-blink-features=AutomationControlled",
    )
    yield chromium
    chromium.close()


def page_opener(person: Browser, site: str, tracker: str) -> Iterator[Callable[[str], Page]]:
    """Open pages of `site`, each in a context of its own, once the tracker's global
    `tracker` is a function whose queue was replayed; the contexts close at the end."""
    contexts = []

    def go(path: str) -> Page:
        context = person.new_context(user_agent=PERSON_UA)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{site}{path}")
        page.wait_for_function(f"typeof window.{tracker} === 'function' && !window.{tracker}.q")
        return page

    yield go
    for context in contexts:
        context.close()


@pytest.fixture
def open_page(person: Browser, site: str) -> Iterator[Callable[[str], Page]]:
    yield from page_opener(person, site, "trail")


def stats(trail: Trail, **body: Any) -> list[tuple[Any, ...]]:
    answer = _api(
        trail.url, trail.key, "/api/v2/query", {"site_id": DOMAIN, "date_range": "7d", **body}
    )
    return [(*row["dimensions"], *row["metrics"]) for row in answer["results"]]


def eventually(read: Callable[[], Any], expected: Any, timeout: float = 60) -> None:
    """`read()` until it gives `expected` (the flush makes events visible within seconds;
    the timeout leaves room for a suite that keeps both cores busy)."""
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if found == expected or time.monotonic() > deadline:
            assert found == expected
            return
        time.sleep(0.3)


def pages_under(trail: Trail, prefix: str) -> Callable[[], list[tuple[Any, ...]]]:
    return lambda: stats(
        trail,
        metrics=["pageviews"],
        dimensions=["event:page"],
        filters=[["contains", "event:page", [prefix]]],
        order_by=[["event:page", "asc"]],
    )


def test_single_page_app_navigation(trail: Trail, open_page: Callable[[str], Page]) -> None:
    page = open_page("/spa/")
    page.click("#push")  # /spa/a
    page.click("#again")  # the same URL: no second page view
    page.click("#replace")  # /spa/b, in place of the second /spa/a
    page.evaluate("history.back()")  # popstate: back to the first /spa/a
    page.wait_for_function("location.pathname === '/spa/a'")
    eventually(pages_under(trail, "/spa/"), [("/spa/", 1), ("/spa/a", 2), ("/spa/b", 1)])


def test_hash_mode(trail: Trail, open_page: Callable[[str], Page]) -> None:
    page = open_page("/hash/")
    page.click("#go")
    eventually(pages_under(trail, "/hash/"), [("/hash/", 1), ("/hash/#/inbox", 1)])


def test_outbound_link_download_and_form(
    trail: Trail, open_page: Callable[[str], Page], site: str, clickhouse: ClickHouse
) -> None:
    page = open_page("/links/")
    page.click("#same")  # a link on the same site is neither outbound nor a download
    page.go_back()
    page.click("#file")
    page.goto(f"{site}/links/")
    page.click("#out")
    page.wait_for_url(f"**{OTHER}**")
    page.goto(f"{site}/links/")
    page.fill("input[name=q]", "hello")
    page.click("#send")
    page.wait_for_url("**/thanks**")
    port = site.rsplit(":", 1)[1]

    def custom() -> list[tuple[Any, ...]]:
        return stats(
            trail,
            metrics=["events"],
            dimensions=["event:name", "event:props:url"],
            filters=[["is_not", "event:name", ["pageview", "Form: Submission"]]],
            order_by=[["event:name", "asc"]],
        )

    eventually(
        custom,
        [
            ("File Download", f"{site}/files/report.pdf", 1),
            ("Outbound Link: Click", f"http://{OTHER}:{port}/landing", 1),
        ],
    )
    forms = lambda: stats(  # noqa: E731
        trail,
        metrics=["events"],
        dimensions=["event:props:form"],
        filters=[["is", "event:name", ["Form: Submission"]]],
    )
    eventually(forms, [("contact", 1)])


def test_custom_event_with_props_and_revenue_and_a_queued_early_call(
    trail: Trail, open_page: Callable[[str], Page], clickhouse: ClickHouse
) -> None:
    page = open_page("/custom/")
    page.click("#signup")
    page.wait_for_function("document.title === 'sent'")  # the callback ran
    names = lambda: stats(  # noqa: E731
        trail,
        metrics=["events"],
        dimensions=["event:name"],
        filters=[["is", "event:name", ["Signup", "Early"]]],
        order_by=[["event:name", "asc"]],
    )
    eventually(names, [("Early", 1), ("Signup", 1)])
    plans = stats(
        trail,
        metrics=["events"],
        dimensions=["event:props:plan"],
        filters=[["is", "event:name", ["Signup"]]],
    )
    assert plans == [("pro", 1)]
    early = stats(
        trail,
        metrics=["events"],
        dimensions=["event:props:when"],
        filters=[["is", "event:name", ["Early"]]],
    )
    assert early == [("before load", 1)]
    [row] = clickhouse.query(
        "SELECT toFloat64(revenue_amount) AS amount, revenue_currency AS currency, pathname"
        " FROM events WHERE site_id = {s:UInt64} AND name = 'Signup'",
        {"s": trail.site_id},
    )
    assert row == {"amount": 9.5, "currency": "EUR", "pathname": "/custom/"}


def test_404_helper(trail: Trail, open_page: Callable[[str], Page]) -> None:
    open_page("/missing/")
    paths = lambda: stats(  # noqa: E731
        trail,
        metrics=["events"],
        dimensions=["event:props:path"],
        filters=[["is", "event:name", ["404"]]],
    )
    eventually(paths, [("/missing/", 1)])


def test_scroll_depth_and_engaged_time(
    trail: Trail, open_page: Callable[[str], Page], site: str
) -> None:
    page = open_page("/article/")
    page.mouse.move(100, 100)
    for step in range(10):  # someone reading: scrolling and moving the mouse for ~2 s
        page.mouse.wheel(0, 300)
        page.mouse.move(100 + step * 10, 120)
        page.wait_for_timeout(200)
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(200)
    page.close()  # the page is hidden and left: it sends its engagement event

    def engagement() -> list[tuple[Any, ...]]:
        return stats(
            trail,
            metrics=["scroll_depth", "time_on_page"],
            dimensions=["event:page"],
            filters=[["is", "event:page", ["/article/"]]],
        )

    deadline = time.monotonic() + 15
    while not engagement() or engagement()[0][1] == 0:
        assert time.monotonic() < deadline, engagement()
        time.sleep(0.3)
    [(path, depth, seconds)] = engagement()
    assert path == "/article/"
    assert depth == 100
    assert 2 <= seconds <= 15


def test_ignore_flag_localhost_and_automation_send_nothing(
    trail: Trail, open_page: Callable[[str], Page], person: Browser, site: str
) -> None:
    sent: list[str] = []

    def watch(page: Page) -> Page:
        page.on("request", lambda r: sent.append(r.url) if "/api/event" in r.url else None)
        return page

    page = open_page("/")
    page.evaluate("localStorage.trail_ignore = 'true'")
    watch(page).goto(f"{site}/quiet/")
    page.wait_for_function("typeof window.trail === 'function'")
    page.evaluate("trail('Signup')")
    local = watch(open_page("/"))
    local.goto(f"http://127.0.0.1:{site.rsplit(':', 1)[1]}/local/")
    local.wait_for_function("typeof window.trail === 'function'")
    robot = person.new_context(user_agent=PERSON_UA)
    robot.add_init_script("Object.defineProperty(navigator, 'webdriver', {get: () => true})")
    automated = watch(robot.new_page())
    automated.goto(f"{site}/robot/")
    automated.wait_for_function("typeof window.trail === 'function'")
    assert sent == []
    # a page view that is sent, to know the ones before it would have arrived
    open_page("/after/")
    eventually(pages_under(trail, "/after/"), [("/after/", 1)])
    robot.close()
    assert stats(
        trail, metrics=["pageviews"], filters=[["is", "event:page", ["/quiet/", "/robot/"]]]
    ) == [(0,)]


def test_a_first_party_proxy_through_data_api(
    trail: Trail, open_page: Callable[[str], Page], site: str
) -> None:
    page = open_page("/proxied/")
    # a resource timing entry appears when its request has finished
    page.wait_for_function(
        "performance.getEntriesByType('resource').some(e => e.name.endsWith('/p/event'))"
    )
    sent = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert f"{site}/p/event" in sent
    assert not any("/api/event" in url for url in sent)
    eventually(pages_under(trail, "/proxied/"), [("/proxied/", 1)])


def test_no_cookies_and_nothing_stored(open_page: Callable[[str], Page]) -> None:
    page = open_page("/article/")
    page.evaluate("trail('Signup', {props: {plan: 'free'}})")
    assert page.context.cookies() == []
    assert page.evaluate("[localStorage.length, sessionStorage.length]") == [0, 0]
