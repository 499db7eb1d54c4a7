"""Subscribing an address, the one-click unsubscribe link, and sending what is due.

The unsubscribe link carries a signed token of the subscription (Django's signing with the
secret key; no expiry: an old mail's link still works), so it needs no sign-in. Mail goes
through `notify.channels.send` (an email channel): retried while the mail server is down,
then logged as failed, like every other mail Trail sends about a site.
"""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.errors import ServiceError
from accounts.models import User
from digests import periods
from digests.content import gather
from digests.models import EmailReport
from digests.render import CHART_ID, render
from notify.channels import send
from notify.messages import Message
from sites.models import Site

logger = logging.getLogger(__name__)

MAX_PER_SITE = 50
_SALT = "trail.digests.unsubscribe"


def subscribe(
    site: Site,
    *,
    email: object,
    frequency: object,
    week_start: object = periods.MONDAY,
    by: User | None = None,
    now: dt.datetime | None = None,
) -> EmailReport:
    """A new subscription; `ServiceError` naming the field on bad input. Its first report
    is the next whole period's (not the one that just ended)."""
    if not isinstance(email, str) or not email.strip():
        raise ServiceError("required: an email address", field="email")
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError("not a valid email address", field="email") from None
    if frequency not in periods.FREQUENCIES:
        raise ServiceError('expected "weekly" or "monthly"', field="frequency")
    if week_start not in (periods.MONDAY, periods.SUNDAY) or isinstance(week_start, bool):
        raise ServiceError("expected 0 (Monday) or 6 (Sunday)", field="week_start")
    if site.email_reports.count() >= MAX_PER_SITE:
        raise ServiceError(f"a site has at most {MAX_PER_SITE} email reports", field="email")
    local = (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(site.timezone)).date()
    ended = periods.last_complete(str(frequency), local, int(week_start))
    try:
        with transaction.atomic():
            return EmailReport.objects.create(
                site=site,
                email=email,
                frequency=frequency,
                week_start=week_start,
                last_period=ended.first,
                created_by=by,
            )
    except IntegrityError:
        raise ServiceError(
            f"{email} already receives the {frequency} report of this site", field="email"
        ) from None


def unsubscribe_token(report: EmailReport) -> str:
    return signing.dumps({"r": report.pk, "e": report.email}, salt=_SALT)


def unsubscribe_url(report: EmailReport) -> str:
    return settings.TRAIL.base_url + reverse("digest-unsubscribe", args=[unsubscribe_token(report)])


def report_for_token(token: str) -> EmailReport | None:
    """The subscription a link names, or None (a bad token, or already unsubscribed)."""
    try:
        found = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(found, dict) or not isinstance(found.get("r"), int):
        return None
    return EmailReport.objects.filter(pk=found["r"], email=str(found.get("e"))).first()


def message(report: EmailReport, period: periods.Period) -> Message:
    site = report.site
    link = unsubscribe_url(report)
    rendered = render(
        gather(site, period),
        frequency=report.frequency,
        unsubscribe_url=link,
        dashboard_url=settings.TRAIL.base_url
        + reverse("site-detail", args=[site.domain])
        + f"?period=custom&from={period.first}&to={period.last}",
    )
    return Message(
        event=f"report.{report.frequency}",
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        data={"site": site.domain, "first": period.first, "last": period.last},
        images=((CHART_ID, rendered.chart),),
        headers=(
            ("List-Unsubscribe", f"<{link}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    )


def send_report(report: EmailReport, period: periods.Period) -> None:
    """Mail one period's report (the delivery log records it and retries it)."""
    send(
        report.site,
        {"type": "email", "to": report.email},
        message(report, period),
        source=f"report:{report.pk}",
    )


def send_due(now: dt.datetime | None = None) -> int:
    """Mail every report whose period is due (once per period); how many were sent. A
    site's failure is logged and does not stop the others."""
    now = now or dt.datetime.now(dt.UTC)
    sent = 0
    reports = EmailReport.objects.select_related("site").filter(site__deleted_at__isnull=True)
    for report in reports:
        period = periods.due(
            report.frequency, now, report.site.timezone, report.last_period, report.week_start
        )
        if period is None:
            continue
        # Claimed first: two runners (or a retried job) never mail a period twice.
        claimed = EmailReport.objects.filter(pk=report.pk, last_period=report.last_period).update(
            last_period=period.first
        )
        if not claimed:
            continue
        try:
            send_report(report, period)
            sent += 1
        except Exception:
            logger.exception("email report %s for %s failed", report.pk, period)
    return sent
