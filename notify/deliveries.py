"""Deliveries: a message rendered once for its channel, stored, sent, and retried.

`deliver` stores a `Delivery` row with the exact bytes to send (the whole MIME message for
mail, the JSON body for a webhook) and makes the first attempt at once. A failed attempt
(a non-2xx answer, a timeout, a refused connection, an SMTP error) is retried with
exponential backoff — 30 s, 1 min, 2 min, … capped at 1 h — until a day after the
delivery was made; then it is `failed` with the last reason. Every retry sends the same
bytes with the same `X-Trail-Delivery` id, so a receiver can drop duplicates
(docs/webhooks.md, docs/notifications.md).

`retry_due` is the periodic job (every minute): it retries what is due, within a time
budget, and deletes deliveries older than 30 days. It is registered with
`events.jobs.periodic` from a layer above this one (notify may not import events).

Attempts are claimed with one conditional UPDATE (status queued and due → next attempt
pushed a lease ahead, attempts + 1), so two runners (two Celery workers, or `deliver` and
the job) never send the same attempt twice; an attempt whose runner dies is taken over
when its lease runs out.
"""

from __future__ import annotations

import datetime as dt
import email.message
import email.policy
import email.utils
import json
import logging
import re
import smtplib
import time
from dataclasses import dataclass
from email.parser import BytesParser
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F
from django.utils import timezone

from common import outbound
from notify.messages import MAX_SUBJECT, Message
from notify.models import Delivery
from sites.models import Site

logger = logging.getLogger(__name__)

FIRST_RETRY = dt.timedelta(seconds=30)  # after the first failed attempt; doubles each time
MAX_RETRY = dt.timedelta(hours=1)
GIVE_UP_AFTER = dt.timedelta(hours=24)  # from the delivery's creation
KEEP = dt.timedelta(days=30)  # deliveries older than this are deleted
LEASE = dt.timedelta(minutes=5)  # longer than any one attempt can take
TIMEOUT = outbound.TIMEOUT  # a webhook's connect, and again its answer (seconds)
BATCH = 500  # deliveries one retry_due run looks at
BUDGET = 20.0  # seconds one retry_due run may spend sending; the rest wait for the next
MAX_WEBHOOK_BODY = 1024 * 1024
MAX_MAIL_BYTES = 20 * 1024 * 1024
ERROR_CHARS = 1000  # of a failure's reason kept in last_error

EVENT_HEADER = "X-Trail-Event"
DELIVERY_HEADER = "X-Trail-Delivery"
ATTEMPT_HEADER = "X-Trail-Attempt"


def deliver(
    *,
    site: Site,
    spec: dict[str, str],
    message: Message,
    source: str,
    now: dt.datetime | None = None,
) -> Delivery:
    """Store the delivery of `message` to the (validated) channel `spec` and attempt it at
    once; the row says how that went (sent, or queued for a retry)."""
    now = now or timezone.now()
    row = Delivery(
        site=site,
        channel=spec["type"],
        target=spec["to"] if spec["type"] == Delivery.Channel.EMAIL else spec["url"],
        spec=spec,
        source=source[:100],
        event=message.event[:64],
        subject=_one_line(message.subject)[:MAX_SUBJECT],
        created_at=now,
        attempts=1,  # the first attempt, claimed by this call (see attempt)
        next_attempt_at=now + LEASE,
    )
    if row.channel == Delivery.Channel.EMAIL:
        row.body = render_mail(message, to=row.target, delivery_id=str(row.id), when=now)
        if len(row.body) > MAX_MAIL_BYTES:
            raise ValueError(f"the mail is larger than {MAX_MAIL_BYTES} bytes")
    else:
        row.body = render_webhook(message, site=site, fmt=spec.get("format", "json"), when=now)
        if len(row.body) > MAX_WEBHOOK_BODY:
            raise ValueError(f"the webhook body is larger than {MAX_WEBHOOK_BODY} bytes")
    row.save(force_insert=True)
    _make_attempt(row, now)
    return row


