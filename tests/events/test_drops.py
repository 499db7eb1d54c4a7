"""Counting dropped events per site and reason (events/ingest/drops.py), through the real
endpoints: what the installation box reads."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.test import Client, TestCase

from events.ingest.drops import BUCKET_SECONDS, HOST_CAP, DropCounter, recent_drops
from events.ingest.request import EventInput
from events.ingest.sites import directory
from events.ingest.steps import DropReason, Incoming
from sites import services
from sites.models import Site
from tests import factories
from tests.wsgi_client import post

pytestmark = pytest.mark.django_db

DOMAIN = "drops-trail.org"
HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/131.0.0.0"


def pageview(url: str, domain: str = DOMAIN) -> str:
    return json.dumps({"n": "pageview", "u": url, "d": domain})


def change(site: Site, **fields: object) -> None:
    """Change the site through the service. Its after-commit announcement reloads the ingest
    directory; the test's transaction never commits, so its callbacks run here."""
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        services.site_update(site=site, **fields)


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    made = make_site(DOMAIN)
    change(made, extra_hostnames=["shop.example.net"])
    return made


def test_refused_host_names_are_counted_per_name(site: Site) -> None:
    for url in ("https://evil.example.com/a", "https://evil.example.com/b", "https://x.test/"):
        assert post("/api/event", pageview(url)).dropped == "hostname_not_allowed"
    assert post("/api/event", pageview("https://shop.example.net/")).dropped is None
    drops = recent_drops(site_id=site.id)
    assert drops.by_reason == {DropReason.HOSTNAME_NOT_ALLOWED: 3}
    assert drops.refused_hosts == [("evil.example.com", 2), ("x.test", 1)]


def test_drops_before_the_site_is_known_count_for_it(site: Site) -> None:
    """A bot is dropped before the site is resolved: it still counts for the site."""
    url = f"https://{DOMAIN}/"
    assert post("/api/event", pageview(url), user_agent=HEADLESS).dropped == "bot"
    assert post("/api/event", pageview(url), user_agent="").dropped == "bot"
    assert recent_drops(site_id=site.id).by_reason == {DropReason.BOT: 2}


def test_excluded_paths_ips_and_do_not_track(site: Site) -> None:
    change(site, excluded_paths=["/admin/*"], excluded_ips=["203.0.113.9"], honor_dnt=True)
    home = pageview(f"https://{DOMAIN}/")
    assert post("/api/event", pageview(f"https://{DOMAIN}/admin/x")).dropped == "excluded_path"
    assert post("/api/event", home, remote_addr="203.0.113.9").dropped == "excluded_ip"
    assert post("/api/event", home, headers={"DNT": "1"}).dropped == "do_not_track"
    assert post("/api/event", home, headers={"Sec-GPC": "1"}).dropped == "do_not_track"
    assert recent_drops(site_id=site.id).by_reason == {
        DropReason.EXCLUDED_PATH: 1,
        DropReason.EXCLUDED_IP: 1,
        DropReason.DO_NOT_TRACK: 2,
    }


