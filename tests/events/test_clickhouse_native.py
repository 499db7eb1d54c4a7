"""The adapters' `Native` pair (events/clickhouse): `stream(fmt="Native")` and `insert_raw`,
ClickHouse's own blocks passed from one ClickHouse to another as they are (`manage.py
move_data` copies tables this way), the same on both backends."""

# ruff: noqa: S608 (the table names are the fixture's own)

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import pytest

from events.clickhouse import ClickHouse, ClickHouseError

ROWS = 200_000  # several chunks of a stream
COLUMNS = (
    "n UInt64, s String, low LowCardinality(String), id UUID, at DateTime('UTC'),"
    " at_ms DateTime64(3, 'UTC'), m Map(String, String), maybe Nullable(UInt64),"
    " code FixedString(2)"
)
NAMES = ["n", "s", "low", "id", "at", "at_ms", "m", "maybe", "code"]
SOURCE = (
    "SELECT number AS n, toString(number) AS s, toString(number % 5) AS low,"
    " toUUID(concat('00000000-0000-4000-8000-', leftPad(lower(hex(number)), 12, '0'))) AS id, toDateTime(1700000000 + number, 'UTC') AS at,"
    " toDateTime64(1700000000.123 + number, 3, 'UTC') AS at_ms,"
    " map('k', toString(number % 7)) AS m, if(number % 2 = 0, NULL, number) AS maybe,"
    " 'DE' AS code FROM numbers({count:UInt64})"
)


@pytest.fixture
def table(clickhouse: ClickHouse) -> Iterator[str]:
    """An empty table of its own on the shared engine."""
    name = f"native_{secrets.token_hex(6)}"
    clickhouse.command(
        f"CREATE TABLE {name} ({COLUMNS}, CONSTRAINT small CHECK n < 10000000)"
        " ENGINE = MergeTree ORDER BY n SETTINGS non_replicated_deduplication_window = 100"
    )
    yield name
    clickhouse.command(f"DROP TABLE IF EXISTS {name}")


def native(client: ClickHouse, sql: str, count: int = ROWS) -> bytes:
    return b"".join(client.stream(sql, {"count": count}, fmt="Native"))


def fingerprint(client: ClickHouse, sql: str) -> list[dict[str, object]]:
    """Rows, their count and a hash of every column, independent of the order of rows."""
    return client.query(
        f"SELECT count() AS rows, sum(cityHash64({', '.join(NAMES)})) AS hash FROM ({sql})",  # noqa: S608
        {"count": ROWS},
    )


def test_a_native_stream_goes_back_in_unchanged(
    either_clickhouse: ClickHouse, clickhouse: ClickHouse, table: str
) -> None:
    data = native(either_clickhouse, SOURCE)
    either_clickhouse.insert_raw(table, NAMES, data, fmt="Native")
    assert fingerprint(clickhouse, f"SELECT * FROM {table}") == fingerprint(clickhouse, SOURCE)
    assert fingerprint(clickhouse, SOURCE)[0]["rows"] == ROWS


def test_one_backends_stream_goes_into_the_other(
    clickhouse: ClickHouse, server_clickhouse: ClickHouse, table: str
) -> None:
    server_clickhouse.insert_raw(table, NAMES, native(clickhouse, SOURCE), fmt="Native")
    # other rows (a block with the rows of the first would be deduplicated as a repeat)
    later = SOURCE.replace("numbers({count:UInt64})", "numbers({count:UInt64}, {count:UInt64})")
    clickhouse.insert_raw(table, NAMES, native(server_clickhouse, later), fmt="Native")
    both = f"SELECT * FROM ({SOURCE}) UNION ALL SELECT * FROM ({later})"
    assert fingerprint(clickhouse, f"SELECT * FROM {table}") == fingerprint(clickhouse, both)
    assert fingerprint(clickhouse, both)[0]["rows"] == 2 * ROWS


def test_no_rows_stream_and_insert_nothing(either_clickhouse: ClickHouse, table: str) -> None:
    data = native(either_clickhouse, SOURCE, count=0)
    either_clickhouse.insert_raw(table, NAMES, data, fmt="Native")
    assert either_clickhouse.query(f"SELECT count() AS n FROM {table}") == [{"n": 0}]


