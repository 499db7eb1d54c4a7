from __future__ import annotations

import itertools
import json
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from events.clickhouse import ClickHouse, get_client
from events.clickhouse.migrate import migrate
from events.flush import FlushReport, flush_spool
from events.ingest.edge import reset_collector
from events.ingest.sites import directory
from events.spool import spool
from sites.models import Site
from tests import factories

REPO = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if settings.TRAIL.services_mode:
        return
    skip = pytest.mark.skip(reason="services suite only (PostgreSQL + Redis + Celery): .ci/run")
    for item in items:
        if "services" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    var_dir = Path(settings.TRAIL.var_dir)
    if var_dir.name.startswith("trail-test-"):
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate limits and cached lookups must not leak between tests (or runs, with Redis)."""
    from django.core.cache import cache

    if hasattr(cache, "delete_pattern"):  # Redis: only Trail's prefixed keys, not Celery's
        cache.delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture
def rollups_on(clickhouse: ClickHouse) -> Iterator[None]:
    """TRAIL_ROLLUPS on for one test: the views made (sites with raw rows so far listed
    pending), then dropped and the rollup tables emptied again (events.rollups.sync_views)."""
    import dataclasses

    from django.test import override_settings

    from events import rollups

    with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, rollups=True)):
        rollups.sync_views()
        try:
            yield
        finally:
            with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, rollups=False)):
                rollups.sync_views()


@pytest.fixture(scope="session")
def clickhouse() -> ClickHouse:
    """The test process's ClickHouse with Trail's schema (the migrator is idempotent)."""
    client = get_client()
    migrate(client, cluster=settings.CLICKHOUSE.cluster)
    return client


@pytest.fixture(scope="session")
def server_clickhouse(clickhouse: ClickHouse) -> Iterator[ClickHouse]:
    """The server backend (clickhouse-connect over HTTP) on the same engine and data."""
    if not settings.CLICKHOUSE.embedded:
        yield clickhouse
        return
    from events.clickhouse.server import ServerClickHouse
    from tests.clickhouse_http import serve

    with serve(settings.CLICKHOUSE.data_dir) as url:
        client = ServerClickHouse(url)
        yield client
        client.close()


@pytest.fixture(params=["embedded", "server"])
def either_clickhouse(request: pytest.FixtureRequest) -> ClickHouse:
    """Each backend in turn: the same SQL must give the same results on both."""
    name = "clickhouse" if request.param == "embedded" else "server_clickhouse"
    client: ClickHouse = request.getfixturevalue(name)
    return client


_site_ids = itertools.count(secrets.randbelow(2**40) + 2**41)


@pytest.fixture
def site_id() -> int:
    """A site id no other test uses: a fresh tenant instead of truncated tables."""
    return next(_site_ids)


@pytest.fixture
def isolated_var(tmp_path: Path) -> Iterator[Path]:
    """A fresh var/ directory for tests that start Trail in another process."""
    var = tmp_path / "var"
    var.mkdir()
    yield var


@pytest.fixture(scope="session")
def celery_worker() -> Iterator[object]:
    """A real Celery worker on the real broker, in this process (chDB allows one process)."""
    if not settings.TRAIL.services_mode:
        pytest.skip("needs REDIS_URL and TRAIL_FLUSH_MODE=celery (the services suite)")
    from celery.contrib.testing.worker import start_worker

    from trail.celery import app

    app.loader.import_module("celery.contrib.testing.tasks")  # the ping task start_worker uses
    with start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=15) as worker:
        yield worker


@pytest.fixture
def job_worker(request: pytest.FixtureRequest) -> None:
    """Whatever runs data jobs in this suite's mode: the Celery worker in the services suite;
    in the embedded suite the runner's threads of this process already do."""
    if settings.TRAIL.services_mode:
        request.getfixturevalue("celery_worker")


def restart_site_ids() -> int:
    """Make the next site created get a fresh id, returned (use it with a db fixture).

    ClickHouse keeps the events tests write, but rolled-back tests hand the same
    autoincrement site ids out again: a site created in the browser could otherwise
    "receive" another test's events. The ids
    start in a range of their own, far above the `site_id` fixture's (2**41 + up to 2**40),
    as later tests get ids after it from the same sequence.
    """
    from django.db import connection
    from django.db.models import Max

    from sites.models import Site

    # above every id in use: SQLite hands out max(rowid) + 1 when that is higher
    highest = Site.objects.aggregate(highest=Max("id"))["highest"] or 0
    first = max(2**52, highest + 1) + secrets.randbelow(2**40)
    table = Site._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [table, first]
            )
        elif connection.vendor == "sqlite":
            cursor.execute("DELETE FROM sqlite_sequence WHERE name = %s", [table])
            cursor.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [table, first - 1]
            )
        else:
            pytest.fail(f"fresh_site_ids does not know {connection.vendor}")
    return first


@pytest.fixture
def fresh_site_ids() -> int:
    """`restart_site_ids()` for a test (use it with a db fixture)."""
    return restart_site_ids()


@pytest.fixture
def make_site(fresh_site_ids: int, db: None) -> Callable[..., Site]:
    """Create a live site (fresh id) that the ingest directory sees at once."""

    def make(domain: str, **options: Any) -> Site:
        org = options.pop("organization", None) or factories.organization()
        site = factories.site(org, domain)
        if options:
            Site.objects.filter(pk=site.pk).update(**options)
            site.refresh_from_db()
        directory.invalidate()
        return site

    return make


@pytest.fixture
def flush(clickhouse: ClickHouse) -> Callable[..., FlushReport]:
    """Close the open spool segment and flush every closed one into ClickHouse."""

    def run(**options: Any) -> FlushReport:
        spool().rotate()
        return flush_spool(client=clickhouse, **options)

    return run


@pytest.fixture(autouse=True)
def _fresh_collector() -> Iterator[None]:
    reset_collector()
    yield
    reset_collector()


def send(client: Any, key: str, events: list[dict[str, Any]]) -> None:
    """Post events to the batch API, 1,000 a request; every one must be accepted."""
    for start in range(0, len(events), 1000):
        answer = client.post(
            "/api/v1/events",
            data=json.dumps({"events": events[start : start + 1000]}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        assert answer.status_code == 202, answer.content
        assert answer.json()["rejected"] == [], answer.json()


@pytest.fixture
def seed(
    client: Any, flush: Callable[..., FlushReport]
) -> Callable[[Site, list[dict[str, Any]]], None]:
    """Send events through the batch API and flush them into ClickHouse."""

    def run(site: Site, events: list[dict[str, Any]]) -> None:
        _, key = factories.api_key(site.organization, scopes=("events:write",))
        send(client, key, events)
        flush()

    return run
