"""Time buckets by each event's own time (Plausible's semantics), checked bucket by bucket
against values computed here from the raw events that were sent.

Visits cross hour, day and month boundaries in UTC, UTC−8 (Los Angeles in winter), UTC+9
(Tokyo) and on daylight-saving days (Berlin's 23-hour day, Los Angeles' 25-hour day). The
events go through the collector (parse, enrich, spool, flush) at fixed dates: the batch
API's parse is given the time the batch was received, as its view does with the clock.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from events.flush import flush_spool
from events.ingest.edge import collector
from events.ingest.request import from_batch_item
from events.ingest.sites import directory
from events.ingest.steps import Incoming
from events.spool import spool
from sites.models import Site
from tests import factories
from tests.conftest import restart_site_ids
from tests.reports.conftest import drop_seeded, hit, post_json
from tests.reports.test_stats_api import ALL

UTC = dt.UTC


@dataclass(frozen=True)
class Scenario:
    timezone: str
    boundary: dt.datetime  # a local midnight (UTC) that visits cross
    first: dt.date  # the range, in local days
    last: dt.date


SCENARIOS = {
    # the last day of January → February, in UTC−8
    "la-month": Scenario(
        "America/Los_Angeles",
        dt.datetime(2026, 2, 1, 8, tzinfo=UTC),
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 1),
    ),
    # February → March in UTC+9
    "tokyo-month": Scenario(
        "Asia/Tokyo",
        dt.datetime(2026, 2, 28, 15, tzinfo=UTC),
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 1),
    ),
    # a month boundary in UTC
    "utc-month": Scenario(
        "UTC", dt.datetime(2026, 4, 1, 0, tzinfo=UTC), dt.date(2026, 3, 31), dt.date(2026, 4, 1)
    ),
    # Berlin springs forward on 29 March 2026 (02:00 → 03:00): a 23-hour day
    "berlin-dst": Scenario(
        "Europe/Berlin",
        dt.datetime(2026, 3, 28, 23, tzinfo=UTC),
        dt.date(2026, 3, 29),
        dt.date(2026, 3, 29),
    ),
    # Los Angeles falls back on 1 November 2026 (02:00 → 01:00): a 25-hour day
    "la-dst": Scenario(
        "America/Los_Angeles",
        dt.datetime(2026, 11, 1, 7, tzinfo=UTC),
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 1),
    ),
}


def visits_around(boundary: dt.datetime) -> list[list[tuple[int, str]]]:
    """Visits as (minutes from the boundary, event name): each list is one visitor's visit."""
    return [
        [(-10, "pageview"), (10, "pageview")],  # across the boundary, both sides
        [(-50, "pageview"), (-25, "pageview"), (2, "pageview"), (29, "Signup"), (55, "pageview")],
        [(-1, "pageview")],  # a bounce just before it
        [(0, "pageview"), (3, "engagement")],  # a bounce at it, engagement not counted
        [(-5, "pageview"), (4, "engagement"), (20, "Download")],  # interactive after it
        [(70, "pageview"), (95, "pageview"), (119, "pageview"), (140, "pageview")],  # hours
        # begun the evening before the range and continuing into it, for the DST days
        [(-30 - 60 * 24, "pageview"), (-10 - 60 * 24, "pageview")],
        # a visit across the range's end (the day after `last`), for the one-day ranges
        [(60 * 24 - 20, "pageview"), (60 * 24 + 5, "pageview")],
        [(60 * 23 + 45, "pageview"), (60 * 24 + 5, "pageview"), (60 * 24 + 20, "pageview")],
        # the night before the range: counted where it has events in the range
        [(-20, "pageview"), (-20 + 29, "pageview")],
    ]


@dataclass(frozen=True)
class Sent:
    visit: int
    visitor: int
    at: dt.datetime
    name: str


def events_of(site: Site, scenario: Scenario) -> tuple[list[Sent], list[dict[str, Any]]]:
    sent, items = [], []
    for number, visit in enumerate(visits_around(scenario.boundary)):
        active = [minutes for minutes, name in visit if name != "engagement"]
        assert all(b - a < 30 for a, b in itertools.pairwise(active)), "one visit each"
        ip = f"198.51.100.{number + 1}"
        for minutes, name in visit:
            at = scenario.boundary + dt.timedelta(minutes=minutes, seconds=number)
            sent.append(Sent(number, number, at, name))
            extra = {"sd": 50, "e": 3_000} if name == "engagement" else {}
            items.append(hit(site, at, f"/p{number}", name=name, ip=ip, **extra))
    return sent, items


