"""Umami's read API (reports/umami/) on known visits seeded through the real collector.

Every expected figure is computed here from `EVENTS`, the raw events this module sends, with
the meanings Trail documents (docs/reports.md): a visitor is one address and browser (all
sent on one day), a visit ends after 30 minutes without an event, a bounce is a visit with one
pageview and nothing else, a visit lasts from its first to its last event.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.core import signing

from accounts.models import Role
from reports.umami import auth
from sites.models import Site
from tests import factories
from tests.api_client import bearer
from tests.reports.conftest import CHROME_ANDROID, FIREFOX, SAFARI_MAC, drop_seeded, seed_sites

TODAY = dt.datetime.now(dt.UTC).date()
D = TODAY - dt.timedelta(days=10)
D1 = D + dt.timedelta(days=1)
PASSWORD = "a long and good password"


@dataclass(frozen=True)
class Spec:
    """One raw event: who (address, browser, device as Umami names it), when, what."""

    ip: str
    ua: str
    device: str
    at: dt.datetime
    path: str
    name: str = "pageview"
    referrer: str = ""

    @property
    def visitor(self) -> tuple[str, str]:
        """Visitor ids hash the address and browser with the salt of the day an event is
        received: every event here is sent today, so one address and browser is one."""
        return (self.ip, self.ua)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


A = ("81.2.69.10", FIREFOX, "desktop")
B = ("91.198.174.20", CHROME_ANDROID, "mobile")
C = ("203.0.113.30", SAFARI_MAC, "desktop")
E = ("81.2.70.40", FIREFOX, "desktop")
P = ("198.51.100.7", FIREFOX, "desktop")
EVENTS = [
    Spec(*A, at(D, 10, 0), "/", referrer="https://www.google.com/"),
    Spec(*A, at(D, 10, 2), "/pricing"),
    Spec(*A, at(D, 10, 5), "/pricing", name="Signup"),
    Spec(*B, at(D, 11, 0), "/blog/a", referrer="https://news.ycombinator.com/item?id=1"),
    Spec(*C, at(D, 12, 0), "/"),
    Spec(*C, at(D1, 9, 0), "/blog/a"),
    Spec(*C, at(D1, 9, 1), "/blog/b"),
    Spec(*E, at(D1, 13, 0), "/pricing", referrer="https://news.ycombinator.com/"),
    # the period before (D-2 .. D-1), for the comparison
    Spec(*P, at(D - dt.timedelta(days=2), 10, 0), "/"),
    Spec(*P, at(D - dt.timedelta(days=1), 10, 0), "/"),
    Spec(*P, at(D - dt.timedelta(days=1), 10, 10), "/x"),
]


def in_days(first: dt.date, last: dt.date) -> list[Spec]:
    return [e for e in EVENTS if first <= e.at.date() <= last]


def visits(events: list[Spec]) -> list[list[Spec]]:
    """The visits of `events`: each visitor's events, cut by 30 minutes without one."""
    found: list[list[Spec]] = []
    by_visitor: dict[Any, list[Spec]] = {}
    for e in sorted(events, key=lambda e: e.at):
        by_visitor.setdefault(e.visitor, []).append(e)
    for mine in by_visitor.values():
        current = [mine[0]]
        for e in mine[1:]:
            if e.at - current[-1].at > dt.timedelta(minutes=30):
                found.append(current)
                current = []
            current.append(e)
        found.append(current)
    return found


def summary(events: list[Spec]) -> dict[str, int]:
    every = visits(events)
    return {
        "pageviews": sum(e.name == "pageview" for e in events),
        "visitors": len({e.visitor for e in events}),
        "visits": len(every),
        "bounces": sum(len(v) == 1 and v[0].name == "pageview" for v in every),
        "totaltime": int(sum((v[-1].at - v[0].at).total_seconds() for v in every)),
    }


def ms(moment: dt.datetime) -> str:
    return str(int(moment.timestamp() * 1000))


RANGE = {"startAt": ms(at(D, 0)), "endAt": ms(at(D1 + dt.timedelta(days=1), 0))}


