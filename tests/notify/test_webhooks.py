"""Webhook deliveries against a real local HTTP receiver: the body, the headers, the
signature checked with common.outbound.verify, Slack's shape, and retries (500, timeout,
refused connection) with backoff, one id, no duplicates, given up after a day."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from common.outbound import verify
from notify import deliveries
from notify.channels import send
from notify.deliveries import retry_due
from notify.messages import Message
from notify.models import Delivery
from sites.models import Site
from tests.notify.conftest import Receiver, free_port

pytestmark = pytest.mark.usefixtures("private_allowed")

SECRET = "whsec_9f3b2c"
FIRED = Message(
    event="alert.fired",
    subject="Visitors above 3 on shop.example.org",
    text="5 visitors in the last 5 minutes (threshold 3).",
    html="<p>5 visitors</p>",
    data={
        "rule": {"id": 12, "name": "spike"},
        "value": 5,
        "at": dt.datetime(2026, 12, 7, 6, 0, tzinfo=dt.UTC),
    },
)


def _spec(receiver: Receiver, **extra: str) -> dict[str, str]:
    return {"type": "webhook", "url": receiver.url, **extra}


def test_a_signed_webhook_arrives_and_verifies(site: Site, receiver: Receiver) -> None:
    row = send(site, _spec(receiver, secret=SECRET), FIRED, source="alert:12")

    assert row.status == Delivery.Status.SENT
    assert row.attempts == 1
    assert row.last_status_code == 200
    assert row.finished_at is not None and row.next_attempt_at is None
    [request] = receiver.requests
    assert request.path == "/hook"
    assert verify(SECRET, request.body, request.headers["X-Trail-Signature"])
    assert not verify("another secret", request.body, request.headers["X-Trail-Signature"])
    assert not verify(SECRET, request.body + b" ", request.headers["X-Trail-Signature"])
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Trail-Event"] == "alert.fired"
    assert request.headers["X-Trail-Delivery"] == str(row.id)
    assert request.headers["X-Trail-Attempt"] == "1"
    body = json.loads(request.body)
    assert body == {
        "event": "alert.fired",
        "site": "shop.example.org",
        "sent_at": body["sent_at"],
        "data": {"rule": {"id": 12, "name": "spike"}, "value": 5, "at": "2026-12-07T06:00:00Z"},
    }
    sent_at = dt.datetime.fromisoformat(body["sent_at"])
    assert abs(sent_at - timezone.now()) < dt.timedelta(seconds=30)
    stored = Delivery.objects.get()
    assert bytes(stored.body) == request.body
    assert (stored.channel, stored.target, stored.source, stored.event) == (
        "webhook",
        receiver.url,
        "alert:12",
        "alert.fired",
    )
    assert stored.subject == FIRED.subject


def test_without_a_secret_there_is_no_signature(site: Site, receiver: Receiver) -> None:
    send(site, _spec(receiver), FIRED, source="test")
    [request] = receiver.requests
    assert "X-Trail-Signature" not in request.headers
    assert request.headers["X-Trail-Delivery"]


def test_slack_format_posts_slacks_shape(site: Site, receiver: Receiver) -> None:
    message = Message(
        event="alert.fired",
        subject="Visitors <above> 3",
        text="5 visitors & counting",
        data={"x": 1},
    )
    send(site, _spec(receiver, format="slack", secret=SECRET), message, source="test")
    [request] = receiver.requests
    assert json.loads(request.body) == {
        "text": "*Visitors &lt;above&gt; 3*\n5 visitors &amp; counting"
    }
    assert verify(SECRET, request.body, request.headers["X-Trail-Signature"])


def test_a_500_is_retried_with_backoff_under_one_id_until_it_succeeds(
    site: Site, receiver: Receiver
) -> None:
    receiver.answers = [500, 503, 500]
    start = timezone.now()
    row = send(site, _spec(receiver, secret=SECRET), FIRED, source="alert:12", now=start)

    assert row.status == Delivery.Status.QUEUED
    assert row.last_status_code == 500
    assert row.last_error.startswith("HTTP 500: receiver says no")
    waits = []
    at = start
    for expected_status in (503, 500, 200):
        assert row.next_attempt_at is not None
        waits.append(round((row.next_attempt_at - at).total_seconds()))
        assert retry_due(now=row.next_attempt_at - dt.timedelta(seconds=1))["attempted"] == 0
        at = row.next_attempt_at
        assert retry_due(now=at)["attempted"] == 1
        row.refresh_from_db()
        assert row.last_status_code == expected_status
    assert waits == [30, 60, 120]  # 30 s, doubling
    assert row.status == Delivery.Status.SENT
    assert row.attempts == 4
    assert row.last_error == ""

    # Four requests, one id, one body; each signed afresh and valid.
    assert len(receiver.requests) == 4
    assert set(receiver.deliveries()) == {str(row.id)}
    assert len({r.body for r in receiver.requests}) == 1
    assert [r.headers["X-Trail-Attempt"] for r in receiver.requests] == ["1", "2", "3", "4"]
    assert all(verify(SECRET, r.body, r.headers["X-Trail-Signature"]) for r in receiver.requests)

    # Delivered: nothing more is sent, however often the job runs.
    for hours in (1, 5, 23):
        assert retry_due(now=start + dt.timedelta(hours=hours))["attempted"] == 0
    assert len(receiver.requests) == 4
    assert Delivery.objects.count() == 1


def test_a_timeout_is_retried(
    site: Site, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deliveries, "TIMEOUT", 0.5)
    receiver.delay = 1.5
    row = send(site, _spec(receiver), FIRED, source="test")
    assert row.status == Delivery.Status.QUEUED
    assert row.last_error == "timed out"
    assert row.last_status_code is None

    receiver.delay = 0
    assert row.next_attempt_at is not None
    retry_due(now=row.next_attempt_at)
    row.refresh_from_db()
    assert row.status == Delivery.Status.SENT
    assert receiver.deliveries() == [str(row.id)] * 2  # the receiver saw it twice: one id


def test_a_receiver_that_is_down_is_retried_and_given_up_after_a_day(site: Site) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"  # nobody listens
    start = timezone.now()
    row = send(site, {"type": "webhook", "url": url}, FIRED, source="test", now=start)
    assert row.status == Delivery.Status.QUEUED
    assert "ConnectionRefusedError" in row.last_error

    at = start
    seen = []
    while row.status == Delivery.Status.QUEUED:
        assert row.next_attempt_at is not None
        assert row.next_attempt_at <= start + dt.timedelta(hours=24)
        seen.append(round((row.next_attempt_at - at).total_seconds()))
        at = row.next_attempt_at
        retry_due(now=at)
        row.refresh_from_db()
    assert row.status == Delivery.Status.FAILED
    assert "ConnectionRefusedError" in row.last_error
    assert row.finished_at is not None and row.finished_at >= start + dt.timedelta(hours=24)
    assert row.next_attempt_at is None
    assert max(seen) == 3600  # capped at an hour
    assert seen[:8] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert row.attempts == len(seen) + 1
    # Given up: never tried again.
    assert retry_due(now=start + dt.timedelta(hours=30))["attempted"] == 0


def test_the_url_is_checked_again_when_sending(site: Site, receiver: Receiver) -> None:
    """A webhook saved while private addresses were allowed is refused once they are not
    (and a name that now resolves to a private address likewise): logged, retried."""
    with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, allow_private_webhooks=False)):
        row = send(site, _spec(receiver), FIRED, source="test")
    assert row.status == Delivery.Status.QUEUED
    assert "Trail sends only to public addresses" in row.last_error
    assert receiver.requests == []


def test_old_deliveries_are_deleted(site: Site, receiver: Receiver) -> None:
    now = timezone.now()
    old = send(site, _spec(receiver), FIRED, source="test", now=now - dt.timedelta(days=31))
    recent = send(site, _spec(receiver), FIRED, source="test", now=now - dt.timedelta(days=29))
    assert retry_due(now=now)["deleted"] == 1
    assert list(Delivery.objects.values_list("id", flat=True)) == [recent.id]
    assert not Delivery.objects.filter(id=old.id).exists()


def test_an_attempt_is_made_once_however_many_runners(site: Site) -> None:
    """Two runners (two workers, or send and the job) that see the same due delivery:
    the claim lets one of them make the attempt."""
    url = f"http://127.0.0.1:{free_port()}/hook"
    row = send(site, {"type": "webhook", "url": url}, FIRED, source="test")
    assert row.next_attempt_at is not None
    first = deliveries.attempt(row.id, now=row.next_attempt_at)
    second = deliveries.attempt(row.id, now=row.next_attempt_at)
    assert first is not None and second is None
    row.refresh_from_db()
    assert row.attempts == 2


def test_a_sites_deletion_takes_its_deliveries(site: Site) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    row = send(site, {"type": "webhook", "url": url}, FIRED, source="test")
    assert row.status == Delivery.Status.QUEUED
    Site.objects.filter(id=site.id).delete()
    assert not Delivery.objects.exists()
    assert row.next_attempt_at is not None
    assert retry_due(now=row.next_attempt_at)["attempted"] == 0


def test_a_body_too_large_is_refused_before_anything_is_stored(
    site: Site, receiver: Receiver
) -> None:
    huge = Message(event="test", subject="s", text="t", data={"blob": "x" * (1024 * 1024)})
    with pytest.raises(ValueError, match="larger than"):
        send(site, _spec(receiver), huge, source="test")
    assert not Delivery.objects.exists()
    assert receiver.requests == []


def test_a_silent_server_costs_one_timeout_per_run_and_holds_nobody_up(
    site: Site,
    start_receiver: Callable[[], Receiver],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Five deliveries due to a receiver that times out, and one to another receiver:
    one run makes one attempt at the silent one (not five timeouts), delivers the other,
    and moves the four untried ones back; once it answers, all five arrive."""
    monkeypatch.setattr(deliveries, "TIMEOUT", 0.3)
    silent, other = start_receiver(), start_receiver()
    start = timezone.now()
    silent.delay = 1.0
    slow = [send(site, _spec(silent), FIRED, source=f"s{i}", now=start) for i in range(5)]
    assert {r.status for r in slow} == {Delivery.Status.QUEUED}
    assert {r.last_error for r in slow} == {"timed out"}
    other.answers = [502]
    late = send(site, _spec(other), FIRED, source="other", now=start + dt.timedelta(seconds=5))
    assert late.status == Delivery.Status.QUEUED  # due after the five

    begun = time.monotonic()
    counts = retry_due(now=start + dt.timedelta(seconds=40))
    took = time.monotonic() - begun

    assert counts == {"attempted": 2, "sent": 1, "failed": 0, "skipped": 4, "deleted": 0}
    assert took < 2.0, took  # one timeout, not five
    assert len(silent.requests) == 5 + 1
    assert other.deliveries() == [str(late.id)] * 2
    attempts = Delivery.objects.filter(source__startswith="s").values_list("attempts", flat=True)
    assert sorted(attempts) == [1, 1, 1, 1, 2]
    moved = Delivery.objects.filter(source__startswith="s", attempts=1)
    assert {r.next_attempt_at for r in moved} == {start + dt.timedelta(seconds=70)}

    silent.delay = 0
    retry_due(now=start + dt.timedelta(minutes=5))
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SENT}
    seen = silent.deliveries()
    assert sorted(set(seen)) == sorted(str(r.id) for r in slow)
    assert len(seen) == 5 + 1 + 5  # first attempts, the probe, the five answered


