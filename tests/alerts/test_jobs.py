"""The evaluator and notify's retries as periodic jobs: in the registry that feeds Celery
beat and the job thread; run by the job thread (embedded) and by a real Celery worker on
Redis (services suite), against real traffic and a real receiver."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache

from alerts import jobs as alert_jobs
from alerts.models import AlertFiring, AlertRule
from common.outbound import verify
from events import jobs
from events.job_thread import JobThread
from notify.models import Delivery
from sites.models import Site
from tests.alerts.conftest import MIN, SECRET, Receiver, Seed, visitors

DEADLINE = 30.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"not within {DEADLINE}s: {what}"
        time.sleep(0.1)


def spike(site: Site, receiver: Receiver) -> AlertRule:
    return AlertRule.objects.create(
        site=site,
        name="spike",
        metric="visitors",
        window="5m",
        condition="above",
        threshold=3,
        channels=[{"type": "webhook", "url": receiver.url, "secret": SECRET, "format": "json"}],
    )


def test_the_jobs_are_registered_for_beat_and_the_thread() -> None:
    from trail.celery import _schedule_jobs, app

    registered = {job.name: job.every for job in jobs.registered()}
    assert registered[alert_jobs.EVALUATE] == 60
    assert registered[alert_jobs.RETRY] == 30
    _schedule_jobs(app)
    entry = app.conf.beat_schedule[alert_jobs.EVALUATE]
    assert (entry["task"], entry["args"], entry["schedule"]) == (
        "trail.run_job",
        (alert_jobs.EVALUATE,),
        60,
    )


@pytest.mark.django_db
def test_a_running_cycle_is_not_started_twice(
    shop: Site, seed: Seed, receiver: Receiver, private_allowed: None
) -> None:
    seed(shop, visitors(shop, dt.datetime.now(dt.UTC) - MIN, 4))
    spike(shop, receiver)
    assert cache.add(alert_jobs.LOCK, 1, 60)  # another cycle is running
    assert jobs.run(alert_jobs.EVALUATE) is None
    assert not AlertFiring.objects.exists()
    cache.delete(alert_jobs.LOCK)
    assert jobs.run(alert_jobs.EVALUATE) == {"rules": 1, "fired": 1, "cleared": 0}
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_the_retry_job_sends_what_failed(
    shop: Site, seed: Seed, receiver: Receiver, private_allowed: None
) -> None:
    seed(shop, visitors(shop, dt.datetime.now(dt.UTC) - MIN, 4))
    spike(shop, receiver)
    receiver.answers = [500]
    jobs.run(alert_jobs.EVALUATE)
    [delivery] = Delivery.objects.all()
    assert (delivery.status, delivery.last_status_code) == ("queued", 500)
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=dt.datetime.now(dt.UTC))
    jobs.run(alert_jobs.RETRY)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 2, 200)
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["X-Trail-Delivery"] == second.headers["X-Trail-Delivery"]
    assert verify(SECRET, second.body, second.headers["X-Trail-Signature"])


@pytest.mark.django_db(transaction=True)
def test_the_job_thread_evaluates_rules(
    make_site: Callable[..., Site], seed: Seed, receiver: Receiver, private_allowed: None
) -> None:
    site = make_site("thread.alerts.example")
    seed(site, visitors(site, dt.datetime.now(dt.UTC) - MIN, 4))
    rule = spike(site, receiver)
    thread = JobThread(tick=0.05, only={alert_jobs.EVALUATE})
    thread.start()
    try:
        wait_for(lambda: AlertFiring.objects.filter(rule=rule).exists(), "a firing")
    finally:
        thread.stop()
    assert json.loads(receiver.requests[0].body)["event"] == "alert.fired"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_celery_worker_evaluates_rules(
    celery_worker: object,
    make_site: Callable[..., Site],
    seed: Seed,
    receiver: Receiver,
    private_allowed: None,
) -> None:
    from events.tasks import run_job

    site = make_site("celery.alerts.example")
    seed(site, visitors(site, dt.datetime.now(dt.UTC) - MIN, 4))
    rule = spike(site, receiver)
    result: Any = run_job.delay(alert_jobs.EVALUATE).get(timeout=DEADLINE)
    assert result == {"rules": 1, "fired": 1, "cleared": 0}
    rule.refresh_from_db()
    assert (rule.state, rule.last_value) == ("firing", 4)
    [request] = receiver.requests
    assert verify(SECRET, request.body, request.headers["X-Trail-Signature"])
    receiver.answers = [503]
    AlertRule.objects.filter(pk=rule.pk).update(state="ok", last_fired_at=None)
    run_job.delay(alert_jobs.EVALUATE).get(timeout=DEADLINE)
    delivery = Delivery.objects.get(status="queued")
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=dt.datetime.now(dt.UTC))
    run_job.delay(alert_jobs.RETRY).get(timeout=DEADLINE)
    delivery.refresh_from_db()
    assert delivery.status == "sent"