def to_hit(site: Site, e: Spec) -> dict[str, Any]:
    event: dict[str, Any] = {
        "domain": site.domain,
        "name": e.name,
        "url": f"https://{site.domain}{e.path}",
        "timestamp": e.at.isoformat(),
        "ip": e.ip,
        "user_agent": e.ua,
    }
    if e.referrer:
        event["referrer"] = e.referrer
    return event


@pytest.fixture(scope="module")
def sites(
    django_db_setup: None, django_db_blocker: Any, clickhouse: Any
) -> Iterator[dict[str, Site]]:
    made = seed_sites(
        django_db_blocker,
        clickhouse,
        {"utc": ("umami-api-trail.com", "UTC")},
        lambda site: [to_hit(site, e) for e in EVENTS],
    )
    yield made
    drop_seeded(django_db_blocker, made)


@pytest.fixture
def site(sites: dict[str, Site], db: None) -> Site:
    return sites["utc"]


@pytest.fixture
def key(site: Site) -> str:
    return factories.api_key(site.organization, scopes=("stats:read",))[1]


def url(site: Site, part: str = "") -> str:
    return f"/api/websites/{site.public_id}{part}"


def get(key: str, where: str, /, **params: str) -> Any:
    return bearer(key).get(where, params)


# --- sign-in and tokens ---------------------------------------------------------------


def verified_member(site: Site, email: str, role: Role = Role.VIEWER) -> Any:
    user = factories.member(site.organization, role, email=email)
    user.set_password(PASSWORD)
    user.save()
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def login(client: Any, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/api/auth/login", data=data, content_type="application/json")


def test_login_gives_a_token_that_reads_the_members_sites(client: Any, site: Site) -> None:
    verified_member(site, "reader@umami-api.example")
    answer = login(client, {"username": "Reader@umami-api.example", "password": PASSWORD})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["user"]["username"] == "reader@umami-api.example"
    assert set(body["user"]) >= {"id", "username", "createdAt"}
    websites = get(body["token"], "/api/websites").json()
    assert [w["id"] for w in websites["data"]] == [str(site.public_id)]
    assert websites["count"] == 1 and websites["page"] == 1
    verify = bearer(body["token"]).post("/api/auth/verify")
    assert verify.status_code == 200 and verify.json()["username"] == "reader@umami-api.example"


@pytest.mark.parametrize(
    "body",
    [
        {"username": "nobody@umami-api.example", "password": PASSWORD},
        {"username": "wrongpw@umami-api.example", "password": "not it"},
    ],
)
def test_wrong_credentials_are_401(client: Any, site: Site, body: dict[str, str]) -> None:
    verified_member(site, "wrongpw@umami-api.example")
    answer = login(client, body)
    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == 401
    assert "token" not in answer.json()


def test_an_unverified_address_does_not_sign_in(client: Any, site: Site) -> None:
    user = factories.member(site.organization, Role.VIEWER, email="unverified@umami-api.example")
    user.set_password(PASSWORD)
    user.save()
    answer = login(client, {"username": "unverified@umami-api.example", "password": PASSWORD})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", "body"),
        ("[]", "body"),
        ('"text"', "body"),
        ({}, "username"),
        ({"username": 5, "password": "x"}, "username"),
        ({"username": "a@b.example"}, "password"),
        ({"username": "a@b.example", "password": ["x"]}, "password"),
        ({"username": "a" * 5000, "password": "x"}, "username"),
        ({"username": "a\x00@b.example", "password": "x"}, "username"),
    ],
)
def test_hostile_login_bodies_are_400_naming_the_field(client: Any, body: Any, field: str) -> None:
    answer = login(client, body)
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["message"].startswith(f"{field}:")


def test_failed_sign_ins_are_limited_per_address(client: Any, site: Site) -> None:
    verified_member(site, "limited@umami-api.example")
    wrong = {"username": "limited@umami-api.example", "password": "guess"}
    statuses = [login(client, wrong).status_code for _ in range(auth.LOGINS.per_target.limit)]
    assert statuses == [401] * auth.LOGINS.per_target.limit
    right = login(client, {"username": "limited@umami-api.example", "password": PASSWORD})
    assert right.status_code == 429  # the password is not even checked
    assert right.has_header("Retry-After")


