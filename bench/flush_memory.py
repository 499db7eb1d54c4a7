"""Flusher memory over many events: RSS must stay flat (no growth with events flushed).

    .venv/bin/python bench/flush_memory.py [events] [segment size] [--server]

Writes spool segments of synthetic events (many visitors, real user agents and referrers)
and flushes each through `flush_spool()`, printing the process's resident memory every
million events. By default into embedded ClickHouse, in this process (embedded mode: the
engine's memory counts too); with `--server` into a ClickHouse HTTP server in another
process (services mode: this process is only the flusher, like a Celery worker).
"""

from __future__ import annotations

import json
import sys
import time
import uuid

import _setup

_setup.django()

from synthetic import Traffic, spool_records  # noqa: E402

from events.clickhouse import get_client  # noqa: E402
from events.clickhouse.migrate import migrate  # noqa: E402
from events.flush import flush_spool  # noqa: E402
from events.spool import spool_dir  # noqa: E402


def main(total: int, size: int, server: bool) -> None:
    if server:
        from trail_proc import Trail

        from events.clickhouse.server import ServerClickHouse

        engine = Trail(mode="services")
        engine.start_clickhouse()
        client = ServerClickHouse(engine.clickhouse_url)
    else:
        client = get_client()
    migrate(client)
    traffic = Traffic("bench-memory.com", visitors=2_000_000)
    templates = spool_records(traffic, 50_000, site_id=2)
    directory = spool_dir()
    directory.mkdir(parents=True, exist_ok=True)
    flushed, started, next_report = 0, time.perf_counter(), 0
    print(f"{'events':>12} {'RSS MiB':>8} {'events/s':>9}")
    while flushed < total:
        lines = []
        base = int(time.time() * 1000)
        for i in range(size):
            record = dict(templates[(flushed + i) % len(templates)])
            record["id"] = uuid.uuid4().hex
            record["ts"] = record["rx"] = base + i % 1000
            record["ip"] = traffic.ip((flushed + i) * 7919 % 5_000_000)
            lines.append(json.dumps(record).encode() + b"\n")
        segment = directory / f"bench-2-{time.time_ns()}-00000001.seg"
        segment.write_bytes(b"".join(lines))
        report = flush_spool(client=client, directory=directory)
        if report.errors:
            raise SystemExit(f"flush failed: {report.errors}")
        flushed += size
        if flushed >= next_report:
            rate = flushed / (time.perf_counter() - started)
            print(f"{flushed:>12,} {_setup.rss_mib():>8.0f} {rate:>9,.0f}", flush=True)
            next_report += 1_000_000
    print(f"done: {flushed:,} events in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:] if a != "--server"]
    main(
        args[0] if args else 10_000_000,
        args[1] if len(args) > 1 else 50_000,
        server="--server" in sys.argv,
    )
