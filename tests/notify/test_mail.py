"""Mail deliveries through a real SMTP server (aiosmtpd): subject, both parts, the inline
image; SMTP down or refusing → retried, then failed with the reason; nothing lost."""

from __future__ import annotations

import datetime as dt
import email.policy
from collections.abc import Callable
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from django.core import mail as django_mail
from django.test import override_settings
from django.utils import timezone

from notify.channels import send
from notify.deliveries import retry_due
from notify.messages import Message
from notify.models import Delivery
from sites.models import Site
from tests.notify.conftest import Inbox, free_port, smtp_settings

# A 1×1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf000000030101001826dd8d0000000049454e44ae426082"
)
REPORT = Message(
    event="report.weekly",
    subject="Weekly report for shop.example.org — visitors up 12 %",
    text="Visitors: 1,204 (+12 %)\nTop page: /pricing",
    html='<h1>Visitors: 1,204</h1><img src="cid:chart" alt="visitors per day">',
    data={"visitors": 1204},
    images=(("chart", PNG),),
    headers=(("List-Unsubscribe", "<https://trail.example.org/unsubscribe/abc>"),),
)


def _parse(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_mail_arrives_with_both_parts_and_the_inline_image(site: Site, smtp: Inbox) -> None:
    row = send(site, {"type": "email", "to": "ops@example.com"}, REPORT, source="report:3")

    assert row.status == Delivery.Status.SENT, row.last_error
    assert row.attempts == 1
    [(sender, recipients, raw)] = smtp.mails
    assert sender == "noreply@trail.example.org"
    assert recipients == ["ops@example.com"]
    mail = _parse(raw)
    assert mail["Subject"] == REPORT.subject
    assert mail["To"] == "ops@example.com"
    assert mail["From"] == "Trail <noreply@trail.example.org>"
    assert mail["X-Trail-Delivery"] == str(row.id)
    assert mail["X-Trail-Event"] == "report.weekly"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["List-Unsubscribe"] == "<https://trail.example.org/unsubscribe/abc>"
    assert mail["Message-ID"] == f"<{row.id}@trail.example.org>"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n").strip() == REPORT.text
    assert 'src="cid:chart"' in html.get_content()
    [related] = [p for p in mail.walk() if p.get_content_type() == "multipart/related"]
    [image] = [p for p in related.iter_parts() if p.get_content_maintype() == "image"]
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == "<chart>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == PNG
    # The log keeps the mail as sent.
    assert _parse(bytes(Delivery.objects.get().body))["Message-ID"] == mail["Message-ID"]


def test_plain_text_only_mail(site: Site, smtp: Inbox) -> None:
    message = Message(
        event="destination.paused", subject="Paused", text="Your destination is paused."
    )
    send(site, {"type": "email", "to": "owner@example.com"}, message, source="destination:4")
    [(_, _, raw)] = smtp.mails
    mail = _parse(raw)
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().strip() == "Your destination is paused."


def test_a_subject_cannot_add_headers(site: Site, smtp: Inbox) -> None:
    message = Message(event="test", subject="Hi\r\nBcc: victim@example.com", text="t")
    send(site, {"type": "email", "to": "ops@example.com"}, message, source="test")
    [(_, recipients, raw)] = smtp.mails
    assert recipients == ["ops@example.com"]
    mail = _parse(raw)
    assert mail["Bcc"] is None
    assert mail["Subject"] == "Hi Bcc: victim@example.com"


def test_smtp_down_is_retried_then_failed_with_the_reason(site: Site) -> None:
    port = free_port()  # nothing listens there
    start = timezone.now()
    with smtp_settings(port):
        row = send(
            site, {"type": "email", "to": "ops@example.com"}, REPORT, source="test", now=start
        )
        assert row.status == Delivery.Status.QUEUED
        assert "Connection refused" in row.last_error
        while row.status == Delivery.Status.QUEUED:
            assert row.next_attempt_at is not None
            retry_due(now=row.next_attempt_at)
            row.refresh_from_db()
    assert row.status == Delivery.Status.FAILED
    assert row.attempts > 20
    assert "ConnectionRefusedError" in row.last_error
    assert row.finished_at is not None and row.finished_at - start >= dt.timedelta(hours=24)


def test_smtp_back_up_gets_every_mail_once(site: Site, start_smtp: Callable[[int], Inbox]) -> None:
    port = free_port()
    start = timezone.now()
    with smtp_settings(port):
        rows = [
            send(
                site,
                {"type": "email", "to": f"ops{i}@example.com"},
                REPORT,
                source="test",
                now=start,
            )
            for i in range(3)
        ]
        assert {r.status for r in rows} == {Delivery.Status.QUEUED}
        inbox = start_smtp(port)
        counts = retry_due(now=start + dt.timedelta(seconds=31))
    assert counts["sent"] == 3
    assert sorted(rcpt for _, [rcpt], _ in inbox.mails) == [f"ops{i}@example.com" for i in range(3)]
    ids = {_parse(raw)["X-Trail-Delivery"] for _, _, raw in inbox.mails}
    assert ids == {str(r.id) for r in rows}
    with smtp_settings(port):
        assert retry_due(now=start + dt.timedelta(hours=2))["attempted"] == 0
    assert len(inbox.mails) == 3


def test_an_smtp_refusal_is_retried_with_the_servers_reply(site: Site, smtp: Inbox) -> None:
    smtp.refuse = "451 4.3.0 mailbox busy, try later"
    row = send(site, {"type": "email", "to": "ops@example.com"}, REPORT, source="test")
    assert row.status == Delivery.Status.QUEUED
    assert row.last_status_code == 451
    assert row.last_error == "SMTP 451: 4.3.0 mailbox busy, try later"
    smtp.refuse = ""
    assert row.next_attempt_at is not None
    retry_due(now=row.next_attempt_at)
    row.refresh_from_db()
    assert row.status == Delivery.Status.SENT
    assert len(smtp.mails) == 1


def test_a_permanent_smtp_refusal_fails_at_once(site: Site, smtp: Inbox) -> None:
    smtp.refuse = "550 5.1.1 no such user"
    start = timezone.now()
    row = send(site, {"type": "email", "to": "gone@example.com"}, REPORT, source="test", now=start)
    assert row.status == Delivery.Status.FAILED
    assert row.last_status_code == 550
    assert row.last_error == "SMTP 550: 5.1.1 no such user"
    smtp.refuse = ""
    assert retry_due(now=start + dt.timedelta(hours=2))["attempted"] == 0
    assert smtp.mails == []


def test_the_test_outbox_sees_subject_text_and_html(site: Site) -> None:
    """Other apps' tests read Django's test outbox: the stored mail fills it in."""
    send(site, {"type": "email", "to": "ops@example.com"}, REPORT, source="test")
    [sent] = django_mail.outbox
    assert sent.subject == REPORT.subject
    assert sent.to == ["ops@example.com"]
    assert sent.body.strip() == REPORT.text
    assert sent.alternatives[0][0].strip() == REPORT.html  # type: ignore[attr-defined]


def test_a_broken_mail_setup_is_logged_and_retried(site: Site) -> None:
    """Not an SMTP error: a backend that cannot even load. The attempt is logged with the
    reason and retried (the job goes on with the other deliveries)."""
    with override_settings(EMAIL_BACKEND="no.such.backend.EmailBackend"):
        row = send(site, {"type": "email", "to": "ops@example.com"}, REPORT, source="test")
    assert row.status == Delivery.Status.QUEUED
    assert row.last_error.startswith("ModuleNotFoundError: No module named 'no'")
    retry_due(now=row.next_attempt_at)  # the test outbox backend again: sent
    row.refresh_from_db()
    assert row.status == Delivery.Status.SENT
    assert len(django_mail.outbox) == 1


@pytest.mark.parametrize(
    ("message", "says"),
    [
        (Message(event="t", subject="s", text="t", headers=(("Bcc", "x@evil.test"),)), "'Bcc'"),
        (Message(event="t", subject="s", text="t", headers=(("To", "x@evil.test"),)), "'To'"),
        (Message(event="t", subject="s", text="t", headers=(("X-Trail-Delivery", "1"),)), "header"),
        (Message(event="t", subject="s", text="t", headers=(("Bad Name:", "v"),)), "header"),
        (
            Message(event="t", subject="s", text="t", html="<p>", images=(("a b", PNG),)),
            "content id",
        ),
        (
            Message(event="t", subject="s", text="t", html="<p>", images=(("x>", PNG),)),
            "content id",
        ),
    ],
)
def test_a_message_cannot_set_trails_own_headers(site: Site, message: Message, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        send(site, {"type": "email", "to": "ops@example.com"}, message, source="test")
    assert not Delivery.objects.exists()
    assert django_mail.outbox == []
