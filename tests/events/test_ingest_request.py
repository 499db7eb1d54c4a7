"""The ingest edge: every body becomes an EventInput or a BadRequest with a clear message."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.ingest.request import (
    MAX_BODY,
    BadRequest,
    EventInput,
    NotAnEvent,
    batch_items,
    from_batch_item,
    from_plausible,
    from_umami,
    parse_json,
    read_body,
)

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def plausible(body: Any) -> EventInput:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return from_plausible(parse_json(read_body(raw, "", MAX_BODY)))


def test_plausible_documented_example() -> None:
    event = plausible({"name": "pageview", "url": "http://dummy.site", "domain": "dummy.site"})
    assert event == EventInput(name="pageview", url="http://dummy.site", domains=("dummy.site",))


def test_plausible_short_names_props_revenue_and_engagement() -> None:
    event = plausible(
        {
            "n": "Purchase",
            "u": "https://shop.example.com/checkout?utm_source=news",
            "d": "shop.example.com,rollup.example.com",
            "r": "https://www.google.com/",
            "p": {"plan": "pro", "seats": 3, "trial": False, "tags": ["x"], "none": None},
            "revenue": {"amount": "19.99", "currency": "eur"},
            "i": False,
            "h": 1,
        }
    )
    assert event.domains == ("shop.example.com", "rollup.example.com")
    assert event.props == (("plan", "pro"), ("seats", "3"), ("trial", "false"))
    assert (event.revenue_amount, event.revenue_currency) == (Decimal("19.990"), "EUR")
    assert not event.interactive and event.hash_mode
    engagement = plausible(
        {"n": "engagement", "u": "https://a.com/x", "d": "a.com", "sd": 87, "e": 12345}
    )
    assert (engagement.scroll_depth, engagement.engagement_ms) == (87, 12345)


def test_old_tracker_sends_props_as_a_json_string() -> None:
    event = plausible({"n": "Signup", "u": "https://a.com/", "d": "a.com", "p": '{"plan":"free"}'})
    assert event.props == (("plan", "free"),)


def test_domain_falls_back_to_the_url_host() -> None:
    assert plausible({"n": "pageview", "u": "https://b.example.org/x"}).domains == (
        "b.example.org",
    )


def test_umami_documented_example() -> None:
    event = from_umami(
        {
            "type": "event",
            "payload": {
                "hostname": "your-hostname",
                "language": "en-US",
                "referrer": "",
                "screen": "1920x1080",
                "title": "dashboard",
                "url": "/",
                "website": "your-website-id",
                "name": "event-name",
                "data": {"foo": "bar"},
            },
        }
    )
    assert event.website == "your-website-id"
    assert event.name == "event-name" and event.url == "https://your-hostname/"
    assert event.props == (("foo", "bar"),) and event.screen_width == 1920
    # Umami's server client sends custom events without url or hostname.
    bare = from_umami({"type": "event", "payload": {"website": "w", "name": "signup"}})
    assert bare.url == "/" and bare.name == "signup"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "empty body"),
        (b"   ", 400, "empty body"),
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "expected a JSON object"),
        (b'"pageview"', 400, "expected a JSON object"),
        (b"42", 400, "expected a JSON object"),
        (b"null", 400, "expected a JSON object"),
        (b"\xff\xfe{}", 400, "not valid UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, 413, "body too large"),
        (b"[" * 30_000 + b"]" * 30_000, 400, "nested too deeply"),
        (b"x" * (1024 * 1024), 413, "body too large"),
        (
            b'{"n": "page\\u0000view", "u": "https://a.com", "d": "a.com"}',
            400,
            "name: contains a NUL",
        ),
        (
            b'{"n": "pageview", "u": "https://a.com/\\ud800", "d": "a.com"}',
            400,
            "unpaired UTF-16 surrogate",
        ),
        (b'{"n": "", "u": "https://a.com", "d": "a.com"}', 400, "name: required"),
        (b'{"u": "https://a.com", "d": "a.com"}', 400, "name: required"),
        (b'{"n": "pageview", "d": "a.com"}', 400, "url: required"),
        (b'{"n": 5, "u": "https://a.com", "d": "a.com"}', 400, "name: expected a string"),
        (b'{"n": "pageview", "u": "javascript:alert(1)", "d": "a.com"}', 400, "javascript: URLs"),
        (b'{"n": "pageview", "u": "DATA:text/html,x", "d": "a.com"}', 400, "data: URLs"),
        (
            b'{"n": "pageview", "u": "https://a.com", "r": "javascript:x", "d": "a.com"}',
            400,
            "referrer: javascript",
        ),
        (b'{"n": "pageview", "u": "https://[::1", "d": "a.com"}', 400, "url: not a valid URL"),
        (b'{"n": "pageview", "u": "relative/path"}', 400, "domain: required"),
        (
            b'{"n": "x", "u": "https://a.com", "d": "a.com", "p": [1]}',
            400,
            "props: expected an object",
        ),
        (b'{"n": "x", "u": "https://a.com", "d": "a.com", "p": "{bad"}', 400, "not valid JSON"),
        (
            b'{"n": "x", "u": "https://a.com", "d": "a.com", "revenue": {"amount": "lots", "currency": "EUR"}}',
            400,
            "revenue.amount",
        ),
        (
            b'{"n": "x", "u": "https://a.com", "d": "a.com", "revenue": {"amount": 1, "currency": "EURO"}}',
            400,
            "revenue.currency",
        ),
        (
            b'{"n": "x", "u": "https://a.com", "d": "a.com", "revenue": {"amount": 1e300, "currency": "EUR"}}',
            400,
            "out of range",
        ),
        (
            b'{"n": "engagement", "u": "https://a.com", "d": "a.com", "sd": -1}',
            400,
            "sd: expected 0 to 100",
        ),
        (b'{"n": "pageview", "u": "https://a.com", "d": "a.com", "i": "yes"}', 400, "interactive"),
    ],
)
def test_bad_bodies(body: bytes, status: int, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        plausible(body)
    assert caught.value.status == status
    assert message in caught.value.message


def test_limits_on_name_url_and_props() -> None:
    base = {"n": "x", "u": "https://a.com/", "d": "a.com"}
    plausible({**base, "n": "n" * 120})
    with pytest.raises(BadRequest, match="name: at most 120 characters"):
        plausible({**base, "n": "n" * 121})
    plausible({**base, "u": "https://a.com/" + "p" * 1986})
    with pytest.raises(BadRequest, match="url: at most 2000 bytes"):
        plausible({**base, "u": "https://a.com/" + "é" * 1000})
    plausible({**base, "p": {f"k{i}": "v" for i in range(30)}})
    with pytest.raises(BadRequest, match="props: at most 30 properties"):
        plausible({**base, "p": {f"k{i}": "v" for i in range(31)}})
    with pytest.raises(BadRequest, match="props key: at most 300 bytes"):
        plausible({**base, "p": {"k" * 301: "v"}})
    with pytest.raises(BadRequest, match="at most 2000 bytes"):
        plausible({**base, "p": {"k": "v" * 2001}})


def test_compressed_bodies() -> None:
    body = json.dumps({"n": "pageview", "u": "https://a.com", "d": "a.com"}).encode()
    assert read_body(gzip.compress(body), "gzip", MAX_BODY) == body
    bomb = gzip.compress(b"{" + b" " * (50 * 1024 * 1024) + b"}")
    assert len(bomb) < MAX_BODY
    with pytest.raises(BadRequest) as caught:
        read_body(bomb, "gzip", MAX_BODY)
    assert caught.value.status == 413
    with pytest.raises(BadRequest, match="not valid gzip"):
        read_body(b"not gzip at all", "gzip", MAX_BODY)
    with pytest.raises(BadRequest) as caught:
        read_body(body, "br", MAX_BODY)
    assert caught.value.status == 415


def test_batch_items_and_timestamps() -> None:
    item = {"domain": "a.com", "name": "pageview", "url": "https://a.com/x"}
    assert from_batch_item(item, NOW).timestamp == NOW
    epoch_ms = int(NOW.timestamp() * 1000) - 3_600_000
    assert from_batch_item({**item, "timestamp": epoch_ms}, NOW).timestamp == NOW - dt.timedelta(
        hours=1
    )
    assert from_batch_item(
        {**item, "timestamp": "2026-11-23T11:00:00Z"}, NOW
    ).timestamp == NOW - dt.timedelta(hours=1)
    assert (
        from_batch_item({**item, "timestamp": "2026-11-23T12:04:00+00:00"}, NOW).timestamp
        is not None
    )
    for bad, message in [
        ("2026-11-23T12:06:00Z", "more than 5 minutes in the future"),
        ("1999-01-01T00:00:00Z", "more than 30 days in the past"),
        (10**20, "out of range"),
        ("yesterday", "expected ISO-8601"),
        (True, "expected ISO-8601"),
    ]:
        with pytest.raises(BadRequest, match=message):
            from_batch_item({**item, "timestamp": bad}, NOW)
    with pytest.raises(BadRequest, match="events: at most 1000 per request"):
        batch_items({"events": [item] * 1001})
    with pytest.raises(BadRequest, match="events: expected a list"):
        batch_items({"events": item})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=20,
)
plausible_keys = st.sampled_from(
    ["n", "name", "u", "url", "d", "domain", "r", "p", "props", "revenue", "i", "h", "sd", "e", "w"]
)


@settings(max_examples=300)
@given(st.dictionaries(plausible_keys, json_values, max_size=8))
def test_fuzz_plausible_objects(data: dict[str, Any]) -> None:
    try:
        event = from_plausible(data)
    except BadRequest as exc:
        assert exc.status in (400, 413, 415) and exc.message
    else:
        assert event.name and event.url and event.domains
        assert len(event.props) <= 30


@settings(max_examples=300)
@given(st.binary(max_size=2048))
def test_fuzz_raw_bytes(raw: bytes) -> None:
    try:
        plausible(raw)
    except BadRequest as exc:
        assert exc.message


@settings(max_examples=200)
@given(json_values)
def test_fuzz_umami_and_batch(data: Any) -> None:
    for parse in (from_umami, lambda d: from_batch_item(d, NOW), batch_items):
        try:
            parse(data)
        except BadRequest as exc:
            assert exc.message
        except NotAnEvent as exc:  # Umami's identify: well-formed, nothing to store
            assert exc.reason == "identify"
