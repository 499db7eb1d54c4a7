"""An organization's limits as an instance admin sets them, and the usage the quota job
measured (docs/limits.md)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

# Refused beyond these: a typo (an extra zero or five), not a limit anyone means.
MAX_EVENTS_PER_SECOND = 1_000_000
MAX_BURST = 100_000_000
MAX_MONTHLY_QUOTA = 10**13
DEFAULT_BURST_SECONDS = 10  # without a burst: 10 seconds' worth of the rate


class OrganizationLimits(models.Model):
    """One organization's overrides. A missing row, or an empty field, means the
    instance's default: `TRAIL_SITE_EVENTS_PER_SECOND` per site, no monthly quota."""

    organization = models.OneToOneField(
        "accounts.Organization", on_delete=models.CASCADE, related_name="limits"
    )
    site_events_per_second = models.FloatField(
        null=True,
        blank=True,
        help_text="Each site's ingest rate limit, events per second; 0 = no limit; "
        "empty = the instance's TRAIL_SITE_EVENTS_PER_SECOND.",
    )
    site_burst = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Events a site may send at once above its rate; empty = 10 seconds' worth.",
    )
    monthly_quota = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Events per calendar month (UTC) for all the organization's sites; "
        "empty = no quota.",
    )
    quota_enforce = models.BooleanField(
        default=False,
        help_text="Over 100% of the quota, drop new events (X-Trail-Dropped: over_quota) "
        "until the month ends. Off: only the 80% and 100% mails.",
    )
    # Set by the quota job (never by hand): enforced, and this month's count reached the
    # quota. The ingest step reads it from the site directory, never the database.
    over_quota = models.BooleanField(default=False, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "organization limits"
        verbose_name_plural = "organization limits"

    def __str__(self) -> str:
        return f"limits of organization {self.organization_id}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        rate = self.site_events_per_second
        if rate is not None and not 0 <= rate <= MAX_EVENTS_PER_SECOND:  # NaN fails too
            errors["site_events_per_second"] = (
                f"Enter a rate between 0 (no limit) and {MAX_EVENTS_PER_SECOND:,} events "
                "per second."
            )
        burst = self.site_burst
        if burst is not None and not 1 <= burst <= MAX_BURST:
            errors["site_burst"] = f"Enter a burst between 1 and {MAX_BURST:,} events."
        elif burst is not None and rate == 0:
            errors["site_burst"] = "A burst needs a rate: the rate 0 means no limit."
        quota = self.monthly_quota
        if quota is not None and not 1 <= quota <= MAX_MONTHLY_QUOTA:
            errors["monthly_quota"] = (
                f"Enter a quota between 1 and {MAX_MONTHLY_QUOTA:,} events, or leave it "
                "empty for none."
            )
        if self.quota_enforce and quota is None:
            errors["quota_enforce"] = "Set a monthly quota to enforce."
        if errors:
            raise ValidationError(errors)


class MonthlyUsage(models.Model):
    """An organization's events in one calendar month (UTC), as last counted, and the
    quota mails sent for it (once each: a restart does not resend)."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="monthly_usage"
    )
    month = models.DateField()  # its first day
    events = models.PositiveBigIntegerField(default=0)
    counted_at = models.DateTimeField()
    mailed_80_at = models.DateTimeField(null=True, blank=True)
    mailed_100_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "month"], name="one_usage_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.events} events in {self.month:%Y-%m} for {self.organization_id}"


class DailySiteUsage(models.Model):
    """One site's events on one UTC day (this month and the last, as last counted)."""

    site = models.ForeignKey(
        "trail_sites.Site", on_delete=models.CASCADE, related_name="daily_usage"
    )
    day = models.DateField()
    events = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "day"], name="one_usage_per_day")]

    def __str__(self) -> str:
        return f"{self.events} events on {self.day} for site {self.site_id}"
