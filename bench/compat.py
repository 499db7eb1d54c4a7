"""What a foreign API's translation costs: each Plausible Stats API v1 call against the same
query through `POST /api/v2/query`, over HTTP in this process (Django's test client: the
URL conf, middleware, DRF, key authentication and rate limit, JSON), in the same run.

    .venv/bin/python bench/report_data.py --var /tmp/trail-bench-compat --events 200000
    .venv/bin/python bench/compat.py --var /tmp/trail-bench-compat [--runs 100]

"The same query" is the v2 body the v1 translation produces (reports/plausible_v1/params.py)
for that site and day, so both calls plan and run the same ClickHouse work; the difference
is the translation, the site's goals when a goal is named, and the shaping of the answer.
The two calls alternate (v1 first on even runs, v2 first on odd ones) so that drift and
cache warmth fall on both. Printed per call: the median of each and the difference (the
issue's figure: ≤ 5 ms), and the median of the per-pair differences. A key with
`stats:read` and no practical rate limit is made for the run and revoked after it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from _setup import django

LIMIT_MS = 5.0
# name → (endpoint, v1 query parameters)
CALLS: dict[str, tuple[str, dict[str, str]]] = {
    "aggregate, 4 metrics": (
        "aggregate",
        {"period": "30d", "metrics": "visitors,pageviews,bounce_rate,visit_duration"},
    ),
    "aggregate, compared": (
        "aggregate",
        {"period": "7d", "metrics": "visitors,pageviews", "compare": "previous_period"},
    ),
    "aggregate, filtered": (
        "aggregate",
        {"period": "30d", "metrics": "visitors,pageviews", "filters": "event:page==/blog/**"},
    ),
    "timeseries, 30 days": ("timeseries", {"period": "30d", "metrics": "visitors,pageviews"}),
    "timeseries, hours": ("timeseries", {"period": "day", "metrics": "visitors"}),
    "breakdown, pages": (
        "breakdown",
        {"period": "30d", "property": "event:page", "metrics": "visitors,pageviews", "limit": "10"},
    ),
    "breakdown, sources": (
        "breakdown",
        {"period": "30d", "property": "visit:source", "metrics": "visitors,bounce_rate"},
    ),
    "breakdown, countries": ("breakdown", {"period": "30d", "property": "visit:country"}),
    "breakdown, goals": (
        "breakdown",
        {"period": "30d", "property": "event:goal", "metrics": "visitors,conversion_rate"},
    ),
    "breakdown, a property": (
        "breakdown",
        {"period": "30d", "property": "event:props:plan", "filters": "event:goal==Signup"},
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--var", required=True, help="the var dir bench/report_data.py wrote")
    parser.add_argument("--site-domain", default="bench.example.com")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--only", default="", help="run the calls whose name contains this")
    args = parser.parse_args()
    django(args.var, migrate=False)

    from django.test import Client

    from accounts import services
    from accounts.models import ApiKey, Role, Scope, User
    from reports import dates
    from reports.context import site_goals
    from reports.plausible_v1 import params as v1
    from sites.models import Site

    site = Site.objects.get(domain=args.site_domain, deleted_at__isnull=True)
    owner = site.organization.memberships.filter(role=Role.OWNER).first()
    if owner is None:  # bench/report_data.py makes an organization without people
        person, _ = User.objects.get_or_create(email="bench-compat@example.com")
        owner = site.organization.memberships.create(user=person, role=Role.OWNER)
    key, raw = services.api_key_create(
        organization=site.organization,
        actor=owner.user,
        name="bench/compat.py",
        scopes=(Scope.STATS_READ,),
    )
    ApiKey.objects.filter(pk=key.pk).update(rate_limit_per_minute=10**9)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", SERVER_NAME="localhost")
    translate = {"aggregate": v1.aggregate, "timeseries": v1.timeseries, "breakdown": v1.breakdown}
    today = dates.today_in(site.timezone)
    goals = site_goals(site)

    def v1_call(endpoint: str, params: dict[str, str]) -> Any:
        answer = client.get(f"/api/v1/stats/{endpoint}", {"site_id": site.domain, **params})
        assert answer.status_code == 200, answer.content[:300]
        return answer

    def v2_call(body: dict[str, Any]) -> Any:
        answer = client.post("/api/v2/query", json.dumps(body), content_type="application/json")
        assert answer.status_code == 200, answer.content[:300]
        return answer

    print(f"site {site.domain} (id {site.id}); {args.runs} runs of each call, alternating")
    print(f"{'call':<24}{'v1 ms':>8}{'v2 ms':>8}{'diff ms':>9}{'pair diff':>11}  ≤ {LIMIT_MS} ms")
    worst = 0.0
    try:
        for name, (endpoint, params) in CALLS.items():
            if args.only not in name:
                continue
            body = translate[endpoint](
                {"site_id": site.domain, **params}, domain=site.domain, today=today, goals=goals
            ).body
            v1_call(endpoint, params)  # warm-up, both
            v2_call(body)
            v1_times, v2_times, pairs = [], [], []
            for run in range(args.runs):
                order = ("v1", "v2") if run % 2 == 0 else ("v2", "v1")
                took = {}
                for which in order:
                    start = time.perf_counter()
                    if which == "v1":
                        v1_call(endpoint, params)
                    else:
                        v2_call(body)
                    took[which] = (time.perf_counter() - start) * 1000
                v1_times.append(took["v1"])
                v2_times.append(took["v2"])
                pairs.append(took["v1"] - took["v2"])
            one, two = statistics.median(v1_times), statistics.median(v2_times)
            diff, pair = one - two, statistics.median(pairs)
            worst = max(worst, diff)
            verdict = "ok" if diff <= LIMIT_MS else "OVER"
            print(f"{name:<24}{one:>8.1f}{two:>8.1f}{diff:>9.2f}{pair:>11.2f}  {verdict}")
    finally:
        services.api_key_revoke(key=key, actor=owner.user)
    print(f"largest difference of medians: {worst:.2f} ms (limit {LIMIT_MS} ms)")


if __name__ == "__main__":
    main()
