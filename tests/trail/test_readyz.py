"""`/readyz` (trail/health.py): every backend with its status; one down makes it 503 and
is named. The failures are real: a closed port, a directory that cannot exist."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings

from events.clickhouse import reset_client
from tests.helpers import free_port

pytestmark = pytest.mark.django_db


def test_ready(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready" and body["failing"] == []
    expected = {"database", "clickhouse", "spool", "metrics"}
    if settings.TRAIL.redis_url:
        expected.add("redis")
    assert {name for name, check in body.items() if isinstance(check, dict)} == expected
    assert all(body[name]["ok"] and body[name]["ms"] >= 0 for name in expected)
    assert response["Cache-Control"].startswith("max-age=0")
    assert client.post("/readyz").status_code == 405


def test_redis_on_a_closed_port_is_named(client: Client) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(TRAIL=replace(settings.TRAIL, redis_url=closed)):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unready"
    assert body["failing"] == ["redis"]
    assert body["redis"]["ok"] is False
    assert "cannot connect" in body["redis"]["error"]
    assert body["database"]["ok"] is True
    # /healthz stays what it was: cheap, and not about every backend's readiness.
    assert client.get("/healthz").status_code in (200, 503)


def test_a_spool_directory_that_cannot_be_written_is_named(client: Client, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with override_settings(TRAIL=replace(settings.TRAIL, var_dir=blocker / "var")):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["spool"]
    assert "Not a directory" in body["spool"]["error"]


@pytest.fixture
def unreachable_clickhouse() -> Iterator[None]:
    broken = replace(settings.CLICKHOUSE, url=f"http://default:pw@127.0.0.1:{free_port()}/trail")
    reset_client()
    with override_settings(CLICKHOUSE=broken):
        yield
    reset_client()


@pytest.mark.usefixtures("unreachable_clickhouse")
def test_a_clickhouse_server_down_is_unready_though_healthy(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["clickhouse"]
    assert client.get("/healthz").status_code == 200  # degraded: ingest goes on to the spool
