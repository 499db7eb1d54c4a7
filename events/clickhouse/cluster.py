"""The sharded schema: with `CLICKHOUSE_CLUSTER` set, each sharded table is a `Replicated*`
local table `<name>_local` on every shard plus a `Distributed` table `<name>` over them.

Queries and inserts keep using `<name>` (the Distributed table), so every report runs
unchanged; statements that act on a shard's own parts (lightweight `DELETE`, `ALTER … DROP
PARTITION`, `TRUNCATE`, materialized views) name the local table and run `ON CLUSTER`.
Without a cluster nothing here changes a statement (`local_table` is the identity).

The sharding key keeps a visitor's rows, and so each visit's rows (a visit belongs to one
visitor id), on one shard: `FINAL` and the collapsing of a visit's versions are right per
shard, and a subquery on `session_id` or `visitor_id` can run shard-locally
(docs/clickhouse.md, "Sharded cluster").
"""

from __future__ import annotations

import re

from events.clickhouse.base import on_cluster, quoted

VISITOR_KEY = "sipHash64(site_id, visitor_id)"
# Sharded table → its sharding key (an expression over its own columns).
SHARDED: dict[str, str] = {
    "events": VISITOR_KEY,
    "sessions": VISITOR_KEY,
    # Aggregate tables are summed (or their states merged) by every reader: any deterministic
    # key is right; a site's import spread over the shards by day.
    **{
        f"imported_{kind}": "sipHash64(site_id, import_id, date)"
        for kind in (
            "visitors",
            "sources",
            "pages",
            "entry_pages",
            "exit_pages",
            "locations",
            "devices",
            "browsers",
            "operating_systems",
            "custom_events",
        )
    },
    # Filled on each shard by the materialized views over the shard's own rows; a rebuild's
    # INSERT … SELECT spreads rows by site and hour (uniqExact states merge across shards).
    "rollup_events": "sipHash64(site_id, timestamp)",
    "rollup_sessions": "sipHash64(site_id, start)",
    # The daily tier (migration 0009): written through the Distributed tables by the closing
    # job, summed by every reader; the days' notes by site and day (FINAL collapses per shard).
    "rollup_events_daily": "sipHash64(site_id, day)",
    "rollup_sessions_daily": "sipHash64(site_id, day)",
    "rollup_mixed": "sipHash64(site_id, day)",
    "rollup_closed": "sipHash64(site_id, day)",
}
# Small tables every node holds whole: one replica set across the cluster (a fixed Keeper
# path without `{shard}`), so a reader on any shard sees every row.
EVERYWHERE = ("trail_schema_migrations", "rollup_pending")
LOCAL_SUFFIX = "_local"

_CREATE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+) (ON CLUSTER '[^']+')")
_ALTER = re.compile(r"^ALTER TABLE (\w+) (ON CLUSTER '[^']+')")
_VIEW = re.compile(r"^CREATE MATERIALIZED VIEW ")
_VIEW_TABLE = re.compile(r"\b(TO|FROM)(\s+)(\w+)\b(?!\s*\()")
_ENGINE = re.compile(r"ENGINE = (Replicated\w*MergeTree)\b(?!\()")
# ALTERs that act on a table's parts or indexes: on the local tables only.
_PARTS_ONLY = re.compile(
    r"\b(ADD|DROP|MATERIALIZE|CLEAR) INDEX\b|\b(DROP|ATTACH|DETACH|REPLACE) PARTITION\b"
)


def local_table(table: str, cluster: str | None) -> str:
    """The table a shard's own parts live in: `events_local` for the sharded `events` on a
    cluster, `table` itself otherwise."""
    return table + LOCAL_SUFFIX if cluster and table in SHARDED else table


def distributed_ddl(table: str, cluster: str) -> str:
    """The `Distributed` table over the shards' `<table>_local`."""
    local = table + LOCAL_SUFFIX
    return (
        f"CREATE TABLE IF NOT EXISTS {table}{on_cluster(cluster)} AS {local}\n"
        f"ENGINE = Distributed({quoted(cluster)}, currentDatabase(), {quoted(local)},"
        f" {SHARDED[table]})"
    )


def sharded(statement: str, cluster: str | None) -> list[str]:
    """The statements that do `statement` (a rendered migration statement, already `ON
    CLUSTER`) on the sharded schema; `[statement]` itself without a cluster."""
    if not cluster:
        return [statement]
    created = _CREATE.match(statement)
    if created and created[1] in SHARDED:
        table = created[1]
        local = statement.replace(f" {table} ON CLUSTER", f" {table}{LOCAL_SUFFIX} ON CLUSTER", 1)
        return [local, distributed_ddl(table, cluster)]
    if created and created[1] in EVERYWHERE:
        path = quoted(f"/clickhouse/trail/{{database}}/{created[1]}")
        return [_ENGINE.sub(lambda m: f"ENGINE = {m[1]}({path}, '{{replica}}')", statement, 1)]
    altered = _ALTER.match(statement)
    if altered and altered[1] in SHARDED:
        table = altered[1]
        local = statement.replace(f"ALTER TABLE {table} ", f"ALTER TABLE {table}{LOCAL_SUFFIX} ", 1)
        # Column changes are made on the Distributed table too (its columns are its own).
        return [local] if _PARTS_ONLY.search(statement) else [local, statement]
    if _VIEW.match(statement):
        # A view sees the inserts into the shard's own local table and writes to the
        # shard's own rollup table.
        return [
            _VIEW_TABLE.sub(
                lambda m: m[1] + m[2] + local_table(m[3], cluster) if m[3] in SHARDED else m[0],
                statement,
            )
        ]
    return [statement]


class NotOnCluster(RuntimeError):
    """What Trail does not do on a sharded cluster yet (docs/clickhouse.md)."""


def refuse_on_cluster(what: str, cluster: str | None) -> None:
    """Stop `what` before its first statement when a cluster is configured: its SQL names
    tables as one server has them (a staging table made `AS events` would be a Distributed
    table writing straight into the shards; a restore would truncate Distributed tables)."""
    if cluster:
        raise NotOnCluster(
            f"{what} is not supported on a sharded ClickHouse cluster yet (CLICKHOUSE_CLUSTER"
            f" is {cluster!r}); see docs/clickhouse.md, 'Sharded cluster'"
        )
