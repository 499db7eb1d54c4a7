from __future__ import annotations

from django.conf import settings
from django.db import models

from digests.periods import FREQUENCIES, MONDAY
from sites.models import Site


class EmailReport(models.Model):
    """One address receiving one site's weekly or monthly report."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="email_reports")
    email = models.EmailField(max_length=254)
    frequency = models.CharField(max_length=16, choices=[(f, f) for f in FREQUENCIES])
    week_start = models.PositiveSmallIntegerField(default=MONDAY)  # 0 Monday … 6 Sunday
    # The first day of the last period mailed (or, for a new subscription, the period
    # before it started: the first report is the next whole one).
    last_period = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "email", "frequency"], name="one_report_per_address"
            )
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.frequency} report of {self.site.domain} to {self.email}"
