"""An organization's usage as the quota job last counted it (`events.limits.quota`): the
usage page and `GET /api/v1/usage` (docs/limits.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from accounts.models import Organization
from events.limits.models import DailySiteUsage, MonthlyUsage, OrganizationLimits
from events.limits.quota import month_start


@dataclass(frozen=True)
class SiteDays:
    domain: str
    total: int
    per_day: tuple[int, ...]  # one count per day of `Usage.days`


@dataclass(frozen=True)
class Usage:
    month: dt.date
    events: int
    quota: int | None
    enforced: bool
    over_quota: bool
    counted_at: dt.datetime | None
    days: tuple[dt.date, ...]  # the month's days up to today
    sites: tuple[SiteDays, ...]

    @property
    def percent(self) -> int | None:
        return None if not self.quota else self.events * 100 // self.quota

    @property
    def bar_percent(self) -> int:
        return min(100, self.percent or 0)


def usage_get(*, organization: Organization, now: dt.datetime | None = None) -> Usage:
    """This month's usage of one organization (the caller checked the membership). Three
    queries, whatever the number of sites."""
    now = now or dt.datetime.now(dt.UTC)
    month = month_start(now)
    today = now.astimezone(dt.UTC).date()
    days = tuple(month + dt.timedelta(days=i) for i in range((today - month).days + 1))
    limits = OrganizationLimits.objects.filter(organization=organization).first()
    monthly = MonthlyUsage.objects.filter(organization=organization, month=month).first()
    counts: dict[str, dict[dt.date, int]] = {}
    for domain, day, n in DailySiteUsage.objects.filter(
        site__organization=organization, day__gte=month, day__lte=today
    ).values_list("site__domain", "day", "events"):
        counts.setdefault(domain, {})[day] = n
    sites = tuple(
        SiteDays(domain, sum(by_day.values()), tuple(by_day.get(day, 0) for day in days))
        for domain, by_day in sorted(counts.items())
    )
    return Usage(
        month=month,
        events=monthly.events if monthly else 0,
        quota=limits.monthly_quota if limits else None,
        enforced=bool(limits and limits.quota_enforce),
        over_quota=bool(limits and limits.over_quota),
        counted_at=monthly.counted_at if monthly else None,
        days=days,
        sites=sites,
    )
