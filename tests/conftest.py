from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from events.clickhouse import ClickHouse, get_client

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


@pytest.fixture(scope="session")
def clickhouse(django_db_setup: None) -> ClickHouse:
    """The test process's ClickHouse, migrated (Django's test `migrate` migrates it)."""
    return get_client()


@pytest.fixture
def isolated_var(tmp_path: Path) -> Iterator[Path]:
    """A fresh var/ directory for tests that start Trail in another process."""
    var = tmp_path / "var"
    var.mkdir()
    yield var
