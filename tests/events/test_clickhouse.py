"""The ClickHouse adapter and schema migrations, on the embedded engine (chDB)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from events.clickhouse import ClickHouse, ClickHouseError
from events.clickhouse.arrow import arrow_type
from events.clickhouse.base import checked_identifier, checked_token
from events.clickhouse.migrate import discover, migrate, render

HOSTILE = [
    "it's",
    "back\\slash",
    "{placeholder:String}",
    "'; DROP TABLE events; --",
    "tab\tnew\nline",
    "nul\x00byte",
    "ünïcødé 😀",
    "",
]


def _event_columns(site_id: int, count: int, **overrides: list[object]) -> dict[str, list[object]]:
    now = dt.datetime.now(dt.UTC)
    columns: dict[str, list[object]] = {
        "site_id": [site_id] * count,
        "event_id": [str(uuid.uuid4()) for _ in range(count)],
        "timestamp": [now - dt.timedelta(minutes=i) for i in range(count)],
        "name": ["pageview"] * count,
        "visitor_id": list(range(1, count + 1)),
        "pathname": [f"/page/{i}" for i in range(count)],
        "props": [[] for _ in range(count)],
    }
    columns.update(overrides)
    return columns


def test_migrations_applied_and_recorded(either_clickhouse: ClickHouse) -> None:
    versions = {
        row["version"]
        for row in either_clickhouse.query("SELECT version FROM trail_schema_migrations")
    }
    assert versions == {m.version for m in discover()}
    # Running again applies nothing and records nothing twice.
    assert migrate(either_clickhouse) == []
    rows = either_clickhouse.query("SELECT count() AS n FROM trail_schema_migrations FINAL")
    assert rows[0]["n"] == len(versions)


def test_events_table_is_designed_for_reports(either_clickhouse: ClickHouse) -> None:
    [table] = either_clickhouse.query(
        "SELECT engine, partition_key, sorting_key, sampling_key FROM system.tables"
        " WHERE database = currentDatabase() AND name = 'events'"
    )
    assert table["engine"] == "MergeTree"
    assert table["partition_key"] == "toYYYYMM(timestamp)"
    assert table["sorting_key"].startswith("site_id, toDate(timestamp)")
    assert table["sampling_key"] == "visitor_id"
    types = {
        row["name"]: row["type"]
        for row in either_clickhouse.query(
            "SELECT name, type FROM system.columns"
            " WHERE database = currentDatabase() AND table = 'events'"
        )
    }
    assert types["event_id"] == "UUID"
    assert types["name"] == "LowCardinality(String)"
    assert types["country_code"] == "LowCardinality(String)"
    assert types["props"] == "Map(String, String)"
    assert types["region"] == "LowCardinality(String)" and "region_code" not in types  # 0002


def test_cluster_rendering_adds_on_cluster_and_replication() -> None:
    [migration] = [m for m in discover() if m.version == 1]
    single = " ".join(migration.statements(None))
    clustered = " ".join(migration.statements("analytics"))
    assert "ON CLUSTER" not in single and "ENGINE = MergeTree" in single
    assert "CREATE TABLE IF NOT EXISTS events ON CLUSTER 'analytics'" in clustered
    assert "ENGINE = ReplicatedMergeTree" in clustered
    assert render("SELECT 1;\n-- comment\nSELECT 2;", None) == ["SELECT 1", "SELECT 2"]


def test_migration_directory_rules(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match="share version 0001"):
        discover(tmp_path)
    (tmp_path / "0001_b.sql").unlink()
    (tmp_path / "notes.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError, match="not named NNNN_name.sql"):
        discover(tmp_path)


def test_a_new_migration_is_applied_once(either_clickhouse: ClickHouse, tmp_path: Path) -> None:
    for migration in discover():
        (tmp_path / migration.path.name).write_text(migration.path.read_text())
    (tmp_path / "9001_scratch.sql").write_text(
        "CREATE TABLE IF NOT EXISTS scratch_9001 (x UInt8)"
        " ENGINE = {{replicated}}MergeTree ORDER BY x;\n"
    )
    try:
        assert [m.version for m in migrate(either_clickhouse, directory=tmp_path)] == [9001]
        assert migrate(either_clickhouse, directory=tmp_path) == []
        assert either_clickhouse.query("EXISTS TABLE scratch_9001") == [{"result": 1}]
    finally:
        either_clickhouse.command("DROP TABLE IF EXISTS scratch_9001")
        either_clickhouse.command("DELETE FROM trail_schema_migrations WHERE version = 9001")


@pytest.mark.parametrize("value", HOSTILE)
def test_parameters_are_bound_never_interpolated(either_clickhouse: ClickHouse, value: str) -> None:
    [row] = either_clickhouse.query(
        "SELECT {v:String} AS v, length({v:String}) AS n, {vs:Array(String)} AS vs",
        {"v": value, "vs": [value, "x"]},
    )
    assert row == {"v": value, "n": len(value.encode()), "vs": [value, "x"]}


def test_typed_parameters_round_trip(either_clickhouse: ClickHouse) -> None:
    when = dt.datetime(2026, 3, 29, 1, 30, 15, tzinfo=dt.UTC)
    [row] = either_clickhouse.query(
        "SELECT {i:UInt64} AS i, {f:Float64} AS f, {d:Date} AS d, {t:DateTime64(3, 'UTC')} AS t,"
        " {n:Nullable(String)} AS n, {ids:Array(UInt64)} AS ids",
        {"i": 2**64 - 1, "f": 0.5, "d": dt.date(2026, 2, 28), "t": when, "n": None, "ids": [1, 2]},
    )
    assert row == {
        "i": 2**64 - 1,
        "f": 0.5,
        "d": dt.date(2026, 2, 28),
        "t": when,
        "n": None,
        "ids": [1, 2],
    }


def test_columnar_insert_and_query(either_clickhouse: ClickHouse, site_id: int) -> None:
    columns = _event_columns(
        site_id,
        3,
        name=["pageview", "Signup", "pageview"],
        props=[[], [("plan", "pro"), ("quote", HOSTILE[3])], []],
        revenue_amount=[None, Decimal("9.5"), None],
        revenue_currency=["", "EUR", ""],
        country_code=["DE", "US", "DE"],
    )
    assert either_clickhouse.insert("events", columns) == 3
    rows = either_clickhouse.query(
        "SELECT name, props, revenue_amount, country_code FROM events"
        " WHERE site_id = {site:UInt64} ORDER BY timestamp DESC",
        {"site": site_id},
    )
    assert rows[1] == {
        "name": "Signup",
        "props": [("plan", "pro"), ("quote", HOSTILE[3])],
        "revenue_amount": Decimal("9.500"),
        "country_code": "US",
    }
    [agg] = either_clickhouse.query(
        "SELECT count() AS n, uniqExact(event_id) AS ids FROM events WHERE site_id = {site:UInt64}",
        {"site": site_id},
    )
    assert agg == {"n": 3, "ids": 3}


def test_deduplication_token_stores_a_block_once(
    either_clickhouse: ClickHouse, site_id: int
) -> None:
    columns = _event_columns(site_id, 50)
    for _ in range(10):
        either_clickhouse.insert("events", columns, dedup_token=f"{site_id}-segment-1")
    # Another token is another block.
    either_clickhouse.insert(
        "events", _event_columns(site_id, 5), dedup_token=f"{site_id}-segment-2"
    )
    # A token is matched alone, whatever the rows: a reused token drops a different block.
    either_clickhouse.insert(
        "events", _event_columns(site_id, 7), dedup_token=f"{site_id}-segment-1"
    )
    [row] = either_clickhouse.query(
        "SELECT count() AS n FROM events WHERE site_id = {site:UInt64}", {"site": site_id}
    )
    assert row["n"] == 55


def test_sampling_runs(either_clickhouse: ClickHouse, site_id: int) -> None:
    either_clickhouse.insert(
        "events", _event_columns(site_id, 200, visitor_id=[i * 7919 * 2**40 for i in range(200)])
    )
    [row] = either_clickhouse.query(
        "SELECT count() * any(_sample_factor) AS estimate FROM events SAMPLE 0.5"
        " WHERE site_id = {site:UInt64}",
        {"site": site_id},
    )
    assert 0 < row["estimate"] < 600


def test_bad_sql_and_bad_inserts_raise_clickhouse_error(either_clickhouse: ClickHouse) -> None:
    with pytest.raises(ClickHouseError, match="UNKNOWN_IDENTIFIER|Unknown expression"):
        either_clickhouse.query("SELECT no_such_column FROM events")
    with pytest.raises(ClickHouseError, match="table no_such_table does not exist"):
        either_clickhouse.insert("no_such_table", {"x": [1]})
    with pytest.raises(ValueError, match="unknown columns: bogus"):
        either_clickhouse.insert("events", {"site_id": [1], "bogus": [1]})
    with pytest.raises(ValueError, match="columns differ in length"):
        either_clickhouse.insert("events", {"site_id": [1, 2], "name": ["a"]})
    with pytest.raises(ClickHouseError):
        either_clickhouse.insert("events", {"site_id": [1], "event_id": ["not-a-uuid"]})


@pytest.mark.parametrize("name", ["events; DROP TABLE x", "1abc", "a.b.c", "", "ev`ents"])
def test_identifiers_are_checked(name: str) -> None:
    with pytest.raises(ValueError, match="invalid ClickHouse identifier"):
        checked_identifier(name)


@pytest.mark.parametrize("token", ["x' , max_threads = 1 --", "", "a" * 129, "tok en"])
def test_dedup_tokens_are_checked(token: str) -> None:
    with pytest.raises(ValueError, match="invalid insert deduplication token"):
        checked_token(token)


@pytest.mark.parametrize(
    ("ch_type", "arrow"),
    [
        ("LowCardinality(String)", "string"),
        ("Nullable(Decimal(18, 3))", "decimal128(18, 3)"),
        ("DateTime64(3, 'UTC')", "timestamp[ms, tz=UTC]"),
        ("Map(String, Array(UInt32))", "map<string, list<item: uint32>>"),
    ],
)
def test_arrow_types(ch_type: str, arrow: str) -> None:
    assert str(arrow_type(ch_type)) == arrow


def test_unmapped_type_is_refused() -> None:
    with pytest.raises(ValueError, match="no Arrow mapping"):
        arrow_type("AggregateFunction(uniq, UInt64)")
