"""Plausible's hostname rule (issue 24.4, docs/hostnames.md): the domain names the site
whatever the URL's host and scheme, unless the site has a host name allowlist.

The pipeline is run on real sites (SQLite/PostgreSQL); the end-to-end tests send events
through the browser endpoints, flush them into the embedded ClickHouse and read them back
through the Stats API, the expected rows counted here from the events sent.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.test import Client, TestCase

from events.enrich.urls import parse_page_url
from events.flush import FlushReport
from events.ingest.drops import recent_drops
from events.ingest.request import BadRequest, EventInput, from_plausible, from_umami
from events.ingest.sites import SiteConfig, SiteDirectory, allowlist
from events.ingest.steps import Drop, DropReason, Incoming, pipeline, run
from sites import services
from sites.domains import normalize_hostname
from sites.models import Site
from tests import factories
from tests.reports.conftest import post_json
from tests.wsgi_client import post

pytestmark = pytest.mark.django_db

DOMAIN = "hostrule-trail.com"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

# URLs a site's pages, apps and copies send, none of them on the site's own host name
ELSEWHERE = [
    "https://staging.hostrule-trail.net/pricing",
    "https://evil.example/",
    "http://localhost:3000/",
    "http://127.0.0.1:8000/dev",
    "http://[::1]/",
    "app://localhost/settings",
    "capacitor://localhost/#/home",
    "ionic://localhost/tabs/tab1",
    "tauri://localhost/",
    "chrome-extension://abcdefghijklmnop/popup.html",
    "file:///C:/Users/me/app/index.html",
    "file://server/share/index.html",
    "https://bücher.example/",
    "/only/a/path",
]


def change(site: Site, **fields: Any) -> None:
    """Change the site through the service; its after-commit announcement (run here: the
    test's transaction never commits) reloads the ingest directory."""
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        services.site_update(site=site, **fields)


def outcome(url: str, *, domain: str = DOMAIN, trusted: bool = False) -> Incoming | Drop:
    item = Incoming(
        EventInput(name="pageview", url=url, domains=(domain,)),
        "198.51.100.7",
        CHROME,
        dt.datetime.now(dt.UTC),
        trusted=trusted,
    )
    return run(item, pipeline(SiteDirectory(ttl=0)))


def accepted(url: str, **options: Any) -> bool:
    result = outcome(url, **options)
    assert isinstance(result, Incoming) or result == Drop(DropReason.HOSTNAME_NOT_ALLOWED)
    return isinstance(result, Incoming)


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site(DOMAIN)


# Without an allowlist


@pytest.mark.parametrize("url", ELSEWHERE)
def test_without_an_allowlist_every_host_and_scheme_counts(site: Site, url: str) -> None:
    assert accepted(url)


def test_without_an_allowlist_nothing_is_precomputed(site: Site) -> None:
    config = SiteConfig.of(site)
    assert not config.has_allowlist
    assert (config.allowed_hosts, config.allowed_suffixes) == (frozenset(), ())
    assert config.allows_hostname("anything.example")


# With an allowlist

LIST = ["shop.hostrule-trail.net", "*.cdn-hostrule.net", "10.0.0.5", "fd00::5"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        # the site's own domain, with www. and its subdomains, always
        (f"https://{DOMAIN}/", True),
        (f"https://www.{DOMAIN}/", True),
        (f"https://eu.{DOMAIN}/", True),
        (f"https://WWW.{DOMAIN.upper()}./x", True),
        # listed names, exactly
        ("https://shop.hostrule-trail.net/cart", True),
        ("https://www.shop.hostrule-trail.net/cart", True),
        ("https://a.shop.hostrule-trail.net/", False),
        ("https://hostrule-trail.net/", False),
        # a wildcard: the name and everything under it, never a lookalike
        ("https://cdn-hostrule.net/", True),
        ("https://img.cdn-hostrule.net/", True),
        ("https://a.b.cdn-hostrule.net/", True),
        ("https://evilcdn-hostrule.net/", False),
        ("https://cdn-hostrule.net.evil.example/", False),
        (f"https://{DOMAIN}.evil.example/", False),
        (f"https://not{DOMAIN}/", False),
        # addresses, however they are written
        ("http://10.0.0.5:8080/", True),
        ("http://10.0.0.50/", False),
        ("http://[FD00:0:0::5]/", True),
        ("http://[fd00::6]/", False),
        # other hosts and schemes: refused, where they have a host
        ("https://staging.example.org/", False),
        ("http://localhost:3000/", False),
        ("app://localhost/settings", False),
        ("capacitor://localhost/", False),
        # no host to judge: a file: page, a path
        ("file:///C:/Users/me/app/index.html", True),
        ("/only/a/path", True),
    ],
)
def test_an_allowlist_admits_only_its_names(site: Site, url: str, allowed: bool) -> None:
    change(site, extra_hostnames=LIST)
    assert accepted(url) is allowed


