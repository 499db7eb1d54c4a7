"""Helpers for the collector's tests (the site and flush fixtures are in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

from events.clickhouse import ClickHouse


def rows(client: ClickHouse, sql: str, **params: Any) -> list[dict[str, Any]]:
    return client.query(sql, params)