def attempt(delivery_id: Any, *, now: dt.datetime | None = None) -> Delivery | None:
    """Make the next attempt of one delivery if it is due and nobody else is making it;
    None when it was not ours to make."""
    now = now or timezone.now()
    claimed = Delivery.objects.filter(
        id=delivery_id, status=Delivery.Status.QUEUED, next_attempt_at__lte=now
    ).update(next_attempt_at=now + LEASE, attempts=F("attempts") + 1)
    if not claimed:
        return None
    row = Delivery.objects.filter(id=delivery_id).first()
    if row is None:  # deleted meanwhile (its site went)
        return None
    _make_attempt(row, now)
    return row


def _make_attempt(row: Delivery, now: dt.datetime) -> None:
    """Send a claimed delivery once and write down how it went."""
    try:
        if row.channel == Delivery.Channel.EMAIL:
            outcome = _send_mail(row)
        else:
            outcome = _send_webhook(row)
    except Exception as exc:  # a bug or a backend's surprise: logged, retried like a failure
        logger.exception("delivery %s to %s: the attempt raised", row.id, row.target)
        outcome = _Outcome(False, None, f"{type(exc).__name__}: {exc}", 0.0)
    _record(row, outcome, now)


def retry_due(*, now: dt.datetime | None = None) -> dict[str, int]:
    """The periodic job: retry the deliveries that are due (oldest due first, for at most
    BUDGET seconds), give up those past their day, delete those older than 30 days.

    A server that did not answer at all (a timeout, a refused connection) is not tried
    again in the same run: its other due deliveries wait 30 s more, so one dead endpoint
    costs one timeout per run, not one per delivery, and holds nobody else up. `now`
    stands for the clock in tests; otherwise each attempt reads it."""
    given = now
    now = now or timezone.now()
    start = time.monotonic()
    due = list(
        Delivery.objects.filter(status=Delivery.Status.QUEUED, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("id", "channel", "target", "created_at")[:BATCH]
    )
    counts = {"attempted": 0, "sent": 0, "failed": 0, "skipped": 0, "deleted": 0}
    silent: set[str] = set()  # servers that did not answer in this run
    for delivery_id, channel, target, created_at in due:
        if time.monotonic() - start > BUDGET:
            break
        server = _server(channel, target)
        if server in silent:
            counts["skipped"] += 1
            counts["failed"] += _postpone(delivery_id, created_at + GIVE_UP_AFTER, now)
            continue
        row = attempt(delivery_id, now=given or timezone.now())
        if row is None:
            continue
        counts["attempted"] += 1
        if row.status == Delivery.Status.SENT:
            counts["sent"] += 1
            continue
        if row.status == Delivery.Status.FAILED:
            counts["failed"] += 1
        if row.last_status_code is None:
            silent.add(server)
    counts["deleted"], _ = Delivery.objects.filter(created_at__lt=now - KEEP).delete()
    if counts["attempted"] or counts["deleted"]:
        logger.info("notify: %s in %.1f s", counts, time.monotonic() - start)
    return counts


def _postpone(delivery_id: Any, deadline: dt.datetime, now: dt.datetime) -> int:
    """A due delivery to a server that just did not answer: tried again in the next run
    (moved back in the queue, so other servers' deliveries are not stuck behind it), or
    given up untried once its day is over (1; else 0)."""
    pending = Delivery.objects.filter(
        id=delivery_id, status=Delivery.Status.QUEUED, next_attempt_at__lte=now
    )
    if now >= deadline:
        return pending.update(status=Delivery.Status.FAILED, next_attempt_at=None, finished_at=now)
    pending.update(next_attempt_at=min(now + FIRST_RETRY, deadline))
    return 0


def _server(channel: str, target: str) -> str:
    """Who answers a delivery: the mail server for every mail, a webhook URL's host."""
    if channel == Delivery.Channel.EMAIL:
        return "mail"
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}".lower()


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after `attempts` failed attempts: 30 s, 1 min, 2 min, … ≤ 1 h."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


# --- rendering -------------------------------------------------------------------------