def test_an_app_is_admitted_by_listing_its_host(site: Site) -> None:
    change(site, extra_hostnames=["localhost"])
    assert accepted("app://localhost/settings") and accepted("capacitor://localhost/#/x")
    assert accepted("http://localhost:5173/") and not accepted("https://evil.example/")


def test_internationalized_names_match_in_either_form(site: Site) -> None:
    change(site, extra_hostnames=["*.bücher.example"])
    assert site.extra_hostnames == ["*.xn--bcher-kva.example"]
    assert accepted("https://shop.bücher.example/") and accepted("https://xn--bcher-kva.example/")
    assert not accepted("https://bucher.example/")


def test_a_www_wildcard_does_not_widen(site: Site) -> None:
    change(site, extra_hostnames=["*.www.partner-hostrule.org"])
    assert site.extra_hostnames == ["*.www.partner-hostrule.org"]
    assert accepted("https://a.www.partner-hostrule.org/")
    assert not accepted("https://evil.partner-hostrule.org/")


def test_emptying_the_allowlist_admits_every_host_again(site: Site) -> None:
    change(site, extra_hostnames=["shop.hostrule-trail.net"])
    assert not accepted("https://staging.example.org/")
    change(site, extra_hostnames=[])
    assert accepted("https://staging.example.org/")


def test_a_server_with_an_api_key_is_not_judged(site: Site) -> None:
    change(site, extra_hostnames=["shop.hostrule-trail.net"])
    assert accepted("https://staging.example.org/", trusted=True)


def test_the_allowlist_is_a_set_and_suffixes() -> None:
    hosts, suffixes = allowlist(
        "site.com", ["*.cdn.net", "*.img.cdn.net", "a.org", "*.www.b.org", "WWW.C.org."]
    )
    assert hosts == {"site.com", "cdn.net", "img.cdn.net", "a.org", "b.org", "c.org"}
    assert sorted(suffixes) == [".cdn.net", ".site.com", ".www.b.org"]  # .img.cdn.net: covered
    assert allowlist("site.com", []) == (frozenset(), ())
    assert allowlist("site.com", ["", "*.", "*"]) == (frozenset(), ())


def test_a_long_allowlist_stays_cheap(site: Site) -> None:
    """The hot path: one set lookup and one C-level endswith, whatever the list's length."""
    entries = [f"*.brand{i}.example" for i in range(50)] + [f"h{i}.example" for i in range(50)]
    change(site, extra_hostnames=entries)
    config = SiteConfig.of(site)
    assert len(config.allowed_suffixes) == 51 and len(config.allowed_hosts) == 101
    hosts = ["x.brand49.example", "h49.example", "nowhere.example", f"www.{DOMAIN}"] * 5_000
    started = time.perf_counter()
    verdicts = [config.allows_hostname(h) for h in hosts]
    elapsed = time.perf_counter() - started
    assert verdicts.count(False) == 5_000
    assert elapsed < 1.0, f"{len(hosts)} checks took {elapsed:.3f} s"  # ~30 ms here


# The entries people type


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("*.Example.org", "*.example.org"),
        ("https://*.example.org/path", "*.example.org"),
        ("*.www.example.org", "*.www.example.org"),
        ("www.example.org", "example.org"),
        ("*.bücher.example", "*.xn--bcher-kva.example"),
        ("localhost", "localhost"),
        ("*.lan", "*.lan"),
    ],
)
def test_allowlist_entries_take_a_wildcard_prefix(raw: str, expected: str) -> None:
    assert normalize_hostname(raw) == expected


@pytest.mark.parametrize(
    "raw", ["*", "*.", "**.example.org", "*example.org", "a.*.example.org", "*.10.0.0.1", "*.*.x"]
)
def test_allowlist_entries_refuse_other_wildcards(raw: str) -> None:
    from accounts.errors import ServiceError

    with pytest.raises(ServiceError) as caught:
        normalize_hostname(raw)
    assert caught.value.field == "extra_hostnames"


