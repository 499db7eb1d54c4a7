"""Data jobs: long work on a site's data (exports today; imports, deletions and rollup
rebuilds later) as rows of one model, `events.models.DataJob`, run by one runner.

- **Kinds.** The layer that owns a kind registers its handler at app ready
  (`register("export.events", handler)`); this module never imports those layers.
- **Handlers** work in chunks through a `JobContext`: `ctx.progress(...)` records progress at
  most once a second and checks for cancellation (raising `Cancelled`); `ctx.result(name)`
  gives a file to write the result into, which becomes the job's only once complete.
- **Runner.** `submit(job)` hands the job to a Celery worker in services mode
  (`events.tasks.run_data_job`) or to the embedded runner's threads otherwise (beside the
  periodic job thread, so a long export never holds up the flush). Either way `run(id)`.
- **Failure.** A handler's exception fails the job with the reason and deletes what was
  written. After a crash (`kill -9`), `recover()` at the next start fails what was left
  running (its partial file deleted) and queues again what was still queued; in services
  mode a job whose worker was lost (no heartbeat for `STALE_AFTER`) is failed by the
  periodic `expire_data_jobs`, and a task delivered again finds it finished.
- **Expiry.** `expire_data_jobs` (periodic) deletes result files older than
  `TRAIL_EXPORT_TTL_DAYS` and marks their jobs expired.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage, storages
from django.db import DatabaseError, close_old_connections, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from common import metrics
from events.config import FlushMode
from events.jobs import periodic
from events.models import DataJob

logger = logging.getLogger(__name__)

Status = DataJob.Status
STORAGE = "exports"  # the STORAGES entry every job's result file goes to
PROGRESS_EVERY = 1.0  # seconds: a job saves its progress (and looks for a cancel) this often
STALE_AFTER = dt.timedelta(minutes=15)  # a running job without a heartbeat this long is lost
MAX_ACTIVE_PER_ORGANIZATION = 2  # queued or running jobs; one more is refused (429)
RETRY_AFTER = 30  # seconds a refused client is told to wait
EMBEDDED_THREADS = 2  # the embedded runner's threads (jobs run side by side)
DATABASE_RETRIES = 5  # tries of the embedded runner when the database refuses (SQLite locked)
INTERRUPTED = "interrupted: Trail stopped while the job ran; start it again"


class Cancelled(Exception):
    """The job was cancelled: raised between chunks, it stops the handler."""


class TooManyJobs(Exception):
    """The organization already has MAX_ACTIVE_PER_ORGANIZATION jobs queued or running."""

    retry_after = RETRY_AFTER


Handler = Callable[["JobContext"], None]
_kinds: dict[str, Handler] = {}


def register(kind: str, handler: Handler) -> None:
    """Make `kind` runnable: its jobs are handed to `handler(ctx)`."""
    _kinds[kind] = handler


def registered(kind: str) -> bool:
    return kind in _kinds


def storage() -> Storage:
    return storages[STORAGE]


def ttl() -> dt.timedelta:
    return dt.timedelta(days=settings.TRAIL.export_ttl_days)


def expires_at(job: DataJob) -> dt.datetime | None:
    """When a finished job's file is deleted."""
    if job.status != Status.DONE or job.finished_at is None:
        return None
    return job.finished_at + ttl()


# --- creating, cancelling, removing ---------------------------------------------------------


def create(
    *, organization: Any, site: Any, kind: str, parameters: dict[str, Any], created_by: Any = None
) -> DataJob:
    """A queued job, handed to the runner once the transaction commits. `TooManyJobs` when
    the organization has MAX_ACTIVE_PER_ORGANIZATION jobs queued or running already."""
    if kind not in _kinds:
        raise KeyError(f"no data job kind named {kind!r}")
    with transaction.atomic():
        # Serialize creations per organization (a row lock on PostgreSQL; SQLite's writes are
        # serialized anyway), so two requests at once cannot both pass the count.
        type(organization).objects.select_for_update().filter(pk=organization.pk).first()
        active = DataJob.objects.filter(organization=organization, status__in=DataJob.ACTIVE)
        if active.count() >= MAX_ACTIVE_PER_ORGANIZATION:
            raise TooManyJobs
        job = DataJob.objects.create(
            organization=organization,
            site=site,
            kind=kind,
            parameters=parameters,
            created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
        )
        transaction.on_commit(lambda: submit(job.pk))
    return job