def test_the_umami_endpoint_and_the_batch_api_count_in_the_same_place(
    site: Site, client: Client
) -> None:
    umami = {
        "type": "event",
        "payload": {"website": str(site.public_id), "url": "https://evil.example.com/"},
    }
    answer = post("/api/send", json.dumps(umami), content_type="application/json")
    assert answer.dropped == "hostname_not_allowed"
    _, key = factories.api_key(site.organization, scopes=("events:write",))
    bot = {"domain": DOMAIN, "name": "pageview", "url": "https://x/", "user_agent": HEADLESS}
    response = client.post(
        "/api/v1/events",
        data=json.dumps({"events": [bot]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.json()["rejected"] == [{"index": 0, "reason": "bot"}]
    assert recent_drops(site_id=site.id).by_reason == {
        DropReason.HOSTNAME_NOT_ALLOWED: 1,
        DropReason.BOT: 1,
    }


def test_unknown_sites_and_other_sites_are_not_counted(
    site: Site, make_site: Callable[..., Site]
) -> None:
    other = make_site("other-drops-trail.org", extra_hostnames=["cdn.other-drops-trail.net"])
    assert post("/api/event", pageview("https://a.test/", "nowhere.test")).dropped == "unknown_site"
    post("/api/event", pageview("https://a.test/", other.domain))
    assert recent_drops(site_id=site.id).by_reason == {}
    assert recent_drops(site_id=other.id).by_reason == {DropReason.HOSTNAME_NOT_ALLOWED: 1}


def test_accepted_events_count_nothing(site: Site) -> None:
    for _ in range(3):
        assert post("/api/event", pageview(f"https://www.{DOMAIN}/")).dropped is None
    drops = recent_drops(site_id=site.id)
    assert drops.by_reason == {} and drops.refused_hosts == [] and drops.total == 0


def _incoming(site: Site, url: str) -> Incoming:
    config = directory.by_domain(site.domain)
    assert config is not None
    return Incoming(
        event=EventInput(name="pageview", url=url, domains=(site.domain,)),
        ip="198.51.100.7",
        user_agent="test",
        received_at=dt.datetime.now(dt.UTC),
        site=config,
    )


def test_only_the_last_hour_counts(site: Site) -> None:
    now = time.time()
    for minutes_ago, times in ((120, 5), (61, 4), (30, 2), (0, 1)):
        counter = DropCounter(clock=lambda at=now - minutes_ago * 60: at)
        for _ in range(times):
            counter.record(_incoming(site, "https://old.test/"), DropReason.HOSTNAME_NOT_ALLOWED)
        counter.publish()
    drops = recent_drops(site_id=site.id, now=now)
    assert drops.by_reason == {DropReason.HOSTNAME_NOT_ALLOWED: 3}
    assert drops.refused_hosts == [("old.test", 3)]
    # an hour later, nothing is left
    assert recent_drops(site_id=site.id, now=now + 3600 + BUCKET_SECONDS).total == 0


def test_a_flood_of_host_names_keeps_at_most_the_cap(site: Site) -> None:
    """At most HOST_CAP names per site and 5-minute bucket are kept; the box reads the
    HOST_CAP most refused (exactly HOST_CAP here, even if the test straddles two buckets)."""
    for i in range(HOST_CAP * 3):
        post("/api/event", pageview(f"https://h{i}.flood.test/"))
    long = "a" * 60 + "." + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + ".test"  # 254 chars
    post("/api/event", pageview(f"https://{long}/"))
    drops = recent_drops(site_id=site.id)
    assert drops.by_reason == {DropReason.HOSTNAME_NOT_ALLOWED: HOST_CAP * 3 + 1}
    assert len(drops.refused_hosts) == HOST_CAP
    assert {host for host, _ in drops.refused_hosts} <= {
        f"h{i}.flood.test" for i in range(HOST_CAP * 3)
    }
    # the names already kept still count
    post("/api/event", pageview("https://h0.flood.test/"))
    assert dict(recent_drops(site_id=site.id).refused_hosts)["h0.flood.test"] == 2


def test_counts_are_published_without_a_reader(site: Site) -> None:
    counter = DropCounter(interval=0.05)
    counter.record(_incoming(site, "https://timer.test/"), DropReason.HOSTNAME_NOT_ALLOWED)
    deadline = time.monotonic() + 5
    while recent_drops(site_id=site.id).total == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert recent_drops(site_id=site.id).refused_hosts == [("timer.test", 1)]


@pytest.mark.skipif(
    not settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"),
    reason="reads the local-memory cache's values",
)
def test_no_ip_or_user_agent_is_kept(site: Site) -> None:
    post(
        "/api/event",
        pageview("https://evil.example.com/"),
        remote_addr="192.0.2.77",
        user_agent="Secret-Agent/1.0 (unique)",
    )
    recent_drops(site_id=site.id)
    stored = b"\n".join(cache._cache.values())  # type: ignore[attr-defined]  (pickled values)
    assert b"evil.example.com" in stored
    assert b"192.0.2.77" not in stored and b"Secret-Agent" not in stored


@pytest.mark.services
def test_two_processes_add_up_in_redis(site: Site) -> None:
    """Two web processes: two counters, each publishing its own counts to Redis."""
    first, second = DropCounter(), DropCounter()
    for counter, hosts in ((first, ["a.test", "b.test"]), (second, ["b.test", "c.test"])):
        for host in hosts:
            counter.record(_incoming(site, f"https://{host}/"), DropReason.HOSTNAME_NOT_ALLOWED)
        counter.record(_incoming(site, f"https://{DOMAIN}/"), DropReason.EXCLUDED_PATH)
    first.publish()
    second.publish()
    drops = recent_drops(site_id=site.id)
    assert drops.by_reason == {
        DropReason.HOSTNAME_NOT_ALLOWED: 4,
        DropReason.EXCLUDED_PATH: 2,
    }
    assert drops.refused_hosts == [("b.test", 2), ("a.test", 1), ("c.test", 1)]
