"""A site's streaming destinations and their outbox (docs/destinations.md).

The models belong to the `events` app (events/models.py imports them): the flush, in
`events`, writes the outbox.
"""

from __future__ import annotations

from django.db import models


class Destination(models.Model):
    """Where a site's events are forwarded: a generic HTTP endpoint or Mixpanel.

    `secret` is the webhook's signing secret or Mixpanel's project token; it is never shown
    again once saved. The counters and times are the forwarder's (events/destinations/
    forward.py); `failing_since` is the start of the current run of failures, cleared by a
    success or a resume."""

    class Type(models.TextChoices):
        WEBHOOK = "webhook", "HTTP endpoint (NDJSON)"
        MIXPANEL = "mixpanel", "Mixpanel"

    class State(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"

    site = models.ForeignKey(
        "trail_sites.Site", on_delete=models.CASCADE, related_name="destinations"
    )
    type = models.CharField(max_length=10, choices=Type.choices)
    url = models.CharField(max_length=2048)
    secret = models.CharField(max_length=500, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    paused_reason = models.CharField(max_length=500, blank=True)
    events_sent = models.BigIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)  # in a row
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="destination_due")]

    def __str__(self) -> str:
        return f"{self.type} destination {self.pk} of site {self.site_id} ({self.state})"


class DestinationBatch(models.Model):
    """One flushed spool segment's events of one destination's site, waiting to be sent:
    gzipped NDJSON, one event a line (the export's column set, version 1). Deleted once
    every line was sent; `sent` counts the lines already sent (a batch is sent in requests
    of at most a destination type's limit). Unique per segment: a segment flushed again
    after a crash does not queue its events twice."""

    destination = models.ForeignKey(Destination, on_delete=models.CASCADE, related_name="batches")
    segment = models.CharField(max_length=200)
    events = models.PositiveIntegerField()
    sent = models.PositiveIntegerField(default=0)
    payload = models.BinaryField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "segment"], name="unique_destination_segment"
            )
        ]

    def __str__(self) -> str:
        return f"batch {self.segment} of destination {self.destination_id} ({self.events} events)"