def cancel(job: DataJob) -> bool:
    """Cancel a queued or running job (the runner stops it at its next chunk and deletes what
    it wrote). False when it had already finished."""
    changed = DataJob.objects.filter(pk=job.pk, status__in=DataJob.ACTIVE).update(
        status=Status.CANCELLED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return bool(changed)


def remove(job: DataJob) -> None:
    """Delete a finished job; its file goes with it (`_job_row_deleted`)."""
    job.delete()


@receiver(post_delete, sender=DataJob, dispatch_uid="events.data_jobs.file_with_row")
def _job_row_deleted(sender: Any, instance: DataJob, **_: Any) -> None:
    """A job's file goes with its row however the row goes: `remove`, or a cascade from its
    deleted site (the purge job) or organization (organization or account deletion). Once
    the deletion commits: a rolled-back one keeps the file its row still names."""
    name = instance.result_name
    if name:
        transaction.on_commit(lambda: _delete_file(name))


def _delete_file(name: str) -> None:
    if not name:
        return
    try:
        storage().delete(name)  # no error when it is not there
    except OSError:
        logger.exception("could not delete the job file %s", name)


# --- running ---------------------------------------------------------------------------------


class JobContext:
    """What a handler gets: the job, progress and cancellation, and its result file."""

    def __init__(self, job: DataJob) -> None:
        self.job = job
        self._saved_at = 0.0

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.job.parameters)

    def progress(
        self,
        fraction: float,
        *,
        rows: int | None = None,
        bytes: int | None = None,  # noqa: A002 (the job's field)
        force: bool = False,
    ) -> None:
        """Note how far the job is; saved at most once a second (`force`: now). Raises
        `Cancelled` when the job was cancelled meanwhile."""
        job = self.job
        job.progress = min(max(fraction, 0.0), 1.0)
        if rows is not None:
            job.rows = rows
        if bytes is not None:
            job.bytes = bytes
        now = time.monotonic()
        if not force and now - self._saved_at < PROGRESS_EVERY:
            return
        self._saved_at = now
        saved = DataJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
            progress=job.progress, rows=job.rows, bytes=job.bytes, heartbeat_at=timezone.now()
        )
        if not saved:
            raise Cancelled

    def check(self) -> None:
        """Raise `Cancelled` when the job was cancelled (between chunks)."""
        if not DataJob.objects.filter(pk=self.job.pk, status=Status.RUNNING).exists():
            raise Cancelled

    @contextlib.contextmanager
    def result(self, file_name: str) -> Iterator[IO[bytes]]:
        """A file to write the result into. It is written to an unnamed temporary file in
        var/ first and saved to the storage only once the block ends without an error, so no
        one sees a partial result; its size becomes the job's `bytes`."""
        name = f"{self.job.pk}-{file_name}"  # flat: no directory left behind per job
        DataJob.objects.filter(pk=self.job.pk).update(result_name=name)
        self.job.result_name = name
        with tempfile.TemporaryFile(dir=settings.TRAIL.var_dir) as scratch:
            yield scratch
            self.check()
            size = scratch.tell()
            scratch.seek(0)
            saved = storage().save(name, File(scratch, name=file_name))
        if saved != name:  # the storage chose another name (it would not overwrite)
            DataJob.objects.filter(pk=self.job.pk).update(result_name=saved)
            self.job.result_name = saved
        self.job.bytes = size


def run(job_id: Any) -> str:
    """Run one job (the Celery task and the embedded runner both call this); its status.

    Only a queued job is claimed: one already running (a task delivered again while its
    first run goes on) or finished (cancelled while queued) is left alone. A run that was
    lost (a killed worker) is failed by `recover()` or, once its heartbeat is STALE_AFTER
    old, by `expire_data_jobs`; it is not started over behind a run that may be alive."""
    started = timezone.now()
    claimed = DataJob.objects.filter(pk=job_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=started, heartbeat_at=started, progress=0.0, error=""
    )
    job = DataJob.objects.filter(pk=job_id).select_related("site", "organization").first()
    if job is None:
        logger.warning("data job %s: no such job (deleted before it ran)", job_id)
        return "missing"
    if not claimed:
        return str(job.status)
    handler = _kinds.get(job.kind)
    try:
        if handler is None:
            raise LookupError(f"this Trail does not know the job kind {job.kind!r}")
        context = JobContext(job)
        handler(context)
    except Cancelled:
        _delete_file(job.result_name)
        return str(Status.CANCELLED)
    except Exception as exc:
        _delete_file(job.result_name)
        reason = _reason(exc)
        logger.warning("data job %s (%s) failed: %s", job.pk, job.kind, reason)
        metrics.data_job_failed(job.kind)  # docs/metrics.md
        DataJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
            status=Status.FAILED, error=reason, finished_at=timezone.now(), result_name=""
        )
        return str(Status.FAILED)
    done = DataJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
        status=Status.DONE,
        progress=1.0,
        rows=job.rows,
        bytes=job.bytes,
        result_name=job.result_name,
        finished_at=timezone.now(),
    )
    if not done:  # cancelled while its file was saved
        _delete_file(job.result_name)
        return str(Status.CANCELLED)
    return str(Status.DONE)


