"""The privacy promise, checked where the data lands (SECURITY.md, docs/privacy.md).

A visitor's raw IP address and user agent reach ClickHouse, the accounts database, the
spool after its flush, and the log as nothing: the event is stored and counted, but no table
row, database page or log line holds either. Ingest answers without a cookie.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from events.clickhouse import ClickHouse
from events.flush import FlushReport
from sites.models import Site
from tests.wsgi_client import post

pytestmark = pytest.mark.django_db(transaction=True)  # the salt row reaches the file

IP = "198.51.100.213"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0 PrivacyProbe/7.7"


def _table_text(clickhouse: ClickHouse) -> str:
    """Every row of every table Trail keeps in ClickHouse, as text."""
    tables = clickhouse.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase()"
        " AND engine NOT LIKE '%View' AND engine != 'Dictionary'"
    )
    rows = [clickhouse.query(f"SELECT * FROM `{t['name']}`") for t in tables]  # noqa: S608
    return json.dumps(rows, default=str)


def _database_text() -> str:
    """Every row of every table in the accounts database (SQLite or PostgreSQL), as text."""
    with connection.cursor() as cursor:
        rows = []
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows.append(cursor.fetchall())
    return repr(rows)


def test_the_raw_ip_and_user_agent_are_stored_nowhere(
    make_site: Callable[..., Site],
    flush: Callable[..., FlushReport],
    clickhouse: ClickHouse,
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = make_site("privacy-probe.example")
    body = json.dumps({"n": "pageview", "u": "https://privacy-probe.example/", "d": site.domain})
    with caplog.at_level(logging.DEBUG):
        answer = post("/api/event", body, remote_addr=IP, user_agent=USER_AGENT)
        flush()
    assert answer.status == 202 and answer.dropped is None
    assert "Set-Cookie" not in answer.headers

    [stored] = clickhouse.query(
        "SELECT visitor_id, browser FROM events WHERE site_id = {site:UInt64}",
        {"site": site.id},
    )
    assert stored["visitor_id"] != 0 and stored["browser"] == "Firefox"  # counted, parsed
    tables = _table_text(clickhouse)
    assert str(stored["visitor_id"]) in tables  # the search sees the stored row
    assert IP not in tables and "PrivacyProbe" not in tables

    assert all(
        IP not in r.getMessage() and "PrivacyProbe" not in r.getMessage() for r in caplog.records
    )

    var = Path(settings.TRAIL.var_dir)
    spooled = b"".join(p.read_bytes() for p in (var / "spool").glob("*") if p.is_file())
    assert IP.encode() not in spooled, "the flush deleted the segment"
    database = _database_text()
    assert site.domain in database  # the search sees what was committed
    assert IP not in database and "PrivacyProbe" not in database
