"""The sharded schema's SQL (issue 21), checked against snapshots: no ClickHouse cluster
runs here and chDB has none, so what a cluster would be sent is rendered and read, not run
(docs/clickhouse.md, "Sharded cluster", says what was run and what was only read).

The statements Trail sends outside the migrations (deletes, partition drops, truncations,
a rollup recomputation) are recorded from the real functions with `CLICKHOUSE_CLUSTER`
set, by a client that records what it is sent and answers the few reads those functions
make before they write.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from events import rollups, rollups_daily
from events.clickhouse import internal
from events.clickhouse.cluster import SHARDED, NotOnCluster, local_table, sharded
from events.clickhouse.migrate import _LEDGER_DDL, discover, render

CLUSTER = "trail"
VIEWS = rollups.VIEWS_SQL


def all_statements(cluster: str | None) -> list[str]:
    statements = render(_LEDGER_DDL, cluster)
    for migration in discover():
        statements += migration.statements(cluster)
    return statements + render(VIEWS.read_text(), cluster)


def test_the_sharded_schema(snapshot: Any) -> None:
    assert all_statements(CLUSTER) == snapshot


def test_without_a_cluster_nothing_changes() -> None:
    single = all_statements(None)
    assert all(sharded(statement, None) == [statement] for statement in single)
    assert not any("_local" in s or "Distributed" in s or "ON CLUSTER" in s for s in single)
    assert all(local_table(table, None) == table for table in SHARDED)


def test_every_sharded_table_is_local_and_replicated_under_a_distributed_one() -> None:
    statements = all_statements(CLUSTER)
    for table, key in SHARDED.items():
        [local] = [
            s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {table}_local ")
        ]
        assert f"ON CLUSTER '{CLUSTER}'" in local
        assert re.search(r"ENGINE = Replicated\w*MergeTree\b", local), table
        [distributed] = [
            s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {table} ")
        ]
        assert distributed.endswith(
            f"ENGINE = Distributed('{CLUSTER}', currentDatabase(), '{table}_local', {key})"
        )
    # a visit's rows and its visitor's events on one shard: the same key on both tables
    assert SHARDED["events"] == SHARDED["sessions"] == "sipHash64(site_id, visitor_id)"
    # every DDL statement runs on the whole cluster
    ddl = [s for s in statements if s.split()[0] in ("CREATE", "ALTER", "DROP", "RENAME")]
    assert all(f"ON CLUSTER '{CLUSTER}'" in s for s in ddl)
    # indexes live on the parts (local tables); column changes reach the Distributed ones
    alters = [s for s in statements if s.startswith("ALTER TABLE events ")]
    assert alters and not any("INDEX" in s for s in alters)
    assert any(s.startswith("ALTER TABLE events_local ") and "ADD INDEX" in s for s in statements)
    # the views see each shard's inserts into its local table, and fill its local rollups
    views = [s for s in statements if s.startswith("CREATE MATERIALIZED VIEW")]
    assert len(views) == 3
    for view in views:
        assert re.findall(r"\b(?:TO|FROM) (\w+)\b(?!\s*\()", view) in (
            ["rollup_events_local", "events_local"],
            ["rollup_sessions_local", "sessions_local"],
            ["rollup_mixed_local", "events_local"],
        )


def test_the_small_tables_have_one_replica_group_across_the_cluster() -> None:
    statements = all_statements(CLUSTER)
    for table in ("trail_schema_migrations", "rollup_pending"):
        [ddl] = [s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {table} ")]
        assert f"('/clickhouse/trail/{{database}}/{table}', '{{replica}}')" in ddl
        assert "{shard}" not in ddl


class Recorder:
    """A client that records the statements it is sent; its reads answer `answers`."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]]) -> None:
        self.sent: list[str] = []
        self.answers = answers

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        self.sent.append(sql)
        for start, rows in self.answers.items():
            if start in sql:
                return rows
        return []

    def command(self, sql: str, params: Any = None) -> None:
        self.sent.append(sql)


@pytest.fixture
def on_cluster() -> Any:
    with override_settings(CLICKHOUSE=replace(settings.CLICKHOUSE, cluster=CLUSTER)):
        yield


