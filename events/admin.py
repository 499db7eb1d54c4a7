"""The instance admin's pages for the events app (Django admin, `/admin/`)."""

from events.limits.admin import OrganizationLimitsAdmin  # noqa: F401 (registers it)
