"""Visit stitching (`events.sessions`): the 30-minute rule, bounces, entry/exit pages and the
cancel + new rows the flush writes to `sessions`, on hand-built rows; then against ClickHouse.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from events.clickhouse import ClickHouse
from events.clickhouse.internal import open_visits
from events.rows import EventRow
from events.sessions import (
    SESSION_COLUMNS,
    VISIT_COLUMNS,
    Visit,
    session_columns,
    stitch,
)

T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
_IDS = uuid.UUID("0b7c2f52-9a63-4d7e-8a8e-2f5d7c1e9b40")


def event(
    at: dt.timedelta | float,
    *,
    site: int = 1,
    visitor: int = 7,
    name: str = "pageview",
    path: str = "/",
    interactive: bool = True,
    start: dt.datetime = T0,
    **attributes: Any,
) -> EventRow:
    """An enriched row `at` minutes (or a timedelta) after `start`; its id is derived from
    what it is, so building the same rows again gives the same ids."""
    offset = at if isinstance(at, dt.timedelta) else dt.timedelta(minutes=at)
    when = start + offset
    values: dict[str, Any] = {
        "hostname": "example.com",
        "referrer": "",
        "referrer_source": "",
        "channel": "Direct",
        "utm_medium": "",
        "utm_source": "",
        "utm_campaign": "",
        "utm_content": "",
        "utm_term": "",
        "click_id_param": "",
        "country_code": "FR",
        "region": "Île-de-France",
        "city": "Paris",
        "browser": "Firefox",
        "browser_version": "133.0",
        "os": "Linux",
        "os_version": "",
        "device": "Desktop",
        "screen_size": "Desktop",
    }
    values.update(attributes)
    return EventRow(
        site_id=site,
        event_id=uuid.uuid5(_IDS, f"{site}/{visitor}/{when.isoformat()}/{name}/{path}"),
        timestamp=when,
        name=name,
        visitor_id=visitor,
        pathname=path,
        props={},
        revenue_amount=None if name != "Purchase" else Decimal("9.990"),
        revenue_currency="",
        interactive=interactive,
        scroll_depth=50 if name == "engagement" else 0,
        engagement_ms=4000 if name == "engagement" else 0,
        **values,
    )


def visits(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The new states (sign = +1), oldest start first."""
    return sorted((c for c in changes if c["sign"] == 1), key=lambda c: (c["start"], c["site_id"]))


def as_visit(change: dict[str, Any]) -> Visit:
    """A written `sessions` row read back, as `open_visits` would return it."""
    return Visit(**{name: change[name] for name in VISIT_COLUMNS})


# The 30-minute rule


def test_a_gap_of_29_59_continues_the_visit_and_30_01_starts_another() -> None:
    first = event(0, path="/a")
    near = event(dt.timedelta(minutes=29, seconds=59), path="/b")
    far = event(dt.timedelta(minutes=29, seconds=59) + dt.timedelta(minutes=30, seconds=1))
    changes = stitch([first, near, far], {})
    assert first.session_id == near.session_id != far.session_id
    assert 0 not in (first.session_id, far.session_id)
    one, two = visits(changes)
    assert (one["session_id"], one["pageviews"], one["events"]) == (first.session_id, 2, 2)
    assert (one["start"], one["timestamp"], one["duration"]) == (
        first.timestamp,
        near.timestamp,
        29 * 60 + 59,
    )
    assert (two["session_id"], two["pageviews"], two["start"]) == (
        far.session_id,
        1,
        far.timestamp,
    )
    assert [c["sign"] for c in changes] == [1, 1]  # nothing known before: no cancel rows
    assert {c["version"] for c in changes} == {1}


def test_the_rule_counts_from_the_known_visits_last_event() -> None:
    [written] = stitch([event(0), event(10)], {})
    known = {(1, 7): [as_visit(written)]}
    within = event(dt.timedelta(minutes=10 + 29, seconds=59))
    stitch([within], known)
    assert within.session_id == written["session_id"]
    after = event(dt.timedelta(minutes=10 + 30, seconds=1))
    changes = stitch([after], known)
    assert after.session_id != written["session_id"]
    assert [(c["sign"], c["version"], c["pageviews"]) for c in changes] == [(1, 1, 1)]


# Engagement events


