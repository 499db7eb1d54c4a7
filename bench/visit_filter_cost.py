"""What a visit filter costs a query on `events`, and what each cheaper form would save.

    .venv/bin/python bench/report_data.py --var /tmp/perf-10m --events 10000000
    .venv/bin/python bench/visit_filter_cost.py --var /tmp/perf-10m

A query on `events` under a filter on a visit's attribute (`visit:channel is Direct`) keeps
the events whose `session_id` is in the set of matching visits (reports/sql/filters.py).
This runs, on the benchmark site's last 30 days, the top stats' page view count in forms
that give the same number or show where the time goes, and prints each one's answer, the
best wall time of `--runs` and the CPU time of this process (every ClickHouse thread):

- `no filter`: the count alone (the floor: the sort key answers most of it);
- `session_id read`: every row's `session_id` read and tested against 0 (what the test
  costs before any set is involved);
- `session_id IN (visits)`: the report's form;
- `IN a prebuilt Set`: the same set built once beforehand (`ENGINE = Set`), as if the
  fragments of a click shared it;
- `the event's own channel`: the event's attribute, not the visit's (NOT the same answer:
  a later page view has no referrer and reads Direct; what stamping the visit's attributes
  on its events at ingest would cost);
- `sum over visits`: the visits' own page view counts (NOT the same answer at the range's
  edges: a visit counts all its page views, also those outside the range).
"""

# ruff: noqa: S608 (the SQL is this script's own constants; values are bound)
from __future__ import annotations

import argparse
import time

from _setup import django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--var", required=True)
    parser.add_argument("--site-domain", default="bench.example.com")
    parser.add_argument("--channel", default="Direct")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    django(args.var)

    from events.clickhouse import get_client
    from reports.sql.builder import QUERY_SETTINGS
    from sites.models import Site

    site = Site.objects.get(domain=args.site_domain, deleted_at__isnull=True)
    client = get_client()
    last = client.query(
        "SELECT max(timestamp) AS t FROM events WHERE site_id = {s:UInt64}", {"s": site.id}
    )
    end = str(last[0]["t"])[:10]
    params = {"s": site.id, "end": end, "channel": [args.channel]}
    events = (
        "site_id = {s:UInt64} AND toDate(timestamp) >= toDate({end:String}) - 30"
        " AND timestamp >= toDateTime64({end:String}, 3, 'UTC') - INTERVAL 30 DAY"
        " AND timestamp < toDateTime64({end:String}, 3, 'UTC') AND name IN ['pageview']"
    )
    visits = (
        "site_id = {s:UInt64} AND toDate(start) >= toDate({end:String}) - 30"
        " AND start >= toDateTime64({end:String}, 3, 'UTC') - INTERVAL 30 DAY"
        " AND start < toDateTime64({end:String}, 3, 'UTC')"
        " AND channel IN {channel:Array(String)}"
    )
    matching = f"SELECT session_id FROM sessions WHERE {visits} AND sign = 1"
    client.command("DROP TABLE IF EXISTS bench_matching_visits")
    client.command(f"CREATE TABLE bench_matching_visits ENGINE = Set AS {matching}", params)
    forms = {
        "no filter": f"SELECT count() AS n FROM events WHERE {events}",
        "session_id read": f"SELECT count() AS n FROM events WHERE {events} AND session_id != 0",
        "session_id IN (visits)": f"SELECT count() AS n FROM events WHERE {events} AND session_id IN ({matching})",
        "IN a prebuilt Set": f"SELECT count() AS n FROM events WHERE {events} AND session_id IN bench_matching_visits",
        "the event's own channel": f"SELECT count() AS n FROM events WHERE {events} AND channel IN {{channel:Array(String)}}",
        "sum over visits": f"SELECT sum(sign * pageviews) AS n FROM sessions WHERE {visits}",
    }
    print(f"site {site.domain}, 30 days to {end}, page views under channel = {args.channel}:")
    try:
        for name, sql in forms.items():
            walls, cpus, answer = [], [], None
            for _ in range(args.runs):
                wall, cpu = time.perf_counter(), time.process_time()
                answer = client.query(f"{sql} SETTINGS {QUERY_SETTINGS}", params)[0]["n"]
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
            print(
                f"  {name:<26} {answer:>10,}  {min(walls) * 1000:5.0f} ms  CPU {min(cpus) * 1000:5.0f} ms"
            )
    finally:
        client.command("DROP TABLE IF EXISTS bench_matching_visits")


if __name__ == "__main__":
    main()
