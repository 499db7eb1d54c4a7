"""Bad input at the browser endpoints: each gets its status, and nothing is spooled."""

from __future__ import annotations

import gzip
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.observability import RequestIdFilter
from events.ingest import edge
from events.ingest.edge import Collector
from events.ingest.sites import directory
from events.ingest.steps import pipeline
from events.limits import ratelimit
from events.limits.models import OrganizationLimits
from events.spool import Spool, spool
from sites.models import Site
from tests.wsgi_client import post

pytestmark = pytest.mark.django_db

URL = "https://bad-input-trail.com/page"


def event(**fields: object) -> str:
    body: dict[str, object] = {"n": "pageview", "u": URL}
    body.update(fields)
    return json.dumps(body)


BAD = [
    pytest.param(b"{not json", 400, "not valid JSON", id="malformed"),
    pytest.param(b"[1, 2]", 400, "object", id="array"),
    pytest.param(b"42", 400, "object", id="scalar"),
    pytest.param(b'"pageview"', 400, "object", id="string"),
    pytest.param(b"null", 400, "object", id="null"),
    pytest.param(b"", 400, "empty", id="empty"),
    pytest.param(b"   \n", 400, "empty", id="whitespace"),
    pytest.param(b'{"p":' + b"[" * 20_000 + b"]" * 20_000 + b"}", 400, "nested", id="deep-nesting"),
    pytest.param(b'{"n": "page\\u0000view", "u": "' + URL.encode() + b'"}', 400, "NUL", id="nul"),
    pytest.param(
        b'{"n": "\\ud800", "u": "' + URL.encode() + b'"}', 400, "surrogate", id="surrogate"
    ),
    pytest.param(b'{"n": "\xff\xfe", "u": "x"}', 400, "UTF-8", id="invalid-utf8"),
    pytest.param(b"\xff\xfe{\x00}\x00", 400, "UTF-8", id="utf16-bom"),
    pytest.param(event(p={f"k{i}": "v" for i in range(31)}).encode(), 400, "30", id="31-props"),
    pytest.param(event(p={"k" * 301: "v"}).encode(), 400, "300", id="long-prop-key"),
    pytest.param(event(p={"k": "v" * 2001}).encode(), 400, "2000", id="long-prop-value"),
    pytest.param(event(u=URL + "?" + "x" * 2000).encode(), 400, "2000", id="long-url"),
    pytest.param(
        event(r="https://r-trail.com/" + "x" * 2000).encode(), 400, "2000", id="long-referrer"
    ),
    pytest.param(event(n="x" * 121).encode(), 400, "120", id="long-name"),
    pytest.param(event(u="javascript:alert(1)").encode(), 400, "javascript", id="javascript-url"),
    pytest.param(event(u="data:text/html,<b>x</b>").encode(), 400, "data", id="data-url"),
    pytest.param(event(r="JavaScript:alert(1)").encode(), 400, "javascript", id="javascript-ref"),
    pytest.param(event(u=None).encode(), 400, "url", id="no-url"),
    pytest.param(event(n="").encode(), 400, "name", id="empty-name"),
    pytest.param(event(p=["a"]).encode(), 400, "props", id="props-list"),
    pytest.param(
        event(revenue={"amount": "lots", "currency": "EUR"}).encode(),
        400,
        "amount",
        id="bad-revenue",
    ),
]


@pytest.fixture
def nothing_spooled() -> Iterator[None]:
    before = spool().appended
    yield
    assert spool().appended == before, "a bad request reached the spool"


@pytest.mark.parametrize(("body", "status", "message"), BAD)
def test_bad_bodies(body: bytes, status: int, message: str, nothing_spooled: None) -> None:
    answer = post("/api/event", body)
    assert answer.status == status
    assert message.lower() in json.loads(answer.body)["error"].lower()
    assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_one_megabyte_body_is_413_without_reading_it(nothing_spooled: None) -> None:
    big = event(p={"k": "v" * 1_000_000}).encode()
    assert post("/api/event", big).status == 413
    assert post("/api/send", big, content_type="application/json").status == 413


def test_a_lying_content_length_is_400(nothing_spooled: None) -> None:
    assert post("/api/event", event(), content_length="12abc").status == 400


def test_gzip_bomb_is_413(nothing_spooled: None) -> None:
    bomb = gzip.compress(b"{" + b" " * 50_000_000 + b"}")
    assert len(bomb) < 100_000
    answer = post("/api/event", bomb, headers={"Content-Encoding": "gzip"})
    assert answer.status == 413


def test_gzipped_event_is_accepted(make_site: Callable[..., Site]) -> None:
    make_site("gzip-ok-trail.com")
    body = gzip.compress(json.dumps({"n": "pageview", "u": "https://gzip-ok-trail.com/"}).encode())
    answer = post("/api/event", body, headers={"Content-Encoding": "gzip"})
    assert (answer.status, answer.dropped) == (202, None)


@pytest.mark.parametrize(
    ("content_type", "encoding", "status"),
    [
        ("multipart/form-data; boundary=x", "", 415),
        ("image/png", "", 415),
        ("application/json", "br", 415),
        ("text/plain", "compress", 415),
    ],
)
def test_unsupported_types_and_encodings(
    content_type: str, encoding: str, status: int, nothing_spooled: None
) -> None:
    headers = {"Content-Encoding": encoding} if encoding else {}
    assert post("/api/event", event(), content_type=content_type, headers=headers).status == status