def test_engagement_events_neither_start_nor_change_a_visit() -> None:
    orphan = event(0, name="engagement")  # no visit open yet
    view = event(1, path="/article")
    during = event(6, name="engagement", path="/article")
    late = event(45, name="engagement", path="/article")  # 44 minutes after the view
    changes = stitch([late, during, view, orphan], {})
    assert orphan.session_id == 0 and late.session_id == 0
    assert during.session_id == view.session_id != 0
    [visit] = changes
    assert (visit["pageviews"], visit["events"], visit["interactive_events"]) == (1, 1, 1)
    assert visit["start"] == visit["timestamp"] == view.timestamp  # the engagement did not
    assert (visit["duration"], visit["is_bounce"]) == (0, 1)  # extend it


def test_an_engagement_event_joins_a_known_visit_without_rewriting_it() -> None:
    [written] = stitch([event(0)], {})
    engagement = event(3, name="engagement")
    assert stitch([engagement], {(1, 7): [as_visit(written)]}) == []
    assert engagement.session_id == written["session_id"]


# Bounces


@pytest.mark.parametrize(
    ("later", "bounce"),
    [
        pytest.param([], 1, id="one-pageview"),
        pytest.param([("pageview", True)], 0, id="two-pageviews"),
        pytest.param([("Signup", True)], 0, id="pageview-and-interactive-event"),
        pytest.param([("Scrolled", False)], 1, id="pageview-and-non-interactive-event"),
        pytest.param([("engagement", True)], 1, id="pageview-and-engagement"),
    ],
)
def test_bounce_rules(later: list[tuple[str, bool]], bounce: int) -> None:
    rows = [event(0, path="/landing")]
    rows += [
        event(i + 1, name=name, interactive=flag, path=f"/p{i}")
        for i, (name, flag) in enumerate(later)
    ]
    changes = stitch(rows, {})
    [visit] = changes
    assert visit["is_bounce"] == bounce
    assert as_visit(visit).is_bounce == bounce


def test_a_bounce_stops_being_one_when_the_visit_continues() -> None:
    [first] = stitch([event(0)], {})
    assert first["is_bounce"] == 1
    cancel, new = stitch([event(2, name="Signup")], {(1, 7): [as_visit(first)]})
    assert (cancel["sign"], cancel["is_bounce"]) == (-1, 1)
    assert (new["sign"], new["is_bounce"], new["duration"]) == (1, 0, 120)


# Entry, exit, attribution


def test_entry_page_and_source_are_the_first_events_exit_page_the_last_pageviews() -> None:
    rows = [
        event(
            0,
            path="/from-google",
            referrer="https://www.google.com/",
            referrer_source="Google",
            channel="Organic Search",
            utm_campaign="spring",
            country_code="DE",
            browser="Chrome",
        ),
        event(
            5,
            path="/pricing",
            referrer="https://news.ycombinator.com/",
            referrer_source="Hacker News",
            channel="Organic Social",
            country_code="US",
            browser="Safari",
        ),
        event(9, path="/checkout"),
        event(12, name="Purchase", path="/thank-you"),  # a custom event: not an exit page
        event(13, name="engagement", path="/thank-you"),
    ]
    [visit] = stitch(rows, {})
    assert (visit["entry_page"], visit["exit_page"]) == ("/from-google", "/checkout")
    assert (visit["referrer"], visit["referrer_source"], visit["channel"]) == (
        "https://www.google.com/",
        "Google",
        "Organic Search",
    )
    assert (visit["utm_campaign"], visit["country_code"], visit["browser"]) == (
        "spring",
        "DE",
        "Chrome",
    )
    assert (visit["pageviews"], visit["events"], visit["duration"]) == (3, 4, 12 * 60)


def test_a_later_pageview_in_a_later_block_moves_the_exit_page() -> None:
    [first] = stitch([event(0, path="/a"), event(1, path="/b")], {})
    _, new = stitch([event(4, path="/c")], {(1, 7): [as_visit(first)]})
    assert (new["entry_page"], new["exit_page"], new["pageviews"]) == ("/a", "/c", 3)


# Continuing a known visit: cancel + new