def test_deliveries_skipped_past_their_day_are_given_up(site: Site) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"
    start = timezone.now()
    rows = [
        send(site, {"type": "webhook", "url": url}, FIRED, source="t", now=start) for _ in range(3)
    ]
    day_after = start + dt.timedelta(hours=24, minutes=1)
    Delivery.objects.update(next_attempt_at=day_after)
    counts = retry_due(now=day_after)
    assert counts == {"attempted": 1, "sent": 0, "failed": 3, "skipped": 2, "deleted": 0}
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.FAILED}
    assert all(
        "ConnectionRefusedError" in r.last_error
        for r in Delivery.objects.filter(id__in=[r.id for r in rows])
    )


@pytest.mark.parametrize("data", [{"set": {1, 2}}, {"nan": float("nan")}, {"obj": object()}])
def test_data_json_cannot_hold_is_refused_before_anything_is_stored(
    site: Site, receiver: Receiver, data: dict[str, object]
) -> None:
    message = Message(event="test", subject="s", text="t", data=data)
    with pytest.raises(ValueError, match="cannot be sent as JSON"):
        send(site, _spec(receiver), message, source="test")
    assert not Delivery.objects.exists()
    assert receiver.requests == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 302])
def test_a_permanent_refusal_fails_at_once_and_is_not_retried(
    site: Site, receiver: Receiver, status: int
) -> None:
    receiver.answers = [status]
    start = timezone.now()
    row = send(site, _spec(receiver, secret=SECRET), FIRED, source="alert:12", now=start)

    assert row.status == Delivery.Status.FAILED
    assert row.last_status_code == status
    assert row.last_error.startswith(f"HTTP {status}")
    assert row.next_attempt_at is None and row.finished_at is not None
    for hours in (1, 12, 25):
        assert retry_due(now=start + dt.timedelta(hours=hours))["attempted"] == 0
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [408, 409, 423, 425, 429, 500, 502])
def test_a_refusal_that_may_pass_is_retried(site: Site, receiver: Receiver, status: int) -> None:
    receiver.answers = [status]
    row = send(site, _spec(receiver), FIRED, source="test")
    assert row.status == Delivery.Status.QUEUED
    assert row.next_attempt_at is not None
    assert retry_due(now=row.next_attempt_at)["attempted"] == 1
    row.refresh_from_db()
    assert row.status == Delivery.Status.SENT
    assert len(receiver.requests) == 2


def test_a_finished_delivery_keeps_no_secret(site: Site, receiver: Receiver) -> None:
    receiver.answers = [500]
    row = send(site, _spec(receiver, secret=SECRET), FIRED, source="test")
    # Queued: the secret stays, the retry signs with it.
    assert Delivery.objects.get(id=row.id).spec["secret"] == SECRET
    assert row.next_attempt_at is not None
    retry_due(now=row.next_attempt_at)
    stored = Delivery.objects.get(id=row.id)
    assert stored.status == Delivery.Status.SENT
    assert "secret" not in stored.spec
    assert stored.spec == {"type": "webhook", "url": receiver.url, "format": "json"}
    assert verify(
        SECRET, receiver.requests[1].body, receiver.requests[1].headers["X-Trail-Signature"]
    )
