"""The imports API (reports/imports/api.py) on real chDB: a multipart upload of a Trail export
is queued (202), runs to done and is described; DELETE removes its data; scopes (403),
another tenant (404), a viewer (403), and hostile multipart: no file, unknown source, an
unknown field, over TRAIL_IMPORT_MAX_BYTES (413), not multipart."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
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
from reports import raw_export
from sites.models import Site
from tests import factories
from tests.api_client import bearer
from tests.reports.conftest import hit

pytestmark = pytest.mark.django_db

DAY = dt.datetime.now(dt.UTC).replace(hour=9, minute=0, second=0, microsecond=0) - dt.timedelta(
    days=2
)
RANGE = [(DAY - dt.timedelta(days=1)).date().isoformat(), DAY.date().isoformat()]


def traffic(site: Site) -> list[dict[str, Any]]:
    return [
        hit(site, DAY, "/", ip="192.0.2.30", referrer="https://www.google.com/"),
        hit(site, DAY + dt.timedelta(minutes=1), "/a", ip="192.0.2.30"),
        hit(site, DAY + dt.timedelta(minutes=2), "/b", ip="192.0.2.31"),
    ]


@pytest.fixture
def export_file(make_site: Callable[..., Site], seed: Callable[..., None], tmp_path: Path) -> Path:
    original = make_site("imports-api-original.example.com")
    seed(original, traffic(original))
    request = raw_export.parse_request(original, date_range=RANGE, format="ndjson", filters=[])
    path = tmp_path / "export.ndjson"
    path.write_bytes(b"".join(raw_export.stream(request)))
    return path


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site("imports-api.example.com")


def key(site: Site, *scopes: str) -> Client:
    _, raw = factories.api_key(site.organization, scopes=scopes or ("sites:manage",))
    return bearer(raw)


def upload(client: Client, domain: str, **fields: Any) -> Any:
    return client.post(f"/api/v1/sites/{domain}/imports", data=fields)


def a_file(path: Path, name: str = "export.ndjson") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, path.read_bytes(), content_type="application/x-ndjson")


def events_of(site: Site) -> int:
    found = get_client().query(
        "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", {"s": site.pk}
    )
    return int(found[0]["n"])


def test_an_upload_is_queued_runs_and_is_described_then_deleted(
    site: Site, export_file: Path
) -> None:
    client = key(site)
    answer = upload(client, site.domain, source="trail", file=a_file(export_file))
    assert answer.status_code == 202, answer.content
    created = answer.json()
    assert created["status"] == "queued" and answer["Location"].endswith(created["id"])
    data_jobs.run(created["id"])
    found = key(site, "sites:read").get(f"/api/v1/imports/{created['id']}")
    assert found.status_code == 200
    job = found.json()
    assert job["status"] == "done" and job["rows"] == len(traffic(site)) == events_of(site)
    assert job["files"][0]["name"] == "export.ndjson" and job["first_day"] == DAY.date().isoformat()
    # hashed as it was written to disk: the file's own sha256
    assert job["files"][0]["sha256"] == hashlib.sha256(export_file.read_bytes()).hexdigest()
    assert job["files"][0]["bytes"] == export_file.stat().st_size
    assert key(site, "sites:read").delete(f"/api/v1/imports/{created['id']}").status_code == 403
    assert client.delete(f"/api/v1/imports/{created['id']}").status_code == 204
    assert events_of(site) == 0
    assert client.get(f"/api/v1/imports/{created['id']}").status_code == 404
    # Deleted: the same file may come again.
    again = upload(client, site.domain, source="trail", file=a_file(export_file))
    assert again.status_code == 202, again.content


def test_the_same_file_twice_is_400_naming_the_earlier_import(
    site: Site, export_file: Path
) -> None:
    client = key(site)
    first = upload(client, site.domain, source="trail", file=a_file(export_file)).json()
    again = upload(client, site.domain, source="trail", file=a_file(export_file, "copy.ndjson"))
    assert again.status_code == 400
    assert again.json()["error"].startswith("file: ") and first["id"] in again.json()["error"]


def test_scopes_viewers_and_other_tenants(
    site: Site, export_file: Path, make_site: Callable[..., Site]
) -> None:
    assert (
        upload(key(site, "stats:read"), site.domain, source="trail", file=a_file(export_file))
    ).status_code == 403
    viewer = factories.member(site.organization, Role.VIEWER)
    signed_in = Client()
    signed_in.force_login(viewer)
    assert (
        upload(signed_in, site.domain, source="trail", file=a_file(export_file))
    ).status_code == 403
    created = upload(key(site), site.domain, source="trail", file=a_file(export_file)).json()
    assert signed_in.get(f"/api/v1/imports/{created['id']}").status_code == 200
    assert signed_in.delete(f"/api/v1/imports/{created['id']}").status_code == 403
    stranger = make_site("imports-api-stranger.example.com")
    outsider = key(stranger)
    assert outsider.get(f"/api/v1/imports/{created['id']}").status_code == 404
    assert outsider.delete(f"/api/v1/imports/{created['id']}").status_code == 404
    assert outsider.get("/api/v1/imports/not-a-uuid").status_code == 404
    assert (
        upload(outsider, site.domain, source="trail", file=a_file(export_file))
    ).status_code == 404


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"source": "trail"}, "file"),
        ({"source": "matomo", "file": b"x"}, "source"),
        ({"file": b"x"}, "source"),
        ({"source": "trail", "file": b"x", "other": b"y"}, "other"),
        ({"source": "trail", "file": b""}, "file"),
    ],
)
def test_hostile_multipart_is_400_naming_the_field(
    site: Site, fields: dict[str, Any], field: str
) -> None:
    data = {
        name: SimpleUploadedFile(f"{name}.bin", value) if isinstance(value, bytes) else value
        for name, value in fields.items()
    }
    answer = upload(key(site), site.domain, **data)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"].startswith(f"{field}: "), answer.json()


def test_a_body_that_is_not_multipart_is_refused(site: Site) -> None:
    answer = key(site).post(
        f"/api/v1/sites/{site.domain}/imports", data=b"{}", content_type="application/json"
    )
    assert answer.status_code in (400, 415)
    assert "error" in answer.json()


def test_an_upload_over_the_cap_is_413_and_nothing_stays(site: Site, export_file: Path) -> None:
    trail = dataclasses.replace(settings.TRAIL, import_max_bytes=100)
    uploads = Path(settings.TRAIL.var_dir) / "imports" / "uploads"
    before = set(uploads.iterdir()) if uploads.exists() else set()
    with override_settings(TRAIL=trail):
        answer = upload(key(site), site.domain, source="trail", file=a_file(export_file))
    assert answer.status_code == 413, answer.content
    assert answer.json()["error"].startswith("file: ")
    assert set(uploads.iterdir()) <= before  # the partial upload was deleted
    assert events_of(site) == 0
