"""Columns <-> Arrow, the one wire format both backends use for rows.

Inserts need an explicit Arrow schema (inferred types such as `list<list<string>>` for a
Map are rejected by ClickHouse), derived here from the table's ClickHouse column types.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

import pyarrow as pa

from events.clickhouse.base import Columns

_SIMPLE: dict[str, pa.DataType] = {
    "UInt8": pa.uint8(),
    "UInt16": pa.uint16(),
    "UInt32": pa.uint32(),
    "UInt64": pa.uint64(),
    "Int8": pa.int8(),
    "Int16": pa.int16(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "Float32": pa.float32(),
    "Float64": pa.float64(),
    "Bool": pa.bool_(),
    "String": pa.string(),
    "UUID": pa.string(),
    "Date": pa.date32(),
    "Date32": pa.date32(),
    "IPv4": pa.string(),
    "IPv6": pa.string(),
}
_WRAPPED = re.compile(r"^(LowCardinality|Nullable)\((.*)\)$")
_DATETIME64 = re.compile(r"^DateTime64\((\d)(?:,\s*'([^']+)')?\)$")
_DATETIME = re.compile(r"^DateTime(?:\('([^']+)'\))?$")
_DECIMAL = re.compile(r"^Decimal(?:\d+)?\((\d+)(?:,\s*(\d+))?\)$")
_UNITS = {0: "s", 3: "ms", 6: "us", 9: "ns"}


def _split_args(inner: str) -> list[str]:
    """Split `A, B(C, D)` at top-level commas."""
    args, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(inner[start:i].strip())
            start = i + 1
    args.append(inner[start:].strip())
    return args


@cache
def arrow_type(ch_type: str) -> pa.DataType:
    """The Arrow type ClickHouse accepts for a column of `ch_type`."""
    ch_type = ch_type.strip()
    if ch_type in _SIMPLE:
        return _SIMPLE[ch_type]
    if m := _WRAPPED.match(ch_type):
        return arrow_type(m.group(2))
    if ch_type.startswith("FixedString("):
        return pa.string()
    if m := _DATETIME64.match(ch_type):
        precision = int(m.group(1))
        if precision not in _UNITS:
            raise ValueError(f"unsupported DateTime64 precision in {ch_type}")
        return pa.timestamp(_UNITS[precision], tz=m.group(2) or "UTC")
    if m := _DATETIME.match(ch_type):
        return pa.timestamp("s", tz=m.group(1) or "UTC")
    if m := _DECIMAL.match(ch_type):
        return pa.decimal128(int(m.group(1)), int(m.group(2) or 0))
    if ch_type.startswith("Array(") and ch_type.endswith(")"):
        return pa.list_(arrow_type(ch_type[6:-1]))
    if ch_type.startswith("Map(") and ch_type.endswith(")"):
        key, value = _split_args(ch_type[4:-1])
        return pa.map_(arrow_type(key), arrow_type(value))
    raise ValueError(f"no Arrow mapping for ClickHouse type {ch_type}")


def encode(columns: Columns, types: Mapping[str, str]) -> bytes:
    """One Arrow IPC stream holding `columns`, typed after the table's `types`."""
    unknown = set(columns) - set(types)
    if unknown:
        raise ValueError(f"unknown columns: {', '.join(sorted(unknown))}")
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError("columns differ in length")
    schema = pa.schema([(name, arrow_type(types[name])) for name in columns])
    table = pa.table(dict(columns), schema=schema)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def decode(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()
