"""Periodic jobs: the work that runs beside the web requests (spool flushing, salt
rotation, ...). One registry feeds both runners: Celery beat in services mode
(`trail.celery`) and the in-process job thread in embedded mode (`events.job_thread`);
either way a job runs through `run()`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from common import metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every: float  # seconds
    func: Callable[[], object]
    # Talks to other hosts (mail, webhooks, destinations): in embedded mode it runs in the
    # job thread's outbound lane, so a slow or silent receiver never holds up the flush.
    outbound: bool = False


_jobs: dict[str, Job] = {}

F = TypeVar("F", bound=Callable[[], object])  # a job: callable with no arguments


def periodic(every: float, name: str | None = None, *, outbound: bool = False) -> Callable[[F], F]:
    """Register a function to run every `every` seconds (it keeps its own signature);
    `outbound` for a job that sends to other hosts (`Job.outbound`)."""

    def register(func: F) -> F:
        job = Job(name or f"{func.__module__}.{func.__qualname__}", every, func, outbound)
        _jobs[job.name] = job
        return func

    return register


def unregister(name: str) -> None:
    _jobs.pop(name, None)


def registered() -> list[Job]:
    return sorted(_jobs.values(), key=lambda job: job.name)


def run(name: str) -> object:
    """Run one job by name (the Celery task and the job thread both call this)."""
    job = _jobs.get(name)
    if job is None:
        raise KeyError(f"no periodic job named {name!r}")
    with metrics.periodic_job(name):  # run time and failures (docs/metrics.md)
        return job.func()
