"""Alert rules on a site's numbers, and what they sent (docs/alerts.md).

A rule watches one metric of a site over a rolling window ending now (the last 5 minutes,
2 hours, 7 days), optionally narrowed by the Stats API's filters, and holds when the value
is above or below a threshold, or has changed by at least X % against the window just
before. The evaluator (`alerts.evaluate`) looks every minute; a rule fires once when its
condition starts to hold and once more ("cleared") when it stops, never twice within its
cooldown. Every message is an `AlertFiring`, sent through each of the rule's channels
(`notify.channels`), whose deliveries are listed by id.
"""

from __future__ import annotations

from django.db import models

from sites.models import Goal, Site


class AlertRule(models.Model):
    class Metric(models.TextChoices):
        VISITORS = "visitors", "Visitors"
        PAGEVIEWS = "pageviews", "Pageviews"
        VISITS = "visits", "Visits"
        BOUNCE_RATE = "bounce_rate", "Bounce rate (%)"
        VISIT_DURATION = "visit_duration", "Visit duration (s)"
        EVENTS = "events", "Events"
        CONVERSIONS = "conversions", "Conversions of a goal"
        CONVERSION_RATE = "conversion_rate", "Conversion rate of a goal (%)"
        CURRENT_VISITORS = "current_visitors", "Current visitors"

    class Condition(models.TextChoices):
        ABOVE = "above", "above"
        BELOW = "below", "below"
        CHANGE_UP = "change_up", "up by at least (%)"
        CHANGE_DOWN = "change_down", "down by at least (%)"

    class State(models.TextChoices):
        OK = "ok", "OK"
        FIRING = "firing", "Firing"

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=120)
    metric = models.CharField(max_length=20, choices=Metric.choices)
    # conversions / conversion_rate: the goal; a deleted goal leaves the rule with an error
    goal = models.ForeignKey(Goal, on_delete=models.SET_NULL, null=True, blank=True)
    goal_name = models.CharField(max_length=2000, blank=True)  # as it was when chosen
    filters = models.JSONField(default=list)  # the Stats API's, checked by reports.parse
    window = models.CharField(max_length=8)  # "5m", "2h", "7d"
    condition = models.CharField(max_length=12, choices=Condition.choices)
    threshold = models.FloatField()  # a value, or a percentage for change_*
    cooldown = models.PositiveIntegerField(default=60)  # minutes
    channels = models.JSONField(default=list)  # notify.channels specs (with their secrets)
    enabled = models.BooleanField(default=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OK)
    last_value = models.FloatField(null=True, blank=True)
    last_baseline = models.FloatField(null=True, blank=True)  # the previous window (change_*)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)  # why the last evaluation failed, if it did
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["site", "enabled"])]

    def __str__(self) -> str:
        return self.name


class AlertFiring(models.Model):
    class Kind(models.TextChoices):
        FIRING = "firing", "Firing"
        CLEARED = "cleared", "Cleared"
        TEST = "test", "Test"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="firings")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    baseline = models.FloatField(null=True, blank=True)  # the previous window's value
    at = models.DateTimeField()
    deliveries = models.JSONField(default=list)  # ids of notify's deliveries, one a channel

    class Meta:
        indexes = [models.Index(fields=["rule", "-at"])]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"
