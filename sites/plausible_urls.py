"""Plausible's Sites API words under `/api/v1/sites/` (`goals`, `shared-links`, …): routed
before `sites/<domain>`, so that they are never read as a site's domain."""

from django.urls import path

from sites.api_plausible import PlausibleGoalsView, PlausibleGoalView, PlausibleSharedLinksView

urlpatterns = [
    path("sites/goals", PlausibleGoalsView.as_view(), name="api-plausible-goals"),
    path("sites/goals/<str:goal_id>", PlausibleGoalView.as_view(), name="api-plausible-goal"),
    path("sites/shared-links", PlausibleSharedLinksView.as_view(), name="api-plausible-links"),
]
