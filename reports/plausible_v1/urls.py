"""`/api/v1/stats/…`: Plausible's Stats API v1 (docs/stats-api-v1.md)."""

from django.urls import path

from reports.plausible_v1.views import (
    AggregateView,
    BreakdownView,
    RealtimeVisitorsView,
    TimeseriesView,
)

urlpatterns = [
    path("realtime/visitors", RealtimeVisitorsView.as_view(), name="api-v1-stats-realtime"),
    path("aggregate", AggregateView.as_view(), name="api-v1-stats-aggregate"),
    path("timeseries", TimeseriesView.as_view(), name="api-v1-stats-timeseries"),
    path("breakdown", BreakdownView.as_view(), name="api-v1-stats-breakdown"),
]
