"""The SQL builder: the only way Trail builds a ClickHouse read.

Every query it renders starts its WHERE clause with `site_id = {site_id:UInt64}`; callers
cannot leave it out. Values are bound as `{name:Type}` parameters, never interpolated.
Expressions and table names come from Trail's code, never from a request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from events.clickhouse import get_client

_PARAM_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
TABLES = frozenset({"events"})


@dataclass(frozen=True)
class Select:
    site_id: int
    table: str
    columns: tuple[str, ...]
    where: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    group_by: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()
    limit: int | None = None

    def render(self) -> tuple[str, dict[str, Any]]:
        if self.table not in TABLES:
            raise ValueError(f"unknown table {self.table!r}")
        if "site_id" in self.params:
            raise ValueError("site_id is bound by the builder")
        for name in self.params:
            if not _PARAM_NAME.match(name):
                raise ValueError(f"bad parameter name {name!r}")
        where = ["site_id = {site_id:UInt64}", *(f"({w})" for w in self.where)]
        # Expressions and the table come from Trail's code (checked above); values are bound.
        columns, conditions = ", ".join(self.columns), " AND ".join(where)
        sql = f"SELECT {columns} FROM {self.table} WHERE {conditions}"  # noqa: S608
        if self.group_by:
            sql += f" GROUP BY {', '.join(self.group_by)}"
        if self.order_by:
            sql += f" ORDER BY {', '.join(self.order_by)}"
        if self.limit is not None:
            sql += f" LIMIT {int(self.limit)}"
        return sql, {**self.params, "site_id": self.site_id}


def run(select: Select) -> list[dict[str, Any]]:
    sql, params = select.render()
    return get_client().query(sql, params)
