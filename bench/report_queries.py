"""How fast the reports engine answers the dashboard's queries, through the runner.

    .venv/bin/python bench/report_data.py --var /tmp/trail-bench-10m --events 10000000
    .venv/bin/python bench/report_queries.py --var /tmp/trail-bench-10m [--sampling exact]
        [--filter '["is", "visit:channel", ["Direct"]]']

Each query (a Stats API v2 body over the last 30 days, or `--range`) runs once to warm the cache, then
`--runs` times; the median and the slowest run are printed, with the peak memory
of the process above its resident size before the runs (chDB runs in this process; it has no
query_log) and whether it was sampled. "cpu ms" is the median CPU time of the process (every
chDB thread) per run: steadier than the wall time when other work shares the cores. Every query is capped at 2 GiB by the runner.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from _setup import django

VISIT_METRICS = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]
DASHBOARD: dict[str, dict[str, Any]] = {
    "top stats": {
        "metrics": [*VISIT_METRICS, "views_per_visit"],
        "include": {"comparisons": {"mode": "previous_period"}},
    },
    "time series": {"metrics": ["visitors", "visits", "pageviews"], "dimensions": ["time:day"]},
    "pages": {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]},
    "entry pages": {"metrics": ["visits", "bounce_rate"], "dimensions": ["visit:entry_page"]},
    "exit pages": {"metrics": ["visits"], "dimensions": ["visit:exit_page"]},
    "sources": {"metrics": ["visitors", "bounce_rate"], "dimensions": ["visit:source"]},
    "utm campaigns": {"metrics": ["visitors"], "dimensions": ["visit:utm_campaign"]},
    "countries": {"metrics": ["visitors", "percentage"], "dimensions": ["visit:country"]},
    "devices": {"metrics": ["visitors", "percentage"], "dimensions": ["visit:device"]},
    "browsers": {"metrics": ["visitors", "percentage"], "dimensions": ["visit:browser"]},
    "operating systems": {"metrics": ["visitors", "percentage"], "dimensions": ["visit:os"]},
    "goals": {
        "metrics": ["visitors", "events", "conversion_rate"],
        "dimensions": ["event:goal"],
    },
}
LIST_LIMIT = {"pagination": {"limit": 10}}
# Other reports a person can ask for (the "all of them ≤ 1 s").
OTHER: dict[str, dict[str, Any]] = {
    "hours of a day": {
        "metrics": ["visitors", "pageviews"],
        "dimensions": ["time:hour"],
        "date_range": "day",
    },
    "pages by source": {
        "metrics": ["visitors", "pageviews"],
        "dimensions": ["event:page"],
        "filters": [["is", "visit:source", ["Google"]]],
    },
    "visits of a page": {
        "metrics": [*VISIT_METRICS],
        "filters": [["contains", "event:page", ["/docs"]]],
    },
    "property values": {"metrics": ["visitors", "events"], "dimensions": ["event:props:plan"]},
    "cities": {"metrics": ["visitors"], "dimensions": ["visit:city"]},
    "pages compared": {
        "metrics": ["visitors", "pageviews"],
        "dimensions": ["event:page"],
        "include": {"comparisons": {"mode": "previous_period"}},
    },
    "conversion by source": {
        "metrics": ["visitors", "conversion_rate"],
        "dimensions": ["visit:source"],
        "filters": [["is", "event:goal", ["Signup"]]],
    },
    "scroll depth of pages": {
        "metrics": ["visitors", "scroll_depth", "time_on_page"],
        "dimensions": ["event:page"],
    },
}
FUNNEL = {
    "date_range": "30d",
    "steps": [
        {"type": "page", "pattern": "/"},
        {"type": "page", "pattern": "/pricing*"},
        {"type": "event", "name": "Signup"},
    ],
}


def _status(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> float:
    """Reset the peak resident size (VmHWM) to the current one, which is returned."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    return _status("VmRSS")


def _peak() -> float:
    return _status("VmHWM")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--var", required=True, help="the var dir bench/report_data.py wrote")
    parser.add_argument("--site-domain", default="bench.example.com")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sampling", default="auto", help='"auto", "exact" or a fraction')
    parser.add_argument("--only", default="", help="run the queries whose name contains this")
    parser.add_argument("--range", default="30d", help='the Stats API date range: "30d", "12mo"')
    parser.add_argument(
        "--filter",
        default="",
        help='a Stats API filter added to every query, as JSON: \'["is", "visit:channel", ["Direct"]]\'',
    )
    args = parser.parse_args()
    django(args.var, migrate=False)

    from events.clickhouse import get_client
    from reports.stats import answer
    from sites.models import Site

    site = Site.objects.get(domain=args.site_domain, deleted_at__isnull=True)
    added = [json.loads(args.filter)] if args.filter else []
    sampling: Any = args.sampling if args.sampling in ("auto", "exact") else float(args.sampling)
    client = get_client()
    [rows] = client.query(
        "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", {"s": site.id}
    )
    print(f"site {site.domain} (id {site.id}): {rows['n']:,} events; sampling {sampling}")
    from reports import funnels, realtime
    from reports.context import load_context

    newest = client.query(
        "SELECT max(timestamp) AS t FROM events WHERE site_id = {s:UInt64}", {"s": site.id}
    )[0]["t"]

    def stats(body: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        request = {"site_id": site.domain, "date_range": args.range, "sampling": sampling, **body}
        if added:
            request["filters"] = [*request.get("filters", []), *added]
        if "dimensions" in body and not any(d.startswith("time") for d in body["dimensions"]):
            request = {**LIST_LIMIT, **request}
        return lambda: answer(site=site, body=request)

    def funnel() -> dict[str, Any]:
        body = {"site_id": site.domain, **FUNNEL, "date_range": args.range, "sampling": sampling}
        query = funnels.parse(body, site=site, context=load_context(site, body))
        return funnels.compute(site=site, query=query)

    groups = {
        "dashboard (limit 300 ms)": {name: stats(body) for name, body in DASHBOARD.items()},
        "other reports (limit 1 s)": {
            **{name: stats(body) for name, body in OTHER.items()},
            "funnel of 3 steps": funnel,
            "realtime": lambda: realtime.realtime(site=site, now=newest),
        },
    }
    for title, queries in groups.items():
        print(f"\n{title}")
        print(f"{'query':<24}{'median ms':>10}{'max ms':>9}{'cpu ms':>8}{'+peak MiB':>10}  sampled")
        worst = 0.0
        for name, run in queries.items():
            if args.only not in name:
                continue
            result = run()  # warm-up
            base = _reset_peak()
            timings, cpu = [], []
            for _ in range(args.runs):
                start, start_cpu = time.perf_counter(), time.process_time()
                result = run()
                timings.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
            peak = _peak() - base
            median, slowest = statistics.median(timings), max(timings)
            worst = max(worst, slowest)
            sampled = result.get("meta", {}).get("sample_fraction") or "no"
            cpu_median = statistics.median(cpu)
            print(
                f"{name:<24}{median:>10.0f}{slowest:>9.0f}{cpu_median:>8.0f}{peak:>10.0f}"
                f"  {sampled!s}"
            )
        print(f"slowest run: {worst:.0f} ms")


if __name__ == "__main__":
    main()
