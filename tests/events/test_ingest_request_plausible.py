"""Plausible's Events API as Plausible's ingestion reads what its npm library sends
(tests/browser/test_plausible_npm_tracker.py runs the library itself): blank props left
out, a path for the goals "with a path", engaged time up to 30 days."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from events.ingest.request import (
    MAX_ENGAGEMENT_MS,
    BadRequest,
    EventInput,
    from_batch_item,
    from_plausible,
)

BASE = {"n": "Signup", "u": "https://a.com/pricing?x=1", "d": "a.com"}


def plausible(**fields: Any) -> EventInput:
    return from_plausible({**BASE, **fields})


def test_blank_keys_and_values_are_left_out() -> None:
    event = plausible(
        p={"": "no key", " ": "x", "a": "", "b": "   ", "c": "ok", "n": 0, "f": False}
    )
    assert event.props == (("c", "ok"), ("n", "0"), ("f", "false"))
    assert plausible(p={"title": ""}).props == ()
    # the same in the older tracker's JSON-string props
    assert plausible(p='{"": "x", "plan": "pro"}').props == (("plan", "pro"),)


def test_blank_props_do_not_hide_bad_ones() -> None:
    with pytest.raises(BadRequest, match="props: at most 30 properties"):
        plausible(p={f"k{i}": "" for i in range(31)})
    with pytest.raises(BadRequest, match="props key: at most 300 bytes"):
        plausible(p={"k" * 301: "v"})
    # as in Plausible, a blank key or value goes before the size limits are checked
    assert plausible(p={"": "v" * 3000, "k" * 400: " ", "ok": "yes"}).props == (("ok", "yes"),)


def test_the_batch_api_keeps_refusing_a_blank_key() -> None:
    now = dt.datetime.now(dt.UTC)
    item = {"domain": "a.com", "name": "x", "url": "https://a.com/"}
    with pytest.raises(BadRequest, match="props key: required"):
        from_batch_item({**item, "props": {"": "x"}}, now)
    assert from_batch_item({**item, "props": {"a": ""}}, now).props == (("a", ""),)


@pytest.mark.parametrize(
    ("fields", "props"),
    [
        ({"n": "Form: Submission"}, (("path", "/pricing"),)),
        ({"n": "404", "p": {"a": "b"}}, (("path", "/pricing"), ("a", "b"))),
        ({"n": "WP Form Completions"}, (("path", "/pricing"),)),
        ({"n": "Form: Submission", "u": "https://a.com"}, (("path", "/"),)),
        (
            {"n": "Form: Submission", "u": "https://a.com/app#/contact?x", "h": 1},
            (("path", "/app#/contact?x"),),
        ),
        ({"n": "Form: Submission", "u": "https://a.com/app#/contact"}, (("path", "/app"),)),
        ({"n": "404", "p": {"path": "/missing"}}, (("path", "/missing"),)),  # its own wins
        ({"n": "404", "p": {"path": ""}}, (("path", "/pricing"),)),  # a blank one is none
        ({"n": "form: submission"}, ()),  # names are exact
        ({"n": "Signup"}, ()),
    ],
)
def test_goals_with_a_path_get_the_pathname(fields: dict[str, Any], props: tuple[Any, ...]) -> None:
    assert plausible(**fields).props == props


def test_the_path_stays_within_30_props() -> None:
    event = plausible(n="Form: Submission", p={f"k{i}": "v" for i in range(30)})
    assert len(event.props) == 30
    assert event.props[0] == ("path", "/pricing")
    assert ("k29", "v") not in event.props


def test_engaged_time_up_to_30_days() -> None:
    def engagement(**fields: Any) -> EventInput:
        return plausible(n="engagement", sd=40, **fields)

    assert engagement(e=25 * 3_600_000).engagement_ms == 25 * 3_600_000
    assert engagement(e=MAX_ENGAGEMENT_MS - 1).engagement_ms == MAX_ENGAGEMENT_MS - 1
    # 30 days or more: left out, the scroll depth kept (Plausible's rule)
    long = engagement(e=MAX_ENGAGEMENT_MS)
    assert (long.engagement_ms, long.scroll_depth) == (None, 40)
    assert engagement(e=1e300).engagement_ms is None
    # and the batch API reads `e` the same way
    now = dt.datetime.now(dt.UTC)
    item = {"domain": "a.com", "name": "engagement", "url": "https://a.com/", "sd": 5}
    assert from_batch_item({**item, "e": MAX_ENGAGEMENT_MS}, now).engagement_ms is None
    assert from_batch_item({**item, "e": 90_000_000}, now).engagement_ms == 90_000_000


@pytest.mark.parametrize("bad", [-1, "5", True, [1], {"ms": 1}])
def test_engaged_time_that_is_not_a_duration_is_refused(bad: Any) -> None:
    with pytest.raises(BadRequest, match="^e: expected"):
        plausible(n="engagement", e=bad)


def test_a_scroll_depth_over_100_is_100() -> None:
    """A page that got shorter than the point scrolled to reports more than 100 (the npm
    library sent 698): stored as 100, as Plausible stores it, from either route."""
    assert plausible(n="engagement", sd=698).scroll_depth == 100
    assert plausible(n="engagement", sd=100.5).scroll_depth == 100
    assert plausible(n="engagement", sd=1e300).scroll_depth == 100
    now = dt.datetime.now(dt.UTC)
    item = {"domain": "a.com", "name": "engagement", "url": "https://a.com/", "sd": 101}
    assert from_batch_item(item, now).scroll_depth == 100


@pytest.mark.parametrize("bad", [-1, "50", True, [1]])
def test_a_scroll_depth_that_is_not_a_share_is_refused(bad: Any) -> None:
    with pytest.raises(BadRequest, match="^sd: expected"):
        plausible(n="engagement", sd=bad)
