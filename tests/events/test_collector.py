"""The collector end to end: HTTP in, spool, flush, rows in ClickHouse (embedded)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from events.clickhouse import ClickHouse
from events.clickhouse.server import ServerClickHouse
from events.flush import FlushReport, flush_spool
from events.spool import closed_segments, spool, spool_dir
from sites.models import Site
from tests import factories
from tests.events.conftest import rows
from tests.helpers import free_port
from tests.wsgi_client import post

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def test_plausible_documented_pageview_is_stored(
    make_site: Callable[..., Site], flush: Callable[..., FlushReport], clickhouse: ClickHouse
) -> None:
    site = make_site("dummy.site")
    answer = post(
        "/api/event",
        '{"name":"pageview","url":"http://dummy.site","domain":"dummy.site"}',
        content_type="application/json",
        user_agent=(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_6) AppleWebKit/537.36 (KHTML, like"
            " Gecko) Chrome/85.0.4183.121 Safari/537.36 OPR/71.0.3770.284"
        ),
        headers={"X-Forwarded-For": "127.0.0.1"},
    )
    assert (answer.status, answer.dropped, answer.body) == (202, None, b"ok")
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in answer.headers
    assert flush().events >= 1
    [row] = rows(clickhouse, "SELECT * FROM events WHERE site_id = {s:UInt64}", s=site.id)
    assert row["name"] == "pageview"
    assert (row["hostname"], row["pathname"]) == ("dummy.site", "/")
    assert (row["browser"], row["os"], row["device"]) == ("Opera", "Mac", "Desktop")
    assert row["visitor_id"] != 0 and row["session_id"] != 0
    assert row["channel"] == "Direct"


def test_plausible_custom_event_with_props_and_revenue(
    make_site: Callable[..., Site], flush: Callable[..., FlushReport], clickhouse: ClickHouse
) -> None:
    site = make_site("shop-revenue-trail.com")
    body = {
        "n": "Purchase",
        "u": "https://shop-revenue-trail.com/checkout?utm_source=newsletter&utm_medium=email",
        "d": "shop-revenue-trail.com",
        "r": "https://www.google.com/",
        "p": {"author": "John Doe", "logged_in": True, "count": 3, "list": [1]},
        "revenue": {"currency": "usd", "amount": 1322.22},
        "w": 1280,
    }
    assert post("/api/event", json.dumps(body)).status == 202
    flush()
    [row] = rows(clickhouse, "SELECT * FROM events WHERE site_id = {s:UInt64}", s=site.id)
    assert row["name"] == "Purchase"
    assert dict(row["props"]) == {"author": "John Doe", "logged_in": "true", "count": "3"}
    assert (row["revenue_amount"], row["revenue_currency"]) == (Decimal("1322.220"), "USD")
    assert (row["utm_source"], row["utm_medium"]) == ("newsletter", "email")
    assert row["channel"] == "Email"
    assert row["screen_size"] == "Laptop"


def test_plausible_props_sent_as_a_json_string(
    make_site: Callable[..., Site], flush: Callable[..., FlushReport], clickhouse: ClickHouse
) -> None:
    site = make_site("older-tracker-trail.com")
    body = '{"n":"Download","u":"https://older-tracker-trail.com/","d":"older-tracker-trail.com","p":"{\\"file\\":\\"a.pdf\\"}"}'
    assert post("/api/event", body).status == 202
    flush()
    [row] = rows(clickhouse, "SELECT props FROM events WHERE site_id = {s:UInt64}", s=site.id)
    assert dict(row["props"]) == {"file": "a.pdf"}


def test_umami_documented_payload_is_stored(
    make_site: Callable[..., Site], flush: Callable[..., FlushReport], clickhouse: ClickHouse
) -> None:
    site = make_site("umami-docs-trail.com")
    body = {
        "payload": {
            "hostname": "umami-docs-trail.com",
            "language": "en-US",
            "referrer": "",
            "screen": "1920x1080",
            "title": "dashboard",
            "url": "/",
            "website": str(site.public_id),
            "name": "event-name",
            "data": {"foo": "bar"},
        },
        "type": "event",
    }
    answer = post(
        "/api/send", json.dumps(body), content_type="application/json", user_agent=FIREFOX
    )
    assert answer.status == 200  # Umami's collector answers 200, with this shape
    assert json.loads(answer.body) == {"cache": "", "sessionId": "", "visitId": ""}
    flush()
    [row] = rows(clickhouse, "SELECT * FROM events WHERE site_id = {s:UInt64}", s=site.id)
    assert (row["name"], row["pathname"], row["hostname"]) == ("event-name", "/", site.domain)
    assert dict(row["props"]) == {"foo": "bar"}
    assert row["screen_size"] == "Desktop"
    assert (row["browser"], row["os"]) == ("Firefox", "GNU/Linux")


def test_umami_pageview_without_a_name(
    make_site: Callable[..., Site], flush: Callable[..., FlushReport], clickhouse: ClickHouse
) -> None:
    site = make_site("umami-view-trail.com")
    body = {
        "type": "event",
        "payload": {
            "website": str(site.public_id),
            "hostname": "umami-view-trail.com",
            "url": "/docs?x=1",
            "title": "Docs%20page",
        },
    }
    assert post("/api/send", json.dumps(body), content_type="application/json").status == 200
    flush()
    [row] = rows(clickhouse, "SELECT * FROM events WHERE site_id = {s:UInt64}", s=site.id)
    assert (row["name"], row["pathname"]) == ("pageview", "/docs")


def test_preflight_and_wrong_methods() -> None:
    preflight = post("/api/send", b"", method="OPTIONS")
    assert preflight.status == 204
    assert "x-umami-cache" in preflight.headers["Access-Control-Allow-Headers"]
    wrong = post("/api/event", b"", method="GET")
    assert wrong.status == 405 and wrong.headers["Allow"] == "POST, OPTIONS"


def test_visits_are_stitched_across_requests(
    make_site: Callable[..., Site], flush: Callable[..., FlushReport], clickhouse: ClickHouse
) -> None:
    site = make_site("visits-trail.com")
    for path in ("/", "/pricing", "/signup"):
        url = f"https://visits-trail.com{path}"
        assert post("/api/event", json.dumps({"n": "pageview", "u": url})).status == 202
        flush()  # each in its own segment: the visit continues across flushes
    post(
        "/api/event",
        json.dumps({"n": "pageview", "u": "https://visits-trail.com/"}),
        remote_addr="203.0.113.99",
    )
    flush()
    visits = rows(
        clickhouse,
        "SELECT session_id, sum(sign) AS n, sum(sign * pageviews) AS pageviews,"
        " sum(sign * is_bounce) AS bounces, anyIf(entry_page, sign = 1) AS entry,"
        " argMax(exit_page, version) AS exit FROM sessions WHERE site_id = {s:UInt64}"
        " GROUP BY session_id HAVING n > 0 ORDER BY pageviews DESC",
        s=site.id,
    )
    assert [(v["n"], v["pageviews"], v["bounces"]) for v in visits] == [(1, 3, 0), (1, 1, 1)]
    assert (visits[0]["entry"], visits[0]["exit"]) == ("/", "/signup")
    ids = rows(
        clickhouse,
        "SELECT DISTINCT session_id FROM events WHERE site_id = {s:UInt64}",
        s=site.id,
    )
    assert {r["session_id"] for r in ids} == {v["session_id"] for v in visits}


def _batch(key: str, events: list[dict[str, Any]], client: Any) -> Any:
    return client.post(
        "/api/v1/events",
        data=json.dumps({"events": events}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def test_batch_timestamps_make_separate_visits_after_30_minutes(
    make_site: Callable[..., Site],
    flush: Callable[..., FlushReport],
    clickhouse: ClickHouse,
    client: Any,
) -> None:
    site = make_site("batch-visits-trail.com")
    _, key = factories.api_key(site.organization)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)

    def at(minutes: int, path: str, name: str = "pageview") -> dict[str, Any]:
        return {
            "domain": site.domain,
            "name": name,
            "url": f"https://batch-visits-trail.com{path}",
            "timestamp": (start + dt.timedelta(minutes=minutes)).isoformat(),
            "ip": "192.0.2.10",
            "user_agent": FIREFOX,
        }

    events = [at(0, "/a"), at(10, "/b"), at(25, "/c", "Signup"), at(70, "/d"), at(75, "/e")]
    answer = _batch(key, events, client)
    assert answer.status_code == 202, answer.content
    assert answer.json() == {"accepted": 5, "rejected": []}
    flush()
    visits = rows(
        clickhouse,
        "SELECT sum(sign * pageviews) AS pageviews, sum(sign * events) AS events,"
        " sum(sign * duration) AS duration, sum(sign * is_bounce) AS bounce"
        " FROM sessions WHERE site_id = {s:UInt64} GROUP BY session_id"
        " HAVING sum(sign) > 0 ORDER BY pageviews DESC, events DESC",
        s=site.id,
    )
    assert visits == [
        {"pageviews": 2, "events": 3, "duration": 25 * 60, "bounce": 0},
        {"pageviews": 2, "events": 2, "duration": 5 * 60, "bounce": 0},
    ]


def test_the_same_event_id_ten_times_is_stored_once(
    make_site: Callable[..., Site],
    flush: Callable[..., FlushReport],
    clickhouse: ClickHouse,
    client: Any,
) -> None:
    site = make_site("dedup-trail.com")
    _, key = factories.api_key(site.organization)
    event = {
        "domain": site.domain,
        "name": "Order",
        "url": "https://dedup-trail.com/",
        "event_id": "o-1",
    }
    for round_ in range(10):
        assert _batch(key, [event], client).status_code == 202
        if round_ in (3, 7):
            flush()  # some copies in the same segment, some in later ones
    report = flush()
    assert report.duplicates >= 1
    [row] = rows(
        clickhouse,
        "SELECT count() AS n, uniqExact(event_id) AS ids FROM events WHERE site_id = {s:UInt64}",
        s=site.id,
    )
    assert (row["n"], row["ids"]) == (1, 1)
    [visit] = rows(
        clickhouse,
        "SELECT sum(sign) AS n, sum(sign * events) AS events FROM sessions"
        " WHERE site_id = {s:UInt64}",
        s=site.id,
    )
    assert (visit["n"], visit["events"]) == (1, 1)


def test_a_segment_flushed_twice_is_stored_once(
    make_site: Callable[..., Site], clickhouse: ClickHouse, tmp_path: Path
) -> None:
    site = make_site("twice-trail.com")
    for n in range(20):
        url = f"https://twice-trail.com/p{n}"
        assert post("/api/event", json.dumps({"n": "pageview", "u": url})).status == 202
    spool().rotate()
    copies = []
    for segment in closed_segments():
        copies.append(tmp_path / segment.name)
        shutil.copy(segment, copies[-1])
    flush_spool(client=clickhouse)
    for copy in copies:  # as if the flusher died after the insert, before the delete
        shutil.copy(copy, spool_dir() / copy.name)
    flush_spool(client=clickhouse)
    [row] = rows(
        clickhouse,
        "SELECT count() AS n, uniqExact(event_id) AS ids FROM events WHERE site_id = {s:UInt64}",
        s=site.id,
    )
    assert (row["n"], row["ids"]) == (20, 20)
    [visit] = rows(
        clickhouse,
        "SELECT sum(sign) AS n, sum(sign * pageviews) AS pv FROM sessions WHERE site_id = {s:UInt64}",
        s=site.id,
    )
    assert (visit["n"], visit["pv"]) == (1, 20)


def test_clickhouse_unreachable_keeps_the_segments_until_it_is_back(
    make_site: Callable[..., Site], clickhouse: ClickHouse
) -> None:
    site = make_site("outage-trail.com")
    assert (
        post("/api/event", json.dumps({"n": "pageview", "u": "https://outage-trail.com/"})).status
        == 202
    )
    spool().rotate()
    waiting = len(closed_segments())
    unreachable = ServerClickHouse(f"http://127.0.0.1:{free_port()}/default")
    report = flush_spool(client=unreachable)
    assert report.errors and "unavailable" in report.errors[0]
    assert len(closed_segments()) == waiting
    flush_spool(client=clickhouse)
    [row] = rows(
        clickhouse, "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", s=site.id
    )
    assert row["n"] == 1
    assert closed_segments() == []


def test_dropped_events_are_answered_and_not_stored(
    make_site: Callable[..., Site], flush: Callable[..., FlushReport], clickhouse: ClickHouse
) -> None:
    site = make_site("drops-trail.com", extra_hostnames=["*.drops-cdn-trail.com"])
    before = spool().appended
    bot = post(
        "/api/event",
        json.dumps({"n": "pageview", "u": "https://drops-trail.com/"}),
        user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)",
    )
    unknown = post("/api/event", json.dumps({"n": "pageview", "u": "https://nobody-trail.com/"}))
    foreign = post(
        "/api/event",
        json.dumps({"n": "pageview", "u": "https://evil-trail.com/", "d": site.domain}),
    )
    assert [(a.status, a.dropped) for a in (bot, unknown, foreign)] == [
        (202, "bot"),
        (202, "unknown_site"),
        (202, "hostname_not_allowed"),
    ]
    assert spool().appended == before
    flush()
    [row] = rows(
        clickhouse, "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", s=site.id
    )
    assert row["n"] == 0


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    make_site: Callable[..., Site], flush: Callable[..., FlushReport], clickhouse: ClickHouse
) -> None:
    site = make_site("spoof-trail.com")
    for forged in ("1.2.3.4", "5.6.7.8, 9.9.9.9"):
        body = json.dumps({"n": "pageview", "u": "https://spoof-trail.com/"})
        post("/api/event", body, headers={"X-Forwarded-For": forged})
    flush()
    [row] = rows(
        clickhouse,
        "SELECT uniqExact(visitor_id) AS visitors, count() AS n FROM events"
        " WHERE site_id = {s:UInt64}",
        s=site.id,
    )
    assert (row["visitors"], row["n"]) == (1, 2)  # both counted as the peer's address


def test_batch_rejects_another_tenants_site_and_bad_items(
    make_site: Callable[..., Site],
    flush: Callable[..., FlushReport],
    clickhouse: ClickHouse,
    client: Any,
) -> None:
    mine = make_site("mine-batch-trail.com")
    theirs = make_site("theirs-batch-trail.com")
    _, key = factories.api_key(mine.organization)
    now = dt.datetime.now(dt.UTC)
    events = [
        {"domain": mine.domain, "name": "pageview", "url": "https://mine-batch-trail.com/"},
        {"domain": theirs.domain, "name": "pageview", "url": "https://theirs-batch-trail.com/"},
        {"domain": "nobody-at-all-trail.com", "name": "pageview", "url": "https://x-trail.com/"},
        {"domain": mine.domain, "name": "pageview", "url": "javascript:alert(1)"},
        {
            "domain": mine.domain,
            "name": "x",
            "url": "https://mine-batch-trail.com/",
            "timestamp": (now + dt.timedelta(hours=1)).isoformat(),
        },
        {
            "domain": mine.domain,
            "name": "x",
            "url": "https://mine-batch-trail.com/",
            "timestamp": (now - dt.timedelta(days=400)).isoformat(),
        },
        {
            "domain": mine.domain,
            "name": "x",
            "url": "https://mine-batch-trail.com/",
            "user_agent": "curl/8.0 (bot; +https://example.com/bot)",
        },
        "not an object",
    ]
    answer = _batch(key, events, client)
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == 1
    reasons = {item["index"]: item["reason"] for item in body["rejected"]}
    assert reasons[1] == reasons[2] == "unknown_site"  # another tenant's site: as unknown
    assert "javascript" in reasons[3]
    assert "future" in reasons[4] and "past" in reasons[5]
    assert reasons[6] == "bot"
    assert "object" in reasons[7]
    flush()
    counts = rows(
        clickhouse,
        "SELECT site_id, count() AS n FROM events WHERE site_id IN {s:Array(UInt64)}"
        " GROUP BY site_id",
        s=[mine.id, theirs.id],
    )
    assert counts == [{"site_id": mine.id, "n": 1}]


def test_batch_needs_a_key_with_the_events_scope(
    make_site: Callable[..., Site], client: Any
) -> None:
    site = make_site("scope-batch-trail.com")
    _, read_only = factories.api_key(site.organization, scopes=("stats:read",))
    event = {"domain": site.domain, "name": "pageview", "url": "https://scope-batch-trail.com/"}
    assert _batch(read_only, [event], client).status_code == 403
    anonymous = client.post("/api/v1/events", data="{}", content_type="application/json")
    assert anonymous.status_code in (401, 403)
    assert "error" in anonymous.json()


@pytest.mark.parametrize(
    ("body", "encoding", "status", "message"),
    [
        (b"{not json", "", 400, "not valid JSON"),
        (b'{"events": []}', "", 400, "empty"),
        (b'{"events": {"a": 1}}', "", 400, "list"),
        (b"[1]", "", 400, "object"),
        (json.dumps({"events": [{}] * 1001}).encode(), "", 413, "1000"),
        (b'{"events": ["' + b"x" * (8 * 1024 * 1024) + b'"]}', "", 413, "too large"),
        (gzip.compress(b"{" + b" " * 20_000_000 + b"}"), "gzip", 413, "too large"),
    ],
    ids=["malformed", "empty", "not-a-list", "array", "1001-events", "9-MiB", "gzip-bomb"],
)
def test_batch_bad_bodies_are_refused_whole(
    body: bytes,
    encoding: str,
    status: int,
    message: str,
    make_site: Callable[..., Site],
    client: Any,
) -> None:
    site = make_site("bad-batch-trail.com")
    _, key = factories.api_key(site.organization)
    before = spool().appended
    extra = {"HTTP_CONTENT_ENCODING": encoding} if encoding else {}
    answer = client.post(
        "/api/v1/events",
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        **extra,
    )
    assert answer.status_code == status
    assert message.lower() in answer.json()["error"].lower()
    assert spool().appended == before
