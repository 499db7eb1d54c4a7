"""After a `kill -9`, a real embedded Trail's next start cleans up its data jobs: the one the
kill left running is failed and its partial file deleted, the one still queued runs to the
end (trail.runtime.start → events.data_jobs.recover, then the embedded runner).

The state a kill leaves is made first by a real `manage.py serve` killed with SIGKILL while
holding it, then the next `serve` starts on the same var/."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.helpers import child_env, free_port, manage, start_server, stop_server

pytestmark = pytest.mark.skipif(
    settings.TRAIL.services_mode, reason="the embedded runner (services mode runs Celery)"
)

LEAVE_A_CRASHED_STATE = """
from django.utils import timezone
from django.core.files.base import ContentFile
from accounts import services as accounts
from accounts.models import User
from events import data_jobs
from events.models import DataJob
from sites import services as sites

owner = User.objects.create_user(email="crash@example.com", password="x-9-long-enough")
org = accounts.organization_create(name="Crash", owner=owner)
site = sites.site_create(organization=org, domain="crash.example.com", timezone_name="UTC")
running = DataJob.objects.create(
    organization=org, site=site, kind="export.events", status=DataJob.Status.RUNNING,
    started_at=timezone.now(), progress=0.4,
    parameters={"format": "csv", "date_range": ["2026-01-01", "2026-01-31"], "filters": []},
)
name = data_jobs.storage().save(f"{running.pk}-partial.csv", ContentFile(b"event_id,timestamp\\n"))
DataJob.objects.filter(pk=running.pk).update(result_name=name)
DataJob.objects.create(
    organization=org, site=site, kind="export.report",
    parameters={"format": "zip", "date_range": ["2026-01-01", "2026-01-31"], "filters": [],
                "metric": "visitors", "interval": ""},
)
print(running.pk, name)
"""


def _jobs(var: Path) -> dict[str, tuple[str, str, str]]:
    with sqlite3.connect(var / "trail.sqlite3") as db:
        rows = db.execute("SELECT kind, status, error, result_name FROM events_datajob").fetchall()
    return {kind: (status, error, result) for kind, status, error, result in rows}


def test_the_next_start_fails_what_a_kill_left_running_and_runs_what_was_queued(
    isolated_var: Path,
) -> None:
    env = child_env(isolated_var)
    assert manage("migrate", "--noinput", env=env).returncode == 0
    # A Trail is serving (holding chDB and the job runner) when the jobs' state is written
    # and then it is killed: nothing of it gets to clean up.
    first = start_server(env, free_port())
    made = manage("shell", "-c", LEAVE_A_CRASHED_STATE, env=env)
    stop_server(first, signal.SIGKILL)
    assert made.returncode == 0, made.stderr
    _, partial = made.stdout.strip().splitlines()[-1].split()
    assert (isolated_var / "exports" / partial).exists()

    second = start_server(env, free_port())
    try:
        deadline = time.monotonic() + 60
        while _jobs(isolated_var)["export.report"][0] != "done":
            assert time.monotonic() < deadline, _jobs(isolated_var)
            time.sleep(0.2)
    finally:
        stop_server(second)
    jobs = _jobs(isolated_var)
    status, error, result = jobs["export.events"]
    assert (status, result) == ("failed", "")
    assert error.startswith("interrupted: Trail stopped while the job ran")
    assert not (isolated_var / "exports" / partial).exists()
    report = jobs["export.report"][2]
    assert report.endswith("-crash.example.com-report-2026-01-01-2026-01-31.zip")
    assert (isolated_var / "exports" / report).stat().st_mode & 0o077 == 0  # private
