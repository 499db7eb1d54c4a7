"""The monthly event quota (docs/limits.md): a periodic job counts each organization's
events this month from ClickHouse, stores the counts (per site per day, and per
organization per month), mails the organization's owners and admins at 80% and 100% (once
each per month), and sets the `over_quota` flag the ingest step reads from the site
directory. Nothing here runs per event.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse

from accounts.models import CAN_MANAGE_MEMBERS, Membership, Organization
from events.clickhouse import get_client
from events.clickhouse.base import ClickHouse
from events.jobs import periodic
from events.limits.models import DailySiteUsage, MonthlyUsage, OrganizationLimits
from sites.models import Site

logger = logging.getLogger(__name__)

COUNT_JOB = "events.limits.count_usage"
THRESHOLDS = (80, 100)  # percent of the quota that sends a mail
KEEP_DAYS = 400  # daily counts older than this (before this month) are deleted


def month_start(now: dt.datetime) -> dt.date:
    return now.astimezone(dt.UTC).date().replace(day=1)


def events_per_site_day(client: ClickHouse, since: dt.date) -> list[tuple[int, dt.date, int]]:
    """(site, UTC day, events) since a day, for every site: an internal, cross-site read
    (like `events.clickhouse.internal`'s), never on behalf of a request. Counted as
    Plausible bills: page views and custom events, not `engagement` events nor imported
    rows. The sort key starts with (site_id, toDate(timestamp)): this reads little."""
    rows = client.query(
        "SELECT site_id, toDate(timestamp) AS day, count() AS n FROM events"
        " WHERE timestamp >= {since:DateTime64(3, 'UTC')} AND name != 'engagement'"
        " AND import_id = '' GROUP BY site_id, day",
        {"since": dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)},
    )
    return [(int(r["site_id"]), _date(r["day"]), int(r["n"])) for r in rows]


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


@periodic(every=300, name=COUNT_JOB, outbound=True)
def count_usage(now: dt.datetime | None = None) -> dict[int, int]:
    """Count this month's events per organization (and per site per day), store them,
    update the quota flags and send the due mails; the counts by organization."""
    now = now or dt.datetime.now(dt.UTC)
    month = month_start(now)
    # from the last day of the previous month: its final minutes are counted as well
    counted = events_per_site_day(get_client(), month - dt.timedelta(days=1))
    organization_of = dict(
        Site.objects.filter(id__in={site for site, _, _ in counted}).values_list(
            "id", "organization_id"
        )
    )
    per_org: dict[int, int] = defaultdict(int)
    days = []
    for site_id, day, n in counted:
        if site_id not in organization_of:
            continue  # purged meanwhile
        if day >= month:
            per_org[organization_of[site_id]] += n
        days.append(DailySiteUsage(site_id=site_id, day=day, events=n))
    DailySiteUsage.objects.bulk_create(
        days, update_conflicts=True, unique_fields=["site", "day"], update_fields=["events"]
    )
    DailySiteUsage.objects.filter(day__lt=month - dt.timedelta(days=KEEP_DAYS)).delete()
    live = set(Organization.objects.filter(deleted_at__isnull=True).values_list("id", flat=True))
    with_limits = {
        limits.organization_id: limits
        for limits in OrganizationLimits.objects.filter(organization_id__in=live)
    }
    MonthlyUsage.objects.bulk_create(
        [
            MonthlyUsage(
                organization_id=org, month=month, events=per_org.get(org, 0), counted_at=now
            )
            for org in (set(per_org) | set(with_limits)) & live
        ],
        update_conflicts=True,
        unique_fields=["organization", "month"],
        update_fields=["events", "counted_at"],
    )
    for org, limits in with_limits.items():
        used = per_org.get(org, 0)
        _apply_quota(limits, used, month, now)
    return {org: n for org, n in per_org.items() if org in live}


def _apply_quota(limits: OrganizationLimits, used: int, month: dt.date, now: dt.datetime) -> None:
    quota = limits.monthly_quota
    over = bool(quota) and limits.quota_enforce and used >= (quota or 0)
    if over != limits.over_quota:
        limits.over_quota = over
        limits.save(update_fields=["over_quota", "updated_at"])  # the directories reload
        logger.info(
            "organization %s is %s its monthly quota (%s of %s events)",
            limits.organization_id,
            "over" if over else "back under",
            used,
            quota,
        )
    if not quota:
        return
    percent = used * 100 // quota
    due = [t for t in THRESHOLDS if percent >= t]
    if due:
        _mail_once(limits.organization_id, month, due[-1], used, quota, limits.quota_enforce, now)


def _mail_once(
    org: int,
    month: dt.date,
    threshold: int,
    used: int,
    quota: int,
    enforced: bool,
    now: dt.datetime,
) -> None:
    """Mail the owners and admins that `threshold`% of the quota is used, unless this
    month's row says it was mailed. The row is claimed before sending (a restart after
    it does not resend; a failed send gives the claim back, and the next run retries).
    Past 100% at once, the 80% mail is skipped: the 100% one says more."""
    field = f"mailed_{threshold}_at"
    usage = MonthlyUsage.objects.filter(organization_id=org, month=month)
    with transaction.atomic():
        claimed = usage.filter(**{f"{field}__isnull": True}).update(**{field: now})
        if claimed and threshold == 100:
            usage.filter(mailed_80_at__isnull=True).update(mailed_80_at=now)
    if not claimed:
        return
    recipients = sorted(
        Membership.objects.filter(
            organization_id=org, role__in=CAN_MANAGE_MEMBERS, user__is_active=True
        ).values_list("user__email", flat=True)
    )
    if not recipients:
        return
    subject, text = quota_message(org, month, threshold, used, quota, enforced)
    try:
        send_mail(subject, text, None, recipients)
    except Exception:
        logger.exception("the %s%% quota mail to organization %s failed; retrying", threshold, org)
        usage.update(**{field: None})


def quota_message(
    org: int, month: dt.date, threshold: int, used: int, quota: int, enforced: bool
) -> tuple[str, str]:
    name = Organization.objects.filter(id=org).values_list("name", flat=True).first() or ""
    link = settings.TRAIL.base_url + reverse("organization-usage")
    if threshold >= 100:
        subject = f"{name}: the monthly event quota is used up"
        then = (
            "New events are now dropped until the month ends, unless the quota is raised."
            if enforced
            else "Events are still recorded; please ask your Trail administrator for a "
            "larger quota."
        )
    else:
        subject = f"{name}: {threshold}% of the monthly event quota used"
        then = (
            "At 100%, new events will be dropped until the month ends."
            if enforced
            else "Events will still be recorded past 100%."
        )
    text = (
        f"{name} has used {used:,} of its {quota:,} events for {month:%B %Y} "
        f"({used * 100 // quota}%).\n\n{then}\n\nUsage per site and day: {link}\n"
    )
    return subject, text
