"""Data jobs (events/data_jobs.py): one model, one runner, progress, cancel, failure, crash
recovery, the per-organization limit and expiry — with handlers that run real queries on
the test process's chDB and write through the real "exports" storage."""

from __future__ import annotations

import datetime as dt
import errno
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from events import data_jobs
from events.clickhouse import ClickHouse, get_client
from events.models import DataJob
from tests import factories

Status = DataJob.Status
# The embedded runner's threads; services mode hands jobs to Celery (test_export_jobs_services).
EMBEDDED_ONLY = pytest.mark.skipif(
    settings.TRAIL.services_mode, reason="the embedded runner (services mode runs Celery)"
)


def _counting(ctx: data_jobs.JobContext) -> None:
    """Numbers from ClickHouse in chunks of `chunk`, one per line, with progress."""
    total, chunk = int(ctx.parameters["total"]), int(ctx.parameters["chunk"])
    pause = float(ctx.parameters.get("pause", 0))
    with ctx.result("numbers.txt") as out:
        for start in range(0, total, chunk):
            rows = get_client().query(
                "SELECT number FROM numbers({start:UInt64}, {n:UInt64})",
                {"start": start, "n": min(chunk, total - start)},
            )
            out.write(b"".join(f"{row['number']}\n".encode() for row in rows))
            done = start + len(rows)
            ctx.progress(done / total, rows=done, bytes=out.tell())
            time.sleep(pause)


def _failing(ctx: data_jobs.JobContext) -> None:
    """Writes a first chunk, then ClickHouse refuses the next query."""
    with ctx.result("broken.txt") as out:
        out.write(b"first chunk\n")
        ctx.progress(0.5, rows=1, force=True)
        get_client().query("SELECT throwIf(1, 'the disk under the table went away')")


@pytest.fixture(autouse=True)
def _kinds(clickhouse: ClickHouse) -> Iterator[None]:
    data_jobs.register("test.count", _counting)
    data_jobs.register("test.fail", _failing)
    yield
    data_jobs._kinds.pop("test.count", None)
    data_jobs._kinds.pop("test.fail", None)


def _job(kind: str = "test.count", **parameters: Any) -> DataJob:
    org = factories.organization()
    return DataJob.objects.create(
        organization=org, site=factories.site(org), kind=kind, parameters=parameters
    )


def _stored(name: str) -> bytes:
    with data_jobs.storage().open(name) as f:
        return bytes(f.read())


@pytest.mark.django_db
def test_a_job_runs_queued_to_done_with_rows_bytes_and_its_file() -> None:
    job = _job(total=2500, chunk=1000)
    assert job.status == Status.QUEUED and job.progress == 0

    assert data_jobs.run(job.pk) == Status.DONE
    job.refresh_from_db()
    expected = b"".join(f"{n}\n".encode() for n in range(2500))
    assert (job.status, job.progress, job.rows, job.bytes) == (
        Status.DONE,
        1.0,
        2500,
        len(expected),
    )
    assert job.started_at and job.finished_at and job.started_at <= job.finished_at
    assert job.result_name == f"{job.pk}-numbers.txt"
    assert job.file_name == "numbers.txt"
    assert _stored(job.result_name) == expected
    assert data_jobs.expires_at(job) == job.finished_at + dt.timedelta(days=7)


@pytest.mark.django_db
def test_a_finished_job_is_not_run_again() -> None:
    job = _job(total=10, chunk=10)
    data_jobs.run(job.pk)
    assert data_jobs.run(job.pk) == Status.DONE  # a task delivered twice
    job.refresh_from_db()
    assert job.status == Status.DONE and _stored(job.result_name).count(b"\n") == 10


@pytest.mark.django_db
def test_progress_is_saved_at_most_once_a_second_and_seen_by_readers() -> None:
    seen: list[float] = []

    def watching(ctx: data_jobs.JobContext) -> None:
        with ctx.result("x.txt") as out:
            for i in range(1, 31):
                out.write(b"x")
                ctx.progress(i / 30, rows=i)
                seen.append(DataJob.objects.get(pk=ctx.job.pk).progress)
                time.sleep(0.05)  # 1.5 s in all

    data_jobs.register("test.watch", watching)
    try:
        job = _job("test.watch")
        data_jobs.run(job.pk)
    finally:
        data_jobs._kinds.pop("test.watch")
    distinct = sorted(set(seen))
    assert 2 <= len(distinct) <= 3, distinct  # saved at 0 s and ~1 s (and maybe ~1.5 s)
    assert distinct[0] == pytest.approx(1 / 30)