def accept(site: Site, items: list[dict[str, Any]], received: dt.datetime) -> None:
    """The batch API's path from parse to the spool, received at `received`."""
    incomings = []
    for item in items:
        event = from_batch_item(item, received)
        incomings.append(
            Incoming(
                event=event,
                ip=event.ip,
                user_agent=event.user_agent,
                received_at=received,
                trusted=True,
                organization_id=site.organization_id,
            )
        )
    outcome = collector().accept(incomings)
    assert outcome.accepted == len(items) and not outcome.drops


@pytest.fixture(scope="module")
def seeded(
    django_db_setup: None, django_db_blocker: Any, clickhouse: Any
) -> Iterator[dict[str, tuple[Site, list[Sent]]]]:
    made: dict[str, tuple[Site, list[Sent]]] = {}
    with django_db_blocker.unblock():
        restart_site_ids()
        org = factories.organization()
        for name, scenario in SCENARIOS.items():
            site = factories.site(org, f"buckets-{name}.trail.test", timezone=scenario.timezone)
            made[name] = (site, [])
        directory.invalidate()
        for name, scenario in SCENARIOS.items():
            site, _ = made[name]
            sent, items = events_of(site, scenario)
            accept(
                site,
                sorted(items, key=lambda i: i["timestamp"]),
                max(s.at for s in sent) + dt.timedelta(minutes=1),
            )
            made[name] = (site, sent)
        spool().rotate()
        flush_spool(client=clickhouse)
    yield made
    drop_seeded(django_db_blocker, {name: site for name, (site, _) in made.items()})


@pytest.fixture
def key(seeded: dict[str, tuple[Site, list[Sent]]], db: None) -> str:
    site = next(iter(seeded.values()))[0]
    _, raw = factories.api_key(site.organization, scopes=("stats:read",))
    return raw


# ---- the truth, from the raw events ----------------------------------------------------


def label(at: dt.datetime, interval: str, zone: ZoneInfo, first: dt.date) -> str:
    local = at.astimezone(zone)
    if interval == "hour":
        return local.strftime("%Y-%m-%d %H:00:00")
    day = local.date()
    if interval == "week":
        day = max(day - dt.timedelta(days=day.weekday()), first)
    elif interval == "month":
        day = max(day.replace(day=1), first)
    return day.isoformat()


def truth(sent: list[Sent], scenario: Scenario, interval: str) -> list[tuple[Any, ...]]:
    zone = ZoneInfo(scenario.timezone)
    start = dt.datetime.combine(scenario.first, dt.time(), zone).astimezone(UTC)
    end = dt.datetime.combine(scenario.last + dt.timedelta(days=1), dt.time(), zone)
    end = end.astimezone(UTC)
    counted = [s for s in sent if s.name != "engagement"]
    visits: dict[int, list[Sent]] = defaultdict(list)
    for s in counted:
        visits[s.visit].append(s)
    buckets: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"visitors": set(), "visits": set(), "pageviews": 0, "events": 0}
    )
    for s in counted:
        if start <= s.at < end:
            bucket = buckets[label(s.at, interval, zone, scenario.first)]
            bucket["visitors"].add(s.visitor)
            bucket["visits"].add(s.visit)  # a visit counts in each bucket it had events in
            bucket["pageviews"] += s.name == "pageview"
            bucket["events"] += 1
    rows = []
    for name in sorted(buckets):
        bucket = buckets[name]
        active = [visits[v] for v in bucket["visits"]]
        bounces = sum(len(v) <= 1 for v in active)
        durations = [(max(e.at for e in v) - min(e.at for e in v)).total_seconds() for v in active]
        views = [sum(e.name == "pageview" for e in v) for v in active]
        rows.append(
            (
                name,
                len(bucket["visitors"]),
                len(active),
                bucket["pageviews"],
                bucket["events"],
                round(100 * bounces / len(active)),
                round(sum(durations) / len(active)),
                round(sum(views) / len(active), 2),
            )
        )
    return rows


