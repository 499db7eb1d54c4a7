"""The issue's "done when" for destinations, as services mode runs it: every event of a
100,000-event run reaches the receiver, exactly once by its dedup id, across a `kill -9`
of the forwarding worker (a separate process, on the same PostgreSQL and Redis) during a
60-second outage of the receiver (its port closed), and another while it is sending. Events go through the real batch API,
spool and flush (chDB, in this process) into the outbox.

Slow (~3 minutes) and services-only: `DATABASE_URL=… REDIS_URL=… TRAIL_FLUSH_MODE=celery
.venv/bin/pytest -m slow tests/events/test_destinations_kill.py`.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings

from events.clickhouse import ClickHouse
from events.destinations import services
from events.destinations.models import Destination, DestinationBatch
from events.flush import FlushReport
from sites.models import Site
from tests import factories
from tests.conftest import REPO, send
from tests.events.conftest import rows
from tests.events.destination_receiver import Receiver

pytestmark = [pytest.mark.services, pytest.mark.slow]

TOTAL = 100_000
CHUNK = 10_000
OUTAGE = 60.0
SECRET = "kill-test-secret"

FORWARDER = """
import os, sys, time
sys.path.insert(0, os.environ["TRAIL_REPO"])
import django
django.setup()
from events.destinations.forward import forward
print("forwarder up", flush=True)
while True:
    forward()
    time.sleep(0.2)
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(secret=SECRET).start()
    yield found
    found.stop()


def start_forwarder(tmp_path: Path) -> subprocess.Popen[bytes]:
    """A worker process that only forwards, on this test's database and Redis."""
    database = connection.settings_dict
    env = {
        **os.environ,
        "TRAIL_REPO": str(REPO),
        "DJANGO_SETTINGS_MODULE": "trail.settings",
        "TRAIL_VAR_DIR": str(tmp_path / "forwarder-var"),
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
        f"{database['NAME']}",
        "TRAIL_ALLOW_PRIVATE_WEBHOOKS": "1",
        "LOG_LEVEL": "ERROR",
    }
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", FORWARDER], env=env, stdout=subprocess.PIPE
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"forwarder up"
    return process


def test_every_event_of_a_100k_run_arrives_once_across_a_kill_and_a_60s_outage(
    client: Any,
    transactional_db: None,
    make_site: Callable[..., Site],
    flush: Callable[..., FlushReport],
    clickhouse: ClickHouse,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    site = make_site("kill-destinations-trail.com")
    with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, allow_private_webhooks=True)):
        destination = services.destination_create(
            site=site, fields={"type": "webhook", "url": receiver.url, "secret": SECRET}
        )
    key = factories.api_key(site.organization, scopes=("events:write",))[1]
    worker = start_forwarder(tmp_path)
    killed_at = outage_over = None
    killed_sending = 0
    try:
        sent = 0
        while sent < TOTAL:
            send(
                client,
                key,
                [
                    {
                        "domain": site.domain,
                        "name": "pageview",
                        "url": f"https://{site.domain}/p/{n}",
                        "ip": f"198.51.{n // 250 % 250}.{n % 250 + 1}",
                    }
                    for n in range(sent, sent + CHUNK)
                ],
            )
            flush()
            sent += CHUNK
            if sent == 3 * CHUNK:  # the receiver goes away for a minute
                down_since = time.monotonic()
                receiver.stop()
            if sent == 5 * CHUNK:  # the worker dies mid-run, hard; another one starts
                worker.send_signal(signal.SIGKILL)
                worker.wait(10)
                killed_at = time.monotonic()
                worker = start_forwarder(tmp_path)
        remaining = OUTAGE - (time.monotonic() - down_since)
        time.sleep(max(0.0, remaining))
        receiver.start()
        outage_over = time.monotonic()
        while len(receiver.unique) < 60_000:  # and once more while it is sending
            assert time.monotonic() - outage_over < 240, "nothing arrives after the outage"
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        killed_sending = len(receiver.unique)
        worker = start_forwarder(tmp_path)  # waits for the dead one's lock (30 s) to expire
        deadline = time.monotonic() + 300
        while DestinationBatch.objects.filter(destination=destination).exists():
            assert time.monotonic() < deadline, "the backlog did not drain within 5 minutes"
            time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    stored = rows(
        clickhouse,
        "SELECT toString(event_id) AS id FROM events WHERE site_id = {s:UInt64}",
        s=site.pk,
    )
    assert len(stored) == TOTAL
    assert receiver.unique == {row["id"] for row in stored}  # every event, by its dedup id
    assert receiver.bad_signatures == 0
    after = Destination.objects.get(pk=destination.pk)
    print(  # noqa: T201 (the run's figures, for the report: pytest -s)
        f"\n{TOTAL:,} events, {sum(receiver.ids.values()):,} received"
        f" ({receiver.repeated} repeats), outage {outage_over - down_since:.0f} s,"
        f" worker killed at {killed_at - down_since:.0f} s into it and again with"
        f" {killed_sending:,} events received;"
        f" drained {time.monotonic() - outage_over:.0f} s after; last error: {after.last_error}"
    )
