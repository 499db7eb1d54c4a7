"""What a foreign API's translation costs: each Plausible Stats API v1 call and each Umami
read call against the same query through `POST /api/v2/query`, over HTTP in this process
(Django's test client: the URL conf, middleware, DRF, key authentication and rate limit,
JSON), in the same run.

    .venv/bin/python bench/report_data.py --var /tmp/trail-bench-compat --events 200000
    .venv/bin/python bench/compat.py --var /tmp/trail-bench-compat [--runs 100] [--api v1,umami]

"The same query" is the v2 body the translation produces for that call (Plausible's:
reports/plausible_v1/params.py; Umami's: `reports.umami.reads.*_body`), so both calls plan
and run the same ClickHouse work; the difference is the translation, the lookups it needs
(the site's goals when a goal is named, a website by its public id) and the shaping of the
answer. The two calls alternate (the foreign one first on even runs, v2 first on odd ones)
so that drift and cache warmth fall on both. Printed per call: the median of each and their
difference (issue 24's figure: ≤ 5 ms), and the median of the per-pair differences; Umami's
`/active` and `/events` have no v2 counterpart and are timed alone. A key with `stats:read`
and no practical rate limit is made for the run and revoked after it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from _setup import django

LIMIT_MS = 5.0
# name → (endpoint, v1 query parameters)
V1_CALLS: dict[str, tuple[str, dict[str, str]]] = {
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
# name → (the path after /api/websites/<id>, its query parameters beside startAt/endAt)
UMAMI_CALLS: dict[str, tuple[str, dict[str, str]]] = {
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
UMAMI_ALONE = {"active": ("active", {}), "events, a page": ("events", {"pageSize": "20"})}

Call = Callable[[], Any]


def timed(call: Call) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def compare(runs: int, foreign: Call, v2: Call) -> tuple[float, float, float]:
    """Medians of the foreign call, of the v2 call, and of their per-pair differences (ms),
    alternating which goes first; one warm-up of each."""
    foreign(), v2()
    mine, theirs, pairs = [], [], []
    for run in range(runs):
        if run % 2 == 0:
            one, two = timed(foreign), timed(v2)
        else:
            two, one = timed(v2), timed(foreign)
        mine.append(one)
        theirs.append(two)
        pairs.append(one - two)
    return statistics.median(mine), statistics.median(theirs), statistics.median(pairs)


def ok(client: Any, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
    answer = getattr(client, method)(path, *args, **kwargs)
    assert answer.status_code == 200, (path, answer.content[:300])
    return answer


def v1_pairs(site: Any, client: Any, v2: Callable[[dict[str, Any]], Any]) -> Iterator[Any]:
    """(name, the v1 call, the same query through v2) for each of V1_CALLS."""
    from reports import dates
    from reports.context import site_goals
    from reports.plausible_v1 import params as v1

    translate = {"aggregate": v1.aggregate, "timeseries": v1.timeseries, "breakdown": v1.breakdown}
    today = dates.today_in(site.timezone)
    goals = site_goals(site)
    for name, (endpoint, params) in V1_CALLS.items():
        query = {"site_id": site.domain, **params}
        body = translate[endpoint](query, domain=site.domain, today=today, goals=goals).body
        path = f"/api/v1/stats/{endpoint}"
        yield name, (lambda p=path, q=query: ok(client, "get", p, q)), (lambda b=body: v2(b))


def umami_query(site: Any, params: dict[str, str]) -> dict[str, str]:
    """`startAt`/`endAt` of the last `days` (30) local days up to now, and the rest."""
    from reports import dates

    today, zone = dates.today_in(site.timezone), dates.zone(site.timezone)
    days = int(params.get("days", "30"))
    first = dt.datetime.combine(today - dt.timedelta(days=days - 1), dt.time(), tzinfo=zone)
    rest = {k: v for k, v in params.items() if k != "days"}
    end = dt.datetime.now(dt.UTC)
    return {"startAt": str(int(first.timestamp() * 1000)), "endAt": str(int(end.timestamp() * 1000)), **rest}  # fmt: skip


def umami_pairs(site: Any, client: Any, v2: Callable[[dict[str, Any]], Any]) -> Iterator[Any]:
    """(name, the Umami call, the same query through v2) for each of UMAMI_CALLS."""
    from reports.umami import reads

    builders = {"stats": reads.stats_body, "pageviews": reads.pageviews_body, "metrics": reads.metrics_body}  # fmt: skip
    for name, (part, params) in UMAMI_CALLS.items():
        query = umami_query(site, params)
        body = builders[part](site, query)
        path = f"/api/websites/{site.public_id}/{part}"
        yield name, (lambda p=path, q=query: ok(client, "get", p, q)), (lambda b=body: v2(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--var", required=True, help="the var dir bench/report_data.py wrote")
    parser.add_argument("--site-domain", default="bench.example.com")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--api", default="v1,umami", help="v1, umami or both")
    parser.add_argument("--only", default="", help="run the calls whose name contains this")
    args = parser.parse_args()
    django(args.var, migrate=False)

    from django.test import Client

    from accounts import services
    from accounts.models import ApiKey, Role, Scope, User
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

    def v2(body: dict[str, Any]) -> Any:
        return ok(client, "post", "/api/v2/query", json.dumps(body), content_type="application/json")  # fmt: skip

    apis = {"v1": ("Plausible v1", v1_pairs), "umami": ("Umami", umami_pairs)}
    print(f"site {site.domain} (id {site.id}); {args.runs} runs of each call, alternating")
    worst = 0.0
    try:
        for api in args.api.split(","):
            title, pairs = apis[api]
            print(f"{title + ' call':<26}{'ms':>8}{'v2 ms':>8}{'diff ms':>9}{'pair diff':>11}  ≤ {LIMIT_MS} ms")  # fmt: skip
            for name, foreign, same in pairs(site, client, v2):
                if args.only not in name:
                    continue
                one, two, pair = compare(args.runs, foreign, same)
                worst = max(worst, one - two)
                verdict = "ok" if one - two <= LIMIT_MS else "OVER"
                print(f"{name:<26}{one:>8.1f}{two:>8.1f}{one - two:>9.2f}{pair:>11.2f}  {verdict}")  # fmt: skip
            if api == "umami":
                for name, (part, params) in UMAMI_ALONE.items():
                    if args.only not in name:
                        continue
                    path = f"/api/websites/{site.public_id}/{part}"
                    query = umami_query(site, params) if part == "events" else {}
                    call = functools.partial(ok, client, "get", path, query)
                    call()
                    alone = [timed(call) for _ in range(args.runs)]
                    print(f"{name:<26}{statistics.median(alone):>8.1f}{'-':>8}  (no v2 counterpart)")  # fmt: skip
    finally:
        services.api_key_revoke(key=key, actor=owner.user)
    print(f"largest difference of medians: {worst:.2f} ms (limit {LIMIT_MS} ms)")


if __name__ == "__main__":
    main()
