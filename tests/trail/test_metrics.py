"""`/metrics` (trail/metrics_view.py, common/metrics.py): real events through the real ingest
route and flush, scraped and read back with Prometheus's own text parser; who may scrape."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings

from common.clients import IPNetwork
from events.flush import FlushReport
from sites.models import Site
from tests.metrics_scrape import moved, scrape, value
from tests.wsgi_client import post

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-metrics-token-0123456789"


@pytest.fixture
def trail_settings() -> Iterator[Callable[..., None]]:
    """Override fields of settings.TRAIL for the rest of the test."""
    stack: list[override_settings] = []

    def change(**fields: object) -> None:
        override = override_settings(TRAIL=replace(settings.TRAIL, **fields))
        override.enable()
        stack.append(override)

    yield change
    for override in reversed(stack):
        override.disable()


def test_ingest_and_flush_move_the_counters_by_what_happened(
    client: Client, make_site: Callable[..., Site], flush: Callable[..., FlushReport]
) -> None:
    site = make_site("metrics-shop.example")
    flush()  # whatever earlier tests left in the spool is not this test's
    before = scrape(client)

    body = '{"n":"pageview","u":"https://metrics-shop.example/%d","d":"metrics-shop.example"}'
    for page in range(3):
        assert post("/api/event", body % page).status == 202
    unknown = post("/api/event", '{"n":"pageview","u":"https://x.example/","d":"x.example"}')
    assert unknown.dropped == "unknown_site"
    bot = post("/api/event", body % 9, user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)")
    assert bot.dropped == "bot"
    malformed = post("/api/event", "{not json")
    assert malformed.status == 400  # refused, not an event: counted by status
    wrong_type = post("/api/event", body % 1, content_type="application/xml")
    assert wrong_type.status == 415
    identify = post(
        "/api/send", '{"type":"identify","payload":{"website":"x","data":{"plan":"pro"}}}'
    )
    assert identify.dropped == "identify"

    middle = scrape(client)
    assert moved(before, middle, "trail_ingest_events_accepted_total") == 3
    assert moved(before, middle, "trail_ingest_events_dropped_total", reason="unknown_site") == 1
    assert moved(before, middle, "trail_ingest_events_dropped_total", reason="bot") == 1
    assert moved(before, middle, "trail_ingest_events_dropped_total", reason="identify") == 1
    assert moved(before, middle, "trail_ingest_requests_refused_total", status="400") == 1
    assert moved(before, middle, "trail_ingest_requests_refused_total", status="415") == 1
    assert value(middle, "trail_spool_bytes") > 0  # waiting for the flush
    assert value(middle, "trail_spool_segments") >= 1

    report = flush()
    assert report.events == 3 and report.segments >= 1
    after = scrape(client)
    assert moved(middle, after, "trail_flush_events_total") == 3
    assert moved(middle, after, "trail_flush_segments_total") == report.segments
    assert moved(middle, after, "trail_flush_batch_events_count") == report.segments
    assert moved(middle, after, "trail_flush_batch_events_sum") == 3
    assert moved(middle, after, "trail_flush_lag_seconds_count") == report.segments
    inserts = moved(middle, after, "trail_clickhouse_insert_seconds_count", table="events")
    assert inserts == report.segments  # one block per segment, none rejected
    assert moved(middle, after, "trail_clickhouse_insert_seconds_count", table="sessions") >= 1
    assert moved(middle, after, "trail_clickhouse_insert_seconds_sum", table="events") > 0
    assert moved(middle, after, "trail_clickhouse_query_seconds_count") >= 1  # open visits
    assert value(after, "trail_spool_bytes") == 0
    assert value(after, "trail_metrics_scrape_errors", part="spool") == 0
    assert value(after, "trail_metrics_scrape_errors", part="data_jobs") == 0
    assert value(after, "trail_metrics_scrape_errors", part="destinations") == 0
    if settings.TRAIL.redis_url:  # services mode: Celery's queue is read from Redis
        assert ("trail_celery_queue_length", (("queue", "celery"),)) in after
        assert value(after, "trail_metrics_scrape_errors", part="celery") == 0
    assert site.domain not in str(after)  # no tenant is ever a label


def test_a_panel_and_the_series_are_timed_by_panel(
    client: Client, make_site: Callable[..., Site], flush: Callable[..., FlushReport]
) -> None:
    from reports.panels import series, tab_results

    site = make_site("metrics-panels.example")
    post(
        "/api/event",
        '{"n":"pageview","u":"https://metrics-panels.example/","d":"metrics-panels.example"}',
    )
    flush()
    before = scrape(client)
    base = {"site_id": site.domain, "date_range": "7d"}
    _, found = tab_results(site, base, "pages", "pages", limit=10)
    assert found
    series(site, base, metric="visitors")
    after = scrape(client)
    assert moved(before, after, "trail_report_panel_seconds_count", panel="pages") == 1
    assert moved(before, after, "trail_report_panel_seconds_count", panel="series") == 1
    assert moved(before, after, "trail_report_panel_seconds_sum", panel="pages") > 0


def test_a_failed_periodic_job_is_counted(client: Client) -> None:
    from events import jobs

    def broken() -> None:
        raise RuntimeError("this job fails")

    jobs.periodic(every=60, name="tests.metrics_broken")(broken)
    try:
        before = scrape(client)
        with pytest.raises(RuntimeError):
            jobs.run("tests.metrics_broken")
        after = scrape(client)
    finally:
        jobs.unregister("tests.metrics_broken")
    name = "trail_periodic_job_failures_total"
    assert moved(before, after, name, job="tests.metrics_broken") == 1
    assert moved(before, after, "trail_periodic_job_seconds_count", job="tests.metrics_broken") == 1


# Who may scrape.


def test_with_a_token_only_its_bearer_reads(
    client: Client, trail_settings: Callable[..., None]
) -> None:
    trail_settings(metrics_token=TOKEN)
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic " + TOKEN).status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer " + TOKEN[:-1] + "x")
    assert wrong.status_code == 403
    assert TOKEN not in wrong.content.decode()
    longer = client.get("/metrics", HTTP_AUTHORIZATION="Bearer " + TOKEN + "0")
    assert longer.status_code == 403
    # The token opens it from anywhere, loopback or not.
    scrape(client, HTTP_AUTHORIZATION="Bearer " + TOKEN, REMOTE_ADDR="203.0.113.9")


def test_without_a_token_loopback_only(client: Client) -> None:
    assert settings.TRAIL.metrics_token is None
    scrape(client, REMOTE_ADDR="127.0.0.1")
    scrape(client, REMOTE_ADDR="::1")
    for outsider in ("203.0.113.9", "10.0.0.5", "2001:db8::1", "", "not-an-ip"):
        answer = client.get("/metrics", REMOTE_ADDR=outsider)
        assert answer.status_code == 403, outsider
        assert b"trail_" not in answer.content


def test_without_a_token_a_proxied_request_is_not_loopback(
    client: Client, trail_settings: Callable[..., None]
) -> None:
    # A reverse proxy on this host, not declared trusted: its requests come from 127.0.0.1
    # but are the world's.
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED"):
        answer = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **{header: "203.0.113.9"})
        assert answer.status_code == 403, header
    # Declared trusted: its X-Forwarded-For names the client, which is not loopback...
    proxies: list[IPNetwork] = [ipaddress.ip_network("127.0.0.0/8")]
    trail_settings(ingest=replace(settings.TRAIL.ingest, trusted_proxies=proxies))
    outside = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert outside.status_code == 403
    # ...unless the proxy says the client is this host; a forged left-most hop is ignored.
    scrape(client, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")
    forged = client.get(
        "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1, 203.0.113.9"
    )
    assert forged.status_code == 403


def test_only_get(client: Client) -> None:
    assert client.post("/metrics").status_code == 405


def test_the_multiprocess_directory_sums_other_processes(client: Client, tmp_path: Path) -> None:
    """A value another (live) process wrote is in the scrape: this one's files are not all."""
    import os
    import subprocess
    import sys

    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    assert Path(directory).is_dir()
    before = scrape(client)
    code = (
        "from common.metrics import EVENTS_ACCEPTED; EVENTS_ACCEPTED.inc(7);"
        " import sys; sys.stdout.write('done'); sys.stdout.flush(); sys.stdin.read()"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
    other = subprocess.Popen(  # noqa: S603 (our interpreter, our code)
        [sys.executable, "-c", code],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=settings.BASE_DIR,
    )
    try:
        assert other.stdout is not None and other.stdout.read(4) == b"done"
        after = scrape(client)
    finally:
        other.communicate(b"", timeout=30)
    assert moved(before, after, "trail_ingest_events_accepted_total") == 7
    # Once it is gone, the next process to start deletes its files.
    from common.observability import prepare_metrics_dir

    files = [name for name in os.listdir(directory) if name.endswith(f"_{other.pid}.db")]
    assert files
    prepare_metrics_dir(Path("unused"))  # the variable is set: that directory is used
    assert not [name for name in os.listdir(directory) if name.endswith(f"_{other.pid}.db")]


def test_the_grafana_dashboard_names_only_metrics_trail_has() -> None:
    import re

    from prometheus_client import Counter, Histogram

    from common import metrics
    from trail.metrics_view import Snapshot

    known = {m._name for m in vars(metrics).values() if isinstance(m, Counter | Histogram)}
    known |= {family.name for family in Snapshot().collect()} | {"trail_celery_queue_length"}
    dashboard = json.loads((settings.BASE_DIR / "deploy/grafana/trail-dashboard.json").read_text())
    used = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            used |= set(re.findall(r"trail_[a-z_]+", target["expr"]))
    bare = {re.sub(r"_(bucket|sum|count|total)$", "", name) for name in used}
    assert bare - known == set()
    assert known - bare == set()  # and every metric has a panel


def test_a_failed_celery_task_is_counted(client: Client, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("celery_worker")  # services mode: a real worker on Redis
    from events.tasks import run_job

    before = scrape(client)
    result = run_job.delay("tests.no_such_job")
    with pytest.raises(KeyError):
        result.get(timeout=30)
    after = scrape(client)
    assert moved(before, after, "trail_celery_task_failures_total", task="trail.run_job") == 1
