"""The dashboard's Export menu (frontend/views/export_jobs.py): a member starts an export of
the view, its row polls while it runs and offers the download once done; other sites'
exports and outsiders get 404; shared-link visitors see only the synchronous zip."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable

import pytest
from django.test import Client

from accounts.models import Role
from events import data_jobs
from events.models import DataJob
from sites.models import SharedLink, Site
from tests import factories
from tests.reports.conftest import hit

pytestmark = pytest.mark.django_db

DAY = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0) - dt.timedelta(
    days=2
)


@pytest.fixture
def site(make_site: Callable[..., Site], seed: Callable[..., None]) -> Site:
    site = make_site("export-menu.example.com")
    seed(site, [hit(site, DAY, "/"), hit(site, DAY, "/blog", ip="192.0.2.9")])
    return site


def signed_in(site: Site, role: Role = Role.VIEWER) -> Client:
    client = Client()
    client.force_login(factories.member(site.organization, role))
    return client


def test_the_dashboard_shows_the_export_menu_to_members(site: Site) -> None:
    page = signed_in(site).get(f"/sites/{site.domain}/?period=7d&f=event:page|is|/blog")
    html = page.content.decode()
    assert 'class="export-menu"' in html
    assert f'hx-get="/sites/{site.domain}/exports"' in html
    for value in ("report:zip", "events:csv", "events:ndjson", "events:parquet"):
        assert f'value="{value}"' in html
    assert 'name="f" value="event:page|is|/blog"' in html  # the view goes with the form


def test_a_viewer_starts_an_export_of_the_view_watches_it_and_downloads_it(site: Site) -> None:
    client = signed_in(site)
    started = client.post(
        f"/sites/{site.domain}/exports",
        {"export": "report:zip", "period": "7d", "f": "event:page|is|/blog"},
        HTTP_HX_REQUEST="true",
    )
    assert started.status_code == 200
    job = DataJob.objects.get(site=site)
    assert job.kind == "export.report" and job.status == DataJob.Status.QUEUED
    assert job.parameters["filters"] == [["is", "event:page", ["/blog"]]]
    row = started.content.decode()
    assert f'hx-get="/sites/{site.domain}/exports/{job.pk}"' in row  # polls while queued
    assert 'hx-trigger="every 1s"' in row and "<progress" in row

    data_jobs.run(job.pk)
    done = client.get(f"/sites/{site.domain}/exports/{job.pk}").content.decode()
    assert "every 1s" not in done and "<progress" not in done  # polling stops
    assert f'href="/sites/{site.domain}/exports/{job.pk}/download"' in done
    downloaded = client.get(f"/sites/{site.domain}/exports/{job.pk}/download")
    assert downloaded.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(downloaded.streaming_content)))
    pages = archive.read("pages-pages.csv").decode().replace("\r\n", "\n")
    assert pages == "Top pages,visitors,pageviews\n/blog,1,1\n"  # the view's filter applied


def test_without_htmx_a_start_returns_to_the_dashboard(site: Site) -> None:
    answer = signed_in(site).post(
        f"/sites/{site.domain}/exports", {"export": "events:parquet", "period": "30d"}
    )
    assert answer.status_code == 302
    assert answer["Location"].startswith(f"/sites/{site.domain}/?period=30d")
    assert DataJob.objects.get(site=site).parameters["format"] == "parquet"


def test_a_third_export_is_refused_with_a_message(site: Site) -> None:
    client = signed_in(site)
    for _ in range(2):
        client.post(f"/sites/{site.domain}/exports", {"export": "report:zip"})
    third = client.post(
        f"/sites/{site.domain}/exports", {"export": "events:csv"}, HTTP_HX_REQUEST="true"
    )
    assert "already running" in third.content.decode()
    assert DataJob.objects.filter(site=site).count() == 2


def test_an_unknown_choice_starts_nothing(site: Site) -> None:
    answer = signed_in(site).post(
        f"/sites/{site.domain}/exports", {"export": "events:xlsx"}, HTTP_HX_REQUEST="true"
    )
    assert "Choose what to export." in answer.content.decode()
    assert not DataJob.objects.filter(site=site).exists()


def test_cancel_then_remove_from_the_menu(site: Site) -> None:
    client = signed_in(site)
    client.post(f"/sites/{site.domain}/exports", {"export": "events:csv"})
    job = DataJob.objects.get(site=site)
    cancelled = client.post(f"/sites/{site.domain}/exports/{job.pk}")
    assert 'data-status="cancelled"' in cancelled.content.decode()
    removed = client.post(f"/sites/{site.domain}/exports/{job.pk}")
    assert removed.content == b""
    assert not DataJob.objects.filter(pk=job.pk).exists()


def test_another_sites_export_and_outsiders_get_404(
    site: Site, make_site: Callable[..., Site]
) -> None:
    owner = signed_in(site, Role.OWNER)
    owner.post(f"/sites/{site.domain}/exports", {"export": "report:zip"})
    job = DataJob.objects.get(site=site)
    data_jobs.run(job.pk)
    sibling = factories.site(site.organization, "export-menu-sibling.example.com")
    for path in (f"/exports/{job.pk}", f"/exports/{job.pk}/download"):
        assert owner.get(f"/sites/{sibling.domain}{path}").status_code == 404
        assert owner.get(f"/sites/{site.domain}/exports/not-an-id").status_code == 404
    outsider = Client()
    outsider.force_login(factories.user())
    for path in ("/exports", f"/exports/{job.pk}", f"/exports/{job.pk}/download"):
        assert outsider.get(f"/sites/{site.domain}{path}").status_code == 404
    assert (
        outsider.post(f"/sites/{site.domain}/exports", {"export": "report:zip"}).status_code == 404
    )
    assert DataJob.objects.filter(site=site).count() == 1


def test_a_shared_link_shows_the_synchronous_zip_only(site: Site) -> None:
    link = SharedLink.objects.create(site=site, name="press", slug="press-export-menu")
    html = Client().get(f"/share/{site.domain}?auth={link.slug}").content.decode()
    assert 'class="export-menu"' not in html
    assert f"/share/{site.domain}/export/all?" in html


def test_the_list_of_exports_takes_as_many_queries_for_one_as_for_many(site: Site) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = signed_in(site)

    def queries() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert client.get(f"/sites/{site.domain}/exports").status_code == 200
        return len(seen)

    DataJob.objects.create(organization=site.organization, site=site, kind="export.report")
    one = queries()
    for _ in range(5):
        DataJob.objects.create(
            organization=site.organization,
            site=site,
            kind="export.events",
            parameters={"format": "csv", "date_range": ["2026-01-01", "2026-01-02"]},
            status=DataJob.Status.DONE,
        )
    assert queries() == one <= 6
