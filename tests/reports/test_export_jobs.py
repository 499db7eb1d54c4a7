"""Export jobs over the API (reports/exports_api.py, reports/export_jobs.py) on real chDB:
events and report jobs from queued to done with their files read back, progress, cancel,
ClickHouse refusing a job's query, 429 on a third job, 410 after expiry, 404 for another
tenant's export as for a made-up one, 403 without the scope, 400 naming the field."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import zipfile
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from events import data_jobs
from events.models import DataJob
from reports import report_zip
from reports.stats import answer
from sites.models import Site
from tests import factories
from tests.reports.conftest import hit

pytestmark = pytest.mark.django_db

Status = DataJob.Status
# The embedded runner's threads; services mode hands jobs to Celery (test_export_jobs_services).
EMBEDDED_ONLY = pytest.mark.skipif(
    settings.TRAIL.services_mode, reason="the embedded runner (services mode runs Celery)"
)
DAY = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(
    days=3
)
RANGE = [
    (DAY - dt.timedelta(days=1)).date().isoformat(),
    (DAY + dt.timedelta(days=1)).date().isoformat(),
]
MIN = dt.timedelta(minutes=1)


def traffic(site: Site) -> list[dict[str, Any]]:
    return [
        hit(site, DAY, "/", ip="192.0.2.10", referrer="https://www.google.com/"),
        hit(site, DAY + MIN, "/pricing", ip="192.0.2.10"),
        hit(site, DAY + 2 * MIN, "/blog", ip="192.0.2.11"),
        hit(site, DAY + 3 * MIN, "/blog", name="Signup", ip="192.0.2.11", props={"plan": "pro"}),
        hit(site, DAY + 4 * MIN, "/", ip="192.0.2.12", referrer="https://duck.com/"),
        hit(site, DAY + dt.timedelta(days=2), "/outside", ip="192.0.2.13"),  # after the range
    ]


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site("export-jobs.example.com")
    neighbour = make_site("export-jobs-neighbour.example.com")
    seed(site, traffic(site))
    seed(neighbour, traffic(neighbour))
    return site


def api(site: Site, scopes: tuple[str, ...] = ("stats:read",)) -> Client:
    _, key = factories.api_key(site.organization, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def start(client: Client, domain: str, **body: Any) -> Any:
    return client.post(
        f"/api/v1/sites/{domain}/exports", data=json.dumps(body), content_type="application/json"
    )


def run_to_end(answer_: Any) -> str:
    """Run the queued job as the runner does (the test's transaction is not committed, so
    the runner's own threads could not see the row)."""
    assert answer_.status_code == 202, answer_.content
    job_id = answer_.json()["id"]
    data_jobs.run(job_id)
    return str(job_id)


def test_an_events_export_runs_from_queued_to_done_and_its_file_matches_the_stats(
    site: Site,
) -> None:
    client = api(site)
    created = start(client, site.domain, kind="events", format="ndjson", date_range=RANGE)
    assert created.status_code == 202
    assert created.json()["status"] == "queued"
    job_id = created.json()["id"]
    assert created["Location"].endswith(f"/api/v1/exports/{job_id}")
    queued = client.get(f"/api/v1/exports/{job_id}").json()
    assert (queued["status"], queued["progress"], queued["download_url"]) == ("queued", 0, None)

    data_jobs.run(job_id)
    done = client.get(f"/api/v1/exports/{job_id}").json()
    assert done["status"] == "done" and done["progress"] == 1
    assert done["kind"] == "events" and done["format"] == "ndjson"
    assert done["error"] is None and done["finished_at"] and done["expires_at"]
    assert done["download_url"].endswith(f"/api/v1/exports/{job_id}/download")

    downloaded = client.get(f"/api/v1/exports/{job_id}/download")
    assert downloaded.status_code == 200
    assert downloaded["Content-Type"] == "application/x-ndjson"
    assert (
        f'filename="{site.domain}-events-{RANGE[0]}-{RANGE[1]}.ndjson"'
        in downloaded["Content-Disposition"]
    )
    body = b"".join(downloaded.streaming_content)
    lines = [json.loads(line) for line in body.splitlines()]
    stats = answer(
        site=site,
        body={"site_id": site.domain, "metrics": ["events", "pageviews"], "date_range": RANGE},
    )
    events, pageviews = stats["results"][0]["metrics"]
    assert len(lines) == done["rows"] == events == 5
    assert sum(line["name"] == "pageview" for line in lines) == pageviews
    assert done["bytes"] == len(body)
    assert not any(line["page"] == "/outside" for line in lines)


def test_a_parquet_export_with_filters_reads_back(site: Site) -> None:
    client = api(site)
    filters = [["contains", "event:page", ["/blog"]]]
    job_id = run_to_end(
        start(
            client, site.domain, kind="events", format="parquet", date_range=RANGE, filters=filters
        )
    )
    job = client.get(f"/api/v1/exports/{job_id}").json()
    assert job["rows"] == 2
    body = b"".join(client.get(f"/api/v1/exports/{job_id}/download").streaming_content)
    table = pq.read_table(io.BytesIO(body))
    assert table.num_rows == 2 and set(table.column("page").to_pylist()) == {"/blog"}


def test_a_report_export_is_the_dashboards_zip(site: Site) -> None:
    client = api(site)
    job_id = run_to_end(start(client, site.domain, kind="report", date_range=RANGE))
    job = client.get(f"/api/v1/exports/{job_id}").json()
    assert job["status"] == "done" and job["format"] == "zip"
    downloaded = client.get(f"/api/v1/exports/{job_id}/download")
    assert downloaded["Content-Type"] == "application/zip"
    body = b"".join(downloaded.streaming_content)

    expected = io.BytesIO()  # what the dashboard's "Download all" writes for the same range
    report_zip.write_zip(expected, site, {"site_id": site.domain, "date_range": RANGE})
    with zipfile.ZipFile(io.BytesIO(body)) as got, zipfile.ZipFile(expected) as want:
        assert got.namelist() == want.namelist()
        assert len(got.namelist()) == report_zip.FILES
        for name in want.namelist():
            assert got.read(name) == want.read(name), name
        pages = got.read("pages-pages.csv").decode()
    assert pages.replace("\r\n", "\n").endswith("/,2,2\n/blog,1,1\n/pricing,1,1\n")
    assert job["rows"] > 0


def test_a_member_signed_in_may_export_and_a_viewer_too(site: Site) -> None:
    viewer = factories.member(site.organization, Role.VIEWER)
    client = Client()
    client.force_login(viewer)
    created = start(client, site.domain, kind="report", date_range="7d")
    assert created.status_code == 202
    job = DataJob.objects.get(pk=created.json()["id"])
    assert job.created_by == viewer and job.organization == site.organization


def test_a_cancelled_export_stops_and_a_finished_one_is_removed(
    site: Site, django_capture_on_commit_callbacks: Any
) -> None:
    client = api(site)
    queued = start(client, site.domain, kind="events", format="csv", date_range=RANGE).json()
    assert client.delete(f"/api/v1/exports/{queued['id']}").status_code == 204
    assert client.get(f"/api/v1/exports/{queued['id']}").json()["status"] == "cancelled"
    assert data_jobs.run(queued["id"]) == Status.CANCELLED  # the runner leaves it alone
    assert client.get(f"/api/v1/exports/{queued['id']}/download").status_code == 409

    job_id = run_to_end(start(client, site.domain, kind="events", format="csv", date_range=RANGE))
    name = DataJob.objects.get(pk=job_id).result_name
    assert data_jobs.storage().exists(name)
    with django_capture_on_commit_callbacks(execute=True):  # the file goes once it commits
        assert client.delete(f"/api/v1/exports/{job_id}").status_code == 204
    assert not data_jobs.storage().exists(name)
    assert client.get(f"/api/v1/exports/{job_id}").status_code == 404


def test_clickhouse_refusing_the_query_fails_the_job_with_the_reason(site: Site) -> None:
    """A regular expression ClickHouse cannot compile passes the request's checks and fails
    in ClickHouse, while the job runs: the job fails with ClickHouse's reason, no file."""
    client = api(site)
    bad = [["matches", "event:page", ["(unclosed"]]]
    job_id = run_to_end(
        start(client, site.domain, kind="events", format="ndjson", date_range=RANGE, filters=bad)
    )
    job = client.get(f"/api/v1/exports/{job_id}").json()
    assert job["status"] == "failed"
    assert (
        job["error"]
        == "filters: not a valid RE2 regular expression: '(unclosed' (missing ): (unclosed)"
    )
    assert job["download_url"] is None
    assert not DataJob.objects.get(pk=job_id).result_name
    assert not data_jobs.storage().exists(
        f"{job_id}-{site.domain}-events-{RANGE[0]}-{RANGE[1]}.ndjson"
    )
    gone = client.get(f"/api/v1/exports/{job_id}/download")
    assert gone.status_code == 409 and "failed" in gone.json()["error"]
    # nothing else is affected: the next export of the site runs
    assert (
        data_jobs.run(
            start(client, site.domain, kind="events", format="csv", date_range=RANGE).json()["id"]
        )
        == Status.DONE
    )


def test_a_third_export_of_an_organization_is_429_with_retry_after(site: Site) -> None:
    client = api(site)
    for _ in range(2):
        assert start(client, site.domain, kind="report", date_range="7d").status_code == 202
    third = start(client, site.domain, kind="events", format="csv", date_range="7d")
    assert third.status_code == 429
    assert third["Retry-After"] == str(data_jobs.RETRY_AFTER)
    assert third.json()["error"].startswith("export: 2 exports")
    other = factories.organization()  # another organization is not held back
    other_site = factories.site(other, "export-jobs-other.example.com")
    assert (
        start(api(other_site), other_site.domain, kind="report", date_range="7d").status_code == 202
    )


def test_a_download_after_expiry_is_410(site: Site) -> None:
    client = api(site)
    job_id = run_to_end(start(client, site.domain, kind="report", date_range=RANGE))
    DataJob.objects.filter(pk=job_id).update(
        finished_at=timezone.now() - dt.timedelta(days=7, seconds=1)
    )
    assert data_jobs.expire_data_jobs().expired == 1
    job = client.get(f"/api/v1/exports/{job_id}").json()
    assert job["status"] == "expired" and job["download_url"] is None
    gone = client.get(f"/api/v1/exports/{job_id}/download")
    assert gone.status_code == 410
    assert "expired" in gone.json()["error"]


def test_another_tenants_export_is_a_made_up_one(site: Site) -> None:
    job_id = run_to_end(start(api(site), site.domain, kind="report", date_range=RANGE))
    stranger_org = factories.organization()
    factories.site(stranger_org, "export-jobs-stranger.example.com")
    _, key = factories.api_key(stranger_org)
    stranger = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    outsider = Client()
    outsider.force_login(factories.user())
    for client in (stranger, outsider):
        for suffix in ("", "/download"):
            for made_up in (job_id, "0b7f2c3e-5d0a-4c41-9a57-8d1f0e6b2a10", "not-a-uuid"):
                got = client.get(f"/api/v1/exports/{made_up}{suffix}")
                assert (got.status_code, got.json()) == (404, {"error": "not found"})
        assert client.delete(f"/api/v1/exports/{job_id}").status_code == 404
        assert start(client, site.domain, kind="report", date_range="7d").status_code == 404
    assert DataJob.objects.get(pk=job_id).status == Status.DONE


def test_a_key_without_stats_read_is_403(site: Site) -> None:
    job_id = run_to_end(start(api(site), site.domain, kind="report", date_range=RANGE))
    client = api(site, scopes=("events:write",))
    refused = start(client, site.domain, kind="report", date_range="7d")
    assert refused.status_code == 403
    assert "stats:read" in refused.json()["error"]
    assert client.get(f"/api/v1/exports/{job_id}").status_code == 403
    assert client.get(f"/api/v1/exports/{job_id}/download").status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "everything", "date_range": "7d"}, "kind"),
        ({"date_range": "7d"}, "kind"),
        ({"kind": "events", "format": "xlsx", "date_range": "7d"}, "format"),
        ({"kind": "events", "date_range": "7d"}, "format"),
        ({"kind": "report", "format": "parquet", "date_range": "7d"}, "format"),
        ({"kind": "events", "format": "csv"}, "date_range"),
        ({"kind": "report"}, "date_range"),
        ({"kind": "events", "format": "csv", "date_range": "fortnight"}, "date_range"),
        ({"kind": "report", "date_range": ["2026-02-30", "2026-03-01"]}, "date_range"),
        (
            {
                "kind": "events",
                "format": "csv",
                "date_range": "7d",
                "filters": [["is", "nope", ["x"]]],
            },
            "filters",
        ),
        ({"kind": "report", "date_range": "7d", "filters": "all of them"}, "filters"),
        ({"kind": "report", "date_range": "7d", "emails": True}, "emails"),
    ],
)
def test_bad_input_is_400_naming_the_field(site: Site, body: dict[str, Any], field: str) -> None:
    got = start(api(site), site.domain, **body)
    assert got.status_code == 400, got.content
    assert got.json()["error"].startswith(f"{field}"), got.json()
    assert not DataJob.objects.filter(site=site).exists()


