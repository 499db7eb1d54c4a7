from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from accounts.models import Organization


class Site(models.Model):
    """A website whose events Trail collects, owned by one organization."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sites")
    domain = models.CharField(max_length=253)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    timezone = models.CharField(max_length=64, default="UTC")
    extra_hostnames = models.JSONField(default=list, blank=True)
    excluded_ips = models.JSONField(default=list, blank=True)
    excluded_paths = models.JSONField(default=list, blank=True)
    honor_dnt = models.BooleanField(default=False)
    is_public = models.BooleanField(default=False)
    # Plausible's custom properties allowlist (`PUT /api/v1/sites/custom-props`): recorded
    # property keys, sorted; events keep every property whatever it holds
    # (docs/plausible-sites-api.md).
    allowed_props = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by delete: the site disappears at once; a job then deletes its events and the row.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The UTC day of the site's first event, once no event can arrive before it (Plausible's
    # `stats_start_date`): set by `reports.context`, where a report's "all" begins.
    stats_start_date = models.DateField(null=True, blank=True)
    # Days raw events (and visits) are kept; None: forever, or the instance's
    # TRAIL_RETENTION_MAX_DAYS when one is set. Rollups are kept whatever this says
    # (docs/retention.md; dropped by events.retention).
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    # The latest cutoff the retention job applied: raw events before it are gone, even
    # after the retention is lengthened (reports warn about days before it).
    retention_cutoff = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["domain"], condition=Q(deleted_at__isnull=True), name="unique_live_domain"
            )
        ]

    def __str__(self) -> str:
        return self.domain


class Goal(models.Model):
    class Kind(models.TextChoices):
        PAGEVIEW = "pageview", "Pageview"
        EVENT = "event", "Custom event"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="goals")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # A path pattern for pageview goals (`*` matches any characters), an event name otherwise.
    value = models.CharField(max_length=2000)
    display_name = models.CharField(max_length=120)
    # ISO 4217 code of a revenue goal (its conversions' amounts: reports/revenue.py); "" if none
    currency = models.CharField(max_length=3, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "kind", "value"], name="unique_goal_per_site")
        ]

    def __str__(self) -> str:
        return self.display_name


class Funnel(models.Model):
    """A saved funnel: 2–8 steps, each `{"type": "page" | "event", "value": …}` (checked by
    the funnel rules, sites/funnels.py; run by reports/funnels.py)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="funnels")
    name = models.CharField(max_length=120)
    steps = models.JSONField()
    window = models.PositiveIntegerField()  # seconds
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class SharedLink(models.Model):
    """A secret link that shows a site's dashboard read-only, optionally behind a password."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="shared_links")
    name = models.CharField(max_length=100)
    slug = models.CharField(max_length=43, unique=True)
    password_hash = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)
