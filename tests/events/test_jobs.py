"""Periodic jobs run through one registry: the job thread (embedded) or Celery (services)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from events import jobs
from events.job_thread import JobThread


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def job_names() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        jobs.unregister(name)


def test_the_job_thread_runs_jobs_on_their_schedule(job_names: list[str]) -> None:
    fast, slow = [], []
    jobs.periodic(every=0.05, name="test.fast")(lambda: fast.append(time.monotonic()))
    jobs.periodic(every=60, name="test.slow")(lambda: slow.append(time.monotonic()))
    job_names += ["test.fast", "test.slow"]
    thread = JobThread(tick=0.01, only={"test.fast", "test.slow"})
    thread.start()
    try:
        _wait(lambda: len(fast) >= 4)
        assert thread.alive
    finally:
        thread.stop()
    assert not thread.alive
    assert len(slow) == 1  # ran once at start, next turn a minute away
    gaps = [b - a for a, b in zip(fast, fast[1:], strict=False)]
    assert min(gaps) >= 0.04


def test_a_failing_job_neither_stops_the_thread_nor_the_others(
    job_names: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    good = threading.Event()

    def broken() -> None:
        raise RuntimeError("boom")

    jobs.periodic(every=0.02, name="test.broken")(broken)
    jobs.periodic(every=0.02, name="test.good")(good.set)
    job_names += ["test.broken", "test.good"]
    thread = JobThread(tick=0.01, only={"test.broken", "test.good"})
    thread.start()
    try:
        _wait(lambda: thread.runs.get("test.broken", 0) >= 3 and good.is_set())
        assert thread.alive
    finally:
        thread.stop()
    assert "periodic job test.broken failed" in caplog.text


def test_a_stuck_outbound_job_holds_up_no_local_job(job_names: list[str]) -> None:
    """A receiver that never answers (an outbound job blocked) delays only its own lane:
    the flush's lane keeps its schedule, and both lanes stop when asked."""
    stuck, release, local = threading.Event(), threading.Event(), []

    def send() -> None:
        stuck.set()
        release.wait(10)

    jobs.periodic(every=0.02, name="test.send", outbound=True)(send)
    jobs.periodic(every=0.02, name="test.flush")(lambda: local.append(1))
    job_names += ["test.send", "test.flush"]
    thread = JobThread(tick=0.01, only={"test.send", "test.flush"})
    thread.start()
    try:
        _wait(stuck.is_set)
        ran = len(local)
        _wait(lambda: len(local) >= ran + 5)  # while the outbound lane is still stuck
        assert thread.runs.get("test.send", 0) == 0
    finally:
        release.set()
        thread.stop()
    assert not thread.alive
    assert thread.runs["test.send"] >= 1


def test_run_soon_reaches_a_job_in_either_lane(job_names: list[str]) -> None:
    ran: list[str] = []
    jobs.periodic(every=3600, name="test.hourly_send", outbound=True)(lambda: ran.append("send"))
    jobs.periodic(every=3600, name="test.hourly")(lambda: ran.append("local"))
    job_names += ["test.hourly_send", "test.hourly"]
    thread = JobThread(tick=0.01, only={"test.hourly_send", "test.hourly"})
    thread.start()
    try:
        _wait(lambda: sorted(ran) == ["local", "send"])  # each once at start
        thread.run_soon("test.hourly_send")
        thread.run_soon("test.hourly")
        _wait(lambda: sorted(ran) == ["local", "local", "send", "send"])
    finally:
        thread.stop()


def test_the_sending_jobs_are_outbound() -> None:
    import alerts.jobs
    import digests.jobs
    import events.destinations.forward
    import events.limits.quota

    outbound = {job.name for job in jobs.registered() if job.outbound}
    assert {
        alerts.jobs.EVALUATE,
        alerts.jobs.RETRY,
        digests.jobs.SEND_JOB,
        events.destinations.forward.FORWARD_JOB,
        events.limits.quota.COUNT_JOB,
    } <= outbound
    from events.flush import FLUSH_JOB

    assert FLUSH_JOB not in outbound


def test_unknown_job_is_an_error() -> None:
    with pytest.raises(KeyError, match="no periodic job named 'nope'"):
        jobs.run("nope")


def test_beat_schedule_comes_from_the_registry(job_names: list[str]) -> None:
    from trail.celery import _schedule_jobs, app

    jobs.periodic(every=2.5, name="test.beat")(lambda: None)
    job_names.append("test.beat")
    _schedule_jobs(app)
    entry = app.conf.beat_schedule["test.beat"]
    assert entry["task"] == "trail.run_job"
    assert entry["args"] == ("test.beat",)
    assert entry["schedule"] == 2.5
    assert entry["options"]["ignore_result"] is True  # beat never waits on the result backend


@pytest.mark.services
def test_celery_worker_runs_a_job_through_redis(
    celery_worker: object, job_names: list[str]
) -> None:
    from events.tasks import run_job

    seen: list[str] = []
    jobs.periodic(every=60, name="test.celery")(
        lambda: seen.append(threading.current_thread().name) or 42
    )
    job_names.append("test.celery")
    assert run_job.delay("test.celery").get(timeout=20) == 42
    assert seen and seen[0] != threading.current_thread().name  # ran in the worker