def test_tokens_end_with_the_password_and_with_time(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = verified_member(site, "changes@umami-api.example")
    token = auth.token_for(user)
    assert get(token, "/api/websites").status_code == 200
    user.set_password("another good password")
    user.save()
    assert get(token, "/api/websites").status_code == 401
    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now - auth.TOKEN_AGE - 60)  # type: ignore[attr-defined]
    old = auth.token_for(user)
    monkeypatch.undo()
    assert get(old, "/api/websites").status_code == 401


@pytest.mark.parametrize(
    "header", ["", "Bearer ", "Bearer forged.token:x", "Basic abc", "Bearer trail_x_y"]
)
def test_no_or_a_bad_token_is_401(client: Any, site: Site, header: str) -> None:
    headers = {"HTTP_AUTHORIZATION": header} if header else {}
    for path in ("/api/websites", url(site), url(site, "/stats")):
        answer = client.get(path, RANGE, **headers)
        assert answer.status_code == 401, (path, header, answer.content)
        assert answer.json()["error"]["code"] == "unauthorized"


def test_a_key_without_stats_read_is_403(site: Site) -> None:
    _, raw = factories.api_key(site.organization, scopes=("sites:read",))
    answer = get(raw, url(site, "/stats"), **RANGE)
    assert answer.status_code == 403
    assert "stats:read" in answer.json()["error"]["message"]


def test_another_tenants_website_is_404_like_none(site: Site, key: str) -> None:
    other = factories.site(factories.organization(), "umami-other-tenant.example")
    for part in ("", "/stats", "/pageviews", "/metrics", "/active", "/events"):
        mine = get(key, url(other, part), type="path", **RANGE)
        made_up = get(key, f"/api/websites/00000000-0000-4000-8000-000000000000{part}")
        assert mine.status_code == made_up.status_code == 404, part
        assert mine.json() == made_up.json()
        assert "umami-other-tenant" not in mine.content.decode()
    assert get(key, "/api/websites/not-a-uuid/stats", **RANGE).status_code == 404
    listed = get(key, "/api/websites").json()
    assert [w["domain"] for w in listed["data"]] == [site.domain]


# --- websites ---------------------------------------------------------------------------


def test_websites_are_paged_as_umami_pages(site: Site) -> None:
    org = site.organization
    for name in ("b", "c"):
        factories.site(org, f"{name}-umami-paged.example")
    _, raw = factories.api_key(org, scopes=("stats:read",))
    first = get(raw, "/api/websites", page="1", pageSize="2").json()
    second = get(raw, "/api/websites", page="2", pageSize="2").json()
    assert first["count"] == second["count"] == 3
    assert first["pageSize"] == 2 and len(first["data"]) == 2 and len(second["data"]) == 1
    domains = [w["domain"] for w in first["data"] + second["data"]]
    assert sorted(domains) == domains and len(set(domains)) == 3
    found = get(raw, "/api/websites", search="paged").json()
    assert found["count"] == 2
    one = get(raw, url(site)).json()
    assert one["id"] == str(site.public_id) and one["domain"] == site.domain


@pytest.mark.parametrize(
    ("name", "value"), [("page", "0"), ("pageSize", "x"), ("pageSize", "100000")]
)
def test_bad_paging_is_400(key: str, name: str, value: str) -> None:
    answer = get(key, "/api/websites", **{name: value})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith(f"{name}:")


# --- stats, pageviews, metrics ----------------------------------------------------------


def test_stats_and_their_comparison(site: Site, key: str) -> None:
    answer = get(key, url(site, "/stats"), **RANGE)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    expected = summary(in_days(D, D1))
    assert {k: body[k] for k in expected} == expected
    before = summary(in_days(D - dt.timedelta(days=2), D - dt.timedelta(days=1)))
    assert body["comparison"] == before
    assert before["visits"] == 2 and before["totaltime"] == 600  # the fixture's meaning


