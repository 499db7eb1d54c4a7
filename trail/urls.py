from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.views import admin_login
from events.api import EventBatchView
from reports.api import StatsQueryView
from reports.funnels_api import FunnelQueryView
from reports.realtime_api import RealtimeView
from sites.api import SiteDetailView, SiteListView
from trail.health import healthz

# `{"error": ...}` under /api/, Django's pages elsewhere (trail/errors.py).
handler400 = "trail.errors.bad_request"
handler403 = "trail.errors.permission_denied"
handler404 = "trail.errors.page_not_found"
handler500 = "trail.errors.server_error"

api_v1 = [
    path("events", EventBatchView.as_view(), name="api-events"),
    path("sites", SiteListView.as_view(), name="api-sites"),
    path("sites/<str:domain>", SiteDetailView.as_view(), name="api-site"),
    path("funnels/query", FunnelQueryView.as_view(), name="api-funnels"),
    path("realtime", RealtimeView.as_view(), name="api-realtime"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(api_v1)),
    path("api/v2/query", StatsQueryView.as_view(), name="api-stats-query"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("accounts/", include("allauth.urls")),
    path("admin/login/", admin_login, name="admin-login"),  # Trail's login (accounts/views.py)
    path("admin/", admin.site.urls),
    path("", include("frontend.urls")),
]
