from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class Delivery(models.Model):
    """One message to one channel (a mail address or a webhook URL), and what became of
    it: the delivery log. `body` is what is sent, byte for byte, on every attempt (the
    whole MIME message for mail, the JSON body for webhooks); its id is the
    `X-Trail-Delivery` header, the same on every retry. A failed attempt is retried with
    backoff until a day after `created_at` (`notify.deliveries`); rows go after 30 days.

    `spec` is the channel as validated (`notify.channels`), a webhook's secret included
    (each attempt is signed afresh); show it through `notify.channels.redact`."""

    class Channel(models.TextChoices):
        EMAIL = "email"
        WEBHOOK = "webhook"

    class Status(models.TextChoices):
        QUEUED = "queued"  # the next attempt is due at next_attempt_at
        SENT = "sent"
        FAILED = "failed"  # given up: last_error says why

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    site = models.ForeignKey(
        "trail_sites.Site", on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    target = models.CharField(max_length=2048)  # the address or the URL
    spec = models.JSONField()
    source = models.CharField(max_length=100)  # who sent it, e.g. "alert:12"
    event = models.CharField(max_length=64)
    subject = models.CharField(max_length=300)
    body = models.BinaryField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    # When the next attempt is due (queued); while an attempt runs, when it may be taken
    # over (its runner died); None once sent or failed.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)  # HTTP or SMTP
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="notify_delivery_due"),
            models.Index(fields=["site", "-created_at"], name="notify_delivery_log"),
            models.Index(fields=["created_at"], name="notify_delivery_created"),
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.event} to {self.target} ({self.status})"
