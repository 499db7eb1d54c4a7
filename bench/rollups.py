"""Dashboard panels from the rollups and from raw rows, and what the rollups cost on disk.

    .venv/bin/python bench/report_data.py --var /tmp/rollups-bench --events 5000000 --days 365
    .venv/bin/python bench/rollups.py --var /tmp/rollups-bench [--runs 3] [--range 12mo]

For each of the dashboard's panels (bench/report_queries.py's list, limit 10 on top lists)
over the range, the same `ReportQuery` is run through the runner twice: as it stands
(`execute`: from the rollups when they cover it) and from raw rows (`execute(...,
rollups=False)`, sampling "exact"); one warm-up, then the median of `--runs`. The answers
are compared: "equal", or the largest relative difference of a metric (visitors summed
over days are an estimate where the days hold rows received on another day, as all of
report_data.py's do). Then the whole dashboard (every panel at once, as the dashboard
asks) both ways, and the bytes on disk of the rollup tables against `events` (and
`events` + `sessions`), after merging them (`OPTIMIZE … FINAL`, as report_data.py does for
the raw tables).

A var dir generated before the rollups existed lists its site in `rollup_pending`: the
site is rebuilt first (`events.rollups.rebuild_site`: its hourly rows, and the daily tier
of its closed days) and the time printed; `--rebuild` does that in any case
(report_data.py's inserts already fed the views). Then the closing job runs once (it
closes what is left and deletes the hourly rows older than the ones kept), timed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from _setup import django
from report_queries import DASHBOARD, LIST_LIMIT

RAW = ("events", "sessions")
ROLLUPS = (
    "rollup_events",
    "rollup_sessions",
    "rollup_events_daily",
    "rollup_sessions_daily",
    "rollup_mixed",
    "rollup_closed",
)
TABLES = (*RAW, *ROLLUPS)


def _median_ms(run: Callable[[], Any], runs: int) -> float:
    run()
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        run()
        timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings)


def _compared(from_rollup: Any, from_raw: Any) -> str:
    """ "equal", or the largest difference of a metric between the two answers' rows (the
    same rows: a top list is ranked by exact counts on both paths), and the estimate flag."""
    flag = " (estimated)" if from_rollup.estimated else ""
    if len(from_rollup.rows) != len(from_raw.rows):
        return f"{len(from_rollup.rows)} rows, raw {len(from_raw.rows)}{flag}"
    worst, where = 0.0, ""
    for fast, slow in zip(from_rollup.rows, from_raw.rows, strict=True):
        if fast.dimensions != slow.dimensions:
            return f"other rows: {fast.dimensions} against {slow.dimensions}{flag}"
        for metric, value in slow.metrics.items():
            off = abs(fast.metrics.get(metric, 0.0) - value) / max(abs(value), 1e-9)
            if off > worst:
                worst, where = off, metric
    return ("equal" if worst < 1e-9 else f"{where} off by up to {worst:.3%}") + flag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--var", required=True, help="the var dir bench/report_data.py wrote")
    parser.add_argument("--site-domain", default="bench.example.com")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--range", default="12mo", help='a Stats API date range: "12mo", "30d"')
    parser.add_argument(
        "--rebuild", action="store_true", help="time a rebuild of the site's rollups first"
    )
    args = parser.parse_args()
    # Rollups are opt-in (docs/rollups.md): on here, so migrate makes their views (a var dir
    # written with them off has its site listed pending, and rebuilt below).
    os.environ["TRAIL_ROLLUPS"] = "on"
    django(args.var, migrate=True)

    from events.clickhouse import get_client
    from events.rollups import pending_sites, rebuild_site
    from events.rollups_daily import close_days
    from reports.context import load_context
    from reports.parse import parse
    from reports.runner import execute, together
    from sites.models import Site

    site = Site.objects.get(domain=args.site_domain, deleted_at__isnull=True)
    client = get_client()
    [count] = client.query(
        "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", {"s": site.id}
    )
    print(f"site {site.domain} ({site.timezone}): {count['n']:,} events; range {args.range}")
    if args.rebuild or site.id in pending_sites():
        began = time.perf_counter()
        days = rebuild_site(site.id)
        print(f"rebuilt the rollups of {days} days in {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    closed = close_days()
    print(f"closing job: {closed} in {time.perf_counter() - began:.1f} s")
    for table in ROLLUPS:
        client.command(f"OPTIMIZE TABLE {table} FINAL")

    def query(body: dict[str, Any]) -> Any:
        request = {"site_id": site.domain, "date_range": args.range, "sampling": "exact", **body}
        if "dimensions" in body and not any(d.startswith("time") for d in body["dimensions"]):
            request = {**LIST_LIMIT, **request}
        return parse(site=site, body=request, context=load_context(site, request)).query

    print(f"\n{'panel':<20}{'rollup ms':>10}{'raw ms':>9}  source   answers")
    queries = {name: query(body) for name, body in DASHBOARD.items()}
    for name, built in queries.items():
        from_rollup, from_raw = execute(built), execute(built, rollups=False)
        fast = _median_ms(lambda q=built: execute(q), args.runs)
        slow = _median_ms(lambda q=built: execute(q, rollups=False), args.runs)
        found = _compared(from_rollup, from_raw)
        print(f"{name:<20}{fast:>10.0f}{slow:>9.0f}  {from_rollup.source:<7}  {found}")
    for label, rollups in (("from rollups", True), ("from raw rows", False)):
        jobs = [lambda q=q, r=rollups: execute(q, rollups=r) for q in queries.values()]
        whole = _median_ms(lambda jobs=jobs: together(*jobs), args.runs)
        print(f"whole dashboard {label}: {whole:.0f} ms")

    sizes = {
        row["table"]: int(row["bytes"])
        for row in client.query(
            "SELECT table, sum(bytes_on_disk) AS bytes FROM system.parts WHERE active"
            " AND database = currentDatabase() AND table IN {t:Array(String)} GROUP BY table",
            {"t": list(TABLES)},
        )
    }
    rolled = sum(sizes.get(table, 0) for table in ROLLUPS)
    print()
    for table in TABLES:
        print(f"{table:<16}{sizes.get(table, 0) / 2**20:>10.1f} MiB")
    print(
        f"rollups: {100 * rolled / sizes['events']:.1f} % of events,"
        f" {100 * rolled / (sizes['events'] + sizes['sessions']):.1f} % of events + sessions"
    )


if __name__ == "__main__":
    main()
