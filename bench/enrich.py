"""Enrichment cost per event with warm caches (user agent, bot verdict, referrer, GeoIP).

    .venv/bin/python bench/enrich.py [events]

Prints µs per event for `enrich()` alone and for the whole flush of a segment (JSON decode,
enrichment, visit stitching, both inserts into embedded ClickHouse), with GeoIP on when the
DB-IP database is installed (`make geoip`).
"""

from __future__ import annotations

import json
import sys
import time

import _setup

_setup.django()

from synthetic import Traffic, spool_records  # noqa: E402

from events.clickhouse import get_client  # noqa: E402
from events.clickhouse.migrate import migrate  # noqa: E402
from events.enrich.enrich import enrich  # noqa: E402
from events.enrich.geo import geo_database  # noqa: E402
from events.flush import flush_segment  # noqa: E402
from events.record import SpooledEvent  # noqa: E402
from events.spool import spool_dir  # noqa: E402


def main(count: int) -> None:
    traffic = Traffic("bench-enrich.com")
    records = spool_records(traffic, count, site_id=1)
    events = [SpooledEvent.of(r) for r in records]
    geo = geo_database()
    for event in events:  # warm the caches (user agents, referrers, the salt)
        enrich(event, geo=geo)
    start = time.perf_counter()
    for event in events:
        enrich(event, geo=geo)
    per_event = (time.perf_counter() - start) / len(events) * 1e6
    print(
        f"enrich(): {per_event:.1f} µs/event over {len(events):,} events "
        f"(GeoIP {'on' if geo else 'off: run make geoip'}; limit 30 µs)"
    )

    client = get_client()
    migrate(client)
    directory = spool_dir()
    directory.mkdir(parents=True, exist_ok=True)
    segment = directory / f"bench-1-{time.time_ns()}-00000001.seg"
    segment.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    start = time.perf_counter()
    flush_segment(segment, client=client, geo=geo)
    flush = (time.perf_counter() - start) / len(records) * 1e6
    print(
        f"flush_segment(): {flush:.1f} µs/event for one {len(records):,}-event segment "
        f"(decode + enrich + visits + 2 inserts) = {1e6 / flush:,.0f} events/s on one core"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
