"""A shard of a ClickHouse cluster down (issue 21): inserts wait in the spool and resume,
reports answer 503 with `Retry-After`, never the other shards' numbers as the whole.

No cluster runs here: the ClickHouse HTTP stand-in (tests/clickhouse_http.py, real chDB
behind it) answers as a server whose `Distributed` table has a shard with no replica up
does: HTTP 500, `X-ClickHouse-Exception-Code: 279` and the message ClickHouse writes. The
rest (clickhouse-connect, the adapter, the flush, the spool, the Stats API) is Trail's own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from events.clickhouse import ClickHouseError, ClickHouseUnavailable, reset_client
from events.clickhouse.errors import unavailable
from events.clickhouse.server import ServerClickHouse
from events.flush import flush_spool
from events.models import DeadLetter
from events.spool import closed_segments, spool
from sites.models import Site
from tests import factories
from tests.clickhouse_http import handler_for
from tests.conftest import send
from tests.reports.conftest import hit, post_json

pytestmark = pytest.mark.django_db

ALL_TRIES_FAILED = (
    "Code: 279. DB::Exception: All connection tries failed. Log:\n\n"
    "Code: 210. DB::NetException: Connection refused (ch-s2-r1:9000). (NETWORK_ERROR)\n"
    "Code: 210. DB::NetException: Connection refused (ch-s2-r2:9000). (NETWORK_ERROR)\n"
    ": While executing Remote. (ALL_CONNECTION_TRIES_FAILED) (version 25.8.1.1)"
)


class Cluster:
    """The stand-in's switch: while `down`, statements on the sharded tables fail as a
    Distributed table with an unreachable shard makes them fail."""

    def __init__(self) -> None:
        self.down = False
        self.refused = 0


@contextmanager
def cluster_server() -> Iterator[tuple[str, Cluster]]:
    state = Cluster()
    base = handler_for(settings.CLICKHOUSE.data_dir)

    class Handler(base):  # type: ignore[valid-type,misc]
        def _run(self, conn: Any, sql: str, *args: Any) -> None:
            if state.down and _sharded(sql):
                state.refused += 1
                self._reply(500, ALL_TRIES_FAILED.encode(), {"X-ClickHouse-Exception-Code": "279"})
                return
            super()._run(conn, sql, *args)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://default:@127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        Handler.connections.close()


def _sharded(query: str) -> bool:
    text = " ".join(query.split())
    return any(
        f"{verb} {table}" in text
        for verb in ("INSERT INTO", "FROM")
        for table in ("events", "sessions")
    )


def test_the_codes_of_an_unreachable_shard_mean_unavailable() -> None:
    assert unavailable(ALL_TRIES_FAILED)
    assert unavailable("HTTPDriver for http://x received ClickHouse error code 242")
    assert unavailable("Code: 225. DB::Exception: No ZooKeeper")
    assert not unavailable("Code: 62. DB::Exception: Syntax error")
    assert not unavailable("Code: 60. DB::Exception: Unknown table expression identifier")
    assert not unavailable("")


def test_an_insert_refused_by_a_down_shard_waits_in_the_spool(
    client: Any, clickhouse: Any, make_site: Callable[..., Site]
) -> None:
    site = make_site("shard-down-trail.com")  # a fresh id the ingest directory sees
    org = site.organization
    _, key = factories.api_key(org, scopes=("events:write",))
    sent = [
        hit(site, _at(minute), f"/page-{minute}", ip=f"192.0.2.{minute + 1}")
        for minute in range(20)
    ]
    send(client, key, sent)
    spool().rotate()
    letters = DeadLetter.objects.count()
    with cluster_server() as (url, state):
        server = ServerClickHouse(url)
        try:
            state.down = True
            report = _flushed(server)
            assert state.refused >= 1, (report, closed_segments())
            assert any("unavailable" in error for error in report.errors), report.errors
            assert closed_segments()  # the events are still in the spool
            assert DeadLetter.objects.count() == letters  # none was taken for bad data
            assert _stored(clickhouse, site.pk) == 0
            state.down = False
            report = _flushed(server)
            assert report.errors == []
        finally:
            server.close()
    assert _stored(clickhouse, site.pk) == len(sent)
    assert DeadLetter.objects.count() == letters


def test_a_report_with_a_shard_down_answers_503(
    client: Any, clickhouse: Any, make_site: Callable[..., Site]
) -> None:
    site = make_site("shard-down-report-trail.com")
    org = site.organization
    _, key = factories.api_key(org, scopes=("stats:read",))
    body = {"site_id": site.domain, "metrics": ["visitors", "bounce_rate"], "date_range": "7d"}
    with cluster_server() as (url, state):
        reset_client()
        try:
            with override_settings(CLICKHOUSE=replace(settings.CLICKHOUSE, url=url)):
                assert post_json(client, "/api/v2/query", body, key).status_code == 200
                state.down = True
                answer = post_json(client, "/api/v2/query", body, key)
                assert answer.status_code == 503, answer.content
                assert answer["Retry-After"] == "30"
                assert "unavailable" in answer.json()["error"]
                assert "results" not in answer.json()  # no numbers at all
                state.down = False
                assert post_json(client, "/api/v2/query", body, key).status_code == 200
        finally:
            reset_client()


def test_a_statement_error_stays_an_error_not_an_outage(clickhouse: Any) -> None:
    with cluster_server() as (url, _state):
        server = ServerClickHouse(url)
        try:
            with pytest.raises(ClickHouseError) as raised:
                server.query("SELECT * FROM no_such_table_anywhere")
            assert not isinstance(raised.value, ClickHouseUnavailable)
        finally:
            server.close()


def _flushed(server: ServerClickHouse) -> Any:
    """A flush of the spool, once the flush lock is free (in services mode it is a Redis
    lock, which another test session on the same Redis may hold for a moment)."""
    deadline = time.monotonic() + 60
    while True:
        report = flush_spool(client=server)
        if not report.busy or time.monotonic() > deadline:
            return report
        time.sleep(0.2)


def _at(minute: int) -> Any:
    import datetime as dt

    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    return now - dt.timedelta(hours=2) + dt.timedelta(minutes=minute)


def _stored(clickhouse: Any, site_id: int) -> int:
    [row] = clickhouse.query(
        "SELECT count() AS n FROM events WHERE site_id = {site:UInt64}", {"site": site_id}
    )
    return int(row["n"])


def test_a_dashboard_panel_with_a_shard_down_says_so_with_503(
    client: Any, clickhouse: Any, make_site: Callable[..., Site]
) -> None:
    """The dashboard's panels (htmx fragments) and a panel opened as a page answer 503 with
    `Retry-After` and a sentence, not a 500 page nor numbers; base.html tells htmx to swap
    a 503 in, so the panel shows the sentence instead of staying on "Loading…"."""
    site = make_site("shard-down-panel-trail.com")
    org = site.organization
    client.force_login(org.memberships.get().user)
    panel = f"/sites/{site.domain}/panel/top?period=7d"
    with cluster_server() as (url, state):
        reset_client()
        try:
            with override_settings(CLICKHOUSE=replace(settings.CLICKHOUSE, url=url)):
                assert client.get(panel, HTTP_HX_REQUEST="true").status_code == 200
                state.down = True
                fragment = client.get(panel, HTTP_HX_REQUEST="true")
                assert fragment.status_code == 503
                assert fragment["Retry-After"] == "30"
                text = fragment.content.decode()
                assert 'role="alert"' in text and "cannot be read right now" in text
                assert "<html" not in text  # a fragment for the panel
                page = client.get(panel)
                assert page.status_code == 503
                assert "Statistics unavailable for a moment" in page.content.decode()
                state.down = False
                assert client.get(panel, HTTP_HX_REQUEST="true").status_code == 200
        finally:
            reset_client()
    dashboard = client.get(f"/sites/{site.domain}/").content.decode()
    assert '"code": "503", "swap": true' in dashboard  # htmx swaps the 503 fragment in