def test_continuing_a_known_visit_cancels_its_previous_state() -> None:
    [first] = stitch([event(0, path="/a")], {})
    assert (first["sign"], first["version"]) == (1, 1)
    known = {(1, 7): [as_visit(first)]}
    continued = event(10, path="/b")
    cancel, new = stitch([continued], known)
    assert cancel == {**first, "sign": -1}  # exactly the state written before, to collapse
    assert continued.session_id == first["session_id"]
    assert (new["sign"], new["version"], new["session_id"]) == (1, 2, first["session_id"])
    assert (new["pageviews"], new["events"], new["duration"], new["exit_page"]) == (
        2,
        2,
        600,
        "/b",
    )
    assert new["start"] == first["start"]  # the sorting key of the visit does not change
    # Summed with sign, the two writes give the visit once, with its new totals.
    total = {k: sum(r["sign"] * r[k] for r in (first, cancel, new)) for k in ("pageviews",)}
    assert total == {"pageviews": 2}
    assert sum(r["sign"] for r in (first, cancel, new)) == 1
    assert set(new) == set(SESSION_COLUMNS)


def test_a_visit_continued_in_the_same_block_as_a_new_one_is_cancelled_once() -> None:
    [first] = stitch([event(0)], {})
    known = {(1, 7): [as_visit(first)]}
    rows = [event(20, path="/again"), event(25, path="/more"), event(120, path="/next-visit")]
    changes = stitch(rows, known)
    assert [(c["sign"], c["version"], c["pageviews"]) for c in changes] == [
        (-1, 1, 1),
        (1, 2, 3),
        (1, 1, 1),
    ]
    assert rows[0].session_id == rows[1].session_id == first["session_id"]
    assert rows[2].session_id not in (0, first["session_id"])


# Determinism, many visitors, order


def _block() -> list[EventRow]:
    return [
        event(0, visitor=1, path="/a"),
        event(1, visitor=2, path="/b"),
        event(2, visitor=1, path="/c"),
        event(50, visitor=1, path="/d"),
        event(3, visitor=2, site=2, path="/e"),
    ]


def test_session_ids_are_derived_from_the_input() -> None:
    first, again = _block(), _block()
    changes = stitch(first, {})
    assert stitch(again, {}) == changes  # a retried block writes the same rows
    assert [r.session_id for r in first] == [r.session_id for r in again]
    assert len({r.session_id for r in first}) == 4
    assert all(0 < r.session_id < 2**63 for r in first)  # fits UInt64 and Int64


def test_visitors_and_sites_interleaved_get_their_own_visits() -> None:
    start = T0
    rows = [
        event(0, site=1, visitor=7, path="/s1v7-a"),
        event(0.5, site=2, visitor=7, path="/s2v7-a"),  # same visitor hash, another site
        event(1, site=1, visitor=8, path="/s1v8-a"),
        event(2, site=1, visitor=7, path="/s1v7-b"),
        event(3, site=2, visitor=7, path="/s2v7-b", name="Signup"),
        event(4, site=1, visitor=8, path="/s1v8-b"),
        event(5, site=1, visitor=7, path="/s1v7-c"),
    ]
    changes = stitch(rows, {})
    by_key = {(c["site_id"], c["visitor_id"]): c for c in changes}
    assert set(by_key) == {(1, 7), (2, 7), (1, 8)}
    summary = {
        key: (c["entry_page"], c["exit_page"], c["pageviews"], c["events"])
        for key, c in by_key.items()
    }
    assert summary == {
        (1, 7): ("/s1v7-a", "/s1v7-c", 3, 3),
        (2, 7): ("/s2v7-a", "/s2v7-a", 1, 2),
        (1, 8): ("/s1v8-a", "/s1v8-b", 2, 2),
    }
    for row in rows:
        assert row.session_id == by_key[(row.site_id, row.visitor_id)]["session_id"]
    assert by_key[(1, 7)]["start"] == start


def test_out_of_order_rows_are_stitched_in_time_order() -> None:
    ordered = [event(0, path="/first"), event(10, path="/second"), event(20, path="/third")]
    shuffled = [event(20, path="/third"), event(0, path="/first"), event(10, path="/second")]
    changes = stitch(shuffled, {})
    assert changes == stitch(ordered, {})
    [visit] = changes
    assert (visit["entry_page"], visit["exit_page"], visit["start"]) == (
        "/first",
        "/third",
        T0,
    )
    assert len({r.session_id for r in shuffled}) == 1