def render_webhook(message: Message, *, site: Site, fmt: str, when: dt.datetime) -> bytes:
    """The webhook's body: Trail's JSON (`event`, `site`, `sent_at`, `data`) or, for
    `slack`, Slack's incoming-webhook shape `{"text": …}`."""
    payload: dict[str, object]
    if fmt == "slack":
        payload = {"text": slack_text(message)}
    else:
        payload = {
            "event": message.event,
            "site": site.domain,
            "sent_at": when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "data": message.data,
        }
    try:
        text = json.dumps(
            payload,
            cls=DjangoJSONEncoder,
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the message's data cannot be sent as JSON: {exc}") from None
    return text.encode()


def slack_text(message: Message) -> str:
    """The subject in bold over the plain text, escaped as Slack asks (&, <, >)."""

    def escape(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    subject = escape(_one_line(message.subject))
    return f"*{subject}*\n{escape(message.text)}" if message.text else f"*{subject}*"


def render_mail(message: Message, *, to: str, delivery_id: str, when: dt.datetime) -> bytes:
    """The whole mail as sent: plain text, and the HTML alternative with its inline images
    (multipart/related, each image's Content-ID the id `cid:` names)."""
    mail = email.message.EmailMessage(policy=email.policy.default)  # \n; \r\n when sent
    mail["Subject"] = _one_line(message.subject)[:MAX_SUBJECT]
    mail["From"] = settings.DEFAULT_FROM_EMAIL
    mail["To"] = to
    mail["Date"] = email.utils.format_datetime(when.astimezone(dt.UTC))
    sender_domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "trail"
    mail["Message-ID"] = f"<{delivery_id}@{sender_domain}>"
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies, please
    mail[EVENT_HEADER] = _one_line(message.event)
    mail[DELIVERY_HEADER] = delivery_id
    for name, value in message.headers:
        if not _HEADER_NAME.fullmatch(name) or name.lower() in _OWN_HEADERS:
            raise ValueError(f"a message may not set the mail header {name!r}")
        mail[name] = _one_line(value)
    mail.set_content(message.text or " ")
    if message.html:
        mail.add_alternative(message.html, subtype="html")
        html_part = cast(email.message.EmailMessage, mail.get_payload()[1])  # type: ignore[index]
        for content_id, data in message.images:
            if not _CONTENT_ID.fullmatch(content_id):
                raise ValueError(
                    f"an image's content id may hold only A-Z a-z 0-9 . _ @ -, not {content_id!r}"
                )
            maintype, subtype = _image_type(data)
            html_part.add_related(
                data, maintype, subtype, cid=f"<{content_id}>", disposition="inline"
            )
    return mail.as_bytes()


_CONTENT_ID = re.compile(r"[A-Za-z0-9._@-]{1,100}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,76}")
# Set by Trail, or naming recipients: a message's extra headers may not set them.
_OWN_HEADERS = {
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "message-id",
    "sender",
    "auto-submitted",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "return-path",
    EVENT_HEADER.lower(),
    DELIVERY_HEADER.lower(),
}


def _image_type(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image", "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image", "webp"
    if b"<svg" in data[:1024]:
        return "image", "svg+xml"
    return "application", "octet-stream"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# --- sending ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    code: int | None  # the HTTP status or SMTP reply code, when there was one
    error: str  # why it failed ('' when it did not)
    seconds: float
    permanent: bool = False  # the same bytes can never succeed: no retry


# A receiver's answer that a retry of the same request cannot change: a redirect (Trail
# does not follow them) or a client error, except those that mean "later" (timeout,
# conflict, locked, too early, too many requests). Server errors and no answer are retried.
_RETRIED_4XX = frozenset({408, 409, 423, 425, 429})


def _permanent_http(status: int) -> bool:
    return 300 <= status < 500 and status not in _RETRIED_4XX


def _permanent_smtp(code: int | None) -> bool:
    return code is not None and 500 <= code < 600  # RFC 5321: 5yz is a permanent refusal


def _send_webhook(row: Delivery) -> _Outcome:
    body = bytes(row.body)
    headers = {
        "Content-Type": "application/json",
        EVENT_HEADER: row.event,
        DELIVERY_HEADER: str(row.id),
        ATTEMPT_HEADER: str(row.attempts),
    }
    secret = row.spec.get("secret")
    if secret:
        headers[outbound.SIGNATURE_HEADER] = outbound.sign(secret, body)
    answer = outbound.post(row.target, body, headers, timeout=TIMEOUT)
    if answer.ok:
        return _Outcome(True, answer.status, "", answer.seconds)
    if answer.status is not None:
        said = " ".join(answer.answer.split())[:300]
        reason = f"HTTP {answer.status}" + (f": {said}" if said else "")
        permanent = _permanent_http(answer.status)
        return _Outcome(False, answer.status, reason, answer.seconds, permanent)
    return _Outcome(False, None, answer.error, answer.seconds)


class _StoredMail(EmailMultiAlternatives):
    """A mail rendered earlier, sent byte for byte through whichever backend Django is set
    to (SMTP, console, the tests' outbox). Subject, text and HTML are filled in from the
    bytes for whoever reads the outbox."""

    def __init__(self, raw: bytes, to: str) -> None:
        parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
        text = parsed.get_body(preferencelist=("plain",))
        html = parsed.get_body(preferencelist=("html",))
        super().__init__(
            subject=str(parsed["Subject"] or ""),
            body=text.get_content() if text is not None else "",
            from_email=str(parsed["From"] or settings.DEFAULT_FROM_EMAIL),
            to=[to],
        )
        if html is not None:
            self.attach_alternative(html.get_content(), "text/html")
        self._raw = raw

    def message(self, *, policy: Any = None) -> Any:
        return _RawMime(self._raw)


class _RawMime:
    """Enough of `email.message.Message` for Django's mail backends: the stored bytes."""

    def __init__(self, raw: bytes) -> None:
        self._raw = raw

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        return self._raw.replace(b"\r\n", b"\n").replace(b"\n", linesep.encode())

    def as_string(self, unixfrom: bool = False, linesep: str = "\n") -> str:
        return self.as_bytes(unixfrom, linesep).decode("utf-8", "replace")

    def get_charset(self) -> None:
        return None


def _send_mail(row: Delivery) -> _Outcome:
    start = time.monotonic()
    mail = _StoredMail(bytes(row.body), row.target)
    try:
        with get_connection(fail_silently=False) as connection:
            connection.send_messages([mail])
    except smtplib.SMTPRecipientsRefused as exc:
        code, said = next(iter(exc.recipients.values()), (None, b""))
        reason = _smtp_reason(code, said)
        return _Outcome(False, code, reason, time.monotonic() - start, _permanent_smtp(code))
    except smtplib.SMTPResponseException as exc:
        reason = _smtp_reason(exc.smtp_code, exc.smtp_error)
        permanent = _permanent_smtp(exc.smtp_code)
        return _Outcome(False, exc.smtp_code, reason, time.monotonic() - start, permanent)
    except (smtplib.SMTPException, OSError) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        return _Outcome(False, None, reason, time.monotonic() - start)
    return _Outcome(True, None, "", time.monotonic() - start)


def _smtp_reason(code: int | None, said: bytes | str) -> str:
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    return f"SMTP {code}: {' '.join(text.split())}"


def _record(row: Delivery, outcome: _Outcome, now: dt.datetime) -> None:
    """Write down one attempt: sent; or queued for the next one; or failed (a permanent
    refusal, or a day on). A finished delivery keeps no webhook secret."""
    ended = now + dt.timedelta(seconds=outcome.seconds)
    row.last_status_code = outcome.code
    row.last_error = outcome.error[:ERROR_CHARS]
    deadline = row.created_at + GIVE_UP_AFTER
    if outcome.ok:
        row.status, row.next_attempt_at, row.finished_at = Delivery.Status.SENT, None, ended
    elif outcome.permanent or ended >= deadline:
        row.status, row.next_attempt_at, row.finished_at = Delivery.Status.FAILED, None, ended
    else:
        row.next_attempt_at = min(ended + backoff(row.attempts), deadline)
        logger.info(
            "delivery %s to %s failed (attempt %s: %s); next at %s",
            row.id,
            row.target,
            row.attempts,
            outcome.error,
            row.next_attempt_at.isoformat(),
        )
    if row.finished_at is not None:  # no attempt is left to sign
        row.spec = {key: value for key, value in row.spec.items() if key != "secret"}
    Delivery.objects.filter(id=row.id).update(  # nothing, if its site went meanwhile
        status=row.status,
        next_attempt_at=row.next_attempt_at,
        finished_at=row.finished_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        spec=row.spec,
    )