def test_types_convert_to_the_tables(either_clickhouse: ClickHouse, table: str) -> None:
    # narrower integers and plain strings, as an older schema might hold them
    sql = (
        "SELECT toUInt32(number) AS n, toString(number) AS s, 'x' AS low,"
        " '00000000-0000-4000-8000-000000000001' AS id, toDateTime(1700000000, 'UTC') AS at,"
        " toDateTime64(1700000000, 3, 'UTC') AS at_ms, map('k', 'v') AS m,"
        " toNullable(toUInt8(1)) AS maybe, 'FR' AS code FROM numbers({count:UInt64})"
    )
    either_clickhouse.insert_raw(table, NAMES, native(either_clickhouse, sql, 10), fmt="Native")
    rows = either_clickhouse.query(f"SELECT n, low, maybe, id FROM {table} ORDER BY n")
    assert rows[0] == {
        "n": 0,
        "low": "x",
        "maybe": 1,
        "id": uuid.UUID(int=0x4000_8000_0000_0000_0001),
    }
    assert len(rows) == 10


def test_the_dedup_token_stores_a_block_once(either_clickhouse: ClickHouse, table: str) -> None:
    data = native(either_clickhouse, SOURCE, count=1000)
    for _ in range(3):
        either_clickhouse.insert_raw(table, NAMES, data, fmt="Native", dedup_token="native-once")
    either_clickhouse.insert_raw(table, NAMES, data, fmt="Native", dedup_token="native-twice")
    assert either_clickhouse.query(f"SELECT count() AS n FROM {table}") == [{"n": 2000}]


def test_a_refused_block_raises_and_stores_nothing(
    either_clickhouse: ClickHouse, table: str
) -> None:
    too_big = SOURCE.replace("number AS n", "number + 9999990 AS n")  # breaks the CHECK
    with pytest.raises(ClickHouseError, match="(?i)constraint"):
        either_clickhouse.insert_raw(
            table, NAMES, native(either_clickhouse, too_big, 100), fmt="Native"
        )
    assert either_clickhouse.query(f"SELECT count() AS n FROM {table}") == [{"n": 0}]


@pytest.mark.parametrize(
    "data",
    [b"", b"not native at all", b"\x09\x01" * 5000],
    ids=["empty", "text", "garbage"],
)
def test_malformed_data_raises_or_stores_nothing(
    either_clickhouse: ClickHouse, table: str, data: bytes
) -> None:
    if data:
        with pytest.raises(ClickHouseError):
            either_clickhouse.insert_raw(table, NAMES, data, fmt="Native")
    else:
        either_clickhouse.insert_raw(table, NAMES, data, fmt="Native")
    assert either_clickhouse.query(f"SELECT count() AS n FROM {table}") == [{"n": 0}]


def test_a_truncated_block_raises(either_clickhouse: ClickHouse, table: str) -> None:
    data = native(either_clickhouse, SOURCE, count=1000)
    with pytest.raises(ClickHouseError):
        either_clickhouse.insert_raw(table, NAMES, data[: len(data) // 2], fmt="Native")


@pytest.mark.parametrize(
    ("table_name", "names", "fmt", "token", "error"),
    [
        ("t; DROP TABLE x", ["n"], "Native", None, "identifier"),
        ("t", ["n) SELECT 1 --"], "Native", None, "identifier"),
        ("t", [], "Native", None, "at least one column"),
        ("t", ["n"], "TabSeparated", None, "insert format"),
        ("t", ["n"], "Native FROM INFILE '/etc/passwd'", None, "insert format"),
        ("t", ["n"], "Native", "x' SETTINGS a=1", "deduplication token"),
    ],
)
def test_hostile_names_are_refused_before_any_sql(
    either_clickhouse: ClickHouse,
    table_name: str,
    names: list[str],
    fmt: str,
    token: str | None,
    error: str,
) -> None:
    with pytest.raises(ValueError, match=error):
        either_clickhouse.insert_raw(table_name, names, b"", fmt=fmt, dedup_token=token)
