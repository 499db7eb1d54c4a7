"""Run a registered job soon: on a Celery worker in services mode, else on the flusher."""

from __future__ import annotations

from django.conf import settings

from trail.config import FlushMode


def trigger(name: str) -> None:
    if settings.TRAIL.flush_mode is FlushMode.CELERY:
        from events.tasks import run_job

        run_job.delay(name)
    else:
        from events.flusher import flusher

        flusher.run_soon(name)