def test_stats_with_a_filter(site: Site, key: str) -> None:
    body = get(key, url(site, "/stats"), path="/pricing", **RANGE).json()
    pricing = [e for e in in_days(D, D1) if e.path == "/pricing" and e.name == "pageview"]
    assert body["pageviews"] == len(pricing)
    assert body["visitors"] == len({e.visitor for e in pricing})


def test_pageviews_by_day_and_hour(site: Site, key: str) -> None:
    body = get(key, url(site, "/pageviews"), unit="day", timezone="UTC", **RANGE).json()
    expected_views, expected_sessions = [], []
    for day in (D, D1):
        events = in_days(day, day)
        x = f"{day.isoformat()} 00:00:00"
        expected_views.append({"x": x, "y": summary(events)["pageviews"]})
        expected_sessions.append({"x": x, "y": summary(events)["visitors"]})
    assert body == {"pageviews": expected_views, "sessions": expected_sessions}
    hours = get(key, url(site, "/pageviews"), unit="hour", **RANGE).json()["pageviews"]
    by_hour: dict[str, int] = {}
    for e in in_days(D, D1):
        if e.name == "pageview":
            label = e.at.strftime("%Y-%m-%d %H:00:00")
            by_hour[label] = by_hour.get(label, 0) + 1
    assert {p["x"]: p["y"] for p in hours} == by_hour


def test_metrics_by_path_event_device_and_referrer(site: Site, key: str) -> None:
    events = in_days(D, D1)
    paths = get(key, url(site, "/metrics"), type="path", **RANGE).json()
    counts: dict[str, int] = {}
    for e in events:
        if e.name == "pageview":
            counts[e.path] = counts.get(e.path, 0) + 1
    assert {r["x"]: r["y"] for r in paths} == counts
    assert [r["y"] for r in paths] == sorted(counts.values(), reverse=True)
    assert get(key, url(site, "/metrics"), type="url", limit="1", **RANGE).json() == paths[:1]

    named = get(key, url(site, "/metrics"), type="event", **RANGE).json()
    custom = [e.name for e in events if e.name != "pageview"]
    assert named == [{"x": n, "y": custom.count(n)} for n in sorted(set(custom))]

    devices = get(key, url(site, "/metrics"), type="device", **RANGE).json()
    by_device: dict[str, set[Any]] = {}
    for e in events:
        by_device.setdefault(e.device, set()).add(e.visitor)
    assert {r["x"]: r["y"] for r in devices} == {k: len(v) for k, v in by_device.items()}

    referrers = get(key, url(site, "/metrics"), type="referrer", **RANGE).json()
    by_host: dict[Any, set[Any]] = {}
    for visit in visits(events):
        host = urlsplit(visit[0].referrer).hostname if visit[0].referrer else None
        host = host.removeprefix("www.") if host else None  # as Umami writes a referrer
        by_host.setdefault(host, set()).add(visit[0].visitor)
    assert {r["x"]: r["y"] for r in referrers} == {k: len(v) for k, v in by_host.items()}


def test_events_page_newest_first(site: Site, key: str) -> None:
    events = sorted(in_days(D, D1), key=lambda e: e.at, reverse=True)
    first = get(key, url(site, "/events"), pageSize="3", **RANGE).json()
    assert first["count"] == len(events) and first["page"] == 1 and first["pageSize"] == 3
    assert [r["urlPath"] for r in first["data"]] == [e.path for e in events[:3]]
    assert [r["eventType"] for r in first["data"]] == [
        1 if e.name == "pageview" else 2 for e in events[:3]
    ]
    second = get(key, url(site, "/events"), pageSize="3", page="2", **RANGE).json()
    assert [r["urlPath"] for r in second["data"]] == [e.path for e in events[3:6]]
    assert all(r["websiteId"] == str(site.public_id) for r in first["data"] + second["data"])


