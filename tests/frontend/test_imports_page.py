"""A site's Imports page (frontend/views/imports.py) on real chDB: an owner uploads a GA4
BigQuery export, its row polls while queued and shows rows and days once done, the import
is deleted with its events; viewers read only; another organization's site and imports
are 404; every upload a person can get wrong is answered on the page, nothing lost."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from accounts.models import Role
from events import data_jobs
from events.clickhouse import get_client
from events.models import DataJob
from reports.imports import services
from reports.imports.api import UPLOAD_PATH
from sites.models import Site
from tests import factories
from tests.reports.test_imports_ga4 import row

pytestmark = pytest.mark.django_db

FIRST = dt.datetime(2024, 3, 5, 14, 30, tzinfo=dt.UTC)
DAYS = 40  # one visitor's page view a day, from FIRST


def ga4_export(days: int = DAYS, *, start: dt.datetime = FIRST) -> bytes:
    """BigQuery `events_*` rows as NDJSON: one page view a day by a visitor of its own."""
    lines = []
    for day in range(days):
        when = start + dt.timedelta(days=day)
        micros = int(when.timestamp() * 1_000_000)
        event = row(micros=micros, user=f"{day}.1700000000", session=1700000000 + day)
        event["event_date"] = when.strftime("%Y%m%d")
        lines.append(json.dumps(event) + "\n")
    return "".join(lines).encode()


def a_file(content: bytes, name: str = "events_2024.ndjson") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/x-ndjson")


@pytest.fixture
def site(make_site: Callable[..., Site], clickhouse: object) -> Site:
    return make_site("imports-page.example.com")


def signed_in(site: Site, role: Role = Role.OWNER) -> Client:
    client = Client()
    client.force_login(factories.member(site.organization, role))
    return client


def page_of(site: Site) -> str:
    return f"/sites/{site.domain}/imports"


def upload(client: Client, site: Site, **fields: Any) -> Any:
    return client.post(page_of(site), data=fields)


def events_of(site: Site) -> int:
    found = get_client().query(
        "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", {"s": site.pk}
    )
    return int(found[0]["n"])


def uploads_left() -> set[Path]:
    return set(services.upload_dir().iterdir())


def test_an_owner_imports_a_ga4_export_watches_it_and_deletes_it(site: Site) -> None:
    client = signed_in(site)
    page = client.get(page_of(site)).content.decode()
    assert f'href="/sites/{site.domain}/imports" aria-current="page">Imports</a>' in page
    assert 'enctype="multipart/form-data"' in page and 'name="file" multiple' in page
    for source in services.SOURCES:
        assert f'<option value="{source}"' in page
    assert "No imports yet." in page
    before = uploads_left()

    answer = upload(client, site, source="ga4", file=a_file(ga4_export()))
    assert answer.status_code == 302 and answer["Location"] == page_of(site)
    assert uploads_left() <= before  # the upload's temporary file is gone
    job = DataJob.objects.get(site=site)
    assert job.kind == "import.ga4" and job.status == DataJob.Status.QUEUED
    queued = client.get(page_of(site)).content.decode()
    assert "Import queued" in queued
    url = f"/sites/{site.domain}/imports/{job.pk}"
    assert f'hx-get="{url}" hx-trigger="every 1s"' in queued  # polls while queued
    assert "<progress" in queued and "events_2024.ndjson" in queued
    assert ">Cancel</button>" in queued

    data_jobs.run(job.pk)
    done = client.get(url).content.decode()
    assert 'data-status="done"' in done
    assert "every 1s" not in done and "<progress" not in done  # the polling stops
    assert f'<td class="import-rows">{DAYS}</td>' in done
    last = (FIRST + dt.timedelta(days=DAYS - 1)).date()
    assert f"{FIRST.date()} – {last}" in done
    assert "Delete imported data</button>" in done and "hx-confirm=" in done
    assert events_of(site) == DAYS

    deleted = client.post(url, HTTP_HX_REQUEST="true")
    assert deleted.status_code == 200 and deleted.content == b""  # the row goes
    assert events_of(site) == 0
    assert not DataJob.objects.filter(pk=job.pk).exists()
    assert client.get(url).status_code == 404
    # A row still polling in another tab is told to stop (htmx's 286) and goes.
    polled = client.get(url, HTTP_HX_REQUEST="true")
    assert polled.status_code == 286 and polled.content == b""
    assert "No imports yet." in client.get(page_of(site)).content.decode()


def test_cancelling_a_queued_import_keeps_its_row_marked_cancelled(site: Site) -> None:
    client = signed_in(site, Role.ADMIN)
    upload(client, site, source="ga4", file=a_file(ga4_export(3)))
    job = DataJob.objects.get(site=site)
    url = f"/sites/{site.domain}/imports/{job.pk}"
    cancelled = client.post(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="cancelled"' in cancelled and "every 1s" not in cancelled
    assert ">Remove</button>" in cancelled
    assert data_jobs.run(job.pk) == DataJob.Status.CANCELLED
    assert events_of(site) == 0
    # Without htmx: back to the page, which says what happened.
    removed = client.post(url, follow=True)
    assert removed.redirect_chain == [(page_of(site), 302)]
    assert "Import deleted." in removed.content.decode()
    assert not DataJob.objects.filter(pk=job.pk).exists()


def test_a_viewer_sees_the_list_read_only(site: Site) -> None:
    upload(signed_in(site), site, source="ga4", file=a_file(ga4_export(2)))
    job = DataJob.objects.get(site=site)
    viewer = signed_in(site, Role.VIEWER)
    page = viewer.get(page_of(site)).content.decode()
    assert "events_2024.ndjson" in page  # the list
    assert 'id="import-form"' not in page and 'enctype="multipart/form-data"' not in page
    assert "hx-post=" not in page and ">Cancel</button>" not in page
    assert "Only the organization's owners and admins" in page
    url = f"/sites/{site.domain}/imports/{job.pk}"
    assert viewer.get(url).status_code == 200
    assert upload(viewer, site, source="ga4", file=a_file(b"{}\n")).status_code == 403
    assert viewer.post(url).status_code == 403
    assert DataJob.objects.filter(site=site).count() == 1


def test_another_organizations_site_and_imports_are_404(
    site: Site, make_site: Callable[..., Site]
) -> None:
    upload(signed_in(site), site, source="ga4", file=a_file(ga4_export(2)))
    job = DataJob.objects.get(site=site)
    other = make_site("imports-page-other.example.com")
    stranger = signed_in(other)  # an owner, of another organization
    url = f"/sites/{site.domain}/imports/{job.pk}"
    for answer in (
        stranger.get(page_of(site)),
        upload(stranger, site, source="ga4", file=a_file(ga4_export(1))),
        stranger.get(url),
        stranger.post(url),
        # the other site's own URL with this site's import: still not found
        stranger.get(f"/sites/{other.domain}/imports/{job.pk}"),
        stranger.post(f"/sites/{other.domain}/imports/{job.pk}"),
        stranger.get(f"/sites/{other.domain}/imports/not-a-uuid"),
    ):
        assert answer.status_code == 404
    sibling = make_site("imports-page-sibling.example.com", organization=site.organization)
    owner = signed_in(site)
    assert owner.get(f"/sites/{sibling.domain}/imports/{job.pk}").status_code == 404
    assert DataJob.objects.filter(pk=job.pk).exists()
    anonymous = Client().get(page_of(site))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"source": "ga4"}, 400, "File: at least one file is required."),
        ({"source": "ga4", "file": b""}, 400, "is empty."),
        ({"source": "matomo", "file": b"x"}, 400, "Choose what the files are: Trail,"),
        ({"file": b"x"}, 400, "Choose what the files are"),
    ],
)
def test_a_bad_upload_is_answered_on_the_page(
    site: Site, fields: dict[str, Any], status: int, message: str
) -> None:
    data = {
        name: a_file(value, "empty.ndjson") if isinstance(value, bytes) else value
        for name, value in fields.items()
    }
    answer = upload(signed_in(site), site, **data)
    assert answer.status_code == status
    html = answer.content.decode()
    assert 'role="alert"' in html and message in html
    assert 'id="import-form"' in html  # the form is there to try again
    assert not DataJob.objects.filter(site=site).exists()


def test_the_same_file_again_names_the_earlier_import_and_keeps_the_source(site: Site) -> None:
    client = signed_in(site)
    upload(client, site, source="ga4", file=a_file(ga4_export(2)))
    first = DataJob.objects.get(site=site)
    again = upload(client, site, source="ga4", file=a_file(ga4_export(2), "copy.ndjson"))
    assert again.status_code == 400
    html = again.content.decode()
    assert f"File: copy.ndjson was already imported by import {first.pk}" in html
    assert '<option value="ga4" selected>' in html  # what was chosen stays chosen
    assert DataJob.objects.filter(site=site).count() == 1


def test_an_upload_over_the_cap_is_413_and_its_file_is_deleted(site: Site) -> None:
    trail = dataclasses.replace(settings.TRAIL, import_max_bytes=100)
    before = uploads_left()
    with override_settings(TRAIL=trail):
        answer = upload(signed_in(site), site, source="ga4", file=a_file(ga4_export(5)))
    assert answer.status_code == 413
    assert "over this Trail&#x27;s limit of 100 bytes" in answer.content.decode()
    assert uploads_left() <= before
    assert not DataJob.objects.filter(site=site).exists()


def test_a_third_running_job_is_refused_with_a_clear_message(site: Site) -> None:
    client = signed_in(site)
    for day in range(data_jobs.MAX_ACTIVE_PER_ORGANIZATION):
        start = FIRST + dt.timedelta(days=100 * day)
        assert (
            upload(client, site, source="ga4", file=a_file(ga4_export(1, start=start))).status_code
            == 302
        )
    refused = upload(
        client, site, source="umami", file=a_file(ga4_export(1, start=FIRST - dt.timedelta(days=9)))
    )
    assert refused.status_code == 429
    html = refused.content.decode()
    assert "2 imports or exports of your organization are already running" in html
    assert '<option value="umami" selected>' in html


def test_a_malformed_multipart_body_is_a_400(site: Site) -> None:
    answer = signed_in(site).post(
        page_of(site),
        data=b'--x\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nabc',
        content_type="multipart/form-data; boundary=",
    )
    assert answer.status_code in (400, 403)  # refused, never a server error
    assert not DataJob.objects.filter(site=site).exists()


def test_the_page_queries_do_not_grow_with_its_imports(
    site: Site, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    client = signed_in(site)
    for day in range(2):
        upload(
            client,
            site,
            source="ga4",
            file=a_file(ga4_export(1, start=FIRST + dt.timedelta(days=day))),
        )
    for job in DataJob.objects.filter(site=site):
        data_jobs.run(job.pk)
    client.get(page_of(site))  # the session and the like, once
    with django_assert_max_num_queries(8) as counted:
        client.get(page_of(site))
    few = len(counted.captured_queries)
    upload(
        client, site, source="ga4", file=a_file(ga4_export(1, start=FIRST + dt.timedelta(days=7)))
    )
    with django_assert_max_num_queries(few):
        client.get(page_of(site))


def test_the_upload_form_is_csrf_protected(site: Site) -> None:
    """The view is `csrf_exempt` only to put the upload handler in place first; the check
    itself runs once it is."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(factories.member(site.organization, Role.OWNER))
    refused = upload(client, site, source="ga4", file=a_file(ga4_export(2)))
    assert refused.status_code == 403
    client.get(page_of(site))
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    accepted = upload(
        client, site, source="ga4", file=a_file(ga4_export(2)), csrfmiddlewaretoken=token
    )
    assert accepted.status_code == 302
    assert DataJob.objects.filter(site=site).count() == 1


def test_the_servers_gate_spools_the_pages_uploads_to_disk() -> None:
    """`manage.py serve` holds other bodies in memory up to 8 MiB; the page's upload, as
    the API's, is spooled to disk (trail/gate.py `Uploads`, matched by this pattern)."""
    assert UPLOAD_PATH.fullmatch("/sites/example.com/imports")
    assert UPLOAD_PATH.fullmatch("/api/v1/sites/example.com/imports")
    assert not UPLOAD_PATH.fullmatch("/sites/example.com/imports/5e0c1d2a")  # a delete
    assert not UPLOAD_PATH.fullmatch("/sites/example.com/settings")
