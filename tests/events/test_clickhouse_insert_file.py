"""`insert_select_file` (events/clickhouse): ClickHouse reads a local file into a table
through a SELECT of Trail's expressions, the same on both backends — the embedded engine
reads the file from disk, the server backend streams it in the request's body as the data of
`input()`. A row ClickHouse cannot convert raises; names and formats are checked."""

# ruff: noqa: S608 (the table names are the fixture's own)

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from events.clickhouse import ClickHouse, ClickHouseError

STRUCTURE = "id String, at String, n Nullable(Int64), tags Map(String, String)"
NAMES = ["id", "at", "n", "tags"]
VALUES = [
    "toUUID(id)",
    "parseDateTime64BestEffort(at, 3, 'UTC')",
    "accurateCast(ifNull(n, 0), 'UInt8')",
    "tags",
]
ROWS = [
    {
        "id": f"00000000-0000-4000-8000-{i:012x}",
        "at": f"2026-11-0{1 + i % 9}T10:00:0{i % 10}.250Z",
        "n": None if i % 3 == 0 else i % 200,
        "tags": {"k": str(i % 7), "it's": "quote'd"},
    }
    for i in range(5_000)
]


@pytest.fixture
def table(clickhouse: ClickHouse) -> Iterator[str]:
    name = f"file_{secrets.token_hex(6)}"
    clickhouse.command(
        f"CREATE TABLE {name} (id UUID, at DateTime64(3, 'UTC'), n UInt8,"
        " tags Map(String, String)) ENGINE = MergeTree ORDER BY id"
    )
    yield name
    clickhouse.command(f"DROP TABLE IF EXISTS {name}")


def written(path: Path, fmt: str, rows: list[dict[str, object]]) -> Path:
    if fmt == "JSONEachRow":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif fmt == "CSVWithNames":
        lines = ["id,at,n,tags"] + [
            f'{r["id"]},{r["at"]},{"" if r["n"] is None else r["n"]},"{{}}"' for r in rows
        ]
        path.write_text("\n".join(lines) + "\n")
    else:
        schema = pa.schema(
            [
                ("id", pa.string()),
                ("at", pa.string()),
                ("n", pa.int64()),
                ("tags", pa.map_(pa.string(), pa.string())),
            ]
        )
        data = [{**row, "tags": list(row["tags"].items())} for row in rows]  # type: ignore[union-attr]
        pq.write_table(pa.Table.from_pylist(data, schema=schema), path)
    return path


def stored(client: ClickHouse, table: str) -> list[dict[str, object]]:
    return client.query(
        f"SELECT count() AS rows, sum(cityHash64(id, at, n)) AS hash, max(n) AS top,"
        f" min(at) AS first FROM {table}"
    )


@pytest.mark.parametrize("fmt", ["JSONEachRow", "CSVWithNames", "Parquet"])
def test_a_file_is_read_through_the_expressions_on_both_backends(
    either_clickhouse: ClickHouse, clickhouse: ClickHouse, table: str, tmp_path: Path, fmt: str
) -> None:
    path = written(tmp_path / f"rows.{fmt}", fmt, ROWS)
    structure = (
        STRUCTURE if fmt != "CSVWithNames" else STRUCTURE.replace("Map(String, String)", "String")
    )
    values = (
        VALUES
        if fmt != "CSVWithNames"
        else [*VALUES[:3], "JSONExtract(tags, 'Map(String, String)')"]
    )
    either_clickhouse.insert_select_file(
        table, NAMES, values, path=path, fmt=fmt, structure=structure
    )
    [found] = stored(clickhouse, table)
    assert found["rows"] == len(ROWS)
    assert found["top"] == 199
    assert str(found["first"]).startswith("2026-11-01 10:00:00.250")
    if fmt != "CSVWithNames":
        tags = clickhouse.query(f"SELECT tags FROM {table} LIMIT 1")[0]["tags"]
        assert dict(tags)["it's"] == "quote'd"


def test_both_backends_store_the_same_rows(
    clickhouse: ClickHouse, server_clickhouse: ClickHouse, table: str, tmp_path: Path
) -> None:
    path = written(tmp_path / "rows.ndjson", "JSONEachRow", ROWS)
    clickhouse.insert_select_file(
        table, NAMES, VALUES, path=path, fmt="JSONEachRow", structure=STRUCTURE
    )
    embedded = stored(clickhouse, table)
    clickhouse.command(f"TRUNCATE TABLE {table}")
    server_clickhouse.insert_select_file(
        table, NAMES, VALUES, path=path, fmt="JSONEachRow", structure=STRUCTURE
    )
    assert stored(clickhouse, table) == embedded


@pytest.mark.parametrize(
    "spoil",
    [
        {"id": "not-a-uuid"},
        {"at": "yesterday"},
        {"n": 300},  # over UInt8: accurateCast raises where a plain cast would wrap
    ],
)
def test_a_row_that_cannot_be_converted_raises(
    either_clickhouse: ClickHouse, table: str, tmp_path: Path, spoil: dict[str, object]
) -> None:
    rows = [*ROWS[:10], {**ROWS[10], **spoil}]
    path = written(tmp_path / "bad.ndjson", "JSONEachRow", rows)
    with pytest.raises(ClickHouseError):
        either_clickhouse.insert_select_file(
            table, NAMES, VALUES, path=path, fmt="JSONEachRow", structure=STRUCTURE
        )


def test_names_formats_and_values_are_checked(clickhouse: ClickHouse, tmp_path: Path) -> None:
    path = written(tmp_path / "rows.ndjson", "JSONEachRow", ROWS[:1])
    args = {"path": path, "structure": STRUCTURE}
    with pytest.raises(ValueError, match="identifier"):
        clickhouse.insert_select_file("t; DROP TABLE x", NAMES, VALUES, fmt="JSONEachRow", **args)
    with pytest.raises(ValueError, match="file format"):
        clickhouse.insert_select_file("t", NAMES, VALUES, fmt="Native", **args)
    with pytest.raises(ValueError, match="one value per column"):
        clickhouse.insert_select_file("t", NAMES, VALUES[:2], fmt="JSONEachRow", **args)


def test_a_path_with_a_quote_is_read(
    either_clickhouse: ClickHouse, clickhouse: ClickHouse, table: str, tmp_path: Path
) -> None:
    directory = tmp_path / "it's here"
    directory.mkdir()
    path = written(directory / "rows.ndjson", "JSONEachRow", ROWS[:100])
    either_clickhouse.insert_select_file(
        table, NAMES, VALUES, path=path, fmt="JSONEachRow", structure=STRUCTURE
    )
    assert stored(clickhouse, table)[0]["rows"] == 100
