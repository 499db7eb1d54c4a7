"""The SQL builder always adds the site guard and binds every value."""

from __future__ import annotations

import pytest

from reports.sql.builder import Select


def test_site_guard_comes_first_and_is_bound() -> None:
    sql, params = Select(
        site_id=42,
        table="events",
        columns=("count() AS n",),
        where=("name = {name:String}",),
        params={"name": "x"},
    ).render()
    assert sql == (
        "SELECT count() AS n FROM events"
        " WHERE site_id = {site_id:UInt64} AND (name = {name:String})"
    )
    assert params == {"name": "x", "site_id": 42}


def test_callers_cannot_override_the_guard() -> None:
    with pytest.raises(ValueError, match="site_id is bound by the builder"):
        Select(site_id=1, table="events", columns=("1",), params={"site_id": 2}).render()


@pytest.mark.parametrize(
    "table", ["system.users", "events; DROP TABLE events", "trail_schema_migrations"]
)
def test_only_known_tables(table: str) -> None:
    with pytest.raises(ValueError, match="unknown table"):
        Select(site_id=1, table=table, columns=("1",)).render()


@pytest.mark.parametrize("name", ["a b", "x'--", "Site", "1x"])
def test_parameter_names_are_plain(name: str) -> None:
    with pytest.raises(ValueError, match="bad parameter name"):
        Select(site_id=1, table="events", columns=("1",), params={name: 1}).render()
