"""Streaming destinations as services mode runs them: the flush on a real Celery worker
(Redis broker, PostgreSQL) writes the outbox; the forwarder runs as the periodic job's
Celery task on that worker, to a real local receiver that verifies signatures; a
receiver answering 500 is retried on a later run; nothing lost, nothing twice.

Run by the services suite only (DATABASE_URL, REDIS_URL, TRAIL_FLUSH_MODE=celery).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings
from django.test import override_settings

from events import dispatch
from events.clickhouse import ClickHouse
from events.destinations import services
from events.destinations.forward import FORWARD_JOB
from events.destinations.models import Destination, DestinationBatch
from events.flush import FLUSH_JOB
from events.spool import spool
from events.tasks import run_job
from sites.models import Site
from tests.events.conftest import rows
from tests.events.destination_receiver import Receiver
from tests.wsgi_client import post

pytestmark = pytest.mark.services

DEADLINE = 30.0
SECRET = "services-secret"


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"not within {DEADLINE}s: {what}"
        time.sleep(0.1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, allow_private_webhooks=True)):
        found = Receiver(secret=SECRET).start()
        yield found
        found.stop()


def test_the_worker_flushes_into_the_outbox_and_forwards_every_event_once(
    celery_worker: object,
    transactional_db: None,
    make_site: Callable[..., Site],
    clickhouse: ClickHouse,
    receiver: Receiver,
) -> None:
    site = make_site("celery-destinations-trail.com")
    destination = services.destination_create(
        site=site, fields={"type": "webhook", "url": receiver.url, "secret": SECRET}
    )
    for n in range(40):
        body = json.dumps({"n": "pageview", "u": f"https://{site.domain}/p/{n}"})
        answer = post("/api/event", body, remote_addr=f"198.51.100.{n + 1}")
        assert answer.status == 202
    spool().rotate()
    dispatch.trigger(FLUSH_JOB)  # the flush on the worker writes the outbox
    wait_for(
        lambda: DestinationBatch.objects.filter(destination=destination).exists(),
        "the worker's flush queued the events for the destination",
    )
    assert receiver.requests == []  # queued, not sent: the flush does not wait for it

    receiver.status = 500
    first = run_job.delay(FORWARD_JOB).get(timeout=DEADLINE)
    assert first["failures"] == 1 and first["events"] == 0
    assert Destination.objects.get(pk=destination.pk).last_error.startswith("HTTP 500")

    receiver.status = 200
    time.sleep(1.2)  # the first backoff
    second = run_job.delay(FORWARD_JOB).get(timeout=DEADLINE)
    assert second["events"] == 40 and second["failures"] == 0
    stored = rows(
        clickhouse,
        "SELECT toString(event_id) AS id FROM events WHERE site_id = {s:UInt64}",
        s=site.pk,
    )
    assert receiver.unique == {row["id"] for row in stored} and len(receiver.unique) == 40
    assert receiver.repeated == 0 and receiver.bad_signatures == 0
    assert not DestinationBatch.objects.filter(destination=destination).exists()
