"""The ingest pipeline: one test per drop reason, and the events that pass."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from events.ingest.request import EventInput
from events.ingest.sites import SiteDirectory
from events.ingest.steps import Drop, DropReason, Incoming, is_bot, pipeline, run
from events.limits.models import OrganizationLimits
from events.limits.ratelimit import LocalBuckets, SiteRateLimit
from sites.services import site_update
from tests import factories

pytestmark = pytest.mark.django_db

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture
def shop() -> object:
    org = factories.organization()
    site = factories.site(org, "shop-steps.com")
    return site_update(
        site=site,
        extra_hostnames=["*.shop-cdn.net"],
        excluded_ips=["203.0.113.0/24"],
        excluded_paths=["/admin/*", "/preview"],
        honor_dnt=True,
    )


def incoming(url: str = "https://shop-steps.com/product/1", **changes: object) -> Incoming:
    fields: dict[str, object] = {
        "event": EventInput(name="pageview", url=url, domains=("shop-steps.com",)),
        "ip": "198.51.100.7",
        "user_agent": CHROME,
        "received_at": dt.datetime.now(dt.UTC),
    }
    fields.update(changes)
    return Incoming(**fields)  # type: ignore[arg-type]


def outcome(item: Incoming) -> Incoming | Drop:
    return run(item, pipeline(SiteDirectory(ttl=0)))


def test_a_normal_pageview_passes_with_its_site(shop: object) -> None:
    result = outcome(incoming())
    assert isinstance(result, Incoming)
    assert result.site is not None and result.site.domain == "shop-steps.com"


@pytest.mark.parametrize(
    "user_agent",
    [
        "",
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
        "curl/8.5.0",
        "python-requests/2.32.3",
        "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    ],
)
def test_bots_are_dropped(shop: object, user_agent: str) -> None:
    assert outcome(incoming(user_agent=user_agent)) == Drop(DropReason.BOT)


@pytest.mark.parametrize(
    "user_agent",
    [
        CHROME,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0",
    ],
)
def test_browsers_are_not_bots(user_agent: str) -> None:
    assert not is_bot(user_agent)


def test_bot_verdicts_are_cached() -> None:
    is_bot(CHROME)
    start = time.perf_counter()
    for _ in range(1000):
        is_bot(CHROME)
    assert (time.perf_counter() - start) / 1000 < 20e-6


@pytest.mark.parametrize(
    ("referrer", "dropped"),
    [
        ("https://semalt.com/", True),  # on the spam list (docs/referrers.md)
        ("https://a.b.semalt.com/page", True),  # a subdomain of a listed domain
        ("https://www.google.com/", False),
        ("", False),
    ],
)
def test_referrer_spam_is_dropped(shop: object, referrer: str, dropped: bool) -> None:
    event = EventInput(
        name="pageview",
        url="https://shop-steps.com/product/1",
        domains=("shop-steps.com",),
        referrer=referrer,
    )
    result = outcome(incoming(event=event))
    assert (result == Drop(DropReason.REFERRER_SPAM)) is dropped
    assert dropped or isinstance(result, Incoming)


def _limited(organization: object, rate: float, burst: int | None) -> None:
    OrganizationLimits.objects.update_or_create(
        organization=organization, defaults={"site_events_per_second": rate, "site_burst": burst}
    )


def test_rate_limited_per_site(shop: object) -> None:
    other = factories.site(factories.organization(), "other-steps.com")
    _limited(shop.organization, rate=1, burst=2)  # type: ignore[attr-defined]
    _limited(other.organization, rate=1, burst=2)
    steps = pipeline(SiteDirectory(ttl=0), SiteRateLimit(LocalBuckets()))
    results = [run(incoming(), steps) for _ in range(3)]
    assert [isinstance(r, Incoming) for r in results[:2]] == [True, True]  # the burst
    assert results[2] == Drop(DropReason.RATE_LIMITED)
    event = EventInput(name="pageview", url="https://other-steps.com/", domains=(other.domain,))
    assert isinstance(run(incoming(event=event), steps), Incoming)  # a bucket per site


def test_events_dropped_earlier_do_not_use_the_rate(shop: object) -> None:
    _limited(shop.organization, rate=1, burst=1)  # type: ignore[attr-defined]
    steps = pipeline(SiteDirectory(ttl=0), SiteRateLimit(LocalBuckets()))
    for _ in range(3):
        assert run(incoming(do_not_track=True), steps) == Drop(DropReason.DO_NOT_TRACK)
    assert isinstance(run(incoming(), steps), Incoming)
    assert run(incoming(), steps) == Drop(DropReason.RATE_LIMITED)


def test_no_limit_with_a_rate_of_zero(shop: object) -> None:
    _limited(shop.organization, rate=0, burst=None)  # type: ignore[attr-defined]
    steps = pipeline(SiteDirectory(ttl=0), SiteRateLimit(LocalBuckets()))
    assert all(isinstance(run(incoming(), steps), Incoming) for _ in range(50))


def test_over_quota_is_dropped_when_enforced(shop: object) -> None:
    limits = OrganizationLimits.objects.create(
        organization=shop.organization,  # type: ignore[attr-defined]
        monthly_quota=10,
        quota_enforce=True,
        over_quota=True,
    )
    steps = pipeline(SiteDirectory(ttl=0))
    assert run(incoming(), steps) == Drop(DropReason.OVER_QUOTA)
    OrganizationLimits.objects.filter(pk=limits.pk).update(over_quota=False)
    assert isinstance(run(incoming(), steps), Incoming)


def test_unknown_site_is_dropped(shop: object) -> None:
    event = EventInput(name="pageview", url="https://nobody.com/", domains=("nobody.com",))
    assert outcome(incoming(event=event)) == Drop(DropReason.UNKNOWN_SITE)
    by_uuid = EventInput(name="pageview", url="/", website="00000000-0000-0000-0000-000000000000")
    assert outcome(incoming(event=by_uuid)) == Drop(DropReason.UNKNOWN_SITE)


def test_site_found_by_umami_website_id(shop: object) -> None:
    event = EventInput(name="pageview", url="https://shop-steps.com/", website=str(shop.public_id))  # type: ignore[attr-defined]
    result = outcome(incoming(event=event))
    assert isinstance(result, Incoming) and result.site is not None


def test_data_domain_is_matched_leniently(shop: object) -> None:
    event = EventInput(
        name="pageview", url="https://shop-steps.com/", domains=("WWW.Shop-Steps.com",)
    )
    assert isinstance(outcome(incoming(event=event)), Incoming)


@pytest.mark.parametrize(
    ("domain", "sent", "url"),
    [
        ("intranet", "Intranet", "http://intranet/wiki"),
        ("nas.lan", "www.nas.lan", "http://nas.lan:5000/"),
        ("app.local", "app.local.", "https://app.local/"),
        ("shop.test", "shop.test", "https://eu.shop.test/"),
        ("bücher.de", "bücher.de", "https://xn--bcher-kva.de/"),
        ("bücher.de", "xn--bcher-kva.de", "https://www.xn--bcher-kva.de/"),
    ],
)
def test_a_site_on_any_host_name_receives_its_events(domain: str, sent: str, url: str) -> None:
    site = factories.site(factories.organization(), domain)
    event = EventInput(name="pageview", url=url, domains=(sent,))
    result = outcome(incoming(event=event))
    assert isinstance(result, Incoming) and result.site is not None
    assert result.site.id == site.id


@pytest.mark.parametrize(
    "url", ["http://wiki.lan/", "http://10.0.0.5:8080/", "http://[fd00::5]/", "http://intranet/"]
)
def test_an_intranet_site_allows_its_network(url: str) -> None:
    site = factories.site(factories.organization(), "intranet")
    site_update(site=site, extra_hostnames=["*.lan", "10.0.0.5", "[FD00::5]"])
    sent = EventInput(name="pageview", url=url, domains=("intranet",))
    assert isinstance(outcome(incoming(event=sent)), Incoming)


def test_an_intranet_site_drops_other_hosts() -> None:
    site = factories.site(factories.organization(), "intranet")
    site_update(site=site, extra_hostnames=["*.lan", "10.0.0.5"])
    for url in ("http://wiki.corp/", "http://10.0.0.6/", "http://lan.corp/"):
        foreign = EventInput(name="pageview", url=url, domains=("intranet",))
        assert outcome(incoming(event=foreign)) == Drop(DropReason.HOSTNAME_NOT_ALLOWED)


def test_a_data_domain_that_is_no_host_name_finds_no_site() -> None:
    event = EventInput(name="pageview", url="https://x.de/", domains=("bü\x00cher..de",))
    assert outcome(incoming(event=event)) == Drop(DropReason.UNKNOWN_SITE)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://shop-steps.com/x", True),
        ("https://www.shop-steps.com/x", True),
        ("https://eu.shop-steps.com/x", True),
        ("https://img.shop-cdn.net/x", True),
        ("https://shop-cdn.net/x", True),
        ("https://evil.com/x", False),
        ("https://shop-steps.com.evil.com/x", False),
        ("https://notshop-steps.com/x", False),
    ],
)
def test_foreign_hostnames_are_dropped(shop: object, url: str, allowed: bool) -> None:
    result = outcome(incoming(url=url))
    assert (
        isinstance(result, Incoming) if allowed else result == Drop(DropReason.HOSTNAME_NOT_ALLOWED)
    )


def test_trusted_server_events_skip_the_hostname_check(shop: object) -> None:
    assert isinstance(outcome(incoming(url="app://localhost/login", trusted=True)), Incoming)


@pytest.mark.parametrize(
    ("ip", "dropped"),
    [("203.0.113.9", True), ("198.51.100.7", False), ("not-an-ip", False), ("", False)],
)
def test_excluded_ips_are_dropped(shop: object, ip: str, dropped: bool) -> None:
    result = outcome(incoming(ip=ip))
    assert (result == Drop(DropReason.EXCLUDED_IP)) is dropped


@pytest.mark.parametrize(
    ("path", "dropped"),
    [
        ("/admin/", True),
        ("/admin/users/7", True),
        ("/preview", True),
        ("/preview/2", False),
        ("/administrator", False),
        ("/", False),
    ],
)
def test_excluded_paths_are_dropped(shop: object, path: str, dropped: bool) -> None:
    result = outcome(incoming(url=f"https://shop-steps.com{path}?q=1"))
    assert (result == Drop(DropReason.EXCLUDED_PATH)) is dropped


def test_do_not_track_is_honoured_only_when_the_site_asks(shop: object) -> None:
    assert outcome(incoming(do_not_track=True)) == Drop(DropReason.DO_NOT_TRACK)
    site_update(site=shop, honor_dnt=False)  # type: ignore[arg-type]
    assert isinstance(outcome(incoming(do_not_track=True)), Incoming)


def test_directory_sees_changes_after_its_ttl(shop: object) -> None:
    sites = SiteDirectory(ttl=60)
    assert sites.by_domain("shop-steps.com") is not None
    factories.site(factories.organization(), "later-steps.com")
    assert sites.by_domain("later-steps.com") is None  # cached: no query per event
    sites.invalidate()
    assert sites.by_domain("later-steps.com") is not None


def test_no_database_query_per_event(shop: object, django_assert_num_queries: object) -> None:
    steps = pipeline(SiteDirectory(ttl=60))
    run(incoming(), steps)  # loads the directory once
    with django_assert_num_queries(0):  # type: ignore[operator]
        for i in range(200):
            assert isinstance(run(incoming(url=f"https://shop-steps.com/p/{i}"), steps), Incoming)