@pytest.mark.usefixtures("on_cluster")
def test_statements_on_parts_name_the_local_tables(snapshot: Any, monkeypatch: Any) -> None:
    view_selects = {}
    for statement in render(VIEWS.read_text(), CLUSTER):
        name = statement.split()[6]
        view_selects[name] = statement.split(" AS\n", 1)[1]
    recorder = Recorder(
        {
            "SELECT site_id, count() AS n FROM events": [{"site_id": 7, "n": 3}],
            "SELECT site_id, count() AS n FROM sessions": [{"site_id": 7, "n": 1}],
            "AND name = {view:String}": [],
        }
    )
    internal.purge_site(recorder, 7)  # type: ignore[arg-type]
    internal.delete_before(
        recorder,  # type: ignore[arg-type]
        {"events": "timestamp", "sessions": "start"},
        [7],
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )
    internal.drop_partition(recorder, "events", (202401,))  # type: ignore[arg-type]
    internal.drop_partition(recorder, "imported_pages", (7, "import-1"))  # type: ignore[arg-type]

    def as_select(sql: str, params: Any = None) -> list[dict[str, Any]]:
        recorder.sent.append(sql)
        if "as_select" in sql:
            return [{"as_select": view_selects[params["view"]]}]
        if "now() - 1" in sql:  # when the daily rows' write began
            return [{"at": dt.datetime(2026, 3, 4, tzinfo=dt.UTC)}]
        return []

    monkeypatch.setattr(recorder, "query", as_select)
    monkeypatch.setattr(rollups, "get_client", lambda: recorder)
    monkeypatch.setattr(rollups_daily, "get_client", lambda: recorder)
    monkeypatch.setattr(rollups, "_zone_of", lambda site_id: "Europe/Berlin")
    with override_settings(TRAIL=replace(settings.TRAIL, rollups=True)):
        rollups.rebuild_days(7, [dt.date(2026, 3, 2)])
    monkeypatch.setattr(rollups, "_views_present", lambda: {"rollup_events_mv"})
    rollups.sync_views()  # rollups off: views dropped, rollup tables emptied
    writes = [s for s in recorder.sent if not s.startswith("SELECT")]
    assert writes == snapshot
    on_parts = re.compile(
        r"^(?:DELETE FROM|ALTER TABLE|TRUNCATE TABLE IF EXISTS) (\w+) ON CLUSTER "
    )
    targets = [m[1] for m in map(on_parts.match, writes) if m]
    assert len(targets) >= 12
    assert all(t.endswith("_local") or t == "rollup_pending" for t in targets), targets
    # a recomputation reads every shard (the Distributed table) and writes through one
    [insert] = [s for s in writes if s.startswith("INSERT INTO rollup_events ")]
    assert "FROM (SELECT * FROM events WHERE" in insert and "events_local" not in insert


@pytest.mark.usefixtures("on_cluster")
def test_what_is_not_supported_on_a_cluster_stops_before_its_first_statement(
    tmp_path: Any, monkeypatch: Any
) -> None:
    """Raw imports, deletion jobs, backups, restores and moves name tables as one server has them:
    on a cluster they stop with a message, having sent nothing (docs/clickhouse.md)."""
    from events import deletions
    from reports.imports import raw
    from trail import move
    from trail.backup import restore, take

    recorder = Recorder({})
    monkeypatch.setattr(raw, "get_client", lambda: recorder)
    attempts = [
        lambda: raw.prepare("0b6c3c8e-0000-4000-8000-000000000001"),
        lambda: deletions.execute(None, site=None, condition=None),  # type: ignore[arg-type]
        lambda: restore.restore(tmp_path, force=True, log=print),
        lambda: take.take(tmp_path / "backup", log=print, client=recorder),  # type: ignore[arg-type]
        lambda: move.move(recorder, recorder, "target"),  # type: ignore[arg-type]
    ]
    for attempt in attempts:
        with pytest.raises(NotOnCluster, match="not supported on a sharded ClickHouse cluster"):
            attempt()
    assert recorder.sent == []
