"""The per-site rate limit shared through Redis, its fail-open, the monthly quota job, its
mails and the admin's settings (docs/limits.md)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core import mail

from accounts.models import Role, User
from events.ingest import edge
from events.ingest.edge import Collector
from events.ingest.request import EventInput
from events.ingest.sites import SiteDirectory, directory
from events.ingest.steps import Incoming, pipeline
from events.limits import quota
from events.limits.models import DailySiteUsage, MonthlyUsage, OrganizationLimits
from events.limits.ratelimit import SharedBuckets, SiteRateLimit, redis_client
from events.spool import Spool
from sites.models import Site
from tests import factories
from tests.helpers import free_port
from tests.wsgi_client import post

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/1"


def _incoming(domain: str) -> Incoming:
    return Incoming(
        event=EventInput(name="pageview", url=f"https://{domain}/", domains=(domain,)),
        ip="198.51.100.7",
        user_agent=BROWSER,
        received_at=dt.datetime.now(dt.UTC),
    )


@pytest.fixture
def redis() -> Any:
    client = redis_client(REDIS_URL)
    try:
        client.ping()
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"no Redis at {REDIS_URL}: {error}")
    return client


def _shared(prefix: str, **options: Any) -> SharedBuckets:
    return SharedBuckets(redis_client(REDIS_URL), prefix=prefix, **options)


def test_two_collectors_share_one_bucket_through_redis(
    redis: Any, make_site: Callable[..., Site], tmp_path: Path
) -> None:
    """Two collectors with their own limiters and Redis connections, as two web processes
    have: together they accept the burst once, not once each."""
    site = make_site("shared-rate.com")
    OrganizationLimits.objects.create(
        organization=site.organization, site_events_per_second=0.2, site_burst=40
    )
    prefix = f"test:{uuid.uuid4().hex}:"
    first, second = _shared(prefix), _shared(prefix)
    sinks = [Spool(tmp_path / "a"), Spool(tmp_path / "b")]
    try:
        collectors = [
            Collector(pipeline(SiteDirectory(ttl=0), SiteRateLimit(buckets)), sink)
            for buckets, sink in zip((first, second), sinks, strict=True)
        ]
        accepted = [0, 0]
        for n in range(120):
            outcome = collectors[n % 2].accept([_incoming(site.domain)])
            accepted[n % 2] += outcome.accepted
            if not outcome.accepted:
                assert outcome.drops == ((0, "rate_limited"),)
        assert 40 <= sum(accepted) <= 41  # the burst, plus at most one refilled token
        assert min(accepted) >= 15  # both processes drew from the one bucket
        assert sinks[0].appended + sinks[1].appended == sum(accepted)
    finally:
        for sink in sinks:
            sink.close()
        redis.delete(f"{prefix}{site.id}")


def test_tokens_are_leased_in_chunks_not_per_event(redis: Any) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    buckets = _shared(prefix)
    limit = SiteRateLimit(buckets)
    allowed = sum(limit.allows(7, rate=1000, burst=1000) for _ in range(800))
    assert allowed == 800
    assert buckets.calls <= 10  # 100 tokens a lease (100 ms of the rate)
    redis.delete(f"{prefix}7")


def test_a_flood_over_the_limit_does_not_ask_redis_per_event(redis: Any) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    buckets = _shared(prefix)
    limit = SiteRateLimit(buckets)
    started = time.monotonic()
    allowed = sum(limit.allows(8, rate=10, burst=5) for _ in range(5000))
    elapsed = time.monotonic() - started
    assert 5 <= allowed <= 5 + 10 * elapsed + 1
    # an empty bucket is asked again after it refills a chunk (0.1 s here)
    assert buckets.calls <= 5 + 12 * (elapsed + 0.1)
    redis.delete(f"{prefix}8")


@pytest.fixture
def spare_redis() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A second redis-server on a free port, for the test to kill."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        ["/usr/bin/redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis_client(f"redis://127.0.0.1:{port}/0")
    for _ in range(100):
        try:
            client.ping()
            break
        except Exception:  # noqa: BLE001
            time.sleep(0.05)
    yield port, process
    process.kill()
    process.wait()


def test_redis_outage_fails_open_with_one_log_line_per_interval(
    spare_redis: tuple[int, subprocess.Popen[bytes]], caplog: pytest.LogCaptureFixture
) -> None:
    port, process = spare_redis
    buckets = SharedBuckets(
        redis_client(f"redis://127.0.0.1:{port}/0"), retry_every=0, log_every=0.5
    )
    limit = SiteRateLimit(buckets)
    assert [limit.allows(9, rate=0.01, burst=3) for _ in range(5)] == [True] * 3 + [False] * 2

    process.kill()
    process.wait()
    caplog.set_level(logging.WARNING, logger="events.limits.ratelimit")
    started = time.monotonic()
    calls = buckets.calls
    while time.monotonic() - started < 0.3:  # inside one interval
        assert limit.allows(11, rate=0.01, burst=3)  # open: every event passes
    assert buckets.calls - calls > 10  # Redis was asked (retry_every=0), and failed
    lines = [r for r in caplog.records if r.name == "events.limits.ratelimit"]
    assert len(lines) == 1
    assert "Redis failed" in lines[0].getMessage() and lines[0].levelno == logging.WARNING

    time.sleep(0.3)  # the next interval
    for _ in range(50):
        assert limit.allows(11, rate=0.01, burst=3)
    lines = [r for r in caplog.records if r.name == "events.limits.ratelimit"]
    assert len(lines) == 2


def test_an_unreachable_redis_is_retried_later_not_per_event() -> None:
    port = free_port()  # nothing listens there
    buckets = SharedBuckets(redis_client(f"redis://127.0.0.1:{port}/0"), retry_every=30)
    limit = SiteRateLimit(buckets)
    assert all(limit.allows(10, rate=1, burst=1) for _ in range(1000))
    assert buckets.calls == 1  # then open for 30 s without asking


def test_limits_follow_the_organization_and_the_instance_default(
    make_site: Callable[..., Site], settings: Any
) -> None:
    site = make_site("defaults-rate.com")
    found = SiteDirectory(ttl=0).by_domain(site.domain)
    assert found is not None
    assert found.rate == settings.TRAIL.ingest.site_events_per_second
    OrganizationLimits.objects.create(organization=site.organization, site_events_per_second=5)
    found = SiteDirectory(ttl=0).by_domain(site.domain)
    assert found is not None and (found.rate, found.burst, found.over_quota) == (5, 50, False)


def _seed_n(seed: Callable[..., None], site: Site, n: int) -> None:
    seed(site, [{"domain": site.domain, "name": "pageview", "url": f"https://{site.domain}/"}] * n)


def test_the_quota_job_counts_this_months_events_from_clickhouse(
    make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    site = make_site("counted-usage.com")
    other = make_site("counted-other.com", organization=site.organization)
    _seed_n(seed, site, 7)
    _seed_n(seed, other, 3)
    seed(site, [{"domain": site.domain, "name": "engagement", "url": "https://x/", "props": {}}])

    counts = quota.count_usage()

    assert counts[site.organization_id] == 10  # engagement events are not counted
    usage = MonthlyUsage.objects.get(organization=site.organization)
    assert usage.events == 10 and usage.month == dt.datetime.now(dt.UTC).date().replace(day=1)
    today = dt.datetime.now(dt.UTC).date()
    stored = DailySiteUsage.objects.filter(site__organization=site.organization, day=today)
    assert dict(stored.values_list("site_id", "events")) == {site.id: 7, other.id: 3}
    assert mail.outbox == []  # no quota, no mail


def test_quota_mails_at_80_and_100_percent_once_each(
    make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    site = make_site("mailed-usage.com")
    org = site.organization
    admin = factories.member(org, Role.ADMIN)
    factories.member(org, Role.VIEWER)
    owner = User.objects.get(memberships__organization=org, memberships__role=Role.OWNER)
    OrganizationLimits.objects.create(organization=org, monthly_quota=10)

    _seed_n(seed, site, 7)
    quota.count_usage()
    assert mail.outbox == []  # 70%

    _seed_n(seed, site, 1)
    quota.count_usage()
    quota.count_usage()  # a second run (or a restart) does not resend
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == sorted([owner.email, admin.email])  # not the viewer
    assert "80%" in mail.outbox[0].subject and "8 of its 10 events" in mail.outbox[0].body

    _seed_n(seed, site, 3)
    quota.count_usage()
    quota.count_usage()
    assert len(mail.outbox) == 2
    assert "used up" in mail.outbox[1].subject and "still recorded" in mail.outbox[1].body
    usage = MonthlyUsage.objects.get(organization=org)
    assert usage.mailed_80_at and usage.mailed_100_at and usage.events == 11
    assert not OrganizationLimits.objects.get(organization=org).over_quota  # only notify


def test_over_quota_drops_when_enforced_and_resumes_next_month(
    make_site: Callable[..., Site], seed: Callable[..., None], tmp_path: Path
) -> None:
    site = make_site("enforced-usage.com")
    OrganizationLimits.objects.create(
        organization=site.organization, monthly_quota=5, quota_enforce=True
    )
    _seed_n(seed, site, 5)
    quota.count_usage()
    assert OrganizationLimits.objects.get(organization=site.organization).over_quota
    directory.invalidate()  # the save announces it after commit; tests never commit
    body = json.dumps({"n": "pageview", "u": f"https://{site.domain}/"})
    assert post("/api/event", body).dropped == "over_quota"
    assert len(mail.outbox) == 1 and "dropped" in mail.outbox[0].body

    next_month = (dt.datetime.now(dt.UTC).replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    quota.count_usage(now=next_month)
    assert not OrganizationLimits.objects.get(organization=site.organization).over_quota
    directory.invalidate()
    edge.reset_collector()
    assert post("/api/event", body).dropped is None


def test_a_failed_mail_is_retried_by_the_next_run(
    make_site: Callable[..., Site], seed: Callable[..., None], settings: Any
) -> None:
    site = make_site("retried-usage.com")
    OrganizationLimits.objects.create(organization=site.organization, monthly_quota=4)
    _seed_n(seed, site, 4)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # refused
    quota.count_usage()
    assert MonthlyUsage.objects.get(organization=site.organization).mailed_100_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    quota.count_usage()
    assert len(mail.outbox) == 1
    assert MonthlyUsage.objects.get(organization=site.organization).mailed_100_at is not None


@pytest.fixture
def staff(client: Any) -> Any:
    client.force_login(User.objects.create_superuser("root@example.com", "pw-unused-1"))
    return client


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("site_events_per_second", "-5", "Enter a rate between 0 (no limit) and 1,000,000"),
        ("site_events_per_second", "1e12", "Enter a rate between 0 (no limit) and 1,000,000"),
        ("site_events_per_second", "nan", "Enter a number."),
        ("site_burst", "2000000000", "Enter a burst between 1 and 100,000,000 events."),
        ("site_burst", "-1", "greater than or equal to 0"),
        ("monthly_quota", "0", "Enter a quota between 1 and"),
        ("quota_enforce", "on", "Set a monthly quota to enforce."),
    ],
)
def test_the_admin_refuses_bad_limits_with_a_clear_message(
    staff: Any, field: str, value: str, message: str
) -> None:
    org = factories.organization()
    form = {"organization": str(org.id), "site_events_per_second": "10", "site_burst": ""}
    form[field] = value
    answer = staff.post("/admin/events/organizationlimits/add/", form)
    assert answer.status_code == 200  # the form again, with the error
    assert message in answer.content.decode()
    assert not OrganizationLimits.objects.filter(organization=org).exists()


def test_the_admin_saves_good_limits_and_the_directory_sees_them(
    staff: Any, make_site: Callable[..., Site]
) -> None:
    site = make_site("admin-limits.com")
    form = {
        "organization": str(site.organization_id),
        "site_events_per_second": "2.5",
        "site_burst": "7",
        "monthly_quota": "1000",
        "quota_enforce": "on",
    }
    answer = staff.post("/admin/events/organizationlimits/add/", form)
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    found = SiteDirectory(ttl=0).by_domain(site.domain)
    assert found is not None and (found.rate, found.burst) == (2.5, 7)


def test_the_last_day_of_last_month_is_counted_per_day_not_in_the_month(
    make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    site = make_site("boundary-usage.com")
    month = dt.datetime.now(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    before = month - dt.timedelta(hours=1)
    event = {"domain": site.domain, "name": "pageview", "url": f"https://{site.domain}/"}
    seed(
        site,
        [{**event, "timestamp": before.isoformat()}, {**event, "timestamp": month.isoformat()}],
    )
    seed(site, [event])
    quota.count_usage()
    assert MonthlyUsage.objects.get(organization=site.organization).events == 2
    days = dict(DailySiteUsage.objects.filter(site=site).values_list("day", "events"))
    assert days[before.date()] == 1
    assert sum(days.values()) == 3


def test_ingest_keeps_accepting_into_the_spool_while_redis_is_down(
    make_site: Callable[..., Site],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = make_site("open-rate.com")
    OrganizationLimits.objects.create(
        organization=site.organization, site_events_per_second=0.01, site_burst=1
    )
    down = SharedBuckets(redis_client(f"redis://127.0.0.1:{free_port()}/0"))
    sink = Spool(tmp_path / "spool")
    caplog.set_level(logging.WARNING, logger="events.limits.ratelimit")
    try:
        collector = Collector(pipeline(directory, SiteRateLimit(down)), sink)
        monkeypatch.setattr(edge, "_collector", collector)
        body = json.dumps({"n": "pageview", "u": f"https://{site.domain}/"})
        answers = [post("/api/event", body) for _ in range(5)]
        assert [a.status for a in answers] == [202] * 5
        assert [a.dropped for a in answers] == [None] * 5  # over the limit, but open
        assert sink.appended == 5
        assert len([r for r in caplog.records if r.name == "events.limits.ratelimit"]) == 1
    finally:
        sink.close()


def test_threads_of_two_processes_never_exceed_the_shared_bucket(redis: Any) -> None:
    import threading

    prefix = f"test:{uuid.uuid4().hex}:"
    limits = [SiteRateLimit(_shared(prefix)), SiteRateLimit(_shared(prefix))]
    allowed: list[int] = []

    def send(limit: SiteRateLimit) -> None:
        allowed.append(sum(limit.allows(12, rate=0.2, burst=50) for _ in range(100)))

    threads = [threading.Thread(target=send, args=(limits[n % 2],)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 50 <= sum(allowed) <= 51
    redis.delete(f"{prefix}12")


def test_the_count_is_a_periodic_job_of_both_runners() -> None:
    from events import jobs

    job = {j.name: j for j in jobs.registered()}[quota.COUNT_JOB]
    assert job.every == 300 and job.func is quota.count_usage
