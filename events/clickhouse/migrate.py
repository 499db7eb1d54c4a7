"""Numbered SQL migrations for ClickHouse, applied in order and recorded in ClickHouse.

Files are `migrations/NNNN_name.sql`; statements end with `;` at the end of a line. Two
markers make one file serve a single server and a cluster:
`{{on_cluster}}` becomes `ON CLUSTER '<name>'` and `{{replicated}}` becomes `Replicated`
(so `{{replicated}}MergeTree` is `ReplicatedMergeTree`) when `CLICKHOUSE_CLUSTER` is set,
and nothing otherwise. Statements are idempotent (`IF NOT EXISTS`), so a run cut short
can simply be run again. On a cluster each statement is also rewritten for the sharded
schema (`events.clickhouse.cluster.sharded`: `<table>_local` tables plus `Distributed` ones).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from events.clickhouse.base import ClickHouse, on_cluster
from events.clickhouse.cluster import sharded

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
LEDGER = "trail_schema_migrations"
_LEDGER_DDL = f"""
CREATE TABLE IF NOT EXISTS {LEDGER} {{{{on_cluster}}}}
(
    version    UInt32,
    name       String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {{{{replicated}}}}ReplacingMergeTree
ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def statements(self, cluster: str | None) -> list[str]:
        return render(self.path.read_text(), cluster)


def render(sql: str, cluster: str | None) -> list[str]:
    """The statements of a migration file, with the cluster markers filled in."""
    sql = sql.replace("{{on_cluster}}", on_cluster(cluster).lstrip())
    sql = sql.replace("{{replicated}}", "Replicated" if cluster else "")
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    statements = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [done for s in statements if s.strip() for done in sharded(s.strip(), cluster)]


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise ValueError(f"two migrations share version {version:04d}")
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def applied_versions(client: ClickHouse) -> set[int]:
    rows = client.query("SELECT DISTINCT version FROM trail_schema_migrations")
    return {int(row["version"]) for row in rows}


def migrate(
    client: ClickHouse,
    *,
    cluster: str | None = None,
    directory: Path = MIGRATIONS_DIR,
    log: Callable[[str], None] = lambda _: None,
    renew: Callable[[], bool] = lambda: True,
) -> list[Migration]:
    """Apply the migrations not yet recorded; return those applied now. `renew` is called
    after each statement (the caller's lock lease; False: lost, stop before the next)."""
    for statement in render(_LEDGER_DDL, cluster):
        client.command(statement)
    done = applied_versions(client)
    applied = []
    for migration in discover(directory):
        if migration.version in done:
            continue
        log(f"ClickHouse: applying {migration.version:04d}_{migration.name}")
        for statement in migration.statements(cluster):
            client.command(statement)
            if not renew():
                raise RuntimeError("ClickHouse migrations: the migration lock was lost; run again")
        client.insert(LEDGER, {"version": [migration.version], "name": [migration.name]})
        applied.append(migration)
    return applied
