"""Fixtures for the collector: sites, and pushing spooled events through the real flush."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from events.clickhouse import ClickHouse
from events.flush import FlushReport, flush_spool
from events.ingest.edge import reset_collector
from events.ingest.sites import directory
from events.spool import spool
from sites.models import Site
from tests import factories


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


def rows(client: ClickHouse, sql: str, **params: Any) -> list[dict[str, Any]]:
    return client.query(sql, params)