@pytest.mark.parametrize(
    ("part", "params", "field"),
    [
        ("/stats", {"endAt": RANGE["endAt"]}, "startAt"),
        ("/stats", {"startAt": RANGE["startAt"]}, "endAt"),
        ("/stats", {"startAt": "yesterday", "endAt": RANGE["endAt"]}, "startAt"),
        ("/stats", {"startAt": "-5", "endAt": RANGE["endAt"]}, "startAt"),
        ("/stats", {"startAt": RANGE["endAt"], "endAt": RANGE["startAt"]}, "endAt"),
        ("/stats", {**RANGE, "timezone": "Mars/Olympus"}, "timezone"),
        ("/stats", {**RANGE, "compare": "never"}, "compare"),
        ("/stats", {**RANGE, "title": "Home"}, "title"),
        ("/pageviews", {**RANGE, "unit": "fortnight"}, "unit"),
        ("/metrics", RANGE, "type"),
        ("/metrics", {**RANGE, "type": "language"}, "type"),
        ("/metrics", {**RANGE, "type": "path", "limit": "0"}, "limit"),
        ("/events", {**RANGE, "pageSize": "-1"}, "pageSize"),
    ],
)
def test_bad_parameters_are_400_naming_them(
    site: Site, key: str, part: str, params: dict[str, str], field: str
) -> None:
    answer = get(key, url(site, part), **params)
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["message"].startswith(f"{field}:"), error
    assert error["status"] == 400 and error["code"] == "bad-request"


# --- active -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_active_counts_the_visitors_of_the_last_five_minutes(
    make_site: Any, seed: Any, client: Any
) -> None:
    site = make_site("umami-active-trail.com")
    now = dt.datetime.now(dt.UTC)
    recent = [("192.0.2.1", 1), ("192.0.2.2", 3), ("192.0.2.1", 2)]
    older = [("192.0.2.3", 12)]
    seed(
        site,
        [
            {
                "domain": site.domain,
                "name": "pageview",
                "url": f"https://{site.domain}/",
                "timestamp": (now - dt.timedelta(minutes=minutes)).isoformat(),
                "ip": ip,
                "user_agent": FIREFOX,
            }
            for ip, minutes in recent + older
        ],
    )
    _, raw = factories.api_key(site.organization, scopes=("stats:read",))
    body = get(raw, url(site, "/active")).json()
    assert body["visitors"] == body["x"] == len({ip for ip, _ in recent})


def test_trails_session_cookie_does_not_open_the_umami_api(client: Any, site: Site) -> None:
    member = verified_member(site, "session@umami-api.example")
    client.force_login(member)
    assert client.get("/api/websites").status_code == 401


# The field names of Umami's documented answers (its API reference and changelog).
UMAMI_STATS = {"pageviews", "visitors", "visits", "bounces", "totaltime"}
UMAMI_WEBSITE = {"id", "name", "domain", "shareId", "resetAt", "createdAt"}


def test_answers_carry_umamis_documented_fields(client: Any, site: Site, key: str) -> None:
    stats = get(key, url(site, "/stats"), **RANGE).json()
    assert set(stats) == UMAMI_STATS | {"comparison"} and set(stats["comparison"]) == UMAMI_STATS
    series = get(key, url(site, "/pageviews"), **RANGE).json()
    assert set(series) == {"pageviews", "sessions"}
    assert all(set(point) == {"x", "y"} for point in series["pageviews"] + series["sessions"])
    rows = get(key, url(site, "/metrics"), type="country", **RANGE).json()
    assert rows and all(set(row) == {"x", "y"} for row in rows)
    websites = get(key, "/api/websites").json()
    assert set(websites) == {"data", "count", "page", "pageSize"}
    assert UMAMI_WEBSITE <= set(websites["data"][0])
    assert set(get(key, url(site, "/active")).json()) >= {"visitors"}
    verified_member(site, "fields@umami-api.example")
    signed = login(client, {"username": "fields@umami-api.example", "password": PASSWORD}).json()
    assert set(signed) == {"token", "user"} and {"id", "username", "createdAt"} <= set(
        signed["user"]
    )
    verify = bearer(signed["token"]).get("/api/auth/verify").json()
    assert {"id", "username", "role", "isAdmin"} <= set(verify)