def test_unknown_domain_is_202_dropped(nothing_spooled: None) -> None:
    answer = post(
        "/api/event", event(u="https://no-such-site-trail.com/", d="no-such-site-trail.com")
    )
    assert (answer.status, answer.dropped) == (202, "unknown_site")


def test_umami_unknown_website_is_200_dropped(nothing_spooled: None) -> None:
    body = {
        "type": "event",
        "payload": {"website": "00000000-0000-0000-0000-000000000000", "url": "/"},
    }
    answer = post("/api/send", json.dumps(body), content_type="application/json")
    assert (answer.status, answer.dropped) == (200, "unknown_site")  # as Umami answers


def test_umami_identify_is_200_and_not_stored(nothing_spooled: None) -> None:
    body = {"type": "identify", "payload": {"website": "x", "data": {"plan": "pro"}}}
    answer = post("/api/send", json.dumps(body), content_type="application/json")
    assert (answer.status, answer.dropped) == (200, "identify")


def test_umami_unknown_type_is_400(nothing_spooled: None) -> None:
    body = {"type": "pageview", "payload": {"website": "x", "url": "/"}}
    answer = post("/api/send", json.dumps(body), content_type="application/json")
    assert answer.status == 400 and "type" in json.loads(answer.body)["error"]


def test_spool_full_is_503_with_retry_after(
    make_site: Callable[..., Site], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_site("full-spool-trail.com")
    tiny = Spool(tmp_path / "spool", max_backlog_bytes=10)
    try:
        monkeypatch.setattr(edge, "_collector", Collector(pipeline(directory), tiny))
        body = json.dumps({"n": "pageview", "u": "https://full-spool-trail.com/"})
        first = post("/api/event", body)
        assert first.status == 202  # under the cap when it arrived
        tiny.rotate()
        tiny._backlog_checked_at = 0.0  # re-measure now, not in half a second
        full = post("/api/event", body)
        assert full.status == 503
        assert full.headers["Retry-After"] == "30"
        assert "backlog" in json.loads(full.body)["error"]
        assert tiny.appended == 1  # the refused event was not written
    finally:
        tiny.close()


def test_per_site_rate_limit_drops_over_the_rate(
    make_site: Callable[..., Site], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis-shared in services mode, in memory embedded: `for_settings` picks."""
    site = make_site("quota-trail.com")
    OrganizationLimits.objects.create(
        organization=site.organization, site_events_per_second=0.01, site_burst=3
    )
    sink = Spool(tmp_path / "spool")
    try:
        limit = ratelimit.for_settings()
        monkeypatch.setattr(edge, "_collector", Collector(pipeline(directory, limit), sink))
        body = json.dumps({"n": "pageview", "u": "https://quota-trail.com/"})
        drops = [post("/api/event", body).dropped for _ in range(6)]
        assert drops[:3] == [None, None, None]
        assert drops[3:] == ["rate_limited"] * 3
        assert sink.appended == 3
    finally:
        sink.close()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        ["n", "u", "d", "r", "p", "h", "i", "revenue", "sd", "e", "w", "x"]
                    ),
                    children,
                    max_size=6,
                )
            ),
            max_leaves=12,
        ).map(lambda value: json.dumps(value).encode()),
    ),
    path=st.sampled_from(["/api/event", "/api/send"]),
    content_type=st.sampled_from(["text/plain", "application/json", "", "text/html"]),
)
def test_fuzzed_requests_never_fail_on_the_server(
    body: bytes, path: str, content_type: str
) -> None:
    answer = post(path, body, content_type=content_type)
    assert answer.status in (202, 400, 413, 415)
    if answer.status != 202:
        assert json.loads(answer.body)["error"]


def test_an_unexpected_failure_is_500_with_the_id_of_its_log_line(
    make_site: Callable[..., Site],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in a step (not an outage, which is a 503): the answer says nothing was stored and
    names the request id its log line carries; a sane incoming `X-Request-ID` is kept."""
    make_site("broken-step-trail.com")

    def buggy_step(item: object) -> object:
        raise RuntimeError("a bug in a step")

    sink = Spool(tmp_path / "spool")
    monkeypatch.setattr(edge, "_collector", Collector([*pipeline(directory), buggy_step], sink))
    body = json.dumps({"n": "pageview", "u": "https://broken-step-trail.com/"})
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(RequestIdFilter())  # as the configured handlers do
    logger = logging.getLogger("events.ingest.handler")
    logger.addHandler(handler)
    try:
        made = post("/api/event", body)
        kept = post("/api/event", body, headers={"X-Request-ID": "lb-7f3a"})
    finally:
        logger.removeHandler(handler)
    assert (made.status, kept.status) == (500, 500)
    assert json.loads(made.body) == {"error": "internal error: the event was not stored"}
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    assert kept.headers["X-Request-ID"] == "lb-7f3a"
    failures = [r for r in records if r.getMessage().startswith("ingest failed on")]
    assert [r.request_id for r in failures] == [made.headers["X-Request-ID"], "lb-7f3a"]
    assert sink.appended == 0
    sink.close()
