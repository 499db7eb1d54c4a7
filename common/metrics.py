"""Trail's Prometheus metrics: every definition, and the small calls the code makes.

Every name is listed with its labels and meaning in docs/metrics.md. Values are kept in
prometheus-client's multiprocess files (`common.observability.prepare_metrics_dir`, run by
the settings before this module is imported), so `/metrics` (`trail.metrics_view`) adds up
every web worker and the Celery worker of a host.

Counted per batch, never per event where a batch exists: an update in multiprocess mode
takes a process-wide lock and writes an mmap (bench/metrics_cost.py measures it). The
ingest counts, once per request, are cheaper still: added in memory, written every second. What
is cheaper to read than to track — the spool's backlog, queued jobs, destinations' lag,
Celery's queue — is read when scraped (`trail.metrics_view`).

It lives in `common`, the bottom layer, so that `events` and `reports` can call it.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from prometheus_client import Counter, Histogram

# Seconds: from 1 ms (a chDB query of a small site) to a minute (a year of a big one).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
LAG_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
BATCH_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000)

EVENTS_ACCEPTED = Counter(
    "trail_ingest_events_accepted",
    "Events written to the spool (a 2xx was or will be answered for them).",
)
EVENTS_DROPPED = Counter(
    "trail_ingest_events_dropped",
    "Events answered 202 but not kept, by drop reason (X-Trail-Dropped).",
    ["reason"],
)
INGEST_REFUSED = Counter(
    "trail_ingest_requests_refused",
    "Browser-route ingest requests answered 4xx or 5xx (nothing of them kept), by status.",
    ["status"],
)
FLUSH_SEGMENTS = Counter("trail_flush_segments", "Spool segments flushed into ClickHouse.")
FLUSH_EVENTS = Counter("trail_flush_events", "Events the flush stored in ClickHouse.")
FLUSH_DEAD_LETTERS = Counter(
    "trail_flush_dead_letters", "Events the flush could not store (kept as dead letters)."
)
FLUSH_BATCH = Histogram(
    "trail_flush_batch_events", "Events per flushed spool segment.", buckets=BATCH_BUCKETS
)
FLUSH_LAG = Histogram(
    "trail_flush_lag_seconds",
    "From a segment's last write in the spool to its storing in ClickHouse.",
    buckets=LAG_BUCKETS,
)
CLICKHOUSE_INSERT = Histogram(
    "trail_clickhouse_insert_seconds",
    "ClickHouse insert latency, by table.",
    ["table"],
    buckets=LATENCY_BUCKETS,
)
CLICKHOUSE_QUERY = Histogram(
    "trail_clickhouse_query_seconds", "ClickHouse query latency.", buckets=LATENCY_BUCKETS
)
CLICKHOUSE_ERRORS = Counter(
    "trail_clickhouse_errors", "ClickHouse calls that raised, by operation.", ["operation"]
)
REPORT_PANEL = Histogram(
    "trail_report_panel_seconds",
    "Time to answer one dashboard panel (a tab's rows or the time series), by panel.",
    ["panel"],
    buckets=LATENCY_BUCKETS,
)
PERIODIC_JOB = Histogram(
    "trail_periodic_job_seconds",
    "Run time of a periodic job (the flush, destinations, retention...), by job.",
    ["job"],
    buckets=LATENCY_BUCKETS,
)
PERIODIC_JOB_FAILURES = Counter(
    "trail_periodic_job_failures", "Periodic job runs that raised, by job.", ["job"]
)
DATA_JOB_FAILURES = Counter(
    "trail_data_job_failures",
    "Data jobs (exports, imports, deletions...) failed, by kind.",
    ["kind"],
)

CELERY_TASK_FAILURES = Counter(
    "trail_celery_task_failures", "Celery tasks that raised, by task name.", ["task"]
)

PUBLISH_EVERY = 1.0  # seconds the ingest counts wait in this process before the mmap write


class _Pending:
    """Ingest counts not yet written to the multiprocess files: adding to them is a lock and
    an add (bench/metrics_cost.py: ~6x cheaper than `Counter.inc` in multiprocess mode); a
    timer writes them `PUBLISH_EVERY` seconds after the first, and `/metrics` writes this
    process's before it reads (so a scrape is at most that late for other processes)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted = 0
        self.dropped: dict[str, int] = {}
        self.timer: threading.Timer | None = None


