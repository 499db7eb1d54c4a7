"""A Plausible zip through the import job (reports/imports/services.py registers the
`plausible_csv` source from reports/imports/plausible.py): uploaded, run to done with its
rows and days, visible with `include.imports`, then deleted; a bad zip fails naming file,
line and column and keeps nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError

from events import data_jobs
from events.models import DataJob
from sites.models import Site
from tests import factories
from tests.api_client import bearer
from tests.reports.conftest import post_json
from tests.reports.test_imports_plausible import (
    I1,
    I3,
    VISITORS,
    export_files,
    imported_rows,
    write_zip,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(make_site: Callable[..., Site], clickhouse: Any) -> Site:
    return make_site("plausible-job.example.com")


def start(site: Site, path: Path) -> str:
    _, raw = factories.api_key(site.organization, scopes=("sites:manage",))
    upload = SimpleUploadedFile("export.zip", path.read_bytes(), content_type="application/zip")
    answer = bearer(raw).post(
        f"/api/v1/sites/{site.domain}/imports", data={"source": "plausible_csv", "file": upload}
    )
    assert answer.status_code == 202, answer.content
    job_id = str(answer.json()["id"])
    finish(job_id)
    return job_id


def finish(job_id: str, timeout: float = 60) -> None:
    """Run the job here to its end, or wait for the run that claimed it first: where the
    test's commits are real, the API's submit has also handed it to the embedded runner's
    threads or the suite's Celery worker (one of them claims it; SQLite may refuse the
    loser's claim for a moment, "table is locked")."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            data_jobs.run(job_id)
            if DataJob.objects.get(pk=job_id).status not in DataJob.ACTIVE:
                return
        except DatabaseError:
            pass
        assert time.monotonic() < deadline, f"import {job_id} still running after {timeout} s"
        time.sleep(0.1)


def described(site: Site, job_id: str) -> dict[str, Any]:
    _, raw = factories.api_key(site.organization, scopes=("sites:read",))
    answer = bearer(raw).get(f"/api/v1/imports/{job_id}")
    assert answer.status_code == 200, answer.content
    return dict(answer.json())


def test_a_zip_imports_shows_in_reports_and_is_deleted(
    site: Site, tmp_path: Path, client: Any
) -> None:
    job_id = start(site, write_zip(tmp_path / "export.zip", export_files()))
    job = described(site, job_id)
    assert job["status"] == "done", job
    assert job["rows"] == imported_rows(site.id, job_id) > 0
    assert (job["first_day"], job["last_day"]) == (I1.isoformat(), VISITORS[-1][0].isoformat())
    _, stats = factories.api_key(site.organization, scopes=("stats:read",))
    body = {
        "site_id": site.domain,
        "metrics": ["visitors"],
        "date_range": [I1.isoformat(), I3.isoformat()],
        "include": {"imports": True},
    }
    answer = post_json(client, "/api/v2/query", body, stats).json()
    assert answer["results"][0]["metrics"] == [sum(r[1] for r in VISITORS[:3])]
    _, manage = factories.api_key(site.organization, scopes=("sites:manage",))
    assert bearer(manage).delete(f"/api/v1/imports/{job_id}").status_code == 204
    assert imported_rows(site.id, job_id) == 0
    again = post_json(client, "/api/v2/query", body, stats).json()
    assert again["meta"]["imports_skip_reason"] == "no_imported_data"


def test_a_bad_zip_fails_naming_the_cell_and_keeps_nothing(site: Site, tmp_path: Path) -> None:
    files = export_files()
    header = "date,device,visitors,visits,visit_duration,bounces,pageviews\n"
    rows = "2024-01-01,Desktop,1,1,0,0,1\n2024-01-02,Mobile,x,1,0,0,1\n"
    files["imported_devices.csv"] = header + rows
    job_id = start(site, write_zip(tmp_path / "export.zip", files))
    job = described(site, job_id)
    assert job["status"] == "failed"
    assert "imported_devices.csv, line 3, column visitors" in job["error"]
    assert imported_rows(site.id, job_id) == 0
