"""Celery tasks: thin wrappers around the functions the job thread also calls."""

import dataclasses

from celery import shared_task

from events import jobs


@shared_task(name="trail.run_job", ignore_result=False)
def run_job(name: str) -> object:
    result = jobs.run(name)
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)  # a report: JSON for the result backend
    return result


@shared_task(name="trail.run_data_job", ignore_result=False)
def run_data_job(job_id: str) -> str:
    """One data job (events/data_jobs.py); its final status. The database connection it
    used is closed after it: jobs are long and rare, and an idle connection held by a
    worker thread would keep its database from being dropped or migrated."""
    from django.db import connection

    from events import data_jobs

    try:
        return data_jobs.run(job_id)
    finally:
        connection.close()