def ask(client: Any, key: str, site: Site, scenario: Scenario, **body: Any) -> dict[str, Any]:
    body = {
        "site_id": site.domain,
        "date_range": [scenario.first.isoformat(), scenario.last.isoformat()],
        "sampling": "exact",
        **body,
    }
    answer = post_json(client, "/api/v2/query", body, key)
    assert answer.status_code == 200, answer.content
    return dict(answer.json())


CASES = [
    (name, interval)
    for name, interval in itertools.product(SCENARIOS, ["hour", "day", "week", "month"])
]


@pytest.mark.parametrize(("name", "interval"), CASES)
def test_every_bucket_matches_the_raw_events(
    client: Any, key: str, seeded: dict[str, tuple[Site, list[Sent]]], name: str, interval: str
) -> None:
    site, sent = seeded[name]
    scenario = SCENARIOS[name]
    answer = ask(client, key, site, scenario, metrics=ALL, dimensions=[f"time:{interval}"])
    got = [(*row["dimensions"], *row["metrics"]) for row in answer["results"]]
    assert got == truth(sent, scenario, interval)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_buckets_add_up_to_the_total(
    client: Any, key: str, seeded: dict[str, tuple[Site, list[Sent]]], name: str
) -> None:
    site, _ = seeded[name]
    scenario = SCENARIOS[name]
    total = ask(client, key, site, scenario, metrics=["pageviews", "events"])
    [[pageviews, events]] = [row["metrics"] for row in total["results"]]
    for interval in ("hour", "day", "week", "month"):
        series = ask(
            client,
            key,
            site,
            scenario,
            metrics=["pageviews", "events"],
            dimensions=[f"time:{interval}"],
        )
        assert sum(row["metrics"][0] for row in series["results"]) == pageviews
        assert sum(row["metrics"][1] for row in series["results"]) == events


def test_a_visit_across_an_hour_counts_each_page_view_in_its_own_hour(
    client: Any, key: str, seeded: dict[str, tuple[Site, list[Sent]]]
) -> None:
    """The issue's example: a visit from 05:50 to 06:10 has one page view in each hour."""
    site, _ = seeded["utc-month"]
    scenario = SCENARIOS["utc-month"]
    answer = ask(
        client,
        key,
        site,
        scenario,
        metrics=["visitors", "pageviews"],
        dimensions=["time:hour"],
        filters=[["is", "event:page", ["/p0"]]],
    )
    assert [(*r["dimensions"], *r["metrics"]) for r in answer["results"]] == [
        ("2026-03-31 23:00:00", 1, 1),
        ("2026-04-01 00:00:00", 1, 1),
    ]


def test_the_dst_days_have_their_own_hours(
    client: Any, key: str, seeded: dict[str, tuple[Site, list[Sent]]]
) -> None:
    """Berlin's 23-hour day has no 02:00; Los Angeles' 25-hour day has 01:00 twice, one
    label (the local clock's)."""
    for name, hours, missing in (
        ("berlin-dst", 23, "2026-03-29 02:00:00"),
        ("la-dst", 24, "2026-11-02 00:00:00"),
    ):
        site, _ = seeded[name]
        answer = ask(
            client,
            key,
            site,
            SCENARIOS[name],
            metrics=["pageviews"],
            dimensions=["time:hour"],
            include={"time_labels": True},
        )
        labels = answer["meta"]["time_labels"]
        assert len(set(labels)) == hours, labels
        assert missing not in labels
        assert {row["dimensions"][0] for row in answer["results"]} <= set(labels)


def test_a_time_series_by_location_counts_events_at_their_time(
    client: Any, key: str, seeded: dict[str, tuple[Site, list[Sent]]]
) -> None:
    site, sent = seeded["tokyo-month"]
    scenario = SCENARIOS["tokyo-month"]
    plain = ask(
        client, key, site, scenario, metrics=["visitors", "pageviews"], dimensions=["time:day"]
    )
    by_device = ask(
        client,
        key,
        site,
        scenario,
        metrics=["visitors", "pageviews"],
        dimensions=["time:day", "visit:device"],
    )
    assert [(r["dimensions"][0], *r["metrics"]) for r in by_device["results"]] == [
        (*r["dimensions"], *r["metrics"]) for r in plain["results"]
    ]
    assert {r["dimensions"][1] for r in by_device["results"]} == {"Desktop"}  # Firefox, Linux
