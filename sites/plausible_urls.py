"""Plausible's Sites API words under `/api/v1/sites/` (`goals`, `shared-links`,
`custom-props`, `guests`): routed before `sites/<domain>`, so that they are never read as a
site's domain (nor can a site be named so: sites/domains.py)."""

from django.urls import path

from sites.api_plausible import PlausibleGoalsView, PlausibleGoalView, PlausibleSharedLinksView
from sites.api_plausible_guests import PlausibleGuestsView, PlausibleGuestView
from sites.api_plausible_props import PlausiblePropsView, PlausiblePropView

urlpatterns = [
    path("sites/goals", PlausibleGoalsView.as_view(), name="api-plausible-goals"),
    path("sites/goals/<str:goal_id>", PlausibleGoalView.as_view(), name="api-plausible-goal"),
    path("sites/shared-links", PlausibleSharedLinksView.as_view(), name="api-plausible-links"),
    path("sites/custom-props", PlausiblePropsView.as_view(), name="api-plausible-props"),
    path(
        "sites/custom-props/<path:property>",
        PlausiblePropView.as_view(),
        name="api-plausible-prop",
    ),
    path("sites/guests", PlausibleGuestsView.as_view(), name="api-plausible-guests"),
    path("sites/guests/<str:email>", PlausibleGuestView.as_view(), name="api-plausible-guest"),
]