def test_the_sites_api_sets_a_wildcard_allowlist(site: Site) -> None:
    _, key = factories.api_key(site.organization)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = api.put(
            f"/api/v1/sites/{DOMAIN}",
            data=json.dumps({"extra_hostnames": ["*.Preview-Hostrule.dev"]}),
            content_type="application/json",
        )
    assert answer.status_code == 200, answer.content
    assert answer.json()["extra_hostnames"] == ["*.preview-hostrule.dev"]
    assert accepted("https://pr-12.preview-hostrule.dev/")
    assert not accepted("https://evil.example/")
    bad = api.put(
        f"/api/v1/sites/{DOMAIN}",
        data=json.dumps({"extra_hostnames": ["*example.org"]}),
        content_type="application/json",
    )
    assert bad.status_code == 400 and bad.json()["error"].startswith("extra_hostnames: ")


# The edge: non-http schemes are events, dangerous ones are not


@pytest.mark.parametrize("url", [u for u in ELSEWHERE if "://" in u])
def test_the_edge_accepts_any_page_scheme(url: str) -> None:
    assert from_plausible({"n": "pageview", "u": url, "d": DOMAIN}).url == url


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "vbscript:x"]
)
def test_the_edge_still_refuses_script_urls(url: str) -> None:
    with pytest.raises(BadRequest) as caught:
        from_plausible({"n": "pageview", "u": url, "d": DOMAIN})
    assert caught.value.status == 400 and caught.value.message.startswith("url: ")


def test_a_url_without_a_host_needs_the_domain() -> None:
    with pytest.raises(BadRequest) as caught:
        from_plausible({"n": "pageview", "u": "file:///index.html"})
    assert caught.value.message.startswith("domain: ")


def test_umami_from_an_app_keeps_its_host() -> None:
    body = {"type": "event", "payload": {"website": "x", "hostname": "localhost", "url": "/a"}}
    assert from_umami(body).url == "https://localhost/a"


# End to end: the collector, ClickHouse and the Stats API

# (url sent, the page and host name that URL names), one visitor each
APP_EVENTS = [
    ("app://localhost/settings?tab=2", "/settings", "localhost"),
    ("app://localhost/settings", "/settings", "localhost"),
    ("capacitor://localhost/home", "/home", "localhost"),
    ("ionic://localhost/tabs/tab1", "/tabs/tab1", "localhost"),
    ("file:///C:/Users/me/app/index.html", "/C:/Users/me/app/index.html", "(none)"),
    ("chrome-extension://abcdefghijklmnop/popup.html", "/popup.html", "abcdefghijklmnop"),
    ("https://staging.hostrule-trail.net/pricing", "/pricing", "staging.hostrule-trail.net"),
    (f"https://www.{DOMAIN}/pricing", "/pricing", DOMAIN),
]


def stats(site: Site, **body: Any) -> list[tuple[Any, ...]]:
    _, key = factories.api_key(site.organization, scopes=("stats:read",))
    today = dt.datetime.now(dt.UTC).date()
    body = {
        "site_id": site.domain,
        "date_range": [(today - dt.timedelta(days=1)).isoformat(), today.isoformat()],
        **body,
    }
    answer = post_json(Client(), "/api/v2/query", body, key)
    assert answer.status_code == 200, answer.content
    return sorted((*r["dimensions"], *r["metrics"]) for r in answer.json()["results"])


def send_all(events: list[tuple[str, str, str]]) -> list[str | None]:
    """Each event from its own visitor (IP); the drop reasons (None: accepted)."""
    dropped = []
    for number, (url, _, _) in enumerate(events):
        body = json.dumps({"n": "pageview", "u": url, "d": DOMAIN})
        dropped.append(post("/api/event", body, remote_addr=f"198.51.100.{number + 1}").dropped)
    return dropped


def counted(events: list[tuple[str, str, str]], field: int) -> list[tuple[str, int, int]]:
    """(value, visitors, pageviews) by page (field 1) or host name (field 2)."""
    tally = Counter(event[field] for event in events)
    return sorted((value, n, n) for value, n in tally.items())