@pytest.mark.django_db
def test_a_clickhouse_failure_fails_the_job_with_the_reason_and_deletes_its_file() -> None:
    job = _job("test.fail")
    assert data_jobs.run(job.pk) == Status.FAILED
    job.refresh_from_db()
    assert job.status == Status.FAILED
    assert "the disk under the table went away" in job.error
    assert job.result_name == "" and job.finished_at is not None
    assert not data_jobs.storage().exists(f"{job.pk}-broken.txt")
    # nothing else is affected: the next job runs
    other = _job(total=5, chunk=5)
    assert data_jobs.run(other.pk) == Status.DONE


class FullDiskStorage(FileSystemStorage):
    """A real file system storage whose disk is full: writing any file fails."""

    def _save(self, name: str, content: Any) -> str:
        raise OSError(errno.ENOSPC, "No space left on device", name)


@pytest.mark.django_db
def test_a_full_disk_fails_the_job_and_leaves_no_file(tmp_path: Any) -> None:
    storages = {
        "exports": {
            "BACKEND": f"{__name__}.FullDiskStorage",
            "OPTIONS": {"location": str(tmp_path)},
        }
    }
    job = _job(total=100, chunk=50)
    with override_settings(STORAGES=storages):
        assert data_jobs.run(job.pk) == Status.FAILED
    job.refresh_from_db()
    assert job.error.startswith("No space left on device")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_a_job_without_a_known_kind_fails_saying_so() -> None:
    job = _job("test.nobody-knows")
    assert data_jobs.run(job.pk) == Status.FAILED
    job.refresh_from_db()
    assert "test.nobody-knows" in job.error


@pytest.mark.django_db
def test_a_queued_job_cancelled_never_runs() -> None:
    job = _job(total=10, chunk=10)
    assert data_jobs.cancel(job)
    assert data_jobs.run(job.pk) == Status.CANCELLED
    job.refresh_from_db()
    assert job.status == Status.CANCELLED and job.started_at is None and not job.result_name
    assert not data_jobs.cancel(job)  # already finished


@pytest.mark.django_db(transaction=True)
def test_a_running_job_cancelled_stops_between_chunks_and_leaves_no_file() -> None:
    job = _job(total=100_000, chunk=1000, pause=0.05)  # ~5 s if it ran to the end
    outcome: list[str] = []

    def runner() -> None:
        try:
            outcome.append(data_jobs.run(job.pk))
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=runner)
    thread.start()
    _wait(lambda: DataJob.objects.get(pk=job.pk).rows > 0, "the job saved progress")
    assert data_jobs.cancel(job)
    thread.join(30)
    job.refresh_from_db()
    assert outcome == [Status.CANCELLED], (outcome, job.status, job.error)
    assert job.status == Status.CANCELLED and 0 < job.rows < 100_000
    assert not data_jobs.storage().exists(f"{job.pk}-numbers.txt")


@EMBEDDED_ONLY
@pytest.mark.django_db(transaction=True)
def test_after_a_crash_running_jobs_fail_their_partial_files_go_and_queued_ones_run() -> None:
    # What `kill -9` leaves: a job marked running whose partial file is in the storage, and
    # a job still queued.
    crashed = _job(total=10, chunk=10)
    name = data_jobs.storage().save(f"{crashed.pk}-numbers.txt", ContentFile(b"0\n1\n"))
    DataJob.objects.filter(pk=crashed.pk).update(
        status=Status.RUNNING, started_at=timezone.now(), result_name=name
    )
    waiting = _job(total=3, chunk=3)

    data_jobs.recover()  # what the next start does (trail.runtime.start)
    crashed.refresh_from_db()
    assert crashed.status == Status.FAILED and crashed.error == data_jobs.INTERRUPTED
    assert not data_jobs.storage().exists(name)
    _wait(lambda: DataJob.objects.get(pk=waiting.pk).status == Status.DONE, "queued job ran")


