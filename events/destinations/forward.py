"""The forwarder: each active destination's oldest batches, sent in order (docs/destinations.md).

A periodic job (`events.destinations.forward`, every second): Celery beat runs it on a
worker in services mode; in embedded mode the job thread hands it to a thread of its own,
so the flush (on the job thread) never waits for a receiver.

Per destination, one sender at a time (a Redis lock in services mode, a thread lock in
embedded mode), for at most `RUN_SECONDS` a run:

- the pending lines of its oldest batches, up to the type's limit a request
  (`formats.WEBHOOK_LIMIT`, `formats.MIXPANEL_LIMIT`), are POSTed through
  `common.outbound.post` (the SSRF rule checked again, the address pinned); a batch is
  deleted once all its lines are sent, and `sent` records a part sent, so a stop between
  two requests resends nothing already acknowledged;
- an answer that is not a success (no answer, a timeout, 5xx, and 4xx too: a receiver's
  4xx is most often a configuration the owner can fix) leaves the batch in place and
  schedules the next try after a backoff (1 s doubling to 10 min); the error is kept;
- after `PAUSE_AFTER` (24 h) of failures in a row the destination is paused, its reason
  kept, and the site's owners are mailed (through `notify`); its batches keep growing
  until it is resumed, when it continues from its oldest unsent event.

Mixpanel's `/import` with `strict=1` answers 400 with `failed_records` when some events of
a request fail its validation and ingests the rest: those are not retried (they would
fail again); the destination's last error names them.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import gzip
import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import F, Q

from common import outbound
from events import locks
from events.destinations import formats
from events.destinations.models import Destination, DestinationBatch
from events.jobs import periodic

logger = logging.getLogger(__name__)

FORWARD_JOB = "events.destinations.forward"
RUN_SECONDS = 5.0  # a destination's share of one run
LOCK_SECONDS = 30  # a sender killed mid-run blocks its destination for at most this long
# (a run: RUN_SECONDS, then at most one more request of up to 2 x TIMEOUT)
PAUSE_AFTER = dt.timedelta(hours=24)
FIRST_BACKOFF = 1.0  # seconds
MAX_BACKOFF = 600.0
BATCHES_AT_ONCE = 50  # batches read per query
TIMEOUT = 10.0  # seconds to connect, and again for the answer


@dataclass
class ForwardReport:
    destinations: int = 0
    requests: int = 0
    events: int = 0
    failures: int = 0
    paused: list[int] = field(default_factory=list)


def backoff(failures: int) -> float:
    """Seconds before the next try after `failures` failures in a row."""
    return min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(0, failures - 1))


@contextlib.contextmanager
def _sender_lock(destination_id: int) -> Iterator[bool]:
    with locks.held(f"trail:destination:{destination_id}", LOCK_SECONDS) as renew:
        yield renew is not None


def _due(now: dt.datetime) -> list[Destination]:
    waiting = DestinationBatch.objects.values("destination_id")
    return list(
        Destination.objects.filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
            state=Destination.State.ACTIVE,
            site__deleted_at__isnull=True,
            id__in=waiting,
        )
        .select_related("site")
        .order_by("id")
    )


def forward(
    *,
    now: dt.datetime | None = None,
    budget: float = RUN_SECONDS,
    timeout: float = TIMEOUT,
    stop_after_requests: int | None = None,
) -> ForwardReport:
    """Send what is due; what was done. `now` is the moment the run's decisions use
    (backoff, the 24 h pause); `stop_after_requests` ends a destination's turn after that
    many requests (tests: a forwarder stopped mid-run)."""
    report = ForwardReport()
    moment = now or dt.datetime.now(dt.UTC)
    bodies = _Bodies()
    for destination in _due(moment):
        with _sender_lock(destination.pk) as held:
            if not held:
                continue
            report.destinations += 1
            _send_pending(
                destination,
                moment,
                report,
                bodies,
                deadline=time.monotonic() + budget,
                timeout=timeout,
                max_requests=stop_after_requests,
            )
    return report


@dataclass
class _Part:
    batch: DestinationBatch
    end: int  # the batch's line count once this request is through
    complete: bool


def _lines(batch: DestinationBatch) -> tuple[list[bytes], bytes]:
    """A batch's lines, and a digest of them (the destinations of one site get the very
    same payload for a segment)."""
    payload = bytes(batch.payload)
    digest = hashlib.blake2b(payload, digest_size=16).digest()
    return gzip.decompress(payload).split(b"\n")[:-1], digest


class _Bodies:
    """The request bodies of one run, by what they hold: a site's destinations of one type
    that stand at the same place in the same batches send the same bytes (only headers and
    signature differ), so the body is made once. Bounded: past `LIMIT` bytes, made anew."""

    LIMIT = 64 * 1024 * 1024

    def __init__(self) -> None:
        self._made: dict[tuple[object, ...], bytes] = {}
        self._bytes = 0

    def body(self, kind: str, key: tuple[object, ...], lines: list[bytes]) -> bytes:
        found = self._made.get((kind, *key))
        if found is None:
            if kind == Destination.Type.MIXPANEL:
                found = formats.mixpanel_body(lines)
            else:
                found = formats.webhook_body(lines)
            if self._bytes + len(found) <= self.LIMIT:
                self._made[(kind, *key)] = found
                self._bytes += len(found)
        return found


def _send_pending(
    destination: Destination,
    now: dt.datetime,
    report: ForwardReport,
    bodies: _Bodies,
    *,
    deadline: float,
    timeout: float,
    max_requests: int | None,
) -> None:
    limit = (
        formats.MIXPANEL_LIMIT
        if destination.type == Destination.Type.MIXPANEL
        else (formats.WEBHOOK_LIMIT)
    )
    requests = 0
    after = 0  # the last batch id read
    carried: list[tuple[DestinationBatch, list[bytes], bytes]] = []
    while time.monotonic() < deadline and (max_requests is None or requests < max_requests):
        if not carried:
            batches = list(
                DestinationBatch.objects.filter(destination=destination, id__gt=after).order_by(
                    "id"
                )[:BATCHES_AT_ONCE]
            )
            if not batches:
                return
            after = batches[-1].pk
            carried = [(b, *_lines(b)) for b in batches]
        body_lines: list[bytes] = []
        parts: list[_Part] = []
        holds: list[tuple[bytes, int, int]] = []  # (batch digest, first line, end) per part
        while carried and len(body_lines) < limit:
            batch, lines, digest = carried[0]
            room = limit - len(body_lines)
            take = lines[batch.sent : batch.sent + room]
            body_lines += take
            end = batch.sent + len(take)
            parts.append(_Part(batch, end, end >= len(lines)))
            holds.append((digest, batch.sent, end))
            if end >= len(lines):
                carried.pop(0)
            else:
                break  # this batch goes on in the next request
        requests += 1
        report.requests += 1
        if not body_lines:  # batches of no lines (cannot happen): drop them
            _acknowledge(destination, parts, 0, now)
            continue
        body = bodies.body(destination.type, tuple(holds), body_lines)
        delivery = _post(destination, body, timeout)
        problem = _problem(destination, delivery)
        if problem is not None:
            report.failures += 1
            if _failed(destination, problem, now):
                report.paused.append(destination.pk)
            return
        _acknowledge(destination, parts, len(body_lines), now, note=_partial(destination, delivery))
        report.events += len(body_lines)
        for part in parts:
            part.batch.sent = part.end


def _post(destination: Destination, body: bytes, timeout: float) -> outbound.Delivery:
    if destination.type == Destination.Type.MIXPANEL:
        token = base64.b64encode(f"{destination.secret}:".encode()).decode()
        headers = {
            "Content-Type": "application/x-ndjson",
            "Authorization": f"Basic {token}",
            "Accept": "application/json",
        }
        return outbound.post(mixpanel_url(destination.url), body, headers, timeout=timeout)
    headers = {
        "Content-Type": "application/x-ndjson",
        "X-Trail-Site": destination.site.domain,
        "X-Trail-Destination": str(destination.pk),
        "X-Trail-Columns-Version": formats.COLUMNS_VERSION,
    }
    if destination.secret:
        headers[outbound.SIGNATURE_HEADER] = outbound.sign(destination.secret, body)
    return outbound.post(destination.url, body, headers, timeout=timeout)


def mixpanel_url(url: str) -> str:
    """The URL with `strict=1` (Mixpanel then names the events it refuses) unless the
    owner set `strict` themselves."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if not any(key == "strict" for key, _ in query):
        query.append(("strict", "1"))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _mixpanel_refusals(delivery: outbound.Delivery) -> list[dict[str, object]] | None:
    """The refused events of a strict 400 (the rest were ingested), else None."""
    if delivery.status != 400:
        return None
    try:
        answer = orjson.loads(delivery.answer)
    except ValueError:
        return None
    failed = answer.get("failed_records") if isinstance(answer, dict) else None
    return failed if isinstance(failed, list) else None