def test_app_pages_are_counted_with_their_path_and_host(
    site: Site, flush: Callable[..., FlushReport]
) -> None:
    assert send_all(APP_EVENTS) == [None] * len(APP_EVENTS)
    assert flush().events >= len(APP_EVENTS)
    metrics = ["visitors", "pageviews"]
    assert stats(site, metrics=metrics, dimensions=["event:page"]) == counted(APP_EVENTS, 1)
    assert stats(site, metrics=metrics, dimensions=["event:hostname"]) == counted(APP_EVENTS, 2)


@pytest.mark.parametrize(
    ("filter_", "keep"),
    [
        (["is", "event:hostname", ["localhost"]], lambda host: host == "localhost"),
        (["is_not", "event:hostname", ["localhost"]], lambda host: host != "localhost"),
        (["contains", "event:hostname", ["hostrule"]], lambda host: "hostrule" in host),
        (["matches", "event:hostname", ["^local"]], lambda host: host.startswith("local")),
        (
            ["is", "event:hostname", ["localhost", DOMAIN]],
            lambda host: host in ("localhost", DOMAIN),
        ),
        (["is", "event:hostname", ["(none)"]], lambda host: host == "(none)"),
    ],
    ids=["is", "is_not", "contains", "matches", "is-several", "none"],
)
def test_event_hostname_is_a_filter(
    site: Site,
    flush: Callable[..., FlushReport],
    filter_: list[Any],
    keep: Callable[[str], bool],
) -> None:
    send_all(APP_EVENTS)
    flush()
    kept = [event for event in APP_EVENTS if keep(event[2])]
    answer = stats(site, metrics=["visitors", "pageviews"], filters=[filter_])
    assert answer == [(len(kept), len(kept))]
    by_host = stats(site, metrics=["pageviews"], dimensions=["event:hostname"], filters=[filter_])
    assert by_host == sorted((h, n) for h, n in Counter(e[2] for e in kept).items())


def test_an_allowlist_keeps_other_hosts_out_of_the_reports_and_counts_them(
    site: Site, flush: Callable[..., FlushReport]
) -> None:
    change(site, extra_hostnames=["*.hostrule-trail.net"])
    dropped = send_all(APP_EVENTS)
    kept = [e for e, reason in zip(APP_EVENTS, dropped, strict=True) if reason is None]
    refused = [e for e, reason in zip(APP_EVENTS, dropped, strict=True) if reason is not None]
    # the hosts outside the list and not the site's: localhost (4), the extension (1)
    assert {e[2] for e in refused} == {"localhost", "abcdefghijklmnop"}
    assert set(dropped) == {None, "hostname_not_allowed"}
    flush()
    assert stats(site, metrics=["pageviews"], dimensions=["event:hostname"]) == sorted(
        (h, n) for h, n in Counter(e[2] for e in kept).items()
    )
    drops = recent_drops(site_id=site.id)
    assert drops.by_reason == {DropReason.HOSTNAME_NOT_ALLOWED: len(refused)}
    assert drops.refused_hosts == sorted(
        Counter(e[2] for e in refused).items(), key=lambda item: (-item[1], item[0])
    )


def test_umami_events_from_an_app_count(site: Site, flush: Callable[..., FlushReport]) -> None:
    payload = {"website": str(site.public_id), "hostname": "localhost", "url": "/screen/2"}
    answer = post(
        "/api/send",
        json.dumps({"type": "event", "payload": payload}),
        content_type="application/json",
    )
    assert (answer.status, answer.dropped) == (200, None)
    flush()
    metrics = ["pageviews"]
    assert stats(site, metrics=metrics, dimensions=["event:hostname", "event:page"]) == [
        ("localhost", "/screen/2", 1)
    ]


@pytest.mark.parametrize(
    ("url", "hash_mode", "host", "page"),
    [
        ("app://localhost/settings?tab=2", False, "localhost", "/settings"),
        ("capacitor://localhost/#/home", True, "localhost", "/#/home"),
        ("tauri://localhost", False, "localhost", "/"),
        ("file:///C:/Users/me/app/index.html", False, "", "/C:/Users/me/app/index.html"),
        ("about:blank", False, "", "/blank"),
        ("https://www.example.com./pricing", False, "example.com", "/pricing"),
        ("http://[FD00::5]:8080/x", False, "fd00::5", "/x"),
    ],
)
def test_a_page_url_of_any_scheme_gives_its_host_and_path(
    url: str, hash_mode: bool, host: str, page: str
) -> None:
    parsed = parse_page_url(url, hash_mode=hash_mode)
    assert (parsed.hostname, parsed.pathname) == (host, page)
