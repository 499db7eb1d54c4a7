from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.api_members import InvitationsView, InvitationView, MembersView, MemberView
from accounts.views import admin_login
from alerts.api import AlertFiringsView, AlertsView, AlertTestView, AlertView
from digests.api import SiteEmailReportsView, SiteEmailReportView
from events.api import EventBatchView
from events.destinations.api import SiteDestinationsView, SiteDestinationView
from reports.api import StatsQueryView
from reports.deletions_api import DeletionAuditView, DeletionCreateView, DeletionDetailView
from reports.exports_api import ExportCreateView, ExportDetailView, ExportDownloadView
from reports.funnels_api import FunnelQueryView
from reports.imports.api import ImportCreateView, ImportDetailView
from reports.properties_api import PropertyKeysView
from reports.raw_export_api import RawEventsExportView
from reports.realtime_api import RealtimeView
from reports.saved_funnels_api import SavedFunnelQueryView
from reports.usage_api import UsageView
from sites.api import SiteDetailView, SiteListView
from sites.api_items import (
    SiteFunnelsView,
    SiteFunnelView,
    SiteGoalsView,
    SiteGoalView,
    SiteSharedLinksView,
    SiteSharedLinkView,
)
from sites.api_keys import ApiKeysView, ApiKeyView
from trail.health import healthz, readyz
from trail.metrics_view import metrics

# `{"error": ...}` under /api/, Django's pages elsewhere (trail/errors.py).
handler400 = "trail.errors.bad_request"
handler403 = "trail.errors.permission_denied"
handler404 = "trail.errors.page_not_found"
handler500 = "trail.errors.server_error"

api_v1 = [
    path("events", EventBatchView.as_view(), name="api-events"),
    path("sites", SiteListView.as_view(), name="api-sites"),
    # Plausible's Sites API words before any <domain> (they are never domains: sites/domains.py)
    path("", include("sites.plausible_urls")),  # Plausible's words, never a domain
    path("stats/", include("reports.plausible_v1.urls")),  # Plausible's Stats API v1
    path("sites/<str:domain>", SiteDetailView.as_view(), name="api-site"),
    path("sites/<str:domain>/goals", SiteGoalsView.as_view(), name="api-site-goals"),
    path("sites/<str:domain>/goals/<str:goal_id>", SiteGoalView.as_view(), name="api-site-goal"),
    path("sites/<str:domain>/funnels", SiteFunnelsView.as_view(), name="api-site-funnels"),
    path(
        "sites/<str:domain>/funnels/<str:funnel_id>",
        SiteFunnelView.as_view(),
        name="api-site-funnel",
    ),
    path(
        "sites/<str:domain>/funnels/<str:funnel_id>/query",
        SavedFunnelQueryView.as_view(),
        name="api-site-funnel-query",
    ),
    path("sites/<str:domain>/shared-links", SiteSharedLinksView.as_view(), name="api-site-links"),
    path(
        "sites/<str:domain>/shared-links/<str:link_id>",
        SiteSharedLinkView.as_view(),
        name="api-site-link",
    ),
    path("sites/<str:domain>/property-keys", PropertyKeysView.as_view(), name="api-property-keys"),
    path(
        "sites/<str:domain>/events/export",
        RawEventsExportView.as_view(),
        name="api-site-events-export",
    ),
    path("usage", UsageView.as_view(), name="api-usage"),
    path("members", MembersView.as_view(), name="api-members"),
    path("members/<str:user_id>", MemberView.as_view(), name="api-member"),
    path("invitations", InvitationsView.as_view(), name="api-invitations"),
    path("invitations/<str:invitation_id>", InvitationView.as_view(), name="api-invitation"),
    path("keys", ApiKeysView.as_view(), name="api-keys-list"),
    path("keys/<str:key_id>", ApiKeyView.as_view(), name="api-key"),
    path("funnels/query", FunnelQueryView.as_view(), name="api-funnels"),
    path("sites/<str:domain>/exports", ExportCreateView.as_view(), name="api-exports"),
    path("exports/<str:export_id>", ExportDetailView.as_view(), name="api-export"),
    path("sites/<str:domain>/imports", ImportCreateView.as_view(), name="api-imports"),
    path("imports/<str:import_id>", ImportDetailView.as_view(), name="api-import"),
    path(
        "exports/<str:export_id>/download",
        ExportDownloadView.as_view(),
        name="api-export-download",
    ),
    path("realtime", RealtimeView.as_view(), name="api-realtime"),
    path("sites/<str:domain>/deletions", DeletionCreateView.as_view(), name="api-deletions"),
    path("sites/<str:domain>/alerts", AlertsView.as_view(), name="api-alerts"),
    path("sites/<str:domain>/alerts/<str:alert_id>", AlertView.as_view(), name="api-alert"),
    path(
        "sites/<str:domain>/alerts/<str:alert_id>/firings",
        AlertFiringsView.as_view(),
        name="api-alert-firings",
    ),
    path(
        "sites/<str:domain>/alerts/<str:alert_id>/test",
        AlertTestView.as_view(),
        name="api-alert-test",
    ),
    path("deletions", DeletionAuditView.as_view(), name="api-deletion-audits"),
    path("deletions/<str:deletion_id>", DeletionDetailView.as_view(), name="api-deletion"),
    path(
        "sites/<str:domain>/destinations",
        SiteDestinationsView.as_view(),
        name="api-site-destinations",
    ),
    path(
        "sites/<str:domain>/destinations/<str:destination_id>",
        SiteDestinationView.as_view(),
        name="api-site-destination",
    ),
    path(
        "sites/<str:domain>/email-reports", SiteEmailReportsView.as_view(), name="api-email-reports"
    ),
    path(
        "sites/<str:domain>/email-reports/<str:report_id>",
        SiteEmailReportView.as_view(),
        name="api-email-report",
    ),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),  # every backend (docs/metrics.md)
    path("metrics", metrics, name="metrics"),  # Prometheus; token or loopback only
    path("api/v1/", include(api_v1)),
    path("api/v2/query", StatsQueryView.as_view(), name="api-stats-query"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("reports.umami.urls")),  # Umami's read API
    path("accounts/", include("allauth.urls")),
    path("admin/login/", admin_login, name="admin-login"),  # Trail's login (accounts/views.py)
    path("admin/", admin.site.urls),
    path("", include("frontend.urls")),
]
