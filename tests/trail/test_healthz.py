"""`/healthz` reports each dependency; a broken one makes it 503, except a ClickHouse
server that does not answer: ingest goes on into the spool ("degraded", 200)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from django.test import Client, override_settings

from events.clickhouse import reset_client
from tests.helpers import free_port


@pytest.mark.django_db
def test_healthy(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["clickhouse"]["ok"] is True
    assert body["database"]["ok"] is True
    assert set(body["buffer"]) == {"segments", "bytes", "oldest_seconds", "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.fixture
def unreachable_clickhouse(settings: object) -> Iterator[None]:
    from django.conf import settings as live

    broken = replace(live.CLICKHOUSE, url=f"http://default:pw@127.0.0.1:{free_port()}/trail")
    reset_client()
    with override_settings(CLICKHOUSE=broken):
        yield
        reset_client()


@pytest.mark.django_db
@pytest.mark.usefixtures("unreachable_clickhouse")
def test_unreachable_clickhouse_server_is_degraded_not_down(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200  # the load balancer keeps sending ingest traffic
    body = response.json()
    assert body["status"] == "degraded"
    assert body["clickhouse"]["ok"] is False
    assert body["clickhouse"]["backend"] == "server"
    assert body["clickhouse"]["error"]
    assert body["database"]["ok"] is True


@pytest.mark.django_db
def test_only_get(client: Client) -> None:
    assert client.post("/healthz").status_code == 405


@pytest.mark.services
@pytest.mark.django_db
def test_services_mode_reports_postgresql_and_redis(client: Client) -> None:
    body = client.get("/healthz").json()
    assert body["mode"] == "celery"
    assert body["database"] == {"ok": True, "engine": "postgresql"}
    assert body["redis"] == {"ok": True}


@pytest.mark.django_db
def test_a_full_spool_is_unhealthy(client: Client, settings: object) -> None:
    from django.conf import settings as live

    full = replace(live.TRAIL, ingest=replace(live.TRAIL.ingest, spool_max_bytes=-1))
    with override_settings(TRAIL=full):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["buffer"]["ok"] is False
