"""Export jobs as services mode runs them: the API queues a job, a Celery task on the real
worker (Redis broker, PostgreSQL) runs it, the API reports it done and serves its file.

Run by the services suite only (DATABASE_URL, REDIS_URL, TRAIL_FLUSH_MODE=celery).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client

from events.config import FlushMode
from events.models import DataJob
from sites.models import Site
from tests import factories
from tests.reports.test_export_jobs import RANGE, traffic

pytestmark = pytest.mark.services


def test_an_export_job_runs_on_the_celery_worker(
    celery_worker: object,
    transactional_db: None,
    make_site: Callable[..., Site],
    seed: Callable[..., None],
) -> None:
    assert settings.TRAIL.flush_mode is FlushMode.CELERY
    site = make_site("celery-export.example.com")
    seed(site, traffic(site))
    _, key = factories.api_key(site.organization, scopes=("stats:read",))
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    created = client.post(
        f"/api/v1/sites/{site.domain}/exports",
        data=json.dumps({"kind": "events", "format": "ndjson", "date_range": RANGE}),
        content_type="application/json",
    )
    assert created.status_code == 202, created.content
    job_id = created.json()["id"]

    deadline = time.monotonic() + 30
    while (job := client.get(f"/api/v1/exports/{job_id}").json())["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["status"] == "done", job
    assert job["rows"] == 5
    body = b"".join(client.get(f"/api/v1/exports/{job_id}/download").streaming_content)
    assert len(body.splitlines()) == 5
    # the worker ran it: not the embedded runner's threads of this process
    assert not any(t.name.startswith("trail-data-jobs") for t in threading.enumerate())
    assert DataJob.objects.get(pk=job_id).started_at is not None
