"""Run a registered job soon: on a Celery worker in services mode, else on the job thread."""

from __future__ import annotations

from django.conf import settings

from events.config import FlushMode


def trigger(name: str) -> None:
    if settings.TRAIL.flush_mode is FlushMode.CELERY:
        from events.tasks import run_job

        run_job.delay(name)
    else:
        from events.job_thread import job_thread

        job_thread.run_soon(name)
