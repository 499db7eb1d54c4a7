"""A backup of an install with many small sites: a fresh embedded install (temporary var/)
holding N sites of 2 events each, then `trail.backup.take.take` timed, with its chunk count.

    .venv/bin/python bench/backup_many_sites.py 1000

One chunk per site made this 8.2 s for 1,000 sites (docs/benchmarks.md, "Test suite time").
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ["TRAIL_VAR_DIR"] = tempfile.mkdtemp(prefix="trail-bench-sites-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
sys.path.append(str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from events.clickhouse import get_client  # noqa: E402
from events.clickhouse.migrate import migrate  # noqa: E402
from trail import move  # noqa: E402
from trail.backup.take import take  # noqa: E402


def main(sites: int) -> None:
    call_command("migrate", verbosity=0)
    client = get_client()
    migrate(client)
    client.command(
        "INSERT INTO events (site_id, event_id, timestamp, name, visitor_id, session_id,"
        " pathname) SELECT 1000 + number % {sites:UInt64}, generateUUIDv4(),"
        " now64(3) - toIntervalDay(number % 3), 'pageview', number, number, '/'"
        " FROM numbers({rows:UInt64})",
        {"sites": sites, "rows": sites * 2},
    )
    chunks = sum(len(move.plan(client, t, move.CHUNK_ROWS)) for t in move.tables(client))
    started = time.perf_counter()
    take(Path(tempfile.mkdtemp()) / "backup", log=lambda _: None)
    took = time.perf_counter() - started
    print(f"{sites:,} sites, {chunks:,} chunks: backup in {took:.2f} s")  # noqa: T201


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
