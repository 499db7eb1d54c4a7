"""The adapters' `stream` (events/clickhouse): a SELECT's output in ClickHouse's own
formats, chunk by chunk, as one file, on both backends (chDB in-process, and a server over
HTTP), and a stream closed early stopping its query."""

from __future__ import annotations

import csv
import io
import json
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from events.clickhouse import ClickHouse, ClickHouseError, parquet_stream
from events.clickhouse.embedded import EmbeddedClickHouse

ROWS = 300_000  # several chunks on either backend
NUMBERS = (
    "SELECT number AS n, toString(number) AS s, map('k', toString(number % 7)) AS m,"
    " if(number % 2 = 0, NULL, number) AS maybe FROM numbers({count:UInt64})"
)


def whole(client: ClickHouse, fmt: str, count: int = ROWS) -> bytes:
    return b"".join(client.stream(NUMBERS, {"count": count}, fmt=fmt))


def test_json_each_row_is_one_line_per_row(either_clickhouse: ClickHouse) -> None:
    chunks = list(either_clickhouse.stream(NUMBERS, {"count": ROWS}, fmt="JSONEachRow"))
    lines = b"".join(chunks).splitlines()
    assert len(lines) == ROWS
    assert json.loads(lines[0]) == {"n": 0, "s": "0", "m": {"k": "0"}, "maybe": None}
    assert json.loads(lines[-1])["n"] == ROWS - 1


def test_csv_has_its_header_once(either_clickhouse: ClickHouse) -> None:
    rows = list(csv.reader(io.StringIO(whole(either_clickhouse, "CSVWithNames").decode())))
    assert rows[0] == ["n", "s", "m", "maybe"]
    assert len(rows) == ROWS + 1
    assert [int(row[0]) for row in rows[1:]] == list(range(ROWS))  # no header inside


def test_parquet_is_one_file(either_clickhouse: ClickHouse) -> None:
    table = pq.read_table(io.BytesIO(whole(either_clickhouse, "Parquet")))
    assert table.num_rows == ROWS
    assert table.column("n").to_pylist() == list(range(ROWS))
    assert table.schema.field("n").type == pa.uint64()
    assert table.schema.field("s").type == pa.string()
    assert table.schema.field("maybe").nullable


def test_the_same_parquet_schema_on_both_backends(
    clickhouse: ClickHouse, server_clickhouse: ClickHouse
) -> None:
    embedded = pq.read_table(io.BytesIO(whole(clickhouse, "Parquet", 10)))
    server = pq.read_table(io.BytesIO(whole(server_clickhouse, "Parquet", 10)))
    assert embedded.schema.remove_metadata() == server.schema.remove_metadata()
    assert embedded.to_pylist() == server.to_pylist()


def test_an_empty_result_keeps_its_header_and_schema(either_clickhouse: ClickHouse) -> None:
    assert whole(either_clickhouse, "JSONEachRow", 0) == b""
    assert whole(either_clickhouse, "CSVWithNames", 0) == b'"n","s","m","maybe"\n'
    table = pq.read_table(io.BytesIO(whole(either_clickhouse, "Parquet", 0)))
    assert table.num_rows == 0
    assert table.column_names == ["n", "s", "m", "maybe"]


def test_parameters_are_bound(either_clickhouse: ClickHouse) -> None:
    hostile = "x'); DROP TABLE events; --"
    out = b"".join(
        either_clickhouse.stream("SELECT {v:String} AS v", {"v": hostile}, fmt="JSONEachRow")
    )
    assert json.loads(out) == {"v": hostile}


def test_bad_sql_raises_clickhouse_error(either_clickhouse: ClickHouse) -> None:
    with pytest.raises(ClickHouseError):
        b"".join(either_clickhouse.stream("SELECT nope FROM nowhere", fmt="JSONEachRow"))


def test_only_the_stream_formats(either_clickhouse: ClickHouse) -> None:
    with pytest.raises(ValueError, match="unsupported stream format"):
        either_clickhouse.stream("SELECT 1", fmt="TabSeparated")


def test_closing_an_embedded_stream_stops_its_query(clickhouse: ClickHouse) -> None:
    assert isinstance(clickhouse, EmbeddedClickHouse)
    endless = "SELECT number, 'trail-endless-stream' AS tag FROM numbers(1000000000000)"
    for fmt in ("JSONEachRow", "CSVWithNames", "Parquet"):
        stream = clickhouse.stream(endless, fmt=fmt)
        assert next(stream)
        running = clickhouse.query(
            "SELECT count() AS n FROM system.processes WHERE query LIKE '%trail-endless-stream%'"
            " AND query NOT LIKE '%system.processes%'"
        )
        assert running[0]["n"] == 1
        started = time.monotonic()
        stream.close()
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            running = clickhouse.query(
                "SELECT count() AS n FROM system.processes"
                " WHERE query LIKE '%trail-endless-stream%'"
                " AND query NOT LIKE '%system.processes%'"
            )
            if running[0]["n"] == 0:
                break
            time.sleep(0.05)
        assert running[0]["n"] == 0
    assert clickhouse.query("SELECT 1 AS ok") == [{"ok": 1}]  # the thread's own connection


def test_closing_a_server_stream_closes_its_response(server_clickhouse: ClickHouse) -> None:
    stream = server_clickhouse.stream(NUMBERS, {"count": 2_000_000}, fmt="JSONEachRow")
    first = next(stream)
    assert first.startswith(b'{"n":0,')
    stream.close()
    assert server_clickhouse.query("SELECT 2 AS ok") == [{"ok": 2}]


def test_low_cardinality_text_reads_back_as_text(either_clickhouse: ClickHouse) -> None:
    sql = (
        "SELECT toLowCardinality(toString(number % 300)) AS page, number AS n"
        " FROM numbers({count:UInt64})"
    )
    data = b"".join(either_clickhouse.stream(sql, {"count": ROWS}, fmt="Parquet"))
    table = pq.read_table(io.BytesIO(data))
    assert table.schema.field("page").type == pa.string()
    assert table.num_rows == ROWS
    assert table.column("page").to_pylist()[299:302] == ["299", "0", "1"]


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def test_an_encoding_error_reaches_the_reader() -> None:
    chunks = iter(
        [_ipc(pa.table({"n": [1]})), _ipc(pa.table({"n": ["one"] * parquet_stream.ROW_GROUP_ROWS}))]
    )
    with pytest.raises(ValueError, match="schema"):
        b"".join(parquet_stream.parquet(chunks))
    assert not [t for t in threading.enumerate() if t.name == "trail-parquet"]


def test_closing_a_parquet_stream_stops_its_encoder(clickhouse: ClickHouse) -> None:
    stream = clickhouse.stream(NUMBERS, {"count": 10 * ROWS}, fmt="Parquet")
    assert next(stream).startswith(b"PAR1")
    stream.close()
    assert not [t for t in threading.enumerate() if t.name == "trail-parquet"]