def test_a_late_event_joins_its_known_visit_without_moving_its_start() -> None:
    [first] = stitch([event(10, path="/a"), event(20, path="/b")], {})
    known = {(1, 7): [as_visit(first)]}
    late = event(1, path="/arrived-late")  # 9 minutes before the visit's start
    _, new = stitch([late], known)
    assert late.session_id == first["session_id"]
    assert (new["start"], new["timestamp"]) == (first["start"], first["timestamp"])
    assert (new["entry_page"], new["exit_page"], new["pageviews"]) == ("/a", "/b", 3)
    too_late = event(dt.timedelta(minutes=10 - 30, seconds=-1))  # 30:01 before the start
    changes = stitch([too_late], known)
    assert too_late.session_id != first["session_id"]
    assert [(c["sign"], c["start"]) for c in changes] == [(1, too_late.timestamp)]


def test_an_old_event_does_not_split_a_known_visit() -> None:
    [first] = stitch([event(60, path="/a"), event(80, path="/b")], {})
    known = {(1, 7): [as_visit(first)]}
    old = event(0, path="/an-hour-earlier")  # e.g. a batch event sent late
    fresh = event(85, path="/c")  # 5 minutes after the known visit's last event
    changes = stitch([fresh, old], known)
    assert fresh.session_id == first["session_id"]
    assert old.session_id != first["session_id"]
    assert sorted((c["sign"], c["version"], c["pageviews"]) for c in changes) == [
        (-1, 1, 2),
        (1, 1, 1),
        (1, 2, 3),
    ]


# Against ClickHouse


def _flush_round(client: ClickHouse, rows: list[EventRow]) -> list[dict[str, Any]]:
    """What the flush does with a block: load the open visits, stitch, write the changes."""
    changes = stitch(rows, open_visits(client, rows))
    client.insert("sessions", session_columns(changes))
    return changes


def test_open_visits_and_signed_sums_over_several_flushes(
    clickhouse: ClickHouse, site_id: int
) -> None:
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=3)

    def at(minutes: float, visitor: int, **options: Any) -> EventRow:
        return event(minutes, site=site_id, visitor=visitor, start=start, **options)

    assert open_visits(clickhouse, [at(0, 1)]) == {}
    _flush_round(clickhouse, [at(0, 1, path="/a"), at(1, 2, path="/x")])
    _flush_round(clickhouse, [at(5, 1, path="/b"), at(6, 1, name="Signup", path="/b")])
    latest = open_visits(clickhouse, [at(10, 1), at(10, 2)])
    assert set(latest) == {(site_id, 1), (site_id, 2)}
    [one] = latest[(site_id, 1)]
    assert (one.version, one.pageviews, one.events, one.exit_page) == (2, 2, 3, "/b")
    assert (one.start, one.timestamp) == (start, start + dt.timedelta(minutes=6))
    [two] = latest[(site_id, 2)]
    assert two.version == 1
    # Round 3: visitor 1 goes on, visitor 2 comes back after the timeout (a new visit).
    third = [at(10, 1, path="/c"), at(50, 2, path="/y"), at(51, 2, name="engagement")]
    _flush_round(clickhouse, third)
    assert third[0].session_id == one.session_id
    assert third[1].session_id == third[2].session_id != two.session_id
    # The next round starts from the state this one wrote.
    assert [v.version for v in open_visits(clickhouse, third)[(site_id, 1)]] == [3]

    [totals] = clickhouse.query(
        "SELECT sum(sign) AS visits, sum(sign * pageviews) AS pageviews,"
        " sum(sign * events) AS events, sum(sign * is_bounce) AS bounces,"
        " sum(sign * duration) AS duration FROM sessions WHERE site_id = {s:UInt64}",
        {"s": site_id},
    )
    assert totals == {"visits": 3, "pageviews": 5, "events": 6, "bounces": 2, "duration": 600}
    final = clickhouse.query(
        "SELECT visitor_id, version, pageviews, entry_page, exit_page FROM sessions FINAL"
        " WHERE site_id = {s:UInt64} ORDER BY visitor_id, start",
        {"s": site_id},
    )
    assert [tuple(r.values()) for r in final] == [
        (1, 3, 3, "/a", "/c"),
        (2, 1, 1, "/x", "/x"),
        (2, 1, 1, "/y", "/y"),
    ]
