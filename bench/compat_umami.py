"""What Umami's read API costs over Trail's own: each Umami call against the same query
through `POST /api/v2/query`, over HTTP in this process (Django's test client: the URL conf,
middleware, DRF, authentication and rate limit, JSON), in the same run.

    .venv/bin/python bench/report_data.py --var /tmp/trail-bench-umami --events 200000
    .venv/bin/python bench/compat_umami.py --var /tmp/trail-bench-umami [--runs 100]

"The same query" is the Stats API body the Umami translation builds
(`reports.umami.reads.*_body`) for that call, so both plan and run the same ClickHouse
work; the difference is the website lookup by its public id, the translation and the
shaping of the answer. The Umami calls carry a Trail key (`stats:read`, no practical rate
limit, revoked after the run), as the v2 calls do. The two calls alternate (Umami first on
even runs) so that drift and cache warmth fall on both. Printed per call: the median of
each, their difference (issue 24's figure: ≤ 5 ms) and the median of the per-pair
differences; `/active` and `/events` have no v2 counterpart and are timed alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from typing import Any

from _setup import django

LIMIT_MS = 5.0
# name → (the path after /api/websites/<id>, its query parameters beside startAt/endAt)
CALLS: dict[str, tuple[str, dict[str, str]]] = {
    "stats, compared": ("stats", {}),
    "stats, filtered": ("stats", {"path": "/"}),
    "pageviews, days": ("pageviews", {"unit": "day"}),
    "pageviews, hours": ("pageviews", {"unit": "hour", "days": "1"}),
    "metrics, paths": ("metrics", {"type": "path", "limit": "10"}),
    "metrics, referrers": ("metrics", {"type": "referrer", "limit": "10"}),
    "metrics, countries": ("metrics", {"type": "country"}),
    "metrics, browsers": ("metrics", {"type": "browser"}),
    "metrics, events": ("metrics", {"type": "event"}),
}
ALONE = {"active": ("active", {}), "events, a page": ("events", {"pageSize": "20"})}


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
    from reports.umami import reads
    from sites.models import Site

    site = Site.objects.get(domain=args.site_domain, deleted_at__isnull=True)
    owner = site.organization.memberships.filter(role=Role.OWNER).first()
    if owner is None:  # bench/report_data.py makes an organization without people
        person, _ = User.objects.get_or_create(email="bench-compat@example.com")
        owner = site.organization.memberships.create(user=person, role=Role.OWNER)
    key, raw = services.api_key_create(
        organization=site.organization,
        actor=owner.user,
        name="bench/compat_umami.py",
        scopes=(Scope.STATS_READ,),
    )
    ApiKey.objects.filter(pk=key.pk).update(rate_limit_per_minute=10**9)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", SERVER_NAME="localhost")
    builders = {
        "stats": reads.stats_body,
        "pageviews": reads.pageviews_body,
        "metrics": reads.metrics_body,
    }
    now = dt.datetime.now(dt.UTC)
    today = dates.today_in(site.timezone)
    zone = dates.zone(site.timezone)

    def query_of(params: dict[str, str]) -> dict[str, str]:
        days = int(params.get("days", "30"))
        first = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time(), tzinfo=zone)
        rest = {k: v for k, v in params.items() if k != "days"}
        return {
            "startAt": str(int(first.timestamp() * 1000)),
            "endAt": str(int(now.timestamp() * 1000)),
            **rest,
        }

    def umami_call(part: str, query: dict[str, str]) -> Any:
        answer = client.get(f"/api/websites/{site.public_id}/{part}", query)
        assert answer.status_code == 200, answer.content[:300]
        return answer

    def v2_call(body: dict[str, Any]) -> Any:
        answer = client.post("/api/v2/query", json.dumps(body), content_type="application/json")
        assert answer.status_code == 200, answer.content[:300]
        return answer

    def timed(call: Any, *arguments: Any) -> float:
        start = time.perf_counter()
        call(*arguments)
        return (time.perf_counter() - start) * 1000

    print(f"site {site.domain} (id {site.id}); {args.runs} runs of each call, alternating")
    print(
        f"{'call':<22}{'umami ms':>10}{'v2 ms':>8}{'diff ms':>9}{'pair diff':>11}  ≤ {LIMIT_MS} ms"
    )
    worst = 0.0
    try:
        for name, (part, params) in CALLS.items():
            if args.only not in name:
                continue
            query = query_of(params)
            body = builders[part](site, query)
            umami_call(part, query)  # warm-up, both
            v2_call(body)
            mine, theirs, pairs = [], [], []
            for run in range(args.runs):
                if run % 2 == 0:
                    one, two = timed(umami_call, part, query), timed(v2_call, body)
                else:
                    two, one = timed(v2_call, body), timed(umami_call, part, query)
                mine.append(one)
                theirs.append(two)
                pairs.append(one - two)
            a, b = statistics.median(mine), statistics.median(theirs)
            diff, pair = a - b, statistics.median(pairs)
            worst = max(worst, diff)
            verdict = "ok" if diff <= LIMIT_MS else "OVER"
            print(f"{name:<22}{a:>10.1f}{b:>8.1f}{diff:>9.2f}{pair:>11.2f}  {verdict}")
        for name, (part, params) in ALONE.items():
            if args.only not in name:
                continue
            query = query_of(params) if part == "events" else {}
            umami_call(part, query)
            alone = [timed(umami_call, part, query) for _ in range(args.runs)]
            print(f"{name:<22}{statistics.median(alone):>10.1f}{'-':>8}  (no v2 counterpart)")
    finally:
        services.api_key_revoke(key=key, actor=owner.user)
    print(f"largest difference of medians: {worst:.2f} ms (limit {LIMIT_MS} ms)")


if __name__ == "__main__":
    main()
