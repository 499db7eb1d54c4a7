"""Realtime (`GET /api/v1/realtime`) on traffic seeded through the real collector."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import Role
from reports import realtime
from sites.models import Site
from tests import factories
from tests.reports.conftest import hit

pytestmark = pytest.mark.django_db

PATH = "/api/v1/realtime"
Seed = Callable[[Site, list[dict[str, Any]]], None]
MakeSite = Callable[..., Site]
MIN = dt.timedelta(minutes=1)
GOOGLE = "https://www.google.com/"
# Yesterday at 12:00:30 UTC (21:00:30 in Tokyo): `now` for the function, in the past so
# that events "after now" can be seeded too.
NOW = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).replace(
    hour=12, minute=0, second=30, microsecond=0
)


def ip(n: int) -> str:
    return f"198.51.100.{n}"


def get(client: Any, site: Site | str, key: str | None = None) -> Any:
    domain = site if isinstance(site, str) else site.domain
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    return client.get(PATH, {"site_id": domain}, **headers)


def stats_key(site: Site) -> str:
    return factories.api_key(site.organization, scopes=("stats:read",))[1]


@pytest.fixture
def tokyo(make_site: MakeSite, seed: Seed) -> Site:
    site = make_site("tokyo.example.jp", timezone="Asia/Tokyo")
    seed(
        site,
        [
            # 1: from Google 2 minutes ago, then an internal click to /pricing.
            hit(site, NOW - 2 * MIN, "/", ip=ip(1), referrer=GOOGLE),
            hit(site, NOW - MIN, "/pricing", ip=ip(1), referrer="https://tokyo.example.jp/"),
            # 2: direct, 10 minutes ago: in the 30 minutes, not among visitors now.
            hit(site, NOW - 10 * MIN, "/pricing", ip=ip(2)),
            # 3: 40 minutes ago: outside everything.
            hit(site, NOW - 40 * MIN, "/old", ip=ip(3), referrer=GOOGLE),
            # 4: only an engagement event: no visitor, no pageview.
            hit(site, NOW - MIN, "/pricing", name="engagement", ip=ip(4), referrer=GOOGLE),
            # 5: a custom event from a newsletter 3 minutes ago: a visitor, no pageview.
            hit(site, NOW - 3 * MIN, "/", name="Signup", ip=ip(5), query="?utm_source=Newsletter"),
            # 6: after `now`: not counted.
            hit(site, NOW + 2 * MIN, "/later", ip=ip(6)),
        ],
    )
    return site


def test_realtime_in_the_sites_time_zone(tokyo: Site) -> None:
    result = realtime.realtime(site=tokyo, now=NOW)
    assert result["visitors"] == 2  # 1 and 5
    minutes = result["minutes"]
    assert len(minutes) == 30
    # Tokyo is UTC+9 all year: the current minute is 21:00 there.
    current = NOW.replace(second=0) + dt.timedelta(hours=9)
    expected = [(current - (29 - n) * MIN).strftime("%Y-%m-%d %H:%M") for n in range(30)]
    assert [m["minute"] for m in minutes] == expected
    assert minutes[-1]["minute"].endswith(" 21:00")
    busy = {m["minute"][-5:]: (m["pageviews"], m["visitors"]) for m in minutes if m["visitors"]}
    assert busy == {
        "20:50": (1, 1),  # 2's /pricing
        "20:57": (0, 1),  # 5's Signup
        "20:58": (1, 1),  # 1's /
        "20:59": (1, 1),  # 1's /pricing (4's engagement not counted)
    }
    assert sum(m["pageviews"] for m in minutes) == 3
    assert result["pages"] == [{"page": "/pricing", "visitors": 2}, {"page": "/", "visitors": 1}]
    assert result["sources"] == [
        {"source": "Direct / None", "visitors": 1},
        {"source": "Google", "visitors": 1},  # 1, though its second page has no referrer
        {"source": "Newsletter", "visitors": 1},
    ]
    assert result["timezone"] == "Asia/Tokyo"


def test_current_is_one_window_of_five_minutes(tokyo: Site) -> None:
    """The header's visitors, pages and sources all come from the last 5 minutes: 2's
    /pricing of 10 minutes ago is in the 30 minutes, not here."""
    now = realtime.current(site=tokyo, now=NOW)
    assert now == {
        "visitors": 2,  # 1 and 5
        "pages": [{"page": "/", "visitors": 1}, {"page": "/pricing", "visitors": 1}],
        "sources": [{"source": "Google", "visitors": 1}, {"source": "Newsletter", "visitors": 1}],
        "minutes": 5,
    }
    assert realtime.realtime(site=tokyo, now=NOW)["visitors"] == now["visitors"]


def test_totals_of_the_30_minutes(tokyo: Site) -> None:
    result = realtime.realtime(site=tokyo, now=NOW, totals=True)
    assert result["totals"] == {"visitors": 3, "pageviews": 3}  # 1, 2 and 5; 1 twice and 2
    assert {k: v for k, v in result.items() if k != "totals"} == realtime.realtime(
        site=tokyo, now=NOW
    )


def test_the_four_queries_run_at_once(tokyo: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    real_run = realtime.run

    def watched(select: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real_run(select)

    alone = realtime.realtime(site=tokyo, now=NOW)
    monkeypatch.setattr(realtime, "run", watched)
    assert realtime.realtime(site=tokyo, now=NOW) == alone
    assert len(threads) == 4
    # one in this thread, three beside it in the report pool (reports.runner.together)
    assert threads.count(threading.current_thread().name) == 1, threads
    assert sum(name.startswith("trail-report") for name in threads) == 3, threads


def test_the_window_moves_with_now(tokyo: Site) -> None:
    later = realtime.realtime(site=tokyo, now=NOW + 20 * MIN)
    assert later["visitors"] == 0
    assert sum(m["pageviews"] for m in later["minutes"]) == 3  # 1 twice, and 6
    assert later["minutes"][-1]["minute"].endswith(" 21:20")
    earlier = realtime.realtime(site=tokyo, now=NOW - 35 * MIN)
    assert earlier["visitors"] == 1  # 3, 5 minutes before
    assert earlier["pages"] == [{"page": "/old", "visitors": 1}]
    assert earlier["sources"] == [{"source": "Google", "visitors": 1}]


def test_an_empty_site_is_zero_filled(make_site: MakeSite) -> None:
    site = make_site("quiet.example.com", timezone="America/New_York")
    result = realtime.realtime(site=site, now=NOW)
    assert result["visitors"] == 0
    assert [(m["pageviews"], m["visitors"]) for m in result["minutes"]] == [(0, 0)] * 30
    assert result["pages"] == [] and result["sources"] == []
    local = NOW.astimezone(dt.timezone(dt.timedelta(hours=-4 if _dst(NOW) else -5)))
    assert result["minutes"][-1]["minute"] == local.strftime("%Y-%m-%d %H:%M")


def _dst(moment: dt.datetime) -> bool:
    from zoneinfo import ZoneInfo

    return bool(moment.astimezone(ZoneInfo("America/New_York")).dst())


def test_top_ten(make_site: MakeSite, seed: Seed) -> None:
    site = make_site("busy.example.com")
    events = []
    for page in range(12):  # page n is seen by n + 1 visitors
        for n in range(page + 1):
            events.append(hit(site, NOW - MIN, f"/p{page:02}", ip=ip(n + 1)))
    for source in range(12):
        events.append(
            hit(
                site,
                NOW - MIN,
                name="Signup",  # not a pageview: no page of its own
                ip=ip(100 + source),
                query=f"?utm_source=s{source:02}",
            )
        )
    seed(site, events)
    result = realtime.realtime(site=site, now=NOW)
    assert [p["page"] for p in result["pages"]] == [f"/p{n:02}" for n in range(11, 1, -1)]
    assert result["pages"][0]["visitors"] == 12
    assert len(result["sources"]) == 10
    # 12 visitors came direct (the /pNN pages), then s00.. by name at 1 visitor each.
    assert result["sources"][0] == {"source": "Direct / None", "visitors": 12}
    assert [s["source"] for s in result["sources"][1:]] == [f"s{n:02}" for n in range(9)]


def test_every_query_reads_only_the_last_30_minutes() -> None:
    site = Site(pk=9, domain="x.example.com", timezone="UTC")
    window = realtime.Window(NOW)
    for build in (
        realtime.current_visitors_select,
        realtime.minutes_select,
        realtime.pages_select,
        realtime.sources_select,
        realtime.totals_select,
    ):
        select = build(site=site, window=window)
        inner = select.table if isinstance(select.table, type(select)) else select
        sql, params = inner.render()
        assert "WHERE site_id = {site_id:UInt64} AND (toDate(timestamp) >= toDate({p0:" in sql
        assert "toDate(timestamp) <= toDate({p1:" in sql  # the primary index skips other days
        assert "(name != 'engagement')" in sql
        assert params["p0"] >= NOW - 30 * MIN  # since
        assert params["p1"] == NOW.replace(second=0) + MIN  # the window's end


# Through the API, at the real now


def test_api(client: Any, make_site: MakeSite, seed: Seed) -> None:
    site = make_site("live.example.com", timezone="Asia/Tokyo")
    now = dt.datetime.now(dt.UTC)
    seed(
        site,
        [
            hit(site, now - 2 * MIN, "/a", ip=ip(1), referrer=GOOGLE),
            hit(site, now - 10 * MIN, "/b", ip=ip(2)),
            hit(site, now - 40 * MIN, "/c", ip=ip(3)),
        ],
    )
    answer = get(client, site, stats_key(site))
    assert answer.status_code == 200, answer.content
    result = answer.json()
    assert result["visitors"] == 1
    assert len(result["minutes"]) == 30
    assert sum(m["pageviews"] for m in result["minutes"]) == 2
    assert sum(m["visitors"] for m in result["minutes"]) == 2
    tokyo_now = (now + dt.timedelta(hours=9)).strftime("%Y-%m-%d %H:%M")
    assert result["minutes"][-1]["minute"] >= tokyo_now  # the minute may have turned since
    assert sorted(result["pages"], key=lambda p: p["page"]) == [
        {"page": "/a", "visitors": 1},
        {"page": "/b", "visitors": 1},
    ]
    assert result["sources"] == [
        {"source": "Direct / None", "visitors": 1},
        {"source": "Google", "visitors": 1},
    ]


def test_site_id_is_required(client: Any, make_site: MakeSite) -> None:
    site = make_site("need.example.com")
    answer = client.get(PATH, HTTP_AUTHORIZATION=f"Bearer {stats_key(site)}")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("site_id: ")


def test_another_tenants_site_is_not_found(client: Any, make_site: MakeSite) -> None:
    mine = make_site("mine.example.com")
    theirs = make_site("theirs.example.com")
    answer = get(client, theirs, stats_key(mine))
    assert answer.status_code == 404
    assert answer.json() == {"error": "not found"}
    assert get(client, "nope.example.com", stats_key(mine)).status_code == 404


def test_a_key_without_stats_read_is_forbidden(client: Any, make_site: MakeSite) -> None:
    site = make_site("scoped.example.com")
    _, raw = factories.api_key(site.organization, scopes=("events:write", "sites:manage"))
    answer = get(client, site, raw)
    assert answer.status_code == 403
    assert "stats:read" in answer.json()["error"]


def test_signed_in_members_and_strangers(client: Any, make_site: MakeSite) -> None:
    site = make_site("members.example.com")
    client.force_login(factories.member(site.organization, Role.VIEWER))
    assert get(client, site).status_code == 200
    client.force_login(factories.user())
    assert get(client, site).status_code == 404
    client.logout()
    assert get(client, site).status_code in (401, 403)
