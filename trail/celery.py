"""The Celery app (services mode). Periodic jobs come from `events.jobs`."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trail.settings")

app = Celery("trail")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_jobs(sender: Celery, **_: Any) -> None:
    from events import jobs

    # ignore_result: nobody reads a periodic run's result, and without it beat subscribes to
    # each task's result channel on the result backend as it sends it, and exits once that
    # backend stayed unreachable past its 20 reconnection tries (a Redis outage of 20 s:
    # tests/events/test_redis_outage.py).
    for job in jobs.registered():
        sender.add_periodic_task(
            job.every,
            sender.signature("trail.run_job", args=(job.name,)),
            name=job.name,
            ignore_result=True,
        )


@signals.celeryd_init.connect
def _prepare_worker(**_: Any) -> None:
    """Refuse embedded ClickHouse (a separate worker process cannot open the web process's
    chDB directory), check the services, and let ingest come first (`trail.priority`)."""
    from django.conf import settings

    from trail import preflight, priority

    if settings.CLICKHOUSE.embedded:
        raise SystemExit(
            "trail: a separate Celery worker needs a ClickHouse server: set CLICKHOUSE_URL "
            "(embedded chDB allows one process, so embedded mode flushes in-process)"
        )
    try:
        preflight.check_all()
    except preflight.PreflightError as exc:
        raise SystemExit(f"trail: {exc}") from None
    priority.lower(settings.TRAIL.ingest.flush_nice)


@signals.task_failure.connect
def _count_failure(sender: Any = None, **_: Any) -> None:
    """Every task that raised, by name (`trail_celery_task_failures_total`, docs/metrics.md)."""
    from common import metrics

    metrics.celery_task_failed(str(getattr(sender, "name", None) or "unknown"))
