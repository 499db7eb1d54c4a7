"""`manage.py clickhouse_migrate` from two processes at once (issue 21: docker-compose
starts several containers that may each migrate): each migration is applied once, by one
of them; the other waits for the lock, reads the ledger again and finds nothing to do.

Two real processes against the ClickHouse HTTP stand-in (real chDB), in a database of
their own so every migration is new to them, with the Redis lock of services mode.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from events.clickhouse.migrate import discover
from tests.clickhouse_http import serve
from tests.helpers import PYTHON, REPO, child_env

REDIS = "redis://127.0.0.1:6379/1"


@pytest.fixture
def database(clickhouse: Any) -> Any:
    name = f"trail_migrate_{uuid.uuid4().hex[:12]}"
    clickhouse.command(f"CREATE DATABASE {name}")
    yield name
    clickhouse.command(f"DROP DATABASE IF EXISTS {name} SYNC")


def test_two_processes_migrate_one_database_once(
    clickhouse: Any, database: str, tmp_path: Path
) -> None:
    with serve(settings.CLICKHOUSE.data_dir) as url:
        processes = []
        for n in range(2):
            env = child_env(
                tmp_path / f"var-{n}",
                CLICKHOUSE_URL=f"{url}/{database}",
                REDIS_URL=settings.TRAIL.redis_url or REDIS,
                TRAIL_FLUSH_MODE="celery",
            )
            processes.append(
                subprocess.Popen(  # noqa: S603
                    [PYTHON, "manage.py", "clickhouse_migrate"],
                    cwd=REPO,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        outputs = [process.communicate(timeout=300) for process in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, out + err
    said = "".join(out for out, _ in outputs)
    versions = [m.version for m in discover()]
    applied = [int(v) for v in re.findall(r"ClickHouse: applying (\d{4})_", said)]
    assert sorted(applied) == versions  # each once, by one process or the other
    assert said.count("ClickHouse: up to date") == 1, said
    assert "another process is migrating; waiting" in said, said
    ledger = clickhouse.query(
        f"SELECT version, count() AS n FROM {database}.trail_schema_migrations"  # noqa: S608
        " GROUP BY version ORDER BY version"
    )
    assert [(row["version"], row["n"]) for row in ledger] == [(v, 1) for v in versions]
    [row] = clickhouse.query(
        "SELECT count() AS n FROM system.tables WHERE database = {db:String}"
        " AND name IN ('events', 'sessions', 'rollup_events', 'imported_pages')",
        {"db": database},
    )
    assert row["n"] == 4
