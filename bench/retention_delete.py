"""What retention's lightweight deletes cost on the embedded engine (docs/retention.md):
a scratch chDB with Trail's `events` table, N rows of 20 sites; the time to count one
site's rows older than 30 days, to delete them, to delete the next day's, and to delete
ten sites sharing a cutoff in one statement.

    .venv/bin/python bench/retention_delete.py --rows 10000000
"""

# ruff: noqa: S608 (the SQL is this script's own constants)
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import chdb.session

DDL = Path(__file__).resolve().parent.parent / "events/clickhouse/migrations/0001_events.sql"
OLDER = "timestamp < toStartOfDay(now64()) - toIntervalDay({days})"
ONE_SITE = "DELETE FROM events WHERE site_id = 3 AND " + OLDER
TEN_SITES = "DELETE FROM events WHERE site_id IN (5,6,7,8,9,10,11,12,13,14) AND " + OLDER


def timed(session: chdb.session.Session, sql: str) -> tuple[float, str]:
    start = time.perf_counter()
    result = str(session.query(sql, "CSV")).strip()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    rows = parser.parse_args().rows
    session = chdb.session.Session(tempfile.mkdtemp(prefix="trail-retention-"))
    session.query(DDL.read_text().replace("{{on_cluster}}", "").replace("{{replicated}}", ""))
    seconds, _ = timed(
        session,
        "INSERT INTO events (site_id, event_id, timestamp, name, visitor_id, pathname)"
        " SELECT number % 20, generateUUIDv4(),"
        f" now64() - toIntervalSecond(intDiv(number * 365 * 86400, {rows})), 'pageview',"
        " cityHash64(number % 100000), '/p' || toString(number % 50)"
        f" FROM numbers({rows})",
    )
    print(f"insert {rows:,} rows over 365 days: {seconds:.1f} s")
    seconds, found = timed(
        session, f"SELECT count() FROM events WHERE site_id = 3 AND {OLDER.format(days=30)}"
    )
    print(f"count one site's rows older than 30 days ({int(found):,}): {seconds:.3f} s")
    seconds, _ = timed(session, ONE_SITE.format(days=30))
    print(f"delete them: {seconds:.2f} s")
    seconds, _ = timed(session, ONE_SITE.format(days=29))
    print(f"delete the next day's: {seconds:.2f} s")
    seconds, _ = timed(session, TEN_SITES.format(days=30))
    print(f"delete ten sites' rows older than 30 days in one statement: {seconds:.2f} s")


if __name__ == "__main__":
    main()
