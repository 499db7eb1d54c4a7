"""An organization's limits in the Django admin (`/admin/events/organizationlimits/`): the
instance admin's one place to set them (docs/limits.md). The model's `clean` refuses
nonsense (a negative rate, an absurd burst) with a message naming the field."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest

from events import dispatch
from events.limits.models import MonthlyUsage, OrganizationLimits
from events.limits.quota import COUNT_JOB


@admin.register(OrganizationLimits)
class OrganizationLimitsAdmin(admin.ModelAdmin):
    list_display = (
        "organization",
        "site_events_per_second",
        "site_burst",
        "monthly_quota",
        "quota_enforce",
        "over_quota",
    )
    list_select_related = ("organization",)
    search_fields = ("organization__name",)
    autocomplete_fields = ()
    raw_id_fields = ("organization",)
    readonly_fields = ("over_quota", "updated_at")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # a new quota (or enforcement) takes effect at once, not at the next count
        transaction.on_commit(lambda: dispatch.trigger(COUNT_JOB))


@admin.register(MonthlyUsage)
class MonthlyUsageAdmin(admin.ModelAdmin):
    list_display = (
        "organization",
        "month",
        "events",
        "counted_at",
        "mailed_80_at",
        "mailed_100_at",
    )
    list_select_related = ("organization",)
    readonly_fields = ("organization", "month", "events", "counted_at")
