"""Streaming destinations end to end (docs/destinations.md): events through the real batch
API, spool and flush into chDB and the outbox, forwarded by the real forwarder to a real
local HTTP receiver that verifies every signature, across an outage of the receiver (it
answers 500, then is stopped, then comes back), a forwarder stopped mid-run, and a flush
that died between its ClickHouse insert and its outbox write."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.models import Role
from common import outbound
from events.clickhouse import ClickHouse
from events.destinations import formats, outbox, services
from events.destinations import forward as forwarder
from events.destinations.forward import PAUSE_AFTER, forward
from events.destinations.models import Destination, DestinationBatch
from events.flush import FlushReport, flush_spool
from events.spool import closed_segments, spool
from notify.models import Delivery
from sites.models import Site
from tests import factories
from tests.conftest import send
from tests.events.conftest import rows
from tests.events.destination_receiver import Receiver
from tests.notify.conftest import Inbox, smtp, start_smtp  # noqa: F401 (fixtures)

SECRET = "whsec-test-1"
pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def private_allowed() -> Iterator[None]:
    with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, allow_private_webhooks=True)):
        yield


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(secret=SECRET).start()
    yield found
    found.stop()


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site(f"stream-{uuid.uuid4().hex[:8]}.example.org")


def events(site: Site, count: int, start: int = 0, **extra: Any) -> list[dict[str, Any]]:
    return [
        {
            "domain": site.domain,
            "name": "pageview" if i % 3 else "signup",
            "url": f"https://{site.domain}/page/{i}",
            "ip": f"198.51.100.{i % 200 + 1}",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            "props": {"n": str(i)},
            **extra,
        }
        for i in range(start, start + count)
    ]


def stored_ids(clickhouse: ClickHouse, site: Site) -> set[str]:
    found = rows(
        clickhouse,
        "SELECT toString(event_id) AS id FROM events WHERE site_id = {s:UInt64}",
        s=site.pk,
    )
    return {row["id"] for row in found}


def key_of(site: Site) -> str:
    return factories.api_key(site.organization, scopes=("events:write",))[1]


def test_every_event_reaches_a_signed_webhook_once_by_id_across_an_outage_and_a_stopped_forwarder(
    client: Any,
    site: Site,
    receiver: Receiver,
    flush: Callable[..., FlushReport],
    clickhouse: ClickHouse,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    destination = services.destination_create(
        site=site, fields={"type": "webhook", "url": receiver.url, "secret": SECRET}
    )
    key = key_of(site)
    monkeypatch.setattr(formats, "WEBHOOK_LIMIT", 250)  # several requests a batch

    # 1. all is well
    send(client, key, events(site, 1000))
    flush()
    assert DestinationBatch.objects.filter(destination=destination).count() >= 1
    report = forward(now=T0)
    assert report.events == 1000 and report.failures == 0
    assert len(receiver.unique) == 1000

    # 2. the receiver answers 500: nothing lost, the destination lags and says why
    receiver.status = 500
    send(client, key, events(site, 1000, start=1000))
    flush()
    assert forward(now=T0).failures == 1
    row = services.describe(Destination.objects.get(pk=destination.pk))
    assert row["last_error"].startswith("HTTP 500") and row["pending_events"] == 1000
    assert row["state"] == "active" and row["failing_since"] is not None
    assert forward(now=T0).requests == 0  # not due before its backoff

    # 3. the receiver is down (connection refused) for a while
    receiver.stop()
    assert forward(now=T0 + dt.timedelta(seconds=5)).failures == 1
    failing = Destination.objects.get(pk=destination.pk)
    assert failing.failures == 2 and "Refused" in failing.last_error
    send(client, key, events(site, 1000, start=2000))
    flush()

    # 4. it comes back on the same port; the forwarder stops after its first request (a
    #    worker killed mid-run), and once more right after a request the receiver took
    #    but the forwarder never acknowledged (killed between send and bookkeeping)
    receiver.status = 200
    receiver.start()
    later = T0 + dt.timedelta(minutes=10)
    assert forward(now=later, stop_after_requests=1).events == 250
    real_acknowledge = forwarder._acknowledge
    calls = {"n": 0}

    def dies_once(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker killed after the receiver's answer")
        real_acknowledge(*args, **kwargs)

    monkeypatch.setattr(forwarder, "_acknowledge", dies_once)
    with pytest.raises(RuntimeError, match="worker killed"):
        forward(now=later)
    monkeypatch.setattr(forwarder, "_acknowledge", real_acknowledge)
    while forward(now=later).requests:
        pass

    everything = stored_ids(clickhouse, site)
    assert len(everything) == 3000
    assert receiver.unique == everything  # every event, by its dedup id
    assert receiver.repeated == 250  # only the unacknowledged request came twice
    assert receiver.bad_signatures == 0
    assert not DestinationBatch.objects.filter(destination=destination).exists()
    done = services.describe(Destination.objects.get(pk=destination.pk))
    assert done["pending_events"] == 0 and done["lag_seconds"] == 0
    assert done["events_sent"] == 3000  # acknowledged and done["failing_since"] is None
    request = receiver.requests[-1]
    headers: dict[str, str] = request["headers"]  # type: ignore[assignment]
    assert headers["Content-Type"] == "application/x-ndjson"
    assert headers["X-Trail-Site"] == site.domain
    assert headers["X-Trail-Columns-Version"] == "1"


def test_a_line_is_the_exports_column_set(
    client: Any, site: Site, receiver: Receiver, flush: Callable[..., FlushReport]
) -> None:
    import json

    services.destination_create(site=site, fields={"type": "webhook", "url": receiver.url})
    receiver.secret = ""
    send(client, key_of(site), events(site, 1, revenue={"amount": "12.5", "currency": "EUR"}))
    flush()
    forward(now=T0)
    [line] = receiver.requests[0]["body"].decode().splitlines()  # type: ignore[union-attr]
    event = json.loads(line)
    assert list(event) == [
        "event_id", "timestamp", "name", "page", "hostname", "referrer", "source", "channel",
        "utm_medium", "utm_source", "utm_campaign", "utm_content", "utm_term", "click_id_param",
        "country", "region", "city", "device", "browser", "browser_version", "os", "os_version",
        "screen", "props", "revenue_amount", "revenue_currency", "interactive", "visitor_id",
        "visit_id", "scroll_depth", "engaged_ms",
    ]  # fmt: skip
    assert event["name"] == "signup" and event["page"] == "/page/0"
    assert event["props"] == {"n": "0"} and event["browser"] == "Firefox"
    assert event["timestamp"].endswith("Z") and event["visit_id"] != 0
    assert event["scroll_depth"] is None
    assert "X-Trail-Signature" not in receiver.requests[0]["headers"]  # no secret: unsigned


def test_a_flush_that_died_between_its_insert_and_the_outbox_loses_nothing(
    client: Any,
    site: Site,
    receiver: Receiver,
    clickhouse: ClickHouse,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The flush stored the segment in ClickHouse, then died before queueing it: the segment
    stays, the next flush stores it again (deduplicated) and queues it; client-given event
    ids, which the second run finds already stored, are queued too."""
    destination = services.destination_create(
        site=site, fields={"type": "webhook", "url": receiver.url, "secret": SECRET}
    )
    given = [str(uuid.uuid4()) for _ in range(100)]
    batch = events(site, 200)
    for event, event_id in zip(batch, given, strict=False):
        event["event_id"] = event_id
    send(client, key_of(site), batch)
    spool().rotate()

    def dies(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("killed between the insert and the outbox")

    monkeypatch.setattr(outbox, "enqueue", dies)
    with pytest.raises(RuntimeError, match="killed"):
        flush_spool(client=clickhouse)
    assert len(stored_ids(clickhouse, site)) == 200  # stored...
    assert not DestinationBatch.objects.exists()  # ...not queued
    monkeypatch.undo()

    flush_spool(client=clickhouse)  # the segment again
    assert len(stored_ids(clickhouse, site)) == 200
    [count] = rows(
        clickhouse, "SELECT count() AS n FROM events WHERE site_id = {s:UInt64}", s=site.pk
    )
    assert count["n"] == 200  # stored once
    forward(now=T0)
    assert receiver.unique == stored_ids(clickhouse, site)
    assert len(receiver.unique) == 200  # the 100 with client-given ids among them
    assert not DestinationBatch.objects.filter(destination=destination).exists()


def test_a_segment_flushed_again_after_its_outbox_write_is_queued_once(
    client: Any, site: Site, receiver: Receiver, clickhouse: ClickHouse, tmp_path: Path
) -> None:
    destination = services.destination_create(
        site=site, fields={"type": "webhook", "url": receiver.url}
    )
    send(client, key_of(site), events(site, 50))
    spool().rotate()
    mine = [p for p in closed_segments() if site.domain.encode() in p.read_bytes()]
    assert mine
    kept = {p: tmp_path / p.name for p in mine}
    for path, copy in kept.items():
        shutil.copy(path, copy)
    flush_spool(client=clickhouse)
    queued = DestinationBatch.objects.filter(destination=destination).count()
    for path, copy in kept.items():  # as if the flush died before deleting the segment
        shutil.copy(copy, path)
    flush_spool(client=clickhouse)
    assert DestinationBatch.objects.filter(destination=destination).count() == queued
    receiver.secret = ""
    forward(now=T0)
    assert len(receiver.unique) == 50 and receiver.repeated == 0


def test_events_go_only_to_their_sites_destinations(
    client: Any,
    make_site: Callable[..., Site],
    receiver: Receiver,
    flush: Callable[..., FlushReport],
) -> None:
    receiver.secret = ""
    one = make_site(f"one-{uuid.uuid4().hex[:6]}.example.org")
    other = make_site(f"other-{uuid.uuid4().hex[:6]}.example.org")
    services.destination_create(site=one, fields={"type": "webhook", "url": receiver.url})
    send(client, key_of(one), events(one, 7))
    send(client, key_of(other), events(other, 9))
    flush()
    forward(now=T0)
    assert len(receiver.unique) == 7
    assert {r["headers"]["X-Trail-Site"] for r in receiver.requests} == {one.domain}  # type: ignore[index]


def test_a_4xx_is_retried_and_its_answer_shown(
    client: Any, site: Site, receiver: Receiver, flush: Callable[..., FlushReport]
) -> None:
    destination = services.destination_create(
        site=site, fields={"type": "webhook", "url": receiver.url}
    )
    receiver.secret = ""
    receiver.answers = [(422, b'{"error": "field x is unknown"}')]
    send(client, key_of(site), events(site, 20))
    flush()
    assert forward(now=T0).failures == 1
    shown = services.describe(Destination.objects.get(pk=destination.pk))
    assert shown["last_error"] == 'HTTP 422: {"error": "field x is unknown"}'
    assert shown["pending_events"] == 20
    forward(now=T0 + dt.timedelta(seconds=2))
    assert len(receiver.unique) == 20
    assert services.describe(Destination.objects.get(pk=destination.pk))["pending_events"] == 0


def test_mixpanel_gets_its_import_shape_with_the_event_id_as_insert_id(
    client: Any, site: Site, flush: Callable[..., FlushReport], clickhouse: ClickHouse
) -> None:
    mixpanel = Receiver(mixpanel=True, token="project-token-1").start()
    try:
        destination = services.destination_create(
            site=site, fields={"type": "mixpanel", "token": "project-token-1", "url": mixpanel.url}
        )
        send(client, key_of(site), events(site, 2500, referrer="https://news.ycombinator.com/"))
        flush()
        report = forward(now=T0)
        assert report.failures == 0 and report.requests == 2  # at most 2,000 events a request
        assert mixpanel.unique == stored_ids(clickhouse, site)
        first = mixpanel.requests[0]
        assert first["path"] == "/import?strict=1"
        assert first["headers"]["Content-Type"] == "application/x-ndjson"  # type: ignore[index]
        import json

        event = json.loads(first["body"].decode().splitlines()[0])  # type: ignore[union-attr]
        assert event["event"] == "signup"
        properties = event["properties"]
        assert properties["$insert_id"] in mixpanel.unique
        assert isinstance(properties["distinct_id"], str) and properties["distinct_id"]
        assert isinstance(properties["time"], int) and properties["time"] > 1_700_000_000_000
        assert properties["$browser"] == "Firefox" and properties["n"] == "0"
        assert properties["$referrer"] == "news.ycombinator.com"  # as stored
        assert properties["page"] == "/page/0"
        assert "token" not in properties  # the token authenticates, as Basic auth

        # a strict 400 ingests the valid events: the refused ones are not retried, but said
        send(client, key_of(site), events(site, 3, start=5000))
        flush()
        refusal = {
            "code": 400,
            "error": "some data points in the request failed validation",
            "failed_records": [{"index": 0, "insert_id": "x", "field": "properties.time",
                                "message": "'properties.time' is invalid"}],
            "num_records_imported": 2,
            "status": "Bad Request",
        }  # fmt: skip
        import json as _json

        mixpanel.answers = [(400, _json.dumps(refusal).encode())]
        assert forward(now=T0).failures == 0
        shown = services.describe(Destination.objects.get(pk=destination.pk))
        assert shown["pending_events"] == 0
        assert shown["last_error"].startswith("Mixpanel refused 1 event(s)")

        # a wrong token is an error the owner can fix: retried, not dropped
        Destination.objects.filter(pk=destination.pk).update(secret="wrong")
        send(client, key_of(site), events(site, 3, start=6000))
        flush()
        assert forward(now=T0).failures == 1
        assert "401" in Destination.objects.get(pk=destination.pk).last_error
    finally:
        mixpanel.stop()


def test_after_a_day_of_failures_it_is_paused_the_owners_are_mailed_and_a_resume_continues(
    client: Any,
    site: Site,
    receiver: Receiver,
    flush: Callable[..., FlushReport],
    clickhouse: ClickHouse,
    smtp: Inbox,  # noqa: F811 (the imported fixture)
) -> None:
    factories.member(site.organization, Role.ADMIN)  # admins are not mailed
    owners = list(
        site.organization.memberships.filter(role=Role.OWNER).values_list("user__email", flat=True)
    )
    destination = services.destination_create(
        site=site, fields={"type": "webhook", "url": receiver.url, "secret": SECRET}
    )
    receiver.status = 503
    send(client, key_of(site), events(site, 30))
    flush()
    forward(now=T0)
    forward(now=T0 + dt.timedelta(hours=23, minutes=59))
    assert Destination.objects.get(pk=destination.pk).state == "active"
    report = forward(now=T0 + PAUSE_AFTER + dt.timedelta(minutes=1))
    assert report.paused == [destination.pk]
    paused = Destination.objects.get(pk=destination.pk)
    assert paused.state == "paused" and "after 24 h of failures" in paused.paused_reason
    assert "HTTP 503" in paused.paused_reason
    [mail] = smtp.mails
    assert sorted(mail[1]) == sorted(owners)
    assert b"paused a destination of " + site.domain.encode() in mail[2]
    assert Delivery.objects.filter(source=f"destination:{destination.pk}").exists()

    # paused: nothing is sent, but new events still wait for it
    receiver.status = 200
    send(client, key_of(site), events(site, 30, start=30))
    flush()
    assert forward(now=T0 + dt.timedelta(days=2)).requests == 0
    assert services.describe(paused)["pending_events"] == 60

    answer = client.patch(
        f"/api/v1/sites/{site.domain}/destinations/{destination.pk}",
        data='{"state": "active"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {factories.api_key(site.organization)[1]}",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["state"] == "active" and answer.json()["paused_reason"] is None
    forward(now=T0 + dt.timedelta(days=2))
    assert receiver.unique == stored_ids(clickhouse, site) and len(receiver.unique) == 60
    assert len(smtp.mails) == 1


def test_a_site_without_destinations_queues_nothing(
    client: Any, site: Site, flush: Callable[..., FlushReport]
) -> None:
    send(client, key_of(site), events(site, 10))
    flush()
    assert not DestinationBatch.objects.exists()


def test_backoff_doubles_up_to_ten_minutes() -> None:
    assert [forwarder.backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert forwarder.backoff(30) == 600.0


def test_the_url_is_checked_again_when_sending(
    client: Any, site: Site, receiver: Receiver, flush: Callable[..., FlushReport]
) -> None:
    """Saved while private addresses were allowed; sent after that was turned off: refused
    (SSRF), kept, retried."""
    destination = services.destination_create(
        site=site, fields={"type": "webhook", "url": receiver.url}
    )
    send(client, key_of(site), events(site, 5))
    flush()
    with override_settings(TRAIL=dataclasses.replace(settings.TRAIL, allow_private_webhooks=False)):
        assert forward(now=T0).failures == 1
    refused = Destination.objects.get(pk=destination.pk)
    assert "public addresses" in refused.last_error
    assert receiver.requests == []


def test_events_waiting_over_a_week_are_dropped_and_said(
    client: Any, site: Site, receiver: Receiver, flush: Callable[..., FlushReport]
) -> None:
    destination = services.destination_create(
        site=site, fields={"type": "webhook", "url": receiver.url, "state": "paused"}
    )
    send(client, key_of(site), events(site, 8))
    flush()
    now = dt.datetime.now(dt.UTC)
    assert forwarder.expire(now=now + dt.timedelta(days=6)) == 0
    assert forwarder.expire(now=now + dt.timedelta(days=7, minutes=1)) == 8
    assert not DestinationBatch.objects.filter(destination=destination).exists()
    said = Destination.objects.get(pk=destination.pk).last_error
    assert said == "8 event(s) waited over 7 days and were dropped"


def test_a_sites_destinations_at_one_place_share_one_body_each_signed_with_its_secret(
    client: Any,
    site: Site,
    flush: Callable[..., FlushReport],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three webhook destinations of one site get the same bytes, made once per request
    (`formats.webhook_body` is counted, not replaced); a fourth that is behind gets its
    own bodies, with the same events."""
    receivers = [Receiver(secret=f"whsec-{n}").start() for n in range(4)]
    try:
        monkeypatch.setattr(formats, "WEBHOOK_LIMIT", 300)  # 2 requests for 500 events
        made: list[int] = []
        real = formats.webhook_body

        def counted(lines: list[bytes]) -> bytes:
            made.append(len(lines))
            return real(lines)

        monkeypatch.setattr(formats, "webhook_body", counted)
        key = key_of(site)
        late = services.destination_create(
            site=site, fields={"type": "webhook", "url": receivers[3].url, "secret": "whsec-3"}
        )
        receivers[3].status = 500  # `late` falls behind by a batch of 100
        send(client, key, events(site, 100))
        flush()
        assert forward(now=T0).failures == 1
        receivers[3].status = 200
        for n in range(3):
            services.destination_create(
                site=site,
                fields={"type": "webhook", "url": receivers[n].url, "secret": f"whsec-{n}"},
            )
        send(client, key, events(site, 500, start=100))
        flush()
        made.clear()

        report = forward(now=T0 + dt.timedelta(minutes=1))

        assert report.failures == 0 and report.events == 600 + 3 * 500
        bodies = [[r["body"] for r in receiver.requests] for receiver in receivers[:3]]
        assert bodies[0] == bodies[1] == bodies[2] and len(bodies[0]) == 2
        assert all(receiver.bad_signatures == 0 for receiver in receivers)
        signatures = {r.requests[0]["headers"][outbound.SIGNATURE_HEADER] for r in receivers[:3]}
        assert len(signatures) == 3  # one body, three secrets
        # `late` (the oldest, first): 100 + 200 then 300 lines; the three: 300 then 200, once.
        assert made == [300, 300, 300, 200]
        assert len(receivers[0].unique) == 500 and len(receivers[3].unique) == 600
        assert receivers[3].unique > receivers[0].unique
        assert late.pk not in report.paused
    finally:
        for receiver in receivers:
            receiver.stop()