def _problem(destination: Destination, delivery: outbound.Delivery) -> str | None:
    """Why the request did not deliver, or None."""
    if delivery.ok:
        return None
    if destination.type == Destination.Type.MIXPANEL and _mixpanel_refusals(delivery) is not None:
        return None
    if delivery.status is None:
        return delivery.error or "no answer"
    answer = " ".join(delivery.answer.split())[:300]
    return f"HTTP {delivery.status}" + (f": {answer}" if answer else "")


def _partial(destination: Destination, delivery: outbound.Delivery) -> str:
    refused = _mixpanel_refusals(delivery) if destination.type == "mixpanel" else None
    if not refused:
        return ""
    first = refused[0] if isinstance(refused[0], dict) else {}
    return (
        f"Mixpanel refused {len(refused)} event(s) of a request (not retried): "
        f"{first.get('field', '')} {first.get('message', '')}".strip()
    )[:500]


def _acknowledge(
    destination: Destination, parts: list[_Part], events: int, now: dt.datetime, note: str = ""
) -> None:
    done = [part.batch.pk for part in parts if part.complete]
    if done:
        DestinationBatch.objects.filter(pk__in=done).delete()
    for part in parts:
        if not part.complete:
            DestinationBatch.objects.filter(pk=part.batch.pk).update(sent=part.end)
    changes: dict[str, object] = {
        "events_sent": F("events_sent") + events,
        "last_success_at": now,
        "failures": 0,
        "failing_since": None,
        "next_attempt_at": None,
    }
    if note:
        changes.update(last_error=note, last_error_at=now)
    Destination.objects.filter(pk=destination.pk).update(**changes)


