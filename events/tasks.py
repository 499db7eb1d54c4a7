"""Celery tasks: thin wrappers around the functions the flusher thread also calls."""

from celery import shared_task

from events import jobs


@shared_task(name="trail.run_job", ignore_result=False)
def run_job(name: str) -> object:
    return jobs.run(name)
