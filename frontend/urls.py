from django.urls import path, register_converter
from django.views.generic import RedirectView

from frontend.views import (
    account,
    alerts,
    api_keys,
    dashboard,
    deletions,
    destinations,
    email_reports,
    export_jobs,
    imports,
    installation,
    organization,
    sites,
)
from frontend.views.tracker import plausible_tracker_script, tracker_docs, tracker_script
from frontend.views.usage import organization_usage


class PlausibleScript:
    """A Plausible script file name without `.js`: `script` or `plausible` and dotted
    extension names (`script.hash.outbound-links`); the view checks the names."""

    regex = r"(?:script|plausible)(?:\.[a-z-]+)*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(PlausibleScript, "plausible_script")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="site-list"), name="home"),
    path("sites/", sites.site_list, name="site-list"),
    path("sites/new", sites.site_new, name="site-new"),
    path("sites/<str:domain>/", sites.site_detail, name="site-detail"),
    path("sites/<str:domain>/installation", sites.site_installation, name="site-installation"),
    path(
        "sites/<str:domain>/installation/box",
        installation.site_installation_box,
        name="site-installation-box",
    ),
    path(
        "sites/<str:domain>/allow-hostname",
        installation.site_allow_hostname,
        name="site-allow-hostname",
    ),
    path("sites/<str:domain>/panel/<str:name>", dashboard.site_fragment, name="site-panel"),
    path("sites/<str:domain>/export/<str:name>", dashboard.site_export, name="site-export"),
    path("sites/<str:domain>/exports", export_jobs.site_exports, name="site-exports"),
    path(
        "sites/<str:domain>/exports/<str:export_id>",
        export_jobs.site_export_job,
        name="site-export-job",
    ),
    path(
        "sites/<str:domain>/exports/<str:export_id>/download",
        export_jobs.site_export_download,
        name="site-export-download",
    ),
    path("sites/<str:domain>/imports", imports.site_imports, name="site-imports"),
    path("sites/<str:domain>/deletions", deletions.site_deletions, name="site-deletions"),
    path("sites/<str:domain>/alerts", alerts.site_alerts, name="site-alerts"),
    path(
        "sites/<str:domain>/alerts/<str:alert_id>/test",
        alerts.site_alert_test,
        name="site-alert-test",
    ),
    path(
        "sites/<str:domain>/deletions/<str:deletion_id>",
        deletions.site_deletion_job,
        name="site-deletion-job",
    ),
    path(
        "sites/<str:domain>/imports/<str:import_id>",
        imports.site_import_job,
        name="site-import-job",
    ),
    path("share/<str:domain>", dashboard.shared_dashboard, name="share"),
    path("share/<str:domain>/panel/<str:name>", dashboard.shared_fragment, name="share-panel"),
    path("share/<str:domain>/export/<str:name>", dashboard.shared_export, name="share-export"),
    path("sites/<str:domain>/settings", sites.site_settings, name="site-settings"),
    path("sites/<str:domain>/goals", sites.site_goals, name="site-goals"),
    path("sites/<str:domain>/funnels", sites.site_funnels, name="site-funnels"),
    path("sites/<str:domain>/goals/<int:goal_id>", sites.site_goal_edit, name="site-goal-edit"),
    path(
        "sites/<str:domain>/funnels/<int:funnel_id>",
        sites.site_funnel_edit,
        name="site-funnel-edit",
    ),
    path("sites/<str:domain>/shared-links", sites.site_shared_links, name="site-shared-links"),
    path(
        "sites/<str:domain>/email-reports",
        email_reports.site_email_reports,
        name="site-email-reports",
    ),
    path(
        "sites/<str:domain>/email-reports/send",
        email_reports.site_email_report_send,
        name="site-email-report-send",
    ),
    path(
        "email-reports/unsubscribe/<str:token>",
        email_reports.digest_unsubscribe,
        name="digest-unsubscribe",
    ),
    path(
        "sites/<str:domain>/destinations",
        destinations.site_destinations,
        name="site-destinations",
    ),
    path("sites/<str:domain>/delete", sites.site_delete, name="site-delete"),
    path("organization/", organization.organization, name="organization"),
    path("organization/usage", organization_usage, name="organization-usage"),
    path("organization/switch", organization.organization_switch, name="organization-switch"),
    path("organization/new", organization.organization_create, name="organization-create"),
    path("invitations/<str:token>", organization.invitation_accept, name="invitation-accept"),
    path("settings/api-keys", api_keys.api_keys, name="api-keys"),
    path("account", account.account, name="account"),
    path("account/data.json", account.account_data, name="account-data"),
    path("js/trail.js", tracker_script, {"name": "trail.js"}, name="tracker"),
    path("js/trail.core.js", tracker_script, {"name": "trail.core.js"}, name="tracker-core"),
    path("assets/s.js", tracker_script, {"name": "trail.js"}, name="tracker-alias"),
    path(
        "js/<plausible_script:variant>.js",
        plausible_tracker_script,
        name="tracker-plausible",
    ),
    path("docs/tracker", tracker_docs, name="tracker-docs"),
]