@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b"\xff\xfe", b'{"kind": "report", "date_range": "7d"' + b" " * 10]
)
def test_a_malformed_body_is_400_naming_body(site: Site, raw: bytes) -> None:
    got = api(site).post(
        f"/api/v1/sites/{site.domain}/exports", data=raw, content_type="application/json"
    )
    assert got.status_code == 400
    assert got.json()["error"].startswith("body")


@EMBEDDED_ONLY
@pytest.mark.django_db(transaction=True)
def test_the_embedded_runner_runs_an_api_export_to_the_end(
    make_site: Callable[..., Site], seed: Callable[..., None]
) -> None:
    site = make_site("export-jobs-runner.example.com")
    seed(site, traffic(site))
    client = api(site)
    created = start(client, site.domain, kind="events", format="csv", date_range=RANGE)
    job_id = created.json()["id"]
    deadline = time.monotonic() + 30
    # Polled gently: the test database is SQLite's shared in-memory one, where a read of
    # the job's table while the runner thread writes it fails the write ("table is
    # locked") instead of waiting, as a file database would (make run's).
    while client.get(f"/api/v1/exports/{job_id}").json()["status"] != "done":
        assert time.monotonic() < deadline, client.get(f"/api/v1/exports/{job_id}").json()
        time.sleep(0.5)
    body = b"".join(client.get(f"/api/v1/exports/{job_id}/download").streaming_content)
    assert body.count(b"\n") == 1 + 5  # the header and the range's events
