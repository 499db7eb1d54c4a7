"""How long the whole dashboard takes to render for the benchmark site.

    .venv/bin/python bench/report_data.py --var /tmp/trail-bench-10m --events 10000000
    .venv/bin/python bench/dashboard_render.py --var /tmp/trail-bench-10m

Through Django's test client in this process (the embedded ClickHouse allows one): the
page, then every fragment it loads (top stats, chart, realtime and the six panels) at once
from four threads, as a browser's htmx requests arrive. Printed: each fragment's time and
the wall time from the page's request to the last fragment, the best of `--runs` after a
warm-up. A filter click re-requests the fragments alone (htmx, in place): their wall
time, from the first request to the last answer, is printed apart as "a filter click",
with the CPU time the process spent on them (every chDB thread): steadier than the wall
time when other work shares the cores, and the wall time two free cores would need is
about half of it.

    .venv/bin/python bench/dashboard_render.py --var DIR --filter 'visit:channel|is|Direct'
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from _setup import django

FRAGMENTS = (
    "top",
    "chart",
    "realtime",
    "sources",
    "pages",
    "locations",
    "devices",
    "goals",
    "events",
    "funnels",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--var", required=True)
    parser.add_argument("--site-domain", default="bench.example.com")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--period", default="30d")
    parser.add_argument("--compare", default="previous_period", help='"" for none')
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        help="a dashboard filter as its URL writes it: dimension|operator|value",
    )
    args = parser.parse_args()
    django(args.var)  # migrated: the dashboard reads tables newer than the data

    from django.test import Client

    from accounts.models import Membership, Role, User
    from sites.models import Site

    site = Site.objects.get(domain=args.site_domain, deleted_at__isnull=True)
    owner = site.organization.memberships.select_related("user").first()
    if owner is None:  # bench/report_data.py makes the organization without people
        user = User.objects.create_user(email="bench-owner@example.com", password=None)
        owner = Membership.objects.create(
            organization=site.organization, user=user, role=Role.OWNER
        )
    query = urlencode(
        [("period", args.period), ("compare", args.compare), *(("f", f) for f in args.filter)]
    )

    def fetch(path: str) -> tuple[str, float]:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(owner.user)
        start = time.perf_counter()
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        return path, (time.perf_counter() - start) * 1000

    def render() -> tuple[float, float, dict[str, float], float]:
        start = time.perf_counter()
        fetch(f"/sites/{site.domain}/?{query}")
        paths = [f"/sites/{site.domain}/panel/{name}?{query}" for name in FRAGMENTS]
        fragments, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(max_workers=4) as pool:
            timings = dict(pool.map(fetch, paths))
        end = time.perf_counter()
        cpu = (time.process_time() - cpu) * 1000
        return (end - start) * 1000, (end - fragments) * 1000, timings, cpu

    render()  # warm-up
    runs = [render() for _ in range(args.runs)]
    best_wall, _, best, _ = min(runs, key=lambda run: run[0])
    print(f"site {site.domain}, {query}, {args.runs} runs after a warm-up")
    for path, ms in best.items():
        print(f"  {path.split('/panel/')[1].split('?')[0]:<10} {ms:7.0f} ms")
    walls = [wall for wall, _, _, _ in runs]
    clicks = [click for _, click, _, _ in runs]
    cpus = [cpu for _, _, _, cpu in runs]
    print(
        f"whole dashboard: best {best_wall:.0f} ms, median {statistics.median(walls):.0f} ms,"
        f" worst {max(walls):.0f} ms"
    )
    print(
        f"a filter click (the fragments alone): best {min(clicks):.0f} ms,"
        f" median {statistics.median(clicks):.0f} ms, worst {max(clicks):.0f} ms;"
        f" CPU best {min(cpus):.0f} ms, median {statistics.median(cpus):.0f} ms"
    )


if __name__ == "__main__":
    main()