def _failed(destination: Destination, problem: str, now: dt.datetime) -> bool:
    """Record a failure; pause the destination after a day of them. True if paused."""
    current = Destination.objects.filter(pk=destination.pk).first()
    if current is None:
        return False
    failures = current.failures + 1
    since = current.failing_since or now
    Destination.objects.filter(pk=destination.pk).update(
        failures=failures,
        failing_since=since,
        last_error=problem[:2000],
        last_error_at=now,
        next_attempt_at=now + dt.timedelta(seconds=backoff(failures)),
    )
    logger.warning("destination %s: %s (failure %d in a row)", destination.pk, problem, failures)
    if now - since < PAUSE_AFTER:
        return False
    hours = int((now - since).total_seconds() // 3600)
    reason = f"paused after {hours} h of failures; last error: {problem}"[:500]
    paused = Destination.objects.filter(pk=destination.pk, state=Destination.State.ACTIVE).update(
        state=Destination.State.PAUSED, paused_reason=reason
    )
    if paused:
        _tell_owners(destination, reason, now)
    return bool(paused)


def _tell_owners(destination: Destination, reason: str, now: dt.datetime) -> None:
    """Mail the site's owners that the destination was paused (through notify)."""
    from accounts.models import Membership, Role

    site = destination.site
    owners = Membership.objects.filter(
        organization_id=site.organization_id, role=Role.OWNER
    ).values_list("user__email", flat=True)
    base = settings.TRAIL.base_url.rstrip("/")
    page = f"{base}/sites/{site.domain}/destinations"
    what = "Mixpanel" if destination.type == Destination.Type.MIXPANEL else destination.url
    text = (
        f"Trail stopped forwarding the events of {site.domain} to {what}: {reason}.\n\n"
        "Nothing is lost: the events wait for the destination. Once the receiver works again,"
        f" resume it on {page} and it continues from the oldest event it has not received.\n"
    )
    from notify import channels, messages

    for email in owners:
        try:
            channels.send(
                site,
                {"type": "email", "to": email},
                messages.Message(
                    event="destination.paused",
                    subject=f"Trail paused a destination of {site.domain}",
                    text=text,
                    data={
                        "site": site.domain,
                        "destination": destination.pk,
                        "type": destination.type,
                        "reason": reason,
                    },
                ),
                source=f"destination:{destination.pk}",
                now=now,
            )
        except Exception:
            logger.exception("could not mail %s about destination %s", email, destination.pk)


# --- the outbox's limit -----------------------------------------------------------------------

OUTBOX_DAYS = 7  # events waiting longer than this for a destination are dropped
EXPIRE_JOB = "events.destinations.expire"


@periodic(every=3600.0, name=EXPIRE_JOB)
def expire(*, now: dt.datetime | None = None) -> int:
    """Drop the batches that waited over `OUTBOX_DAYS` (a destination paused and forgotten
    must not fill the database); the destination's last error says how many events went.
    How many events were dropped."""
    moment = now or dt.datetime.now(dt.UTC)
    old = DestinationBatch.objects.filter(created_at__lt=moment - dt.timedelta(days=OUTBOX_DAYS))
    dropped = 0
    by_destination: dict[int, int] = {}
    for destination_id, events, sent in old.values_list("destination_id", "events", "sent"):
        by_destination[destination_id] = by_destination.get(destination_id, 0) + events - sent
    for destination_id, count in by_destination.items():
        gone, _ = old.filter(destination_id=destination_id).delete()
        if not gone:
            continue
        dropped += count
        Destination.objects.filter(pk=destination_id).update(
            last_error=f"{count} event(s) waited over {OUTBOX_DAYS} days and were dropped",
            last_error_at=moment,
        )
        logger.warning(
            "destination %s: dropped %d events older than %d days",
            destination_id,
            count,
            OUTBOX_DAYS,
        )
    return dropped


# --- the periodic job ------------------------------------------------------------------------


@periodic(every=1.0, name=FORWARD_JOB, outbound=True)
def forward_job() -> ForwardReport:
    """Forward what is due: on a Celery worker, or in the embedded job thread's outbound
    lane (`events.job_thread`), so the flush never waits for a receiver."""
    try:
        return forward()
    finally:  # as the data jobs' task: no idle connection held between runs
        connection.close()
