from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Salt(models.Model):
    """The random key of one UTC day's visitor hashes; deleted 48 h after its day ends."""

    day = models.DateField(unique=True)
    secret = models.BinaryField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"salt of {self.day}"


class DeadLetter(models.Model):
    """An accepted event the flush could not store: ClickHouse rejected its row, or its
    spool record could not be enriched. Kept with the reason until replayed or purged
    (`manage.py dead_letters`). Holds no IP or user agent: only the enriched row (when
    there is one) and what the event said."""

    segment = models.CharField(max_length=200)
    index = models.PositiveIntegerField()  # the record's line in its segment
    reason = models.TextField()
    event = models.JSONField()  # what the client sent, without IP and user agent
    row = models.JSONField(null=True, blank=True)  # the enriched `events` row, if any
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "index"], name="unique_dead_letter")
        ]

    def __str__(self) -> str:
        return f"{self.segment}:{self.index} ({self.reason[:60]})"


class DataJob(models.Model):
    """One piece of long data work for a person or a program: an export today, imports,
    deletions and rollup rebuilds later — one model for all (docs/architecture.md, "Data
    jobs"). `kind` names the handler (`events.data_jobs.register`); the runner moves the
    row queued → running → done | failed | cancelled, and the expiry job done → expired.
    The API, the dashboard's progress bar and the CLI read this row."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="data_jobs"
    )
    site = models.ForeignKey(
        "trail_sites.Site",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="data_jobs",
    )
    kind = models.CharField(max_length=64)
    parameters = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)  # 0–1
    rows = models.BigIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    result_name = models.CharField(max_length=255, blank=True)  # in the "exports" storage
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # last progress a runner saved
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "status"], name="data_job_org_status"),
            models.Index(fields=["site", "kind", "-created_at"], name="data_job_site_recent"),
            models.Index(fields=["status", "finished_at"], name="data_job_status_finished"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def file_name(self) -> str:
        """The result's name for a person's download: the storage name without the job's
        id in front (`<id>-<file name>`)."""
        return self.result_name.removeprefix(f"{self.pk}-")


class DeletionAudit(models.Model):
    """One deletion on request (GDPR art. 17) as its organization's owners see it: who asked
    (a person or an API key, named as they were then), when, on which site, what filter,
    how many events went, and how it ended (events/deletions.py). Kept when the job, the
    key or the person is gone: the names are copied, the links only point."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="deletion_audits"
    )
    site = models.ForeignKey(
        "trail_sites.Site",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="deletion_audits",
    )
    domain = models.CharField(max_length=253)  # the site's, kept after the site is gone
    job = models.OneToOneField(
        DataJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="deletion_audit"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor = models.CharField(max_length=300)  # "user: a@b.c" or "API key: <name>", as then
    date_range = models.JSONField()  # the days deleted, resolved when asked
    filters = models.JSONField(default=list)  # the Stats API's filters, as given
    rows = models.BigIntegerField(default=0)  # events deleted
    visits = models.BigIntegerField(default=0)  # visits rewritten or removed
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="deletion_audit_org_recent")
        ]

    def __str__(self) -> str:
        return f"deletion on {self.domain} by {self.actor} ({self.status})"


from events.destinations.models import Destination, DestinationBatch  # noqa: E402, F401
from events.limits.models import DailySiteUsage, MonthlyUsage, OrganizationLimits  # noqa: E402, F401