_pending = _Pending()


def _forget_pending() -> None:
    global _pending
    _pending = _Pending()


os.register_at_fork(after_in_child=_forget_pending)  # a forked child starts with none


def ingest_outcome(accepted: int, drops: Sequence[tuple[int, str]]) -> None:
    """One `Collector.accept` call: `accepted` events spooled, `drops` (index, reason)."""
    if not accepted and not drops:
        return
    pending = _pending
    timer = None
    with pending.lock:
        pending.accepted += accepted
        for _, reason in drops:
            pending.dropped[reason] = pending.dropped.get(reason, 0) + 1
        if pending.timer is None:
            timer = pending.timer = threading.Timer(PUBLISH_EVERY, publish)
            timer.daemon = True
    if timer is not None:
        timer.start()


def ingest_refused(status: int) -> None:
    """A browser-route ingest request refused with `status` (malformed, too large, the wrong
    type, the spool unavailable, ...): rare, so counted directly."""
    INGEST_REFUSED.labels(str(status)).inc()


def publish() -> None:
    """Write this process's pending ingest counts to the multiprocess files now."""
    pending = _pending
    with pending.lock:
        accepted, dropped = pending.accepted, pending.dropped
        pending.accepted, pending.dropped = 0, {}
        if pending.timer is not None:
            pending.timer.cancel()
            pending.timer = None
    if accepted:
        EVENTS_ACCEPTED.inc(accepted)
    for reason, count in dropped.items():
        EVENTS_DROPPED.labels(reason).inc(count)


atexit.register(publish)  # a process that stops keeps what it counted


def segment_flushed(path: Path, *, events: int, dead_letters: int) -> None:
    """The flush stored a segment (called before the segment is deleted)."""
    try:
        lag = max(0.0, time.time() - path.stat().st_mtime)
    except OSError:
        lag = None
    FLUSH_SEGMENTS.inc()
    FLUSH_EVENTS.inc(events)
    FLUSH_BATCH.observe(events)
    if dead_letters:
        FLUSH_DEAD_LETTERS.inc(dead_letters)
    if lag is not None:
        FLUSH_LAG.observe(lag)


@contextmanager
def _timed(histogram: Histogram, errors: Counter | None = None, label: str = "") -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        if errors is not None:
            errors.labels(label).inc()
        raise
    finally:
        histogram.observe(time.perf_counter() - started)


def clickhouse_insert(table: str) -> AbstractContextManager[None]:
    """Time one insert into `table`."""
    return _timed(CLICKHOUSE_INSERT.labels(table), CLICKHOUSE_ERRORS, "insert")


def clickhouse_query() -> AbstractContextManager[None]:
    """Time one query."""
    return _timed(CLICKHOUSE_QUERY, CLICKHOUSE_ERRORS, "query")


def report_panel(panel: str) -> AbstractContextManager[None]:
    """Time one panel's answer."""
    return _timed(REPORT_PANEL.labels(panel))


def periodic_job(name: str) -> AbstractContextManager[None]:
    """Time one run of a periodic job; count it as failed if it raises."""
    return _timed(PERIODIC_JOB.labels(name), PERIODIC_JOB_FAILURES, name)


def data_job_failed(kind: str) -> None:
    DATA_JOB_FAILURES.labels(kind).inc()


def celery_task_failed(task: str) -> None:
    CELERY_TASK_FAILURES.labels(task).inc()
