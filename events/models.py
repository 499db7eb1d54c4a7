from __future__ import annotations

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