def _reason(exc: BaseException) -> str:
    """A failure's reason for the person who started the job: the error's own message (a
    ClickHouse error's first line, an OSError's "No space left on device")."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if getattr(exc, "field", None):  # a ServiceError naming its field
        message = f"{exc.field}: {message}"  # type: ignore[attr-defined]
    if isinstance(exc, OSError) and exc.strerror:
        message = f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    first = str(message).strip().splitlines()[0] if str(message).strip() else type(exc).__name__
    return first[:500]


def submit(job_id: Any) -> None:
    """Hand a job to the runner: a Celery worker in services mode, else the embedded threads."""
    if settings.TRAIL.flush_mode is FlushMode.CELERY:
        from events.tasks import run_data_job

        run_data_job.delay(str(job_id))
    else:
        runner.put(job_id)


class EmbeddedRunner:
    """A few daemon threads that run data jobs from a queue in the serving process (embedded
    mode), beside the periodic job thread."""

    def __init__(self, threads: int = EMBEDDED_THREADS) -> None:
        self._threads_wanted = threads
        self._queue: queue.Queue[Any] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._guard = threading.Lock()

    def put(self, job_id: Any) -> None:
        self.start()
        self._queue.put(job_id)

    def start(self) -> None:
        with self._guard:
            self._threads = [t for t in self._threads if t.is_alive()]
            while len(self._threads) < self._threads_wanted:
                thread = threading.Thread(
                    target=self._loop, name=f"trail-data-jobs-{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def idle(self) -> bool:
        return self._queue.unfinished_tasks == 0

    def _loop(self) -> None:
        while True:
            job_id = self._queue.get()
            try:
                close_old_connections()
                _run_retrying(job_id)
            except Exception:
                logger.exception("data job %s could not be run", job_id)
            finally:
                close_old_connections()
                self._queue.task_done()


def _run_retrying(job_id: Any) -> str:
    """`run`, tried again with a growing pause when the database refuses for a moment (a
    locked SQLite table): a job left queued would otherwise wait for the next start. Safe
    to repeat: `run` claims only a queued job, so a claimed one is never run twice."""
    for attempt in range(DATABASE_RETRIES):
        try:
            return run(job_id)
        except DatabaseError as exc:
            if attempt == DATABASE_RETRIES - 1:
                raise
            logger.warning("data job %s: the database refused (%s); trying again", job_id, exc)
            close_old_connections()
            time.sleep(0.25 * 2**attempt)
    raise AssertionError("unreachable")


runner = EmbeddedRunner()


def recover() -> None:
    """At the start of the one embedded process: what a crash left running failed (its
    partial file deleted), what was queued handed to the runner again."""
    try:
        _recover()
    except DatabaseError as exc:  # not migrated yet: nothing to recover
        logger.warning("data jobs not recovered: %s", exc)


def _recover() -> None:
    for job in DataJob.objects.filter(status=Status.RUNNING):
        _delete_file(job.result_name)
        DataJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
            status=Status.FAILED, error=INTERRUPTED, finished_at=timezone.now(), result_name=""
        )
    for job_id in DataJob.objects.filter(status=Status.QUEUED).values_list("pk", flat=True):
        submit(job_id)


@dataclass(frozen=True)
class ExpiryReport:
    expired: int
    lost: int


@periodic(every=600, name="events.data_jobs.expire")
def expire_data_jobs(now: dt.datetime | None = None) -> ExpiryReport:
    """Delete result files older than TRAIL_EXPORT_TTL_DAYS (their jobs become expired), and
    fail running jobs whose runner stopped saving progress STALE_AFTER ago (a lost worker)."""
    now = now or timezone.now()
    expired = 0
    old = DataJob.objects.filter(status=Status.DONE, finished_at__lt=now - ttl())
    for job in old:
        _delete_file(job.result_name)
        expired += DataJob.objects.filter(pk=job.pk, status=Status.DONE).update(
            status=Status.EXPIRED
        )
    lost = 0
    for job in DataJob.objects.filter(status=Status.RUNNING, heartbeat_at__lt=now - STALE_AFTER):
        _delete_file(job.result_name)
        lost += DataJob.objects.filter(pk=job.pk, status=Status.RUNNING).update(
            status=Status.FAILED, error=INTERRUPTED, finished_at=now, result_name=""
        )
    return ExpiryReport(expired=expired, lost=lost)
