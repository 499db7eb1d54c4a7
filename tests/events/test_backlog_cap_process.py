"""Overload, end to end (issue 21's failure rule): a real Trail whose backlog is over its cap
answers `503` + `Retry-After`, never a 2xx it cannot keep, and stores every event it did
answer 2xx exactly once when ClickHouse is back.

Real processes (bench/trail_proc.py: `manage.py serve`, a Celery worker and beat, a
ClickHouse HTTP server, PostgreSQL, Redis database 6), a 16 KiB spool cap, and the ClickHouse
server stopped, so the backlog can only grow. The in-process checks of the same rules:
tests/events/test_ingest_http.py (spool full -> 503) and tests/trail/test_gate.py (429).
Services suite only.
"""

from __future__ import annotations

import http.client
import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from events.clickhouse.server import ServerClickHouse
from tests.helpers import REPO

sys.path.insert(0, str(REPO / "bench"))
from trail_proc import Trail  # noqa: E402 (bench/ is not a package)

pytestmark = pytest.mark.services

DOMAIN = "backlog-cap-trail.com"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"  # fmt: skip


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[Trail]:
    run = Trail(
        mode="services",
        database="trail_backlog_cap",
        redis_url="redis://127.0.0.1:6379/6",
        var=tmp_path / "var",
        threads=4,
        extra_env={"TRAIL_SPOOL_MAX_BYTES": "16K"},
    )
    run.var.mkdir()
    run.prepare()
    run.start()
    run.add_site(DOMAIN)
    yield run
    run.stop()


def post(conn: http.client.HTTPConnection, seq: int) -> tuple[int, str | None]:
    body = json.dumps({"n": "Capped", "u": f"https://{DOMAIN}/c", "d": DOMAIN, "p": {"seq": seq}})
    conn.request("POST", "/api/event", body=body, headers={"Content-Type": "text/plain", "User-Agent": UA})  # fmt: skip
    response = conn.getresponse()
    response.read()
    return response.status, response.getheader("Retry-After")


def stored(clickhouse: ServerClickHouse) -> dict[int, int]:
    rows = clickhouse.query(
        "SELECT props['seq'] AS seq, count() AS n FROM events WHERE name = 'Capped' GROUP BY seq"
    )
    return {int(str(row["seq"])): int(str(row["n"])) for row in rows}


def test_over_its_backlog_cap_a_real_trail_answers_503_and_keeps_every_202(
    trail: Trail,
) -> None:
    # The worker checks ClickHouse when it starts: wait until it has flushed an event
    # (it is up) before taking ClickHouse away, or a slow start meets the outage and exits.
    first = http.client.HTTPConnection("127.0.0.1", trail.port, timeout=15)
    assert post(first, -1)[0] == 202
    first.close()
    up = ServerClickHouse(trail.clickhouse_url)
    deadline = time.monotonic() + 60
    while -1 not in stored(up):
        assert time.monotonic() < deadline, "the worker flushed nothing in 60 s"
        time.sleep(0.2)
    trail.kill("clickhouse", signal.SIGKILL)  # nothing leaves the spool any more
    conn = http.client.HTTPConnection("127.0.0.1", trail.port, timeout=15)
    answers: dict[int, tuple[int, str | None]] = {}
    seq = 0
    while sum(status == 503 for status, _ in answers.values()) < 50:
        assert seq < 5000, "the backlog never reached its cap"
        answers[seq] = post(conn, seq)
        if answers[seq][0] == 503:
            conn.close()  # a refusal may close the connection
            conn = http.client.HTTPConnection("127.0.0.1", trail.port, timeout=15)
        seq += 1
        time.sleep(0.002)
    conn.close()
    assert {status for status, _ in answers.values()} == {202, 503}
    refused = {s for s, (status, _) in answers.items() if status == 503}
    assert all(int(answers[s][1] or 0) >= 1 for s in refused)  # each with its Retry-After
    accepted = set(answers) - refused
    assert min(refused) > 0 and len(accepted) >= 10

    trail.start_clickhouse(same_port=True)
    clickhouse = ServerClickHouse(trail.clickhouse_url)
    deadline = time.monotonic() + 120
    while not accepted <= set(stored(clickhouse)):
        assert time.monotonic() < deadline, "the accepted events were not flushed in 120 s"
        time.sleep(0.5)
    spool = trail.var / "spool"
    while any(spool.glob("*.seg")) or any(p.stat().st_size for p in spool.glob("*.open")):
        assert time.monotonic() < deadline, "the spool did not drain in 120 s"
        time.sleep(0.5)
    counts = stored(clickhouse)
    assert {s: n for s, n in counts.items() if n != 1} == {}  # each 202 once
    assert set(counts) == accepted | {-1}  # and nothing that was refused (-1: the first)