@pytest.mark.django_db
def test_a_third_active_job_of_an_organization_is_refused() -> None:
    org = factories.organization()
    site = factories.site(org)
    make = lambda: data_jobs.create(  # noqa: E731
        organization=org, site=site, kind="test.count", parameters={"total": 1, "chunk": 1}
    )
    first, _second = make(), make()
    with pytest.raises(data_jobs.TooManyJobs):
        make()
    other = factories.organization()  # another organization is not held back
    data_jobs.create(organization=other, site=None, kind="test.count", parameters={})
    data_jobs.cancel(first)
    make()  # a finished job frees its place


@pytest.mark.django_db
def test_expiry_deletes_old_files_and_marks_their_jobs_expired() -> None:
    old, fresh = _job(total=3, chunk=3), _job(total=3, chunk=3)
    data_jobs.run(old.pk)
    data_jobs.run(fresh.pk)
    old.refresh_from_db()
    DataJob.objects.filter(pk=old.pk).update(
        finished_at=timezone.now() - dt.timedelta(days=7, minutes=1)
    )
    report = data_jobs.expire_data_jobs()
    assert report.expired == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == Status.EXPIRED and not data_jobs.storage().exists(old.result_name)
    assert fresh.status == Status.DONE and data_jobs.storage().exists(fresh.result_name)


@pytest.mark.django_db
def test_a_running_job_without_a_heartbeat_is_failed_as_lost() -> None:
    job = _job(total=3, chunk=3)
    long_ago = timezone.now() - data_jobs.STALE_AFTER - dt.timedelta(seconds=1)
    DataJob.objects.filter(pk=job.pk).update(status=Status.RUNNING, heartbeat_at=long_ago)
    assert data_jobs.expire_data_jobs().lost == 1
    job.refresh_from_db()
    assert job.status == Status.FAILED and job.error == data_jobs.INTERRUPTED


def test_the_expiry_job_is_a_registered_periodic_job() -> None:
    from events import jobs

    assert "events.data_jobs.expire" in {job.name for job in jobs.registered()}


@EMBEDDED_ONLY
@pytest.mark.django_db(transaction=True)
def test_the_embedded_runner_runs_a_submitted_job_beside_the_job_thread() -> None:
    org = factories.organization()
    job = data_jobs.create(
        organization=org, site=None, kind="test.count", parameters={"total": 50, "chunk": 10}
    )  # committed at once (no surrounding transaction): submitted to the runner
    _wait(lambda: DataJob.objects.get(pk=job.pk).status == Status.DONE, "the runner ran it")
    names = {t.name for t in threading.enumerate()}
    assert "trail-data-jobs-0" in names


def _wait(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}\n{_runner_stacks()}"
        time.sleep(0.05)


def _runner_stacks() -> str:
    """Where the embedded runner's threads are (to tell a busy runner from an idle one)."""
    frames = sys._current_frames()
    return "\n".join(
        f"{thread.name}:\n{''.join(traceback.format_stack(frames[thread.ident]))}"
        for thread in threading.enumerate()
        if thread.name.startswith("trail-data-jobs") and thread.ident in frames
    )


@pytest.mark.django_db
def test_a_task_delivered_again_while_its_job_runs_does_not_start_it_twice() -> None:
    job = _job(total=10, chunk=10)
    name = data_jobs.storage().save(f"{job.pk}-numbers.txt", ContentFile(b"0\n"))
    DataJob.objects.filter(pk=job.pk).update(
        status=Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    assert data_jobs.run(job.pk) == Status.RUNNING
    assert data_jobs.storage().exists(name)  # the first run's file is left to it


@EMBEDDED_ONLY
@pytest.mark.django_db(transaction=True)
def test_the_embedded_runner_tries_again_when_the_database_is_locked_for_a_moment() -> None:
    """A claim refused by a locked table (SQLite) is tried again; the job does not stay
    queued until the next start."""
    job = _job(total=5, chunk=5)
    with transaction.atomic():
        DataJob.objects.filter(pk=job.pk).update(progress=0.0)  # holds the table's write lock
        data_jobs.runner.put(job.pk)
        time.sleep(0.6)  # the runner's first claim meets the lock
        assert DataJob.objects.get(pk=job.pk).status == Status.QUEUED
    _wait(lambda: DataJob.objects.get(pk=job.pk).status == Status.DONE, "the runner retried")
